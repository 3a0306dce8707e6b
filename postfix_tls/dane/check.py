"""``check-server-tlsa`` (ours): whether DNS and the live server agree
with the keys deployed (and the next ones), per port; its judgements
serve deploy-acme-cert's DANE gate too."""

import collections

from postfix_tls.core import messages, openssl, validate
from postfix_tls.core.keys import (
    certificate_digest,
    deployed_chains,
    key_file_digest,
    key_text_digest,
)
from postfix_tls.dane.rollover import hostname_and_ports, known_keys

# Signature algorithms that make a server with both keys present this one.
SIGALGS = {
    "rsa": "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pkcs1_sha256",
    "ecdsa": "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512",
}
IMPLICIT_TLS_PORTS = (465,)
SECONDS = 30  # -t: how long one connection to the live server may take
TIMED_OUT = 124  # timeout(1)'s exit status when the time ran out



class Check(object):
    """What check-server-tlsa found, and what to do about it."""

    def __init__(self, hostname, ports, nameserver, seconds=SECONDS):
        self.hostname = hostname
        self.ports = ports
        self.nameserver = nameserver
        self.seconds = seconds
        self.servername = None  # -S: the SNI name the live server is asked for
        # port -> lookup.lookup's entry (records, ttl, validated, error,
        # canonical_name), with each nameserver's answer and the zone's TTL
        self.dns = collections.OrderedDict()
        self.lines = []  # one per port and algorithm
        self.live = []
        self.problems = []
        self.notes = []

    def problem(self, text):
        self.problems.append(text)

    @property
    def exit_status(self):
        return 1 if self.problems else 0


def ask_dns(lookup, resolver, check, owner):
    """The RRset as the resolver gives it, then as each of the zone's
    nameservers serves it."""
    entry = lookup.lookup(owner, resolver)
    if entry.error:
        return entry
    # Behind a CNAME, the RRset is the target's, in the target's zone.
    target = entry.canonical_name
    servers, error = lookup.nameservers(target, resolver)
    if error:
        check.notes.append(messages.TLSA_NO_NAMESERVERS.format(owner=owner, error=error))
    entry.nameservers = [lookup.ask_nameserver(target, name, address)
                         for name, address in servers]
    return entry


def _digest_record(digest):
    return "3 1 1 " + digest


# The records that can be told from keys: SHA-256 and SHA-512 of the SPKI.
KEY_RECORD_PREFIXES = ("3 1 1 ", "3 1 2 ")


def _key_records(key, sha512):
    """The "3 1 1" record of key, and its "3 1 2" when sha512 has it."""
    records = set([_digest_record(key.digest)])
    if sha512.get(key.keyfile, {}).get(key.algorithm):
        records.add("3 1 2 " + sha512[key.keyfile][key.algorithm])
    return records


def _sha512_digests(tls, check, keys):
    """{keyfile: {algorithm: SHA-512 of its SPKI}} when some record is a
    "3 1 2" (only then: openssl runs for nothing else)."""
    records = [record for entry in check.dns.values() for record in entry.records + [
        record for served in entry.nameservers for record in served.records]]
    if not any(record.startswith("3 1 2 ") for record in records):
        return {}
    chains = dict(((chain.key_path, chain.algorithm), chain) for chain in deployed_chains(tls))
    digests = {}
    for key in keys:
        chain = chains.get((key.keyfile, key.algorithm))
        digest = (key_text_digest(tls, chain.key_text, "sha512") if chain
                  else key_file_digest(tls, key.keyfile, "sha512"))
        digests.setdefault(key.keyfile, {})[key.algorithm] = digest
    return digests


