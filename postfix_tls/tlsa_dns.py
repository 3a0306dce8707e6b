"""DNS for check-server-tlsa (dnspython, imported here only): the TLSA
RRset as a resolver gives it (with its AD flag), and as each of the zone's
nameservers serves it.

Asking every nameserver matters for a rollover: a secondary that missed
the update still hands out the old RRset, and only the authoritative TTL
says how long resolvers may keep the old one (a resolver's answer from its
cache carries what is left of it).
"""

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.version

NAMESERVER_SECONDS = 5  # one query to one nameserver
# Resolver.resolve() and zone_for_name(resolver=) came with 2.0 (Debian 11);
# Debian 10's 1.16 would import and then fail half-way.
VERSION = dns.version.version
TOO_OLD = (dns.version.MAJOR, dns.version.MINOR) < (2, 0)


def resolver(address, port):
    """A resolver for address[:port], or this host's (address "")."""
    result = dns.resolver.Resolver(configure=not address)
    if address:
        result.nameservers = [address]
        if port:
            result.port = int(port)
    result.flags = dns.flags.RD | dns.flags.AD  # ask whether it validated
    result.use_edns(0, dns.flags.DO, 1232)
    result.lifetime = 10
    return result


def _records(rrset):
    return sorted("%d %d %d %s" % (rr.usage, rr.selector, rr.mtype, rr.cert.hex())
                  for rr in rrset)


def lookup(owner, resolver):
    """The TLSA RRset at owner through the resolver: records, TTL, AD flag,
    and the name it is at (a CNAME may lead elsewhere, as DANE allows)."""
    entry = {"owner": owner, "records": [], "ttl": None, "validated": False, "error": None,
             "canonical_name": owner, "nameservers": []}
    try:
        answer = resolver.resolve(owner, "TLSA", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return entry
    except dns.exception.DNSException as error:
        entry["error"] = str(error) or error.__class__.__name__
        return entry
    entry["validated"] = bool(answer.response.flags & dns.flags.AD)
    entry["canonical_name"] = answer.canonical_name.to_text()
    if answer.rrset is not None:
        entry["ttl"] = answer.rrset.ttl
        entry["records"] = _records(answer.rrset)
    return entry


def nameservers(owner, resolver):
    """([(nameserver, address)] of the zone owner is in, found through the
    resolver, error): error says why none were found."""
    try:
        zone = dns.resolver.zone_for_name(owner, resolver=resolver)
        names = sorted(rr.target.to_text() for rr in resolver.resolve(zone, "NS"))
    except dns.exception.DNSException as error:
        return [], str(error) or error.__class__.__name__
    found = []
    for name in names:
        for kind in ("A", "AAAA"):
            try:
                answer = resolver.resolve(name, kind, raise_on_no_answer=False)
            except dns.exception.DNSException:
                continue
            if answer.rrset is not None:
                found += [(name, rr.address) for rr in answer.rrset]
    return found, "" if found else "no address for %s" % ", ".join(names)


def ask_nameserver(owner, name, address):
    """The TLSA RRset at owner as the nameserver serves it, without recursion."""
    served = {"name": name, "address": address, "records": [], "ttl": None, "error": None}
    query = dns.message.make_query(owner, "TLSA")
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, address, timeout=NAMESERVER_SECONDS)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, address, timeout=NAMESERVER_SECONDS)
    except (dns.exception.DNSException, OSError) as error:
        served["error"] = str(error) or error.__class__.__name__
        return served
    if not response.flags & dns.flags.AA:
        served["error"] = "not authoritative (%s)" % dns.rcode.to_text(response.rcode())
    elif response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        served["error"] = dns.rcode.to_text(response.rcode())
    else:
        try:
            rrset = response.find_rrset(response.answer, dns.name.from_text(owner),
                                        dns.rdataclass.IN, dns.rdatatype.TLSA)
        except KeyError:
            return served  # none published there
        served["ttl"] = rrset.ttl
        served["records"] = _records(rrset)
    return served
