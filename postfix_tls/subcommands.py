"""Every subcommand, declared once.

A declaration says all there is to know about a subcommand from outside:
its name, options and operands, its usage message and --help lines,
whether it is upstream's or ours, what it reads ahead (at start-up, with
the checks' own reads) and the function that runs it.  The parser
(dispatch.py), the usage messages, --help (cli.py), the manual page's test
and the Ansible module's choices (tests/test_subcommands.py) all come from
here.  Adding a subcommand: its module, one declaration below, its tests
and its documentation.

Our subcommands name their module and function as "module:function": the
module is imported only when the subcommand runs, so that the others start
as fast as upstream's (dnspython, for one, is loaded by check-server-tlsa
alone).
"""

from postfix_tls.core.keys import CHAIN_FILES, KEY_FILE_PARAMETERS
from postfix_tls.upstream.commands import (
    all_default_client,
    all_default_server,
    deploy_server_cert_command,
    enable_client,
    enable_server,
    new_server_cert_command,
    new_server_key,
    output_server_csr,
    output_server_tlsa,
)
from postfix_tls.upstream.functions import CLIENT_SETTINGS, SERVER_TLS_SETTINGS

# --help's "Ours:" column: the synopsis, then the first help line at 31.
_HELP_COLUMN = 31


class Subcommand(object):
    """One subcommand's declaration."""

    def __init__(self, name, usage, run, prefetch, letters=None, operands=None,
                 upstream_synopsis=None, our_synopsis=None, help_lines=(), locks=False):
        """letters: its getopts options (None: it takes no options at all);
        locks: it holds the configuration directory's lock (lock.py), as
        every run with --chain-file does;
        operands: how many operands it takes (None: any number);
        upstream_synopsis: its --help line as upstream's, None for ours;
        our_synopsis and help_lines: its --help lines with our options."""
        if not usage or not usage.startswith("usage: postfix tls " + name):
            raise ValueError("subcommand %s: no usage message" % name)
        if not (upstream_synopsis or our_synopsis):
            raise ValueError("subcommand %s: no synopsis for --help" % name)
        self.name = name
        self.usage = usage
        self.letters = letters
        self.operands = operands
        self.upstream_synopsis = upstream_synopsis
        self.our_synopsis = our_synopsis
        self.help_lines = tuple(help_lines)
        self.locks = locks
        self._run = run
        self._prefetch = prefetch

    @property
    def ours(self):
        """Whether the subcommand is ours alone (upstream has no such name)."""
        return self.upstream_synopsis is None

    def run(self, tls, options, operands):
        return _function(self._run)(tls, options, operands)

    def prefetch(self, options, operands):
        """([(flags, names)], [(flag, args...)]): the postconf reads it will make."""
        return _function(self._prefetch)(options, operands)

    def our_help(self):
        """Its lines in --help's "Ours:" part (none for upstream's own)."""
        if not self.our_synopsis:
            return []
        first = "  " + self.our_synopsis
        lines = list(self.help_lines)
        if lines and len(first) < _HELP_COLUMN - 1:
            return [first.ljust(_HELP_COLUMN) + lines[0]] + [
                " " * _HELP_COLUMN + line for line in lines[1:]]
        return [first] + [" " * _HELP_COLUMN + line for line in lines]


def _function(where):
    """A function, or "module:function" of this package, imported now."""
    if callable(where):
        return where
    module, _, name = where.partition(":")
    # __import__ rather than importlib's import_module: importlib is one
    # module more to load at every start-up.
    return getattr(__import__("postfix_tls." + module, fromlist=[name]), name)


# ----- what upstream's nine read ahead: ([(flags, names)], [(flag, args...)]),
# started with the start-up checks' own reads (startup.py)

_KEY_FILES = tuple(KEY_FILE_PARAMETERS.values())
_CHAIN_FILES = (CHAIN_FILES,)


def _myhostname_needed(operands):
    return not operands or not operands[0]


def _reads_enable_client(options, operands):
    reads = [("-n", CLIENT_SETTINGS)]
    if not options.get("r"):
        reads.append(("-x", ("tls_random_source",)))
    return reads, [("-m",)]


def _reads_enable_server(options, operands):
    names = () if options.get("r") else ("tls_random_source",)
    if _myhostname_needed(operands):
        names += ("myhostname",)
    return [("-n", SERVER_TLS_SETTINGS), ("-x", names)], []


def _reads_new_server_key(options, operands):
    return [("-x", ("myhostname",) if _myhostname_needed(operands) else ())], []