def judge_dns(check, keys, sha512=None):
    """One line per port and algorithm: deployed published, staged published,
    stale records.  sha512: see _sha512_digests."""
    sha512 = sha512 or {}
    known = set(record for key in keys for record in _key_records(key, sha512))
    for port, entry in check.dns.items():
        if entry.error:
            check.problem(messages.TLSA_DNS_ERROR.format(owner=entry.owner, error=entry.error))
            continue
        published = set(entry.records)
        for algorithm in sorted(set(key.algorithm for key in keys)):
            line = collections.OrderedDict((("port", port), ("algorithm", algorithm)))
            for key in keys:
                if key.algorithm != algorithm:
                    continue
                if key.role in line:  # a second next key (-S: see known_keys): a line of its own
                    check.lines.append(line)
                    line = collections.OrderedDict((("port", port), ("algorithm", algorithm)))
                line[key.role] = key.keyfile
                line[key.role + "_published"] = bool(_key_records(key, sha512) & published)
                if not line[key.role + "_published"]:
                    record = "%s IN TLSA %s" % (entry.owner, _digest_record(key.digest))
                    if key.role == "next":  # made ahead: its renewal would wait, no more
                        check.notes.append(messages.TLSA_PUBLISH_MADE_AHEAD.format(
                            record=record, keyfile=key.keyfile))
                        continue
                    check.problem((messages.TLSA_PUBLISH_DEPLOYED if key.role == "deployed"
                                   else messages.TLSA_PUBLISH_STAGED).format(
                                       record=record, keyfile=key.keyfile))
            check.lines.append(line)
        # Only "3 1 1" and "3 1 2" records can be told from keys; others
        # (2 1 1, 2 1 2) are left alone.
        stale = sorted(record for record in published - known
                       if record.startswith(KEY_RECORD_PREFIXES))
        entry.stale = stale
        for record in stale:
            check.problem(messages.TLSA_STALE.format(owner=entry.owner, record=record))
        if published and not entry.validated:
            check.notes.append(messages.TLSA_NOT_VALIDATED.format(owner=entry.owner))
        judge_nameservers(check, entry)
        staged = [key for key in keys if key.role == "staged"]
        if published and staged and all(_key_records(key, sha512) & published
                                        for key in staged):
            check.notes.append(messages.TLSA_WAIT.format(owner=entry.owner,
                                                         ttl=entry.zone_ttl))


def judge_nameservers(check, entry):
    """Every nameserver must serve the resolver's RRset; the longest TTL
    they give (the zone's own, not what a cache has left) is the wait."""
    ttls = [entry.ttl] if entry.ttl is not None else []
    for served in entry.nameservers:
        if served.error:
            check.notes.append(messages.TLSA_NAMESERVER_NOT_ASKED.format(
                owner=entry.owner, **served.to_json()))
            continue
        served.same = served.records == entry.records
        if served.ttl is not None:
            ttls.append(served.ttl)
        if not served.same:
            check.problem(messages.TLSA_NAMESERVER_DIFFERS.format(
                owner=entry.owner, count=len(served.records),
                missing=len(set(entry.records) - set(served.records)),
                extra=len(set(served.records) - set(entry.records)), **served.to_json()))
    entry.zone_ttl = max(ttls) if ttls else None
    entry.judged = True


def probe(tls, check, address, port, algorithm, published, servername=None):
    """Connect as a DANE client would (sending servername as SNI, when
    given); (openssl's verdict, presented key digest, error)."""
    command = openssl.s_client(tls.openssl, address, port, port not in IMPLICIT_TLS_PORTS,
                               check.hostname, SIGALGS[algorithm], published, check.seconds,
                               servername or check.servername)
    result = tls.runner.run(command)
    output = result.stdout.decode("utf-8", "replace")
    # EE: a "3 1 1" record matched the leaf; TA: a "2 1 1" matched an issuer.
    verified = "Verification: OK" in output and (
        "matched EE certificate" in output or "matched TA certificate" in output)
    pem = _first_certificate(output)
    digest = certificate_digest(tls, pem) if pem else ""
    error = ""
    for line in output.splitlines():
        if line.startswith("Verification error:"):
            error = line.split(":", 1)[1].strip()
    if result.returncode == TIMED_OUT and not pem:
        error = messages.TLSA_SILENT.format(seconds=check.seconds)
    elif result.returncode and not pem:
        error = error or "no TLS handshake with %s port %d" % (address, port)
    return verified, digest, error


def _first_certificate(output):
    begin = output.find("-----BEGIN CERTIFICATE-----")
    end = output.find("-----END CERTIFICATE-----", begin)
    if begin < 0 or end < 0:
        return ""
    return output[begin:end] + "-----END CERTIFICATE-----\n"


