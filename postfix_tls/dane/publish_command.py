"""``publish-server-tlsa`` (ours): the "3 1 1" record of every key in
service and of the next key, for each port, added to the zone by one RFC
2136 update signed with TSIG (publish.py, publisher.py), or written out
for a person or another tool to apply (-o nsupdate, -o zone).  It never
deletes a record: retiring an old key's record is deploy-acme-cert's,
once it is safe; the records it adds go into the registry it retires
from."""

import sys

from postfix_tls.core import messages, validate
from postfix_tls.dane import publisher
from postfix_tls.dane.rollover import hostname_and_ports, known_keys

OUTPUTS = ("nsupdate", "zone")


def publish_server_tlsa(tls, options, operands):
    hostname, ports = hostname_and_ports(tls, options)
    output = options.get("o", "")
    if output and output not in OUTPUTS:
        tls.fail(messages.PUBLISH_BAD_OUTPUT.format(validate.shown(output)))
    settings = publisher.from_options(tls, options, key_needed=not output)
    from postfix_tls.dane import publish

    keys = known_keys(tls, sni_name=options.get("S", ""))
    if not any(found.role == "deployed" for found in keys):
        tls.fail(messages.NO_USABLE_KEYFILES)
    records = ["3 1 1 " + found.digest for found in keys]
    try:
        if output:
            update = publisher.prepare(settings, hostname, ports, records)
            sys.stdout.write(publish.nsupdate_script(update.zone, update.server, update.port,
                                                     update.changes) if output == "nsupdate"
                             else publish.zone_lines(update.changes))
            return messages.EXIT_OK
        update = publisher.publish_records(tls, settings, hostname, ports, records,
                                           registry=publisher.read_registry(tls))
    except publish.PublishError as error:
        tls.log.error(str(error))
        return messages.EXIT_STAGED if error.retry else messages.EXIT_FAIL
    if update.not_sent:  # a dry run: the update it would send
        sys.stdout.write("".join(line + "\n" for line in update.not_sent))
    for change in update.changes:
        for record in change.add:
            sys.stdout.write(messages.PUBLISHED.format(
                owner=change.owner, ttl=change.ttl, record=record,
                dry_run=" (dry run: not sent)" if tls.runner.dry_run else ""))
        if not change.add:
            sys.stdout.write(messages.PUBLISHED_ALREADY.format(owner=change.owner))
    return messages.EXIT_OK


def prefetch(options, operands):
    from postfix_tls.dane.rollover import prefetch as rollover_prefetch

    return rollover_prefetch(options, operands)
