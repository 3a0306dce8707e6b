"""``status`` (ours): the TLS health of a Postfix instance, in one look.

Reads main.cf's TLS settings with postconf and each configured key and
certificate with openssl, through the runner (so ``--trace`` shows every
command and ``--dry-run`` runs it as it is: it changes nothing), and
judges what it found the way monitoring plugins do: OK, WARNING, CRITICAL
or UNKNOWN, exit status 0 to 3.  render.py shows the report as text or
JSON.
"""

import collections
import os
import stat
import time

from . import material, messages, openssl, validate
from .certificates import covers, iso, parse_certificate_facts
from .keys import (
    CHAIN_FILES,
    cert_pubkey_digest,
    certificate_digest,
    chain_key_digest,
    in_order,
    pubkey_digest,
)

# (algorithm, certificate parameter, key parameter); -x expands the key
# parameters' defaults, $smtpd_tls_cert_file and $smtpd_tls_eccert_file.
SERVER_FILES = (
    ("rsa", "smtpd_tls_cert_file", "smtpd_tls_key_file"),
    ("ecdsa", "smtpd_tls_eccert_file", "smtpd_tls_eckey_file"),
)
CLIENT_FILES = (
    ("rsa", "smtp_tls_cert_file", "smtp_tls_key_file"),
    ("ecdsa", "smtp_tls_eccert_file", "smtp_tls_eckey_file"),
)
SETTINGS = tuple(name for row in SERVER_FILES + CLIENT_FILES for name in row[1:]) + (
    "smtpd_tls_chain_files", "smtpd_tls_security_level", "myhostname",
    "smtp_tls_security_level", "smtp_tls_session_cache_database",
)
WARNING_DAYS = "30"
CRITICAL_DAYS = "7"

OK, WARNING, CRITICAL, UNKNOWN = "OK", "WARNING", "CRITICAL", "UNKNOWN"
EXIT_STATUS = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
_ORDER = (OK, WARNING, CRITICAL, UNKNOWN)

Problem = collections.namedtuple("Problem", "severity text")
_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


NOT_FOUND = object()  # a fact status did not get to (no certificate, say)


class Facts(object):
    """Facts found one by one, some never: to_json() gives those found, in
    FIELDS order (the JSON document's), nested facts as their own."""

    FIELDS = ()

    def __init__(self, **found):
        for name in self.FIELDS:
            setattr(self, name, found.pop(name, NOT_FOUND))
        if found:
            raise TypeError("unknown facts: %s" % ", ".join(sorted(found)))

    def found(self, name):
        return getattr(self, name) is not NOT_FOUND

    def to_json(self):
        document = collections.OrderedDict()
        for name in self.FIELDS:
            value = getattr(self, name)
            if value is NOT_FOUND:
                continue
            if isinstance(value, Facts):
                value = value.to_json()
            elif isinstance(value, list):
                value = [item.to_json() if isinstance(item, Facts) else item for item in value]
            document[name] = value
        return document


class FileFacts(Facts):
    """A configured file: whether it exists, is readable, its mode and owner,
    whether it is a regular file (not a FIFO, device or directory)."""

    FIELDS = ("path", "exists", "readable", "mode", "owner", "regular")
    refused = ""  # why material.py would not read it, if it would not

    @property
    def usable(self):
        """Whether its keys and certificates can be read: openssl is given
        only what material.py accepts (it would block on a FIFO)."""
        return self.found("readable") and self.readable and not self.refused


class ServerEntry(Facts):
    """One configured server key and certificate (or chain file)."""

    FIELDS = ("algorithm", "cert_file", "key_file", "subject", "names", "not_before",
              "not_after", "days_left", "myhostname_covered", "key_matches", "spki_sha256",
              "chain_length", "chain_in_order")


class ClientFacts(Facts):
    """The SMTP client's TLS settings and files."""

    FIELDS = ("security_level", "session_cache", "session_cache_type_available", "files")