def judge_live(tls, check, keys, address):
    deployed = dict((key.algorithm, key) for key in keys if key.role == "deployed")
    by_digest = dict((key.digest, key) for key in keys)
    # An older openssl still shows which key is presented; only openssl's
    # own DANE verdict is missing, and the check says so.
    version = tls.setup.openssl_version(tls.runner)
    dane_client = openssl.has_dane_client(version)
    if not dane_client and any(entry.records for entry in check.dns.values()):
        check.problem(messages.TLSA_OPENSSL_NO_DANE.format(
            openssl=tls.openssl, version=version.decode(
                "utf-8", "replace").strip() or "unknown"))
    for port, entry in check.dns.items():
        published = [record for record in entry.records
                     if record.startswith(KEY_RECORD_PREFIXES)]
        for algorithm, key in sorted(deployed.items()):
            verified, digest, error = probe(tls, check, address, port, algorithm,
                                            published if dane_client else [])
            if digest and not dane_client:
                error = ""  # openssl's PKIX verdict: no DANE check was asked for
            presented = by_digest.get(digest)
            live = collections.OrderedDict((
                ("port", port), ("algorithm", algorithm), ("address", address),
                ("presented_key", presented.keyfile if presented else None),
                ("presented_spki_sha256", digest or None),
                ("dane_verified", verified if dane_client else None),
                ("error", error or None)))
            check.live.append(live)
            if error and not digest:
                check.problem(messages.TLSA_NO_TLS.format(address=address, port=port,
                                                          error=error))
            elif digest != key.digest:
                check.problem(messages.TLSA_LIVE_OTHER_KEY.format(
                    address=address, port=port, algorithm=algorithm,
                    presented=presented.keyfile if presented else "a key not in "
                    + tls.config_directory, keyfile=key.keyfile, reload=tls.hints.reload))
            elif published and dane_client and not verified:
                check.problem(messages.TLSA_LIVE_UNVERIFIED.format(
                    address=address, port=port, algorithm=algorithm, error=error))


def live_options(tls, options, hostname, seconds):
    """(nameserver, address, seconds) of -n (the resolver, "": this host's),
    -s (default: hostname) and -t (default: seconds), checked."""
    nameserver = options.get("n", "")
    if nameserver and not _valid_nameserver(nameserver):
        tls.fail(messages.BAD_NAMESERVER.format(validate.shown(nameserver)))
    address = options.get("s", "") or hostname
    if not (validate.hostname(address, wildcard=False) or _is_address(address)):
        tls.fail(messages.BAD_ADDRESS.format(validate.shown(address)))
    seconds = options.get("t", str(seconds))
    if not (validate.digits(seconds) and 0 < int(seconds) <= 3600):
        tls.fail(messages.BAD_SECONDS.format(validate.shown(seconds)))
    return nameserver, address, int(seconds)


def dns_resolver(tls, nameserver, missing, too_old):
    """(lookup module, resolver of -n's nameserver or this host's); fails
    as dnspython() does."""
    lookup = dnspython(tls, missing, too_old)
    return lookup, lookup.resolver(*split_nameserver(nameserver))


def dnspython(tls, missing, too_old):
    """The lookup module; fails with missing without dnspython, too_old (its
    version) before 2.0: Debian 10's 1.16 imports, then fails half-way."""
    try:
        from postfix_tls.dane import lookup
    except ImportError:
        tls.fail(missing)
    if lookup.TOO_OLD:
        tls.fail(too_old.format(lookup.VERSION))
    return lookup


def check_server_tlsa(tls, options, operands):
    """DNS and the live server against what Postfix deploys (and stages)."""
    hostname, ports = hostname_and_ports(tls, options)
    nameserver, address, seconds = live_options(tls, options, hostname, SECONDS)
    lookup, resolver = dns_resolver(tls, nameserver, messages.NO_DNSPYTHON,
                                    messages.OLD_DNSPYTHON)
    keys = known_keys(tls, options.get("k", ""), options.get("S", ""))
    if not any(key.role == "deployed" for key in keys):
        tls.fail(messages.NO_USABLE_KEYFILES)
    check = Check(hostname, ports, nameserver, seconds)
    check.servername = options.get("S") or None
    for port in ports:
        check.dns[port] = ask_dns(lookup, resolver, check, "_%d._tcp.%s." % (port, hostname))
    judge_dns(check, keys, _sha512_digests(tls, check, keys))
    judge_live(tls, check, keys, address)
    from postfix_tls.core import render

    render.tlsa_check(check, keys, tls.json)
    return check.exit_status


def _is_address(text):
    import socket
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except (OSError, ValueError):
            continue
    return False


def split_nameserver(text):
    """(address, port or "") of -n ADDRESS[:PORT]; an IPv6 address has no port."""
    if text.count(":") == 1:
        address, _, port = text.rpartition(":")
        return address, port
    return text, ""


def _valid_nameserver(text):
    address, port = split_nameserver(text)
    if port and not validate.port(port):
        return False
    return _is_address(address)
