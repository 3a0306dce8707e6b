"""``publish-server-tlsa`` (ours): the "3 1 1" record of every key in
service and of the next key, for each port, added to the zone by one RFC
2136 update signed with TSIG (publish.py), or written out for a person or
another tool to apply (-o nsupdate, -o zone).  It never deletes a record:
retiring an old key's record is deploy-acme-cert's, once it is safe."""

import sys

from postfix_tls.core import messages, validate
from postfix_tls.dane.check import _valid_nameserver, split_nameserver
from postfix_tls.dane.rollover import hostname_and_ports, known_keys

OUTPUTS = ("nsupdate", "zone")
SECONDS = 10  # -t: how long the primary may take to answer


def publish_server_tlsa(tls, options, operands):
    hostname, ports = hostname_and_ports(tls, options)
    for letter, message in (("n", messages.BAD_NAMESERVER), ("P", messages.PUBLISH_BAD_PRIMARY)):
        if options.get(letter) and not _valid_nameserver(options[letter]):
            tls.fail(message.format(validate.shown(options[letter])))
    output = options.get("o", "")
    if output and output not in OUTPUTS:
        tls.fail(messages.PUBLISH_BAD_OUTPUT.format(validate.shown(output)))
    ttl = _number(tls, options, "L", messages.PUBLISH_BAD_TTL, 2147483647)
    seconds = _number(tls, options, "t", messages.BAD_SECONDS, 3600) or SECONDS
    key = None
    if not output:
        if not options.get("K"):
            tls.fail(messages.PUBLISH_NO_KEY_FILE)
        from postfix_tls.dane import tsig

        try:
            key = tsig.read(options["K"])
        except tsig.TsigKeyError as error:
            tls.fail(str(error))
    try:
        from postfix_tls.dane import lookup, publish
    except ImportError:
        tls.fail(messages.NO_DNSPYTHON)
    keys = known_keys(tls)
    if not any(found.role == "deployed" for found in keys):
        tls.fail(messages.NO_USABLE_KEYFILES)
    records = ["3 1 1 " + found.digest for found in keys]
    owners = ["_%d._tcp.%s." % (port, hostname) for port in ports]
    try:
        resolver = lookup.resolver(*split_nameserver(options.get("n", "")))
        zone, server, port = _primary(publish, resolver, owners[0], options.get("P", ""))
        changes = publish.changes(publish.read_rrsets(owners, server, port, seconds),
                                  records, ttl=ttl)
        if output == "nsupdate":
            sys.stdout.write(publish.nsupdate_script(zone, server, port, changes))
            return messages.EXIT_OK
        if output == "zone":
            sys.stdout.write(publish.zone_lines(changes))
            return messages.EXIT_OK
        pending = publish.pending(changes)
        if pending:
            tls.runner.tracer.dns_update(zone, server, port, key.name,
                                         [change.to_json() for change in pending],
                                         tls.runner.dry_run)
            if not tls.runner.dry_run:
                publish.send(zone, changes, key, server, port, seconds)
    except publish.PublishError as error:
        tls.log.error(str(error))
        return messages.EXIT_STAGED if error.retry else messages.EXIT_FAIL
    for change in changes:
        for record in change.add:
            sys.stdout.write(messages.PUBLISHED.format(
                owner=change.owner, ttl=change.ttl, record=record,
                dry_run=" (dry run: not sent)" if tls.runner.dry_run else ""))
        if not change.add:
            sys.stdout.write(messages.PUBLISHED_ALREADY.format(owner=change.owner))
    return messages.EXIT_OK


def _number(tls, options, letter, message, largest):
    text = options.get(letter, "")
    if not text:
        return None
    if not validate.digits(text) or not 0 < int(text) <= largest:
        tls.fail(message.format(validate.shown(text)))
    return int(text)


def _primary(publish, resolver, owner, given):
    """(zone, server address, port): -P SERVER[:PORT], else the SOA's MNAME."""
    import dns.exception
    import dns.resolver

    if given:
        address, port = split_nameserver(given)
        try:
            zone = dns.resolver.zone_for_name(owner, resolver=resolver).to_text()
        except dns.exception.DNSException as error:
            raise publish.PublishError(messages.PUBLISH_NO_ZONE.format(owner=owner, error=error))
        return zone, address, int(port or 53)
    zone, _, addresses = publish.zone_and_primary(owner, resolver)
    return zone, addresses[0], 53


def prefetch(options, operands):
    from postfix_tls.dane.rollover import prefetch as rollover_prefetch

    return rollover_prefetch(options, operands)
