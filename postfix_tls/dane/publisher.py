"""What publish-server-tlsa and deploy-acme-cert share to keep TLSA records
in the zone: the options (-K, -P, -L, -t, and -n for the resolver), one
update of every port's RRset, and the registry of the records this host
has put there (``acme-tlsa.published``).

The registry is what makes retiring safe: a record is only ever removed
if it is there, so records that no key of this host ever had (another
host's, a person's) are never touched.  Each line is "owner record
since": since is 0 while a key of this host needs the record (deployed,
staged, next), else when a run first found it unneeded.  A record goes
once one RRset TTL has passed since then: a cache may still hold an
RRset without the new key's record until that moment, and the old key
could not have been put back before it anyway (a failed deploy puts it
back in the same run).

The registry is written before the update is sent, and never put back
by a failed run's undo: a record the zone may hold must not be
forgotten, and a line for a record the zone does not hold is harmless.
"""

import math
import os
import time

from postfix_tls.core import messages, validate
from postfix_tls.dane import first_seen

REGISTRY_FILE = "acme-tlsa.published"
SECONDS = 10  # -t of publish-server-tlsa: how long the primary may take


class Publisher(object):
    """The options: the TSIG key (None: write the update out instead), the
    primary given (""), the TTL for a new RRset (None), the primary's time
    to answer, the resolver (-n, "": this host's)."""

    def __init__(self, key, primary, ttl, seconds, nameserver):
        self.key = key
        self.primary = primary
        self.ttl = ttl
        self.seconds = seconds
        self.nameserver = nameserver


class Update(object):
    """The update for a zone: where it goes, and each owner's Change."""

    def __init__(self, zone, server, port, changes):
        self.zone = zone
        self.server = server
        self.port = port
        self.changes = changes
        self.not_sent = []  # a dry run: the update as text, for the output


def from_options(tls, options, key_needed=True, seconds_letter="t"):
    """The Publisher of -K, -P, -L (and -t, -n); tls.fail() on a bad one,
    before anything changes."""
    from postfix_tls.dane.check import _valid_nameserver, dnspython

    for letter, message in (("n", messages.BAD_NAMESERVER), ("P", messages.PUBLISH_BAD_PRIMARY)):
        if options.get(letter) and not _valid_nameserver(options[letter]):
            tls.fail(message.format(validate.shown(options[letter])))
    ttl = _number(tls, options, "L", messages.PUBLISH_BAD_TTL, 2147483647)
    seconds = SECONDS
    if seconds_letter:
        seconds = _number(tls, options, seconds_letter, messages.BAD_SECONDS, 3600) or SECONDS
    key = None
    if key_needed:
        if not options.get("K"):
            tls.fail(messages.PUBLISH_NO_KEY_FILE)
        from postfix_tls.dane import tsig

        # Relative: in the configuration directory, as the operands of
        # deploy-server-cert and deploy-acme-cert (a run's working directory
        # is command_directory).
        path = os.path.join(tls.config_directory, options["K"])
        try:
            key = tsig.read(path)
        except tsig.TsigKeyError as error:
            tls.fail(str(error))
    # Before anything changes.
    dnspython(tls, messages.PUBLISH_NO_DNSPYTHON, messages.PUBLISH_OLD_DNSPYTHON)
    return Publisher(key, options.get("P", ""), ttl, seconds, options.get("n", ""))


def _number(tls, options, letter, message, largest):
    text = options.get(letter, "")
    if not text:
        return None
    if not validate.digits(text) or not 0 < int(text) <= largest:
        tls.fail(message.format(validate.shown(text)))
    return int(text)


def owners(hostname, ports):
    """The TLSA owner names, in lower case: DNS compares names without
    case, and so must the registry (-h MAIL.example.org is mail's)."""
    return ["_%d._tcp.%s." % (port, hostname.lower()) for port in ports]