class Report(object):
    """What status found: facts, as data, and the problems among them."""

    def __init__(self, config_directory, warning_days, critical_days):
        self.config_directory = config_directory
        self.thresholds = {"warning_days": warning_days, "critical_days": critical_days}
        self.server = []  # a ServerEntry per configured key and certificate (or chain file)
        self.client = ClientFacts()
        self.settings = collections.OrderedDict()
        self.problems = []
        self.notes = []  # what is worth saying but is no problem
        self.assumed = []  # what could not be known and was assumed

    def problem(self, severity, text):
        if severity == OK:
            self.notes.append(text)
        else:
            self.problems.append(Problem(severity, text))

    @property
    def verdict(self):
        worst = OK
        for problem in self.problems:
            if _ORDER.index(problem.severity) > _ORDER.index(worst):
                worst = problem.severity
        return worst

    @property
    def exit_status(self):
        return EXIT_STATUS[self.verdict]


def _file_facts(report, path, role, private):
    """exists, readable, mode and owner of a configured file; problems said."""
    try:
        info = os.stat(path)
    except OSError:
        report.problem(CRITICAL, messages.STATUS_MISSING.format(role=role, path=path))
        return FileFacts(path=path, exists=False)
    facts = FileFacts(path=path, exists=True, readable=os.access(path, os.R_OK),
                      mode="%04o" % (info.st_mode & 0o7777), owner=_owner(info.st_uid),
                      regular=stat.S_ISREG(info.st_mode))
    facts.refused = material.problem(path)  # a FIFO, a device, a directory, a huge file
    if facts.refused:  # its mode is beside the point
        report.problem(CRITICAL, messages.STATUS_NOT_MATERIAL.format(
            role=role, problem=facts.refused))
        return facts
    if not facts.readable:
        report.problem(CRITICAL, messages.STATUS_UNREADABLE.format(role=role, path=path))
    if private and info.st_mode & 0o004:
        report.problem(CRITICAL, messages.STATUS_KEY_WORLD_READABLE.format(
            path=path, mode=facts.mode))
    elif private and info.st_mode & 0o040:
        report.problem(WARNING, messages.STATUS_KEY_GROUP_READABLE.format(
            path=path, mode=facts.mode))
    return facts


