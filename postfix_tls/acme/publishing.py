"""deploy-acme-cert -K: the records in DNS follow the keys, with no person
in the loop.

1. A new key is kept in the staged file, then its "3 1 1" record is
   published beside the records of every key in service (one update per
   zone, each RRset required as read: dane/publisher.py).  The gate then
   deploys it from the first run after every nameserver serves it, the
   resolver validates it where the zone is signed, and one TTL has
   passed: runs decide from recorded state and exit, nothing sleeps.
2. Once a key has left service, its record goes, one TTL after a run
   first found it unneeded, by a later run (the hook's or a timer's).
   Only records this host's updates added (the registry,
   acme-tlsa.published) are ever removed.

A failed update changes nothing on the mail server: the new key stays
staged, the old one live, and the run exits 75 (a later run may succeed)
or 1 (the key, the ACL, the TTL: a person must act).
"""

from postfix_tls.acme.facts import DEPLOY, STAGE, STAGED_FILE, config_file
from postfix_tls.core import messages
from postfix_tls.core.certificates import iso
from postfix_tls.dane import publisher

RECORD = "3 1 1 "


def settings(tls, options):
    """The Publisher of -K, -P, -L (-n: the resolver), or None without -K;
    a bad option fails before anything changes."""
    if not options.get("K"):
        for letter in ("P", "L"):
            if options.get(letter):
                tls.fail(messages.ACME_PUBLISH_NEEDS_KEY.format(letter=letter))
        return None
    return publisher.from_options(tls, options, seconds_letter=None)


def ports_in_step(tls, hostname, ports, outcome):
    """-p's ports, and those where this host has published records before
    (the registry): a new key left out there would break DANE on them."""
    more = [port for port in publisher.registered_ports(tls, hostname) if port not in ports]
    if more:
        outcome.notes.append(messages.ACME_MORE_PORTS.format(
            ports=",".join(str(port) for port in more), path=publisher.registry_path(tls)))
    return list(ports) + more


def records_in_service(tls):
    """The records of the keys Postfix serves, and of the next keys."""
    from postfix_tls.dane.rollover import known_keys

    return set(RECORD + key.digest for key in known_keys(tls))


def publish_new_keys(tls, publisher_settings, hostname, ports, in_service, gated, outcome):
    """Add the gated keys' records beside those in service; on failure, the
    gated deployments are staged with the reason, outcome.failure set."""
    from postfix_tls.dane import publish

    for deployment in gated:
        _keep(tls, deployment)
    new = set(RECORD + deployment.material.digest for deployment in gated)
    wanted = sorted(in_service | new)
    registry = publisher.read_registry(tls)
    try:
        update = publisher.publish_records(tls, publisher_settings, hostname, ports, wanted,
                                           registry=registry)
    except publish.PublishError as error:
        outcome.failure = error
        for deployment in gated:
            deployment.action = STAGE
            deployment.reasons = [messages.ACME_PUBLISH_FAILED.format(error=error)]
        return
    _note(tls, outcome.published, update, "add", messages.ACME_PUBLISHED)
    for deployment in gated:
        deployment.published = True  # the gate prints no records to publish


def _keep(tls, deployment):
    """The given key and chain kept in the staged file before their record
    is published: a run killed once the record is out must not lose the
    key it names (the client hands it over once).  A deploy later in this
    run removes the file, as it removes any staged material it deploys."""
    material = deployment.material
    if material.source == "staged":
        return
    path = config_file(tls, STAGED_FILE, deployment.algorithm)
    try:
        tls.runner.replace_file(path, material.text.encode("ascii"), 0o600, undo=False)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))


def needed_after(in_service, deployments):
    """The records still needed once this run is done: those in service and
    staged, less the keys this run replaced."""
    needed = set(in_service)
    for deployment in deployments:
        if deployment.action in (DEPLOY, STAGE):
            needed.add(RECORD + deployment.material.digest)
        if deployment.action == DEPLOY and deployment.key_changed and deployment.loaded.digest:
            needed.discard(RECORD + deployment.loaded.digest)
    return needed


def retire_old_keys(tls, publisher_settings, hostname, ports, needed, outcome):
    """Remove the records of keys that left service one TTL ago or more."""
    from postfix_tls.dane import publish

    try:
        update, waiting = publisher.retire(tls, publisher_settings, hostname, ports, needed)
    except publish.PublishError as error:
        outcome.failure = error
        outcome.notes.append(messages.ACME_RETIRE_FAILED.format(error=error))
        return
    if update is not None:
        _note(tls, outcome.retired, update, "delete", messages.ACME_RETIRED)
    for (owner, record), due in sorted(waiting.items()):
        outcome.notes.append(messages.ACME_RETIRE_WAIT.format(owner=owner, record=record,
                                                              after=iso(due)))


def _note(tls, lines, update, what, message):
    lines += update.not_sent  # a dry run: the update it would send
    for change in update.changes:
        for record in getattr(change, what):
            lines.append(message.format(owner=change.owner, ttl=change.ttl, record=record,
                                        server=update.server,
                                        dry_run=messages.ACME_NOT_SENT if tls.runner.dry_run
                                        else ""))
