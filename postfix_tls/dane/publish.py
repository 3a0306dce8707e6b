"""Publishing TLSA records: one RFC 2136 update, signed with TSIG, to the
zone's primary.

What is sent is computed from what the primary serves now (read just
before), and carries it as a prerequisite: each RRset must still be
exactly what was read ("RRset exists, value dependent", or "does not
exist"), so that two hosts (or two runs) adding their keys to one RRset
cannot lose each other's records: the second update fails (NXRRSET) and
is computed again from a fresh read, never forced.  Records are added
with the RRset's own TTL (Knot gives a whole RRset the TTL of the record
an update added last), else the TTL given.  A record is deleted only when
asked (retiring: a key of this host no longer in service), never one of
a key Postfix serves.

dnspython is imported by the functions that send (as by check-server-tlsa).
"""

from postfix_tls.core import messages


class PublishError(Exception):
    """The update was not made; the text says why and what to do."""

    def __init__(self, text, retry=True, changed=False, maybe_made=False):
        Exception.__init__(self, text)
        self.retry = retry  # exit 75 (try again later) rather than 1
        self.changed = changed  # the RRset is not as read: read again
        self.maybe_made = maybe_made  # sent, and no answer: it may have been made


class Change(object):
    """One owner's RRset: as read (records, ttl: None where there is none),
    and what the update adds and deletes."""

    def __init__(self, owner, records, ttl, add=(), delete=()):
        self.owner = owner
        self.records = sorted(_normal(record) for record in records)
        self.ttl = ttl
        self.add = sorted(set(_normal(record) for record in add) - set(self.records))
        self.delete = sorted(set(_normal(record) for record in delete) & set(self.records))

    def after(self):
        """The RRset once the update is made."""
        return sorted((set(self.records) | set(self.add)) - set(self.delete))

    def to_json(self):
        return {"owner": self.owner, "records": self.records, "ttl": self.ttl,
                "add": self.add, "delete": self.delete}


def _normal(record):
    """"3 1 1 ABCD" as "3 1 1 abcd": how records are compared."""
    words = record.split()
    return " ".join(words[:3] + ["".join(words[3:]).lower()])


def changes(read, add, delete=None, ttl=None):
    """[Change] for {owner: (records, ttl)} as read: add records in every
    owner's RRset, and delete {owner: [records]} from each; PublishError
    where an RRset has no TTL of its own and none is given."""
    result = []
    for owner in sorted(read):
        records, owner_ttl = read[owner]
        change = Change(owner, records, owner_ttl if records else None, add,
                        (delete or {}).get(owner, ()))
        if change.add and change.ttl is None:
            if ttl is None:
                raise PublishError(messages.PUBLISH_NO_TTL.format(owner=owner), retry=False)
            change.ttl = ttl
        result.append(change)
    return result


def pending(changes_):
    """The changes that change something."""
    return [change for change in changes_ if change.add or change.delete]


def nsupdate_script(zone, server, port, changes_):
    """The same update as an nsupdate(1) script (give it the key: -k FILE)."""
    lines = ["server %s %d" % (server, port), "zone %s" % zone]
    for change in pending(changes_):
        if change.records:
            lines += ["prereq yxrrset %s IN TLSA %s" % (change.owner, record)
                      for record in change.records]
        else:
            lines.append("prereq nxrrset %s IN TLSA" % change.owner)
    for change in pending(changes_):
        lines += ["update delete %s IN TLSA %s" % (change.owner, record)
                  for record in change.delete]
        lines += ["update add %s %d IN TLSA %s" % (change.owner, change.ttl, record)
                  for record in change.add]
    return "\n".join(lines + ["send"]) + "\n"


def zone_lines(changes_):
    """Each RRset as the update leaves it, as zone-file lines ($INCLUDE-able)."""
    return "".join("%s %d IN TLSA %s\n" % (change.owner, change.ttl, record)
                   for change in changes_ for record in change.after() if change.ttl)


def update_message(zone, changes_, key):
    """The RFC 2136 update (dnspython), signed with key (a tsig.TsigKey)."""
    import dns.rdataset
    import dns.tsig
    import dns.tsigkeyring
    import dns.update

    keyring = dns.tsigkeyring.from_text({key.name: (key.algorithm, key.secret)})
    update = dns.update.UpdateMessage(zone, keyring=keyring, keyname=key.name,
                                      keyalgorithm=key.algorithm)
    for change in pending(changes_):
        if change.records:
            # RFC 2136 2.4.2: a value-dependent prerequisite's TTL is 0.
            update.present(change.owner, dns.rdataset.from_text(
                "IN", "TLSA", 0, *change.records))
        else:
            update.absent(change.owner, "TLSA")
    for change in pending(changes_):
        for record in change.delete:
            update.delete(change.owner, "TLSA", record)
        for record in change.add:
            update.add(change.owner, change.ttl, "TLSA", record)
    return update


