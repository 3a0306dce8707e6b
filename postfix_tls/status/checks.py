"""What ``status`` checks in each file Postfix loads: readable, owner and
mode, expiry, key/leaf match, chain order."""

import collections
import os
import stat

from postfix_tls.core import material, messages, openssl, validate
from postfix_tls.core.certificates import covers, iso, parse_certificate_facts
from postfix_tls.core.keys import (
    CHAIN_FILES,
    cert_pubkey_digest,
    certificate_digest,
    chain_key_digest,
    in_order,
    pubkey_digest,
)
from postfix_tls.status.facts import (
    CLIENT_FILES,
    CRITICAL,
    OK,
    PEM_CERTIFICATE,
    SERVER_FILES,
    UNKNOWN,
    WARNING,
    FileFacts,
    ServerEntry,
)


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
        report.problem(CRITICAL, messages.STATUS_KEY_READABLE_BY_OTHERS.format(
            path=path, mode=facts.mode, quoted=validate.quote(path)))
    elif private and info.st_mode & 0o040:
        report.problem(WARNING, messages.STATUS_KEY_READABLE_BY_GROUP.format(
            path=path, mode=facts.mode, quoted=validate.quote(path)))
    return facts


def _owner(uid):
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _certificate(tls, report, entry, certfile, now, certificate_pem=None, name=None):
    """certificate_pem: the certificate itself (a chain file's), else certfile's
    first; name: an SNI table's name, which the caller checks (not myhostname)."""
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
    if name is None:
        entry.myhostname_covered = any(covers(found, myhostname) for found in names)
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
    if name is None and myhostname and not entry.myhostname_covered:
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
            blocks = material.read_text(path).split(PEM_CERTIFICATE)[1:]
        except OSError:  # no longer what _file_facts found: said by openssl's reads
            return
        certificates = [PEM_CERTIFICATE + block.split("-----END CERTIFICATE-----")[0]
                        + "-----END CERTIFICATE-----\n" for block in blocks]
    entry.chain_length = len(certificates)
    entry.chain_pems = certificates  # not a fact shown: status -p's "2 1 1" digests
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
    from postfix_tls.core import chainfiles

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
    report.server += [judge_chain(tls, report, now, chain, facts) for chain in chains]


def judge_chain(tls, report, now, chain, facts, name=None):
    """The ServerEntry of one key of chain files (facts: {path: FileFacts}):
    its certificate, the key matching it, the chain's order.  name: an SNI
    table's name, which the caller checks the leaf against."""
    entry = ServerEntry(algorithm=chain.algorithm, cert_file=facts[chain.cert_path])
    if chain.key_path != chain.cert_path:
        entry.key_file = facts[chain.key_path]
    _certificate(tls, report, entry, chain.cert_path, now, chain.certificates[0], name=name)
    _key_matches(tls, report, entry, chain.cert_path, chain.where, chain)
    _chain(tls, report, entry, chain.cert_path, chain.certificates)
    return entry


def check_server(tls, report, now):
    chain_files = report.settings.get(CHAIN_FILES, "")
    if chain_files:
        # They replace the legacy cert/key parameters, which Postfix ignores.
        from postfix_tls.core.chainfiles import split_names

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