def _owner(uid):
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _certificate(tls, report, entry, certfile, now, certificate_pem=None):
    """certificate_pem: the certificate itself (a chain file's), else certfile's first."""
    result = tls.runner.run(openssl.certificate_facts(tls.openssl, certfile, certificate_pem))
    facts = parse_certificate_facts(result.stdout)
    if result.returncode or "not_after" not in facts:
        report.problem(UNKNOWN, messages.STATUS_NOT_A_CERTIFICATE.format(certfile))
        return
    days_left = int((facts["not_after"] - now) // 86400)
    entry.subject = facts.get("subject", "")
    entry.names = facts["names"]
    entry.not_before = iso(facts["not_before"])
    entry.not_after = iso(facts["not_after"])
    entry.days_left = days_left
    myhostname = report.settings.get("myhostname", "")
    names = facts["names"] or [facts.get("subject", "").partition("CN=")[2].split(",")[0]]
    entry.myhostname_covered = any(covers(name, myhostname) for name in names)
    label = "%s certificate %s" % (entry.algorithm, certfile)
    if facts["not_after"] <= now:
        report.problem(CRITICAL, messages.STATUS_EXPIRED.format(
            what=label, when=iso(facts["not_after"])))
    elif days_left < report.thresholds["critical_days"]:
        report.problem(CRITICAL, messages.STATUS_EXPIRES.format(
            what=label, days=days_left, when=iso(facts["not_after"])))
    elif days_left < report.thresholds["warning_days"]:
        report.problem(WARNING, messages.STATUS_EXPIRES.format(
            what=label, days=days_left, when=iso(facts["not_after"])))
    if facts["not_before"] > now:
        report.problem(CRITICAL, messages.STATUS_NOT_YET_VALID.format(
            what=label, when=iso(facts["not_before"])))
    if myhostname and not entry.myhostname_covered:
        report.problem(WARNING, messages.STATUS_MYHOSTNAME.format(
            what=label, myhostname=myhostname, names=", ".join(names)))


def _key_matches(tls, report, entry, certfile, keyfile, chain=None):
    """chain: a chain file's key and certificate, else certfile's and keyfile's."""
    if chain is None:
        cert_digest = cert_pubkey_digest(tls, certfile)
        key_digest = pubkey_digest(tls, keyfile)
    else:
        cert_digest = certificate_digest(tls, chain.certificates[0])
        key_digest = chain_key_digest(tls, chain)
    if not key_digest:
        encrypted = chain is None and openssl.is_encrypted(keyfile)
        report.problem(CRITICAL, (messages.STATUS_KEY_ENCRYPTED if encrypted
                                  else messages.STATUS_NO_KEY).format(keyfile))
        entry.key_matches = None
        return
    entry.key_matches = cert_digest == key_digest
    entry.spki_sha256 = key_digest
    if not entry.key_matches:
        report.problem(CRITICAL, messages.CERT_KEY_MISMATCH.format(certfile, keyfile))


def _chain(tls, report, entry, path, certificates=None):
    """Each certificate in path (or certificates, a chain file's key's)
    signed by the next: the order Postfix sends."""
    if certificates is None:
        try:
            blocks = material.read_text(path).split(_PEM_CERTIFICATE)[1:]
        except OSError:  # no longer what _file_facts found: said by openssl's reads
            return
        certificates = [_PEM_CERTIFICATE + block.split("-----END CERTIFICATE-----")[0]
                        + "-----END CERTIFICATE-----\n" for block in blocks]
    entry.chain_length = len(certificates)
    if len(certificates) < 2:
        return
    entry.chain_in_order = in_order(tls, certificates)
    if not entry.chain_in_order:
        report.problem(WARNING, messages.STATUS_CHAIN_ORDER.format(path))


def _server_pairs(settings):
    """(algorithm, certificate file, key file) for what main.cf deploys
    with the legacy parameters."""
    pairs = []
    for algorithm, cert_parameter, key_parameter in SERVER_FILES:
        certfile, keyfile = settings.get(cert_parameter, ""), settings.get(key_parameter, "")
        if certfile or keyfile:
            pairs.append((algorithm, certfile, keyfile or certfile))
    return pairs


def check_chain_files(tls, report, now, names):
    """smtpd_tls_chain_files (3.4+): each key with its certificate and chain,
    per algorithm, as Postfix loads them."""
    from . import chainfiles

    facts = collections.OrderedDict(
        (path, _file_facts(report, path, "chain file", True)) for path in names)
    if not all(found.usable for found in facts.values()):
        report.server += [ServerEntry(algorithm="chain", cert_file=found)
                          for found in facts.values()]
        return
    try:
        chains = chainfiles.read(names)
    except chainfiles.ChainFileError as error:
        report.problem(CRITICAL, str(error))
        report.server += [ServerEntry(algorithm="chain", cert_file=found)
                          for found in facts.values()]
        return
    for chain in chains:
        entry = ServerEntry(algorithm=chain.algorithm, cert_file=facts[chain.cert_path])
        if chain.key_path != chain.cert_path:
            entry.key_file = facts[chain.key_path]
        report.server.append(entry)
        _certificate(tls, report, entry, chain.cert_path, now, chain.certificates[0])
        _key_matches(tls, report, entry, chain.cert_path, chain.where, chain)
        _chain(tls, report, entry, chain.cert_path, chain.certificates)


def check_server(tls, report, now):
    chain_files = report.settings.get(CHAIN_FILES, "")
    if chain_files:
        # They replace the legacy cert/key parameters, which Postfix ignores.
        from .chainfiles import split_names

        return check_chain_files(tls, report, now, split_names(chain_files))
    pairs = _server_pairs(report.settings)
    if not pairs:
        report.problem(WARNING if report.settings.get("smtpd_tls_security_level", "")
                       not in ("", "none") else OK, messages.STATUS_NO_SERVER_CERT)
    for algorithm, certfile, keyfile in pairs:
        entry = ServerEntry(algorithm=algorithm)
        report.server.append(entry)
        if not certfile:
            report.problem(CRITICAL, messages.STATUS_KEY_WITHOUT_CERT.format(
                algorithm=algorithm, path=keyfile))
            entry.key_file = _file_facts(report, keyfile, "private key", True)
            continue
        entry.cert_file = _file_facts(report, certfile, "certificate", keyfile == certfile)
        if keyfile != certfile:
            entry.key_file = _file_facts(report, keyfile, "private key", True)
        files = [entry.cert_file] + ([entry.key_file] if entry.found("key_file") else [])
        if not all(facts.usable for facts in files):
            continue
        _certificate(tls, report, entry, certfile, now)
        _key_matches(tls, report, entry, certfile, keyfile)
        _chain(tls, report, entry, certfile)


def check_client(tls, report):
    settings = report.settings
    client = report.client
    client.security_level = settings.get("smtp_tls_security_level", "")
    cache = settings.get("smtp_tls_session_cache_database", "")
    client.session_cache = cache
    if cache:
        map_type = cache.partition(":")[0]
        client.session_cache_type_available = map_type in tls.postconf.lines("-m")
        if not client.session_cache_type_available:
            report.problem(WARNING, messages.STATUS_CACHE_TYPE.format(
                type=map_type, parameter="smtp_tls_session_cache_database"))
    files = []
    for _, cert_parameter, key_parameter in CLIENT_FILES:
        certfile, keyfile = settings.get(cert_parameter, ""), settings.get(key_parameter, "")
        if certfile:
            files.append(_file_facts(report, certfile, "client certificate",
                                     keyfile in ("", certfile)))
        if keyfile and keyfile != certfile:
            files.append(_file_facts(report, keyfile, "client private key", True))
    client.files = files


def _days(tls, options, letter, default):
    value = options.get(letter, default)
    if not validate.digits(value):
        tls.fail(messages.STATUS_BAD_DAYS.format(option="-" + letter,
                                                 value=validate.shown(value)))
    return int(value)


def status(tls, options, operands):
    """Read, judge, show; the exit status is the verdict's."""
    report = Report(tls.config_directory, _days(tls, options, "w", WARNING_DAYS),
                    _days(tls, options, "c", CRITICAL_DAYS))
    # A parameter the release lacks is not read (release.py), nor shown.
    settings = [name for name in SETTINGS if tls.postconf.knows(name)]
    report.settings.update(sorted(tls.postconf.read("-x", settings).items()))
    if tls.postconf.failed("-x", settings):  # not "nothing configured": UNKNOWN
        tls.fail(messages.STANDALONE_BAD_CONFIG.format(tls.config_directory))
    if tls.setup.assumed:
        report.assumed.append(messages.STATUS_ASSUMED.format(
            version=tls.postconf.release.mail_version,
            algorithms=" and ".join(tls.setup.algorithms()),
            daemon_directory=tls.env.get("daemon_directory", "")))
    now = time.time()
    check_server(tls, report, now)
    check_client(tls, report)
    from . import render

    render.status(report, tls.json)
    _shown.append(report)
    return report.exit_status


_shown = []  # the report this run printed (always_a_line prints one if none)


def always_a_line(run, as_json, config_directory):
    """run() (the whole command), and status's line even when the run
    ended before status judged anything: no configuration directory, no
    postconf, main.cf unreadable, a start-up check or an option failing.
    Then the verdict is UNKNOWN (exit 3), with the fatal message as its
    cause, as monitoring plugins do: a monitoring system reads only the
    first line (or the JSON document) and the exit status."""
    from . import render
    from .log import FATAL_TEXTS

    code = run()
    if _shown:
        return code
    report = Report(config_directory, None, None)
    report.problem(UNKNOWN, FATAL_TEXTS[-1] if FATAL_TEXTS else messages.STATUS_NOT_RUN)
    render.status_unknown(report, as_json)
    return report.exit_status


def prefetch(options, operands):
    return [("-x", SETTINGS)], [("-m",)]
