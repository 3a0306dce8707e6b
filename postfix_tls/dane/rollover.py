"""DANE operations (ours): the rollover's records, and checks against DNS
and the live server.

A key rollover without an outage goes: make the next key
(``new-server-key``, which does not deploy it); publish its "3 1 1" record
beside the current one, on every port, for every algorithm; wait until the
old RRset's TTL has passed everywhere; deploy the next key; drop the old
record.  ``output-server-tlsa-rollover`` prints the RRset to publish now,
current and next; ``check-server-tlsa`` says whether DNS and the live
server agree with what is deployed, and whether deploying the next key now
would be safe.

The staged (next) key of an algorithm is the one deploy-acme-cert staged
(``acme-ALGORITHM.staged.pem``), else the newest ``key-STAMP.pem`` (RSA)
or ``eckey-STAMP.pem`` (ECDSA) in the configuration directory, as
``new-server-key`` names them, that is not deployed and is newer than the
deployed key; ``-k keyfile`` names it instead.  Beside it, the key an ACME
client made for its next renewal (role "next": acme/next_keys.py).
"""

import collections
import os

from postfix_tls.core import messages, validate
from postfix_tls.core.keys import (
    CHAIN_FILES,
    KEY_FILE_PARAMETERS,
    chain_key_digest,
    check_key,
    deployed_chains,
    pubkey_digest,
    read_key,
    set_fqdn,
    set_keyfile,
)
from postfix_tls.core.tlsa import tlsa_ports, tlsa_record
from postfix_tls.dane import staged

STAGED_PREFIX = {"rsa": "key-", "ecdsa": "eckey-"}


Key = collections.namedtuple("Key", "algorithm role keyfile digest")


def _stamp(keyfile):
    """The YYYYMMDD-HHMMSS of new-server-key's file names, or ""."""
    name = os.path.basename(keyfile)
    stamp = name[-19:-4] if name.endswith(".pem") else ""
    if len(stamp) == 15 and stamp[8] == "-" and (stamp[:8] + stamp[9:]).isdigit():
        return stamp
    return ""


def staged_keyfile(tls, algorithm, deployed):
    """The key deploy-acme-cert staged for algorithm (what it deploys next),
    else the newest not-deployed key new-server-key made for it, or "".
    A staged file that cannot be deployed any more is not the next key: a
    warning says so (deploy-acme-cert sets it aside), and the others are
    looked at."""
    acme_staged = staged.staged_path(tls, algorithm)
    if os.path.isfile(acme_staged):
        refusal = staged.next_key_refusal(tls, algorithm, acme_staged)
        if refusal is None:
            return acme_staged
        tls.log.warn([messages.ACME_STAGED_IGNORED.format(algorithm=algorithm,
                                                          path=acme_staged, reason=refusal)])
    prefix = STAGED_PREFIX[algorithm]
    try:
        names = os.listdir(tls.config_directory)
    except OSError:
        return ""
    candidates = sorted(
        (stamp, name) for name, stamp in ((name, _stamp(name)) for name in names)
        if stamp and name == "%s%s.pem" % (prefix, stamp))
    for stamp, name in reversed(candidates):
        path = os.path.join(tls.config_directory, name)
        if path == deployed:
            continue
        if deployed and _stamp(deployed) and stamp < _stamp(deployed):
            return ""  # only older ones are left
        return path
    return ""