def _reads_new_server_cert(options, operands):
    reads, lines = _reads_new_server_key(options, operands)
    return reads + [("-nx", _KEY_FILES + _CHAIN_FILES)], lines


def _reads_output_server_csr(options, operands):
    reads, lines = _reads_new_server_key(options, operands)
    if options.get("k", "rsa") in KEY_FILE_PARAMETERS:
        reads.append(("-nx", _KEY_FILES + _CHAIN_FILES))
    return reads, lines


def _reads_output_server_tlsa(options, operands):
    reads = [("-x", () if options.get("h") else ("myhostname",))]
    if not operands or set(operands) & set(KEY_FILE_PARAMETERS):
        chain_files = () if operands else _CHAIN_FILES
        reads.append(("-nx", _KEY_FILES + chain_files))
    return reads, []


def _reads_deploy_server_cert(options, operands):
    return [], []


def _reads_all_default_client(options, operands):
    return [("-n", CLIENT_SETTINGS)], []


def _reads_all_default_server(options, operands):
    return [("-n", SERVER_TLS_SETTINGS)], []


DECLARED = (
    Subcommand(
        "enable-client", "usage: postfix tls enable-client [-r devrandom]",
        enable_client, _reads_enable_client, letters="r", operands=0,
        upstream_synopsis="enable-client [-r randsource]"),
    Subcommand(
        "enable-server", "usage: postfix tls enable-server [-a algorithm] [-b bits ]"
        " [-r devrandom] [hostname ...]",
        enable_server, _reads_enable_server, letters="abr",
        upstream_synopsis="enable-server [-r randsource] [-a algorithm] [-b bits]"
        " [hostname...]"),
    Subcommand(
        "new-server-key", "usage: postfix tls new-server-key [-a algorithm] [-b bits ]"
        " [hostname ...]",
        new_server_key, _reads_new_server_key, letters="ab",
        upstream_synopsis="new-server-key [-a algorithm] [-b bits] [hostname...]"),
    Subcommand(
        "new-server-cert", "usage: postfix tls new-server-cert [-a algorithm] [-b bits ]"
        " [hostname ...]",
        new_server_cert_command, _reads_new_server_cert, letters="ab",
        upstream_synopsis="new-server-cert [-a algorithm] [-b bits] [hostname...]"),
    Subcommand(
        "deploy-server-cert", "usage: postfix tls deploy-server-cert certfile keyfile",
        deploy_server_cert_command, _reads_deploy_server_cert,
        operands=2, upstream_synopsis="deploy-server-cert certfile keyfile"),
    Subcommand(
        "output-server-csr", "usage: postfix tls output-server-csr [-k keyfile]"
        " [hostname ...]",
        output_server_csr, _reads_output_server_csr, letters="k",
        upstream_synopsis="output-server-csr [-k keyfile] [hostname...]"),
    Subcommand(
        "output-server-tlsa", "usage: postfix tls output-server-tlsa [-h hostname]"
        " [keyfile ...]",
        output_server_tlsa, _reads_output_server_tlsa, letters="hpS",
        upstream_synopsis="output-server-tlsa [-h hostname] [keyfile...]",
        our_synopsis="output-server-tlsa [-h hostname] [-p ports] [-S name] [keyfile...]",
        help_lines=["-p 25,465,587: records for each port;",
                    "-S: the keys the SNI table gives name"]),
    Subcommand(
        "all-default-client", "usage: postfix tls all-default-client",
        all_default_client, _reads_all_default_client, operands=0,
        upstream_synopsis="all-default-client"),
    Subcommand(
        "all-default-server", "usage: postfix tls all-default-server",
        all_default_server, _reads_all_default_server, operands=0,
        upstream_synopsis="all-default-server"),
    # Ours.
    Subcommand(
        "output-server-tlsa-rollover", "usage: postfix tls output-server-tlsa-rollover"
        " [-h hostname] [-p ports] [-k keyfile] [-S name]",
        "dane.rollover:output_server_tlsa_rollover", "dane.rollover:prefetch",
        letters="hpkS", operands=0,
        our_synopsis="output-server-tlsa-rollover [-h hostname] [-p ports] [-k keyfile]"
        " [-S name]",
        help_lines=["deployed and next keys, the RRset to publish"]),
    Subcommand(
        "check-server-tlsa", "usage: postfix tls check-server-tlsa [-h hostname] [-p ports]"
        " [-n nameserver[:port]] [-s address] [-k keyfile] [-t seconds] [-S name]",
        "dane.check:check_server_tlsa", "dane.rollover:prefetch",
        letters="hpnsktS", operands=0,
        our_synopsis="check-server-tlsa [-h hostname] [-p ports] [-n nameserver]"
        " [-s address] [-k keyfile] [-t seconds] [-S name]",
        help_lines=["DNS and the live server against the keys",
                    "(-n ADDRESS[:PORT]: the resolver to ask)"]),
    Subcommand(
        "publish-server-tlsa", "usage: postfix tls publish-server-tlsa [-h hostname]"
        " [-p ports] [-K tsigkeyfile] [-P primary[:port]] [-n nameserver[:port]] [-L ttl]"
        " [-t seconds] [-o nsupdate|zone] [-S name]",
        "dane.publish_command:publish_server_tlsa", "dane.publish_command:prefetch",
        letters="hpKPnLtoS", operands=0, locks=True,
        our_synopsis="publish-server-tlsa [-h hostname] [-p ports] [-K tsigkeyfile]"
        " [-P primary] [-n nameserver] [-L ttl] [-t seconds] [-o nsupdate|zone] [-S name]",
        help_lines=["the keys' records into the zone: one RFC 2136",
                    "update signed with TSIG (-o: write it out)"]),
    Subcommand(
        "deploy-acme-cert", "usage: postfix tls deploy-acme-cert [-h hostname[,...]]"
        " [-p ports] [-n nameserver[:port]] [-s address] [-t seconds] [-e days]"
        " [-m sni|default] [-K tsigkeyfile [-P primary[:port]] [-L ttl]]"
        " [keyfile fullchainfile]",
        "acme.deploy:deploy_acme_cert", "acme.deploy:prefetch", letters="hpnsteKPLm",
        locks=True,
        our_synopsis="deploy-acme-cert [-h hostnames] [-p ports] [-n nameserver]"
        " [-s address] [-t seconds] [-e days] [-m sni|default]"
        " [-K tsigkeyfile [-P primary] [-L ttl]] [keyfile fullchainfile]",
        help_lines=["an ACME client's deploy hook (certbot, lego,",
                    "dehydrated): checked, held back until DNS has",
                    "the new key's TLSA record, reloaded, verified",
                    "(-e: refuse certificates expiring within days, 7;",
                    "-K: publish new keys' records, retire old ones;",
                    "-m sni: into tls_server_sni_maps)"]),
    Subcommand(
        "remove-sni-name", "usage: postfix tls remove-sni-name [-p ports] [-s address]"
        " [-t seconds] name...",
        "sni.remove:remove_sni_name", "sni.remove:prefetch", letters="pst", locks=True,
        our_synopsis="remove-sni-name [-p ports] [-s address] [-t seconds] name...",
        help_lines=["names out of tls_server_sni_maps: the table",
                    "built, reloaded, the default served to them"]),
    Subcommand(
        "status", "usage: postfix tls status [-w days] [-c days] [-o text|prometheus]"
        " [-f file.prom] [-p ports [-h hostname] [-n nameserver[:port]]]",
        "status.command:status", "status.command:prefetch", letters="wcofphn", operands=0,
        our_synopsis="status [-w days] [-c days] [-o text|prometheus] [-f file.prom]"
        " [-p ports [-h hostname] [-n nameserver]]",
        help_lines=["TLS health: OK, WARNING, CRITICAL or UNKNOWN,",
                    "exit status 0 to 3 (warn/critical: days left;",
                    "-o prometheus: metrics; -f: metrics for",
                    "node_exporter's textfile collector; -p: TLSA",
                    "records per port looked up in DNS)"]),
)

# Those that deploy, or suggest deploying: what --chain-file goes with.
CHAIN_FILE_SUBCOMMANDS = ("deploy-server-cert", "enable-server", "new-server-key",
                          "new-server-cert", "deploy-acme-cert")

BY_NAME = dict((subcommand.name, subcommand) for subcommand in DECLARED)
UPSTREAM = tuple(subcommand.name for subcommand in DECLARED if not subcommand.ours)


def find(name):
    """The declaration of name, or None."""
    return BY_NAME.get(name)


def help_lines():
    """--help's two lists: upstream's subcommands, and ours (with our options)."""
    upstream_lines = ["  " + subcommand.upstream_synopsis for subcommand in DECLARED
                      if subcommand.upstream_synopsis]
    our_lines = [line for subcommand in DECLARED for line in subcommand.our_help()]
    return upstream_lines, our_lines
