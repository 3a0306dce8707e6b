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

from postfix_tls.core import messages
from postfix_tls.core.tlsa import Lookup, Served

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
    try:
        answer = resolver.resolve(owner, "TLSA", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(owner)
    except dns.exception.Timeout:
        # Said once: dnspython's text repeats each try's timeout.
        return Lookup(owner, error=messages.DNS_NO_ANSWER.format(
            nameservers=", ".join(str(server) for server in resolver.nameservers),
            seconds=int(round(resolver.lifetime))))
    except dns.exception.DNSException as error:
        return Lookup(owner, error=str(error) or error.__class__.__name__)
    rrset = answer.rrset
    return Lookup(owner, _records(rrset) if rrset is not None else (),
                  rrset.ttl if rrset is not None else None,
                  bool(answer.response.flags & dns.flags.AD), None,
                  answer.canonical_name.to_text())


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
    """The TLSA RRset at owner as the nameserver serves it, without recursion;
    asked with DO, so that its RRSIG says whether the zone is signed."""
    query = dns.message.make_query(owner, "TLSA", want_dnssec=True, payload=1232)
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, address, timeout=NAMESERVER_SECONDS)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, address, timeout=NAMESERVER_SECONDS)
    except (dns.exception.DNSException, OSError) as error:
        return Served(name, address, error=str(error) or error.__class__.__name__)
    if not response.flags & dns.flags.AA:
        return Served(name, address,
                      error="not authoritative (%s)" % dns.rcode.to_text(response.rcode()))
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Served(name, address, error=dns.rcode.to_text(response.rcode()))
    try:
        rrset = response.find_rrset(response.answer, dns.name.from_text(owner),
                                    dns.rdataclass.IN, dns.rdatatype.TLSA)
    except KeyError:
        return Served(name, address)  # none published there
    signed = any(rrset.rdtype == dns.rdatatype.RRSIG and rrset.covers == dns.rdatatype.TLSA
                 for rrset in response.answer)
    return Served(name, address, _records(rrset), rrset.ttl, signed=signed)


def serial(owner, address):
    """The SOA serial of owner's zone as the nameserver at address serves
    it (the SOA it gives with its answer for owner), or None."""
    query = dns.message.make_query(owner, "SOA")
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, address, timeout=NAMESERVER_SECONDS)
    except (dns.exception.DNSException, OSError):
        return None
    for rrset in response.answer + response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None