def known_keys(tls, keyfile_option="", sni_name=""):
    """Deployed and staged keys, per algorithm, with their SPKI digests;
    deployed: what Postfix loads (smtpd_tls_chain_files' keys, where set);
    sni_name (-S): what the SNI table gives that name, and what
    deploy-acme-cert staged for it (a name no table has yet gets the
    default certificate, and its next keys too, until its lineage goes in)."""
    keys = []
    served = None  # without -S: the default certificate's
    if sni_name:
        from postfix_tls.sni import keys as sni_keys

        served = sni_keys.served(tls, sni_name)
        found = served.chains
    else:
        found = deployed_chains(tls)
    default = served is None or served.default
    chains = dict((chain.algorithm, chain) for chain in found)
    for algorithm in tls.setup.algorithms():
        chain = chains.get(algorithm)
        # Where chain files are set, Postfix ignores the legacy key files.
        deployed = chain.key_path if chain else set_keyfile(tls, algorithm) if (
            default and not found) else ""
        if chain:
            digest = chain_key_digest(tls, chain)
            if not digest:
                tls.fail(messages.KEY_DIGEST_FAILED)
            keys.append(Key(algorithm, "deployed", chain.key_path, digest))
        elif deployed:
            keys.append(_key(tls, algorithm, "deployed", deployed))
        if keyfile_option:
            continue
        next_keyfiles = [staged_keyfile(tls, algorithm, deployed)] if default else []
        if served:
            next_keyfiles += sni_keys.staged_keyfiles(tls, served, algorithm)
        # Each lineage's key made ahead: the default certificate's, and
        # those of an SNI name's lineages, as their hooks announced them.
        made_ahead = [_made_ahead(tls, algorithm, label) for label in
                      ([""] if default else []) + (served.labels if served else [])]
        known = [key.digest for key in keys if key.algorithm == algorithm]
        for next_key in [_next_key(tls, algorithm, path) for path in next_keyfiles if path] + [
                key for key in made_ahead if key]:
            # The newest key new-server-key made may be the deployed one
            # under another name (copied into a chain file): not a next key.
            if next_key and next_key.digest not in known:
                keys.append(next_key)
                known.append(next_key.digest)
    if keyfile_option:
        keys.append(_key(tls, None, "staged", set_keyfile(tls, keyfile_option)))
    return keys


def _made_ahead(tls, algorithm, label):
    """The Key an ACME client made for its next renewal (role "next"), as
    its hook last announced it (for the SNI lineage label, or the default
    certificate's), or None."""
    from postfix_tls.acme import next_keys

    found = next_keys.read(tls, algorithm, label)
    return Key(algorithm, "next", found.path, found.digest) if found else None


def _next_key(tls, algorithm, keyfile):
    """The staged Key of keyfile, or None (warned): a next key that cannot be
    read is no reason to stop showing or checking the deployed ones."""
    key = read_key(tls, keyfile)
    digest = pubkey_digest(tls, keyfile) if key else ""
    if not digest:
        tls.log.warn([messages.NEXT_KEY_LEFT_OUT.format(
            algorithm=algorithm, path=keyfile, reason=messages.NO_PRIVATE_KEY.format(keyfile))])
        return None
    return Key(algorithm, "staged", keyfile, digest)


def _key(tls, algorithm, role, keyfile):
    """algorithm None: the key's own (for -k)."""
    key_type = check_key(tls, keyfile)
    digest = pubkey_digest(tls, keyfile)
    if not digest:
        tls.fail(messages.KEY_DIGEST_FAILED)
    return Key(algorithm or key_type.algorithm, role, keyfile, digest)


def hostname_and_ports(tls, options):
    hostname = set_fqdn(tls, options.get("h", "") or options.get("S", ""))
    if not validate.hostname(hostname, wildcard=False):
        tls.fail(messages.BAD_HOSTNAME.format(validate.shown(hostname)))
    return hostname, tlsa_ports(tls, options.get("p", "25"))



def output_server_tlsa_rollover(tls, options, operands):
    """Per algorithm: the deployed key, the staged next key, and the RRset
    to publish now (current + next) for the ports asked."""
    hostname, ports = hostname_and_ports(tls, options)
    keys = known_keys(tls, options.get("k", ""), options.get("S", ""))
    if not keys:
        tls.fail(messages.NO_USABLE_KEYFILES)
    # A key known_keys found deployed is (a chain file's is not main.cf's
    # legacy key file, which tlsa_record would compare it with).
    records = [tlsa_record(tls, hostname, port, key.digest, key.keyfile, key.algorithm,
                           key.role, deployed=True if key.role == "deployed" else None)
               for port in ports for key in keys]
    from postfix_tls.core import render

    render.rollover(tls.setup.algorithms(), keys, records, tls.json, tls.hints)
    return 0



def prefetch(options, operands):
    reads = [("-x", () if options.get("h") else ("myhostname",)),
             ("-nx", tuple(KEY_FILE_PARAMETERS.values()) + (CHAIN_FILES,))]
    return reads, []