def send(zone, changes_, key, server, port=53, timeout=10):
    """Send the update to server (the primary) over TCP; PublishError
    unless it says NOERROR."""
    import dns.exception
    import dns.query
    import dns.rcode
    import dns.tsig

    where = "%s port %d" % (server, port)
    try:
        response = dns.query.tcp(update_message(zone, changes_, key), server, port=port,
                                 timeout=timeout)
    except dns.tsig.PeerBadKey:
        raise PublishError(messages.PUBLISH_BADKEY.format(server=where, key=key.name),
                           retry=False)
    except dns.tsig.PeerBadSignature:
        raise PublishError(messages.PUBLISH_BADSIG.format(server=where, key=key.name),
                           retry=False)
    except dns.tsig.PeerBadTime:
        raise PublishError(messages.PUBLISH_BADTIME.format(server=where))
    except dns.exception.Timeout:
        raise PublishError(messages.PUBLISH_TIMEOUT.format(server=where, seconds=timeout),
                           maybe_made=True)
    except (OSError, EOFError, dns.exception.DNSException) as error:
        raise PublishError(messages.PUBLISH_NO_ANSWER.format(server=where, error=error),
                           maybe_made=True)
    rcode = response.rcode()
    if rcode == dns.rcode.NOERROR:
        return
    text = dns.rcode.to_text(rcode)
    if rcode in (dns.rcode.NXRRSET, dns.rcode.YXRRSET):
        raise PublishError(messages.PUBLISH_CHANGED.format(zone=zone, server=where),
                           changed=True)
    raise PublishError(messages.PUBLISH_REFUSED.format(server=where, rcode=text, zone=zone),
                       retry=rcode in (dns.rcode.SERVFAIL,))


def zone_and_primary(owner, resolver):
    """(zone, primary's name, [its addresses]) for owner: the zone that
    holds it (its SOA) and the SOA's MNAME; PublishError where DNS cannot
    say."""
    import dns.exception
    import dns.resolver

    try:
        zone = dns.resolver.zone_for_name(owner, resolver=resolver)
        soa = resolver.resolve(zone, "SOA")[0]
    except dns.exception.DNSException as error:
        raise PublishError(messages.PUBLISH_NO_ZONE.format(owner=owner, error=error))
    primary = soa.mname.to_text()
    addresses = []
    for rdtype in ("A", "AAAA"):
        try:
            addresses += [rdata.address for rdata in resolver.resolve(primary, rdtype)]
        except dns.exception.DNSException:
            continue
    if not addresses:
        raise PublishError(messages.PUBLISH_NO_PRIMARY.format(zone=zone.to_text(),
                                                              primary=primary))
    return zone.to_text(), primary, addresses


def read_rrsets(owners, server, port=53, timeout=10):
    """{owner: (records, ttl)} as server (the primary) serves them now, asked
    over TCP with no recursion: a cache must not answer for it; records as
    Change compares them."""
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    rrsets = {}
    where = "%s port %d" % (server, port)
    for owner in owners:
        query = dns.message.make_query(owner, "TLSA")
        query.flags &= ~dns.flags.RD
        try:
            response = dns.query.tcp(query, server, port=port, timeout=timeout)
        except dns.exception.Timeout:
            raise PublishError(messages.PUBLISH_READ_TIMEOUT.format(
                server=where, seconds=timeout, owner=owner))
        except (OSError, EOFError, dns.exception.DNSException) as error:
            raise PublishError(messages.PUBLISH_READ_NO_ANSWER.format(
                server=where, owner=owner, error=error))
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) or not (
                response.flags & dns.flags.AA):
            # REFUSED, or an answer that is not the zone's own: not the
            # primary, or one that does not let this host read the zone.
            raise PublishError(messages.PUBLISH_READ_FAILED.format(
                server=where, owner=owner, rcode=dns.rcode.to_text(rcode) + (
                    "" if response.flags & dns.flags.AA else ", not authoritative")),
                retry=rcode == dns.rcode.SERVFAIL)
        records, ttl = [], None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME and rrset.name.to_text() == owner:
                # Nothing can be added beside a CNAME: the server would
                # answer NOERROR and change nothing.
                raise PublishError(messages.PUBLISH_CNAME.format(
                    owner=owner, target=rrset[0].target.to_text()), retry=False)
            if rrset.rdtype == dns.rdatatype.TLSA and rrset.name.to_text() == owner:
                records = [_normal(rdata.to_text()) for rdata in rrset]
                ttl = rrset.ttl
        rrsets[owner] = (records, ttl)
    return rrsets