def registered_ports(tls, hostname):
    """The ports of hostname's owners in the registry: where this host has
    published records, which a rollover must keep in step whatever -p says."""
    suffix = "._tcp.%s." % hostname.lower()
    ports = set()
    for owner, _ in read_registry(tls):
        port = owner[1:-len(suffix)] if owner.startswith("_") and owner.endswith(suffix) else ""
        if port.isdigit():
            ports.add(int(port))
    return sorted(ports)


def read_zone(publisher, hostname, ports):
    """(zone, primary, port, {owner: (records, ttl)}): every port's RRset as
    the primary serves it now.  PublishError."""
    from postfix_tls.dane import publish

    names = owners(hostname, ports)
    zone, server, port = _primary(publisher, names[0])
    return zone, server, port, publish.read_rrsets(names, server, port, publisher.seconds)


def prepare(publisher, hostname, ports, add, delete=None, read=None):
    """The Update adding records to every port's RRset as read (read_zone(),
    now unless given); delete: {owner: [records]} to remove.  PublishError."""
    from postfix_tls.dane import publish

    zone, server, port, rrsets = read or read_zone(publisher, hostname, ports)
    return Update(zone, server, port, publish.changes(rrsets, add, delete, ttl=publisher.ttl))


def send(tls, publisher, update):
    """Send what update changes (traced; a dry run sends nothing)."""
    from postfix_tls.dane import publish

    pending = publish.pending(update.changes)
    if not pending:
        return
    tls.runner.tracer.check()  # nothing sent untraced
    documents = [change.to_json() for change in pending]
    tls.runner.tracer.dns_update(update.zone, update.server, update.port, publisher.key.name,
                                 documents, tls.runner.dry_run)
    if tls.runner.dry_run:
        from postfix_tls.core.trace import dns_update_lines

        update.not_sent = dns_update_lines(update.zone, update.server, update.port,
                                           publisher.key.name, documents)
    else:
        publish.send(update.zone, update.changes, publisher.key, update.server, update.port,
                     publisher.seconds)


def publish_records(tls, publisher, hostname, ports, add, delete=None, registry=None,
                    read=None):
    """prepare() and send(); an RRset changed since it was read (another
    host's update) is read once more and the update made again from
    that, never forced.  registry: the records the update adds are
    registered as this host's before it is sent, and taken out again
    when it certainly was not made.  read: read_zone()'s, for the first
    try.  The Update sent; PublishError."""
    from postfix_tls.dane import publish

    for attempt in (1, 2):
        update = prepare(publisher, hostname, ports, add, delete,
                         read if attempt == 1 else None)
        added = register(registry, update) if registry is not None else []
        if added:
            write_registry(tls, registry)  # before it is sent: never forgotten
        try:
            send(tls, publisher, update)
        except publish.PublishError as error:
            if added and not error.maybe_made:
                for entry in added:
                    registry.pop(entry, None)
                write_registry(tls, registry)
            if attempt == 2 or not error.changed:
                raise
            continue
        if not tls.runner.dry_run:
            _made(publisher, hostname, ports, update)
        return update
    raise AssertionError("not reached")


def _made(publisher, hostname, ports, update):
    """PublishError unless the primary now serves what the update added, and
    not what it deleted: a server may answer NOERROR to an update it did
    not make (Knot: "no changes to the zone were made")."""
    from postfix_tls.dane import publish

    served = publish.read_rrsets(owners(hostname, ports), update.server, update.port,
                                 publisher.seconds)
    where = "%s port %d" % (update.server, update.port)
    for change in publish.pending(update.changes):
        records = set(served.get(change.owner, ([], None))[0])
        missing = sorted(set(change.add) - records)
        kept = sorted(set(change.delete) & records)
        if missing or kept:
            raise publish.PublishError(messages.PUBLISH_NOT_MADE.format(
                server=where, zone=update.zone, owner=change.owner,
                what="lacks " + ", ".join(missing) if missing else "still has " + ", ".join(kept)))


