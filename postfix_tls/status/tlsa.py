"""``status -p PORTS``: whether DNS publishes a TLSA record for what the
server presents, per port, as a DANE sender would look (``_PORT._tcp.HOST``
through the resolver, -n to name one).  A record matches a certificate
when it is the "3 1 1" of its key or the "2 1 1" of an issuer's in the
chain Postfix sends.  Published records none of which matches: DANE
senders defer mail, CRITICAL.  No records: no DANE on that port, a note.
A failed lookup: WARNING (the resolver status asked may be the one at
fault).  check-server-tlsa checks more (every nameserver, the live
server, stale records); this is its monitoring part.

All ports share one time budget, DNS_SECONDS: a monitoring system kills
a plugin after 10 s (NRPE's and Nagios' default), and a dead resolver
would otherwise cost dnspython's lifetime per port.  The ports whose turn
comes after it is spent are said not to be looked up, in one problem.
"""

import collections
import time

from postfix_tls.core import messages
from postfix_tls.core.keys import certificate_digest
from postfix_tls.status.facts import CRITICAL, OK, WARNING, TlsaPort

DNS_SECONDS = 7  # all of -p's lookups: dnspython may overrun it by its backoff (~1 s), the
# rest of the run takes ~1 s, and a plugin has 10 s
LEAST_SECONDS = 1  # a lookup given less is not started


def check_tlsa(tls, report, options):
    """A TlsaPort per port of -p, problems said; -h the host (default
    myhostname), -n the resolver (default this host's)."""
    from postfix_tls.dane.check import dns_resolver, live_options
    from postfix_tls.dane.rollover import hostname_and_ports

    hostname, ports = hostname_and_ports(tls, options)
    # -n checked as check-server-tlsa checks it (status has no -s nor -t).
    nameserver = live_options(tls, options, hostname, 1)[0]
    lookup, resolver = dns_resolver(tls, nameserver, messages.STATUS_NO_DNSPYTHON,
                                    messages.STATUS_OLD_DNSPYTHON)
    served = _served_records(tls, report)
    deadline = time.monotonic() + DNS_SECONDS
    skipped = []
    for port in ports:
        owner = "_%d._tcp.%s." % (port, hostname)
        left = deadline - time.monotonic()
        if left < LEAST_SECONDS:
            skipped.append(owner)
            report.tlsa.append(TlsaPort(port=port, owner=owner, looked_up=False,
                                        error=messages.STATUS_TLSA_NOT_LOOKED_UP.format(
                                            seconds=DNS_SECONDS), matches=[]))
            continue
        resolver.lifetime = left  # each try's timeout too: dnspython may wait past it
        resolver.timeout = min(resolver.timeout, left)
        found = lookup.lookup(owner, resolver)
        facts = TlsaPort(port=port, owner=owner, looked_up=True, records=found.records,
                         validated=found.validated, error=found.error, matches=[])
        report.tlsa.append(facts)
        if found.error:
            report.problem(WARNING, messages.STATUS_TLSA_ERROR.format(owner=owner,
                                                                      error=found.error))
            continue
        if not found.records:
            report.problem(OK, messages.STATUS_TLSA_NONE.format(owner=owner))
            continue
        if not found.validated:
            report.problem(OK, messages.STATUS_TLSA_NOT_VALIDATED.format(owner=owner))
        for entry, records in served:
            match = bool(records & set(found.records))
            facts.matches.append(collections.OrderedDict((
                ("algorithm", entry.algorithm), ("file", entry.cert_file.path),
                ("match", match))))
            if not match:
                report.problem(CRITICAL, messages.STATUS_TLSA_NO_MATCH.format(
                    owner=owner, algorithm=entry.algorithm, certfile=entry.cert_file.path,
                    digest=entry.spki_sha256))
    if skipped:  # one problem: the cause is one, and the summary line is short
        report.problem(WARNING, messages.STATUS_TLSA_SKIPPED.format(
            owners=", ".join(skipped), seconds=DNS_SECONDS))


def _served_records(tls, report):
    """[(ServerEntry, records that match it)] of the default certificates
    whose key was read: "3 1 1" of the key, "2 1 1" of each issuer."""
    served = []
    for entry in report.server:
        if not (entry.found("spki_sha256") and entry.found("cert_file")):
            continue
        records = set(["3 1 1 " + entry.spki_sha256])
        for pem in getattr(entry, "chain_pems", [])[1:]:
            digest = certificate_digest(tls, pem)
            if digest:
                records.add("2 1 1 " + digest)
        served.append((entry, records))
    return served