def _primary(publisher, owner):
    """(zone, server address, port): -P SERVER[:PORT], else the SOA's MNAME."""
    import dns.exception
    import dns.resolver

    from postfix_tls.dane import lookup, publish
    from postfix_tls.dane.check import split_nameserver

    resolver = lookup.resolver(*split_nameserver(publisher.nameserver))
    if publisher.primary:
        address, port = split_nameserver(publisher.primary)
        try:
            zone = dns.resolver.zone_for_name(owner, resolver=resolver).to_text()
        except dns.exception.DNSException as error:
            raise publish.PublishError(messages.PUBLISH_NO_ZONE.format(owner=owner, error=error))
        return zone, address, int(port or 53)
    zone, _, addresses = publish.zone_and_primary(owner, resolver)
    return zone, addresses[0], 53


# ----- the registry

def registry_path(tls):
    return os.path.join(tls.config_directory, REGISTRY_FILE)


def read_registry(tls):
    """{(owner, record): since} (0: needed); lines that do not parse are
    dropped with a warning (first_seen's checks: no record is retired
    on a line this host cannot have written)."""
    read, dirty = first_seen.read(tls, registry_path(tls), allow_zero=True,
                                  reset_to=int(math.ceil(time.time())),
                                  reset_message=messages.REGISTRY_RESET)
    known = {}
    for (owner, record), since in read.items():
        entry = owner.lower(), record
        if entry in known or entry != (owner, record):
            dirty = True  # written in another case: one entry, the later time
        known[entry] = max(since, known.get(entry, 0))
    if dirty:
        write_registry(tls, known)
    return known


def write_registry(tls, registry):
    """Kept even if the run fails later (see the module's text)."""
    path = registry_path(tls)
    try:
        tls.runner.replace_file(path, first_seen.text(registry).encode("ascii"), 0o644,
                                undo=False)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))


def register(registry, update):
    """The records update adds (none of them in the RRset as read: a record
    that was there is another's, or a person's), as this host's, needed;
    the entries added, [(owner, record)]."""
    added = []
    for change in update.changes:
        for record in change.add:
            if (change.owner, record) not in registry:
                added.append((change.owner, record))
            registry[change.owner, record] = 0
    return added


def retire(tls, publisher, hostname, ports, needed, now=None):
    """Remove from every port's RRset the records this host published whose
    key is no longer needed, once one RRset TTL has passed since a run first
    found them unneeded.  needed: the records of every key in service,
    staged or next.  (Update sent or None, {(owner, record): due time} of
    the records that wait); PublishError."""
    now = now if now is not None else time.time()
    registry = read_registry(tls)
    names = owners(hostname, ports)
    dirty = False
    for (owner, record), since in sorted(registry.items()):
        if owner not in names:
            continue
        # Rounded up: a whole TTL passes after the moment it was found.
        wanted = 0 if record in needed else since or int(math.ceil(now))
        if wanted != since:
            registry[owner, record], dirty = wanted, True
    unneeded = dict((entry, since) for entry, since in registry.items()
                    if since and entry[0] in names)
    if not unneeded:
        if dirty:
            write_registry(tls, registry)
        return None, {}
    read = read_zone(publisher, hostname, ports)
    waiting, delete = {}, {}
    for (owner, record), since in unneeded.items():
        records, ttl = read[3].get(owner, ([], None))
        if record not in records:
            del registry[owner, record]  # gone already (removed by a person)
            dirty = True
        elif now >= since + (ttl or 0):
            delete.setdefault(owner, []).append(record)
        else:
            waiting[owner, record] = since + ttl
    if dirty:
        write_registry(tls, registry)
    if not delete:
        return None, waiting
    update = publish_records(tls, publisher, hostname, ports, [], delete, read=read)
    if not tls.runner.dry_run:
        for change in update.changes:
            for record in change.delete:
                registry.pop((change.owner, record), None)
        write_registry(tls, registry)
    return update, waiting
