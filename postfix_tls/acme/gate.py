"""Step 2 of deploy-acme-cert: the DANE gate.  A new key goes in only
once every authoritative nameserver serves a record matching it and the
TTL has passed since a run first saw that; until then it is staged."""

import collections
import math
import os
import time

from postfix_tls.acme.facts import DEPLOY, SEEN_FILE, STAGE, STAGED_FILE, config_file
from postfix_tls.core import messages
from postfix_tls.core.certificates import iso
from postfix_tls.core.keys import (
    certificate_digest,
    key_text_digest,
)
from postfix_tls.core.ordered import unique
from postfix_tls.dane import first_seen
from postfix_tls.dane.check import Check, ask_dns, dns_resolver, judge_nameservers


def _ask(tls, hostname, ports, nameserver):
    """(lookup, Check): every port's RRset through the resolver and from
    each of the zone's nameservers."""
    lookup, resolver = dns_resolver(tls, nameserver, messages.ACME_NO_DNSPYTHON,
                                    messages.ACME_OLD_DNSPYTHON)
    check = Check(hostname, ports, nameserver)
    for port in ports:
        entry = ask_dns(lookup, resolver, check, "_%d._tcp.%s." % (port, hostname.lower()))
        if not entry.error:
            judge_nameservers(check, entry)
        check.dns[port] = entry
    return lookup, check


def _published(check):
    return [entry for entry in check.dns.values() if not entry.error and (
        entry.records or any(served.records for served in entry.nameservers))]


def watch(tls, hostname, ports, nameserver):
    """Note when each record is first served everywhere (SEEN_FILE), with no
    key to let in: the runs between two renewals (a timer's, dehydrated's
    unchanged_cert) keep the record of a key made ahead counted from its
    first sighting, so that the renewal that takes the key deploys it at
    once.  A DNS error is no failure here (the gate looks again): [(owner,
    error)]."""
    _, check = _ask(tls, hostname, ports, nameserver)
    _seen(tls, _published(check), [entry.owner for entry in check.dns.values()])
    return [(entry.owner, entry.error) for entry in check.dns.values() if entry.error]


def dane_gate(tls, hostname, ports, nameserver, deployments):
    """Stage the deployments whose new key no published record matches yet
    everywhere; {port: records} as the nameservers serve them."""
    lookup, check = _ask(tls, hostname, ports, nameserver)
    errors = [entry for entry in check.dns.values() if entry.error]
    published = _published(check)
    records = dict((port, list(entry.records)) for port, entry in check.dns.items()
                   if not entry.error)
    seen = _seen(tls, published, [entry.owner for entry in check.dns.values()])
    served = [record for entry in published for record in entry.records + [
        record for answer in entry.nameservers for record in answer.records]]
    # SHA-512 ("3 1 2", "2 1 2") only when some record has it: openssl runs
    # for nothing else.
    sha512 = any(record.split()[2:3] == ["2"] for record in served)
    for deployment in deployments:
        material = deployment.material
        wanted = _matching_records(tls, material, sha512)
        deployment.publish = [] if deployment.published else [
            "%s IN TLSA 3 1 1 %s" % (entry.owner, material.digest) for entry in published]
        reasons = [messages.ACME_STAGED_DNS_ERROR.format(owner=entry.owner, error=entry.error)
                   for entry in errors]
        if not reasons and not published:
            deployment.why = messages.ACME_NEW_KEY_NO_RECORDS.format(
                owners=", ".join(entry.owner for entry in check.dns.values()))
            continue
        lacking = collections.OrderedDict()  # nameservers -> owners without a match
        for entry in published:
            if not entry.nameservers:
                reasons.append(messages.ACME_STAGED_NO_NAMESERVERS.format(
                    owner=entry.owner, error=" ".join(check.notes) or "none"))
            servers = []
            for served in entry.nameservers:
                if served.error:
                    reasons.append(messages.ACME_STAGED_NOT_ASKED.format(
                        owner=entry.owner, **served.to_json()))
                elif not wanted & set(served.records):
                    # Behind the update (or never given it): its serial says which.
                    servers.append(messages.ACME_NAMESERVER_SERIAL.format(
                        name=served.name, address=served.address,
                        serial=lookup.serial(entry.canonical_name, served.address)))
            if servers:
                lacking.setdefault(", ".join(servers), []).append(entry.owner)
            elif _signed(entry) and not (entry.validated and wanted & set(entry.records)):
                reasons.append(messages.ACME_STAGED_NOT_VALIDATED.format(
                    owner=entry.owner, resolver=nameserver or "this host's resolver"))
        reasons += [messages.ACME_STAGED_NOT_SERVED.format(owners=", ".join(owners),
                                                           nameservers=servers)
                    for servers, owners in lacking.items()]
        if reasons:
            deployment.action, deployment.reasons = STAGE, reasons
            continue
        # Since when each port has had a matching record everywhere: a
        # cache may hold the RRset from before, for up to the zone's TTL.
        # (Nameservers that each serve another matching record: seen now.)
        since = max(min([when for (owner, record), when in seen.items()
                         if owner == entry.owner and record in wanted] or [time.time()])
                    for entry in published)
        ttl = max([entry.zone_ttl or 0 for entry in published] + [0])
        deployment.publish = []
        if time.time() < since + ttl:
            deployment.action = STAGE
            deployment.reasons = [messages.ACME_STAGED_WAIT.format(
                since=iso(since), ttl=ttl, after=iso(since + ttl))]
        else:
            deployment.why = messages.ACME_NEW_KEY_PUBLISHED
    return records


def relying_names(tls, names, ports, nameserver, gated):
    """(those of names whose records match a key gated replaces: DANE works
    for them now, so a new key must wait for their records too; a note or
    "").  Names whose records are another's (DANE fails for them already)
    hold nothing up.  Through the resolver alone, one lookup per owner; the
    first that fails stops there, with a note: a resolver that does not
    answer must not add its timeout per name (the host's own gate stages
    the key then)."""
    lookup, resolver = dns_resolver(tls, nameserver, messages.ACME_NO_DNSPYTHON,
                                    messages.ACME_OLD_DNSPYTHON)
    replaced = [d.loaded for d in gated if d.loaded.digest]
    current = set("3 1 1 " + loaded.digest for loaded in replaced)
    sha512 = None  # "3 1 2" of the keys in service, computed when a record has one
    found = []
    for name in names:
        for port in ports:
            entry = lookup.lookup("_%d._tcp.%s." % (port, name), resolver)
            if entry.error:
                return found, messages.ACME_WAITING_NAME_UNKNOWN.format(
                    owner=entry.owner, error=entry.error)
            if sha512 is None and any(r.startswith("3 1 2 ") for r in entry.records):
                sha512 = set("3 1 2 " + key_text_digest(tls, loaded.key_text, "sha512")
                             for loaded in replaced if loaded.key_text)
            if (current | (sha512 or set())) & set(entry.records):
                found.append(name)
                break
    return found, ""


def gate_names(tls, names, ports, nameserver, gated):
    """The DANE gate for each of names that can have TLSA records (not a
    wildcard: an SNI lineage's names, the default certificate's host and
    the names it serves until their lineage goes in); {name: {port:
    records}}.  A key staged for one name is staged, with every name's
    reasons."""
    records = {}
    reasons = dict((id(d), ([], [])) for d in gated)
    published = set()  # the deployments some name's records let in
    asked = [name for name in names if not name.startswith("*.")]
    for name in asked:
        records[name] = dane_gate(tls, name, ports, nameserver, gated)
        for deployment in gated:
            if deployment.action == STAGE:
                reasons[id(deployment)][0].extend(deployment.reasons)
                reasons[id(deployment)][1].extend(deployment.publish)
            elif deployment.why == messages.ACME_NEW_KEY_PUBLISHED:
                published.add(id(deployment))
            deployment.action, deployment.reasons = DEPLOY, []
    for deployment in gated:
        staged_because, publish = reasons[id(deployment)]
        staged_because = unique(staged_because)  # the same wait, said by each name
        if staged_because:
            deployment.action = STAGE
            deployment.reasons, deployment.publish = staged_because, publish
        elif id(deployment) in published:
            deployment.why = messages.ACME_NEW_KEY_PUBLISHED
        else:  # each name's gate said so of its own owners: all of them
            deployment.why = messages.ACME_NEW_KEY_NO_RECORDS.format(owners=", ".join(
                "_%d._tcp.%s." % (port, name.lower()) for name in asked
                for port in ports) or messages.SNI_WILDCARD_NO_RECORDS)
    return records


def _matching_records(tls, material, sha512):
    """The records that match material: "3 1 1" of its key, "2 1 1" of an
    issuer in its chain; with sha512, "3 1 2" and "2 1 2" too."""
    wanted = set(["3 1 1 " + material.digest] + [
        "2 1 1 " + digest for digest in material.issuer_digests])
    if sha512:
        digests = [key_text_digest(tls, material.key_pem.decode("ascii"), "sha512")]
        digests += [certificate_digest(tls, certificate, "sha512")
                    for certificate in material.certificates[1:]]
        wanted |= set(("3 1 2 " if position == 0 else "2 1 2 ") + digest
                      for position, digest in enumerate(digests) if digest)
    return wanted


def _seen(tls, published, asked):
    """{(owner, record): when a run first saw every nameserver serve it},
    for the records they all serve now; kept in SEEN_FILE for later runs
    (first_seen: times this host's clock cannot have written are reset),
    with what it knows of owners other than asked (the SNI names' gates
    each ask of their own)."""
    path = os.path.join(tls.config_directory, SEEN_FILE)
    known, dirty = first_seen.read(tls, path)
    others = dict((key, when) for key, when in known.items() if key[0] not in asked)
    # Rounded up: the file keeps whole seconds, and a time rounded down
    # would let a key in up to a second before a whole TTL has passed
    # (test_acme's 1 s TTL saw it: deployed by the run that first saw it).
    now = int(math.ceil(time.time()))
    seen = {}
    for entry in published:
        if not entry.nameservers or any(served.error for served in entry.nameservers):
            continue
        everywhere = set.intersection(*[set(served.records) for served in entry.nameservers])
        if _signed(entry):
            # Signed: the wait starts once the resolver validates it too.
            everywhere &= set(entry.records) if entry.validated else set()
        for record in everywhere:
            seen[entry.owner, record] = known.get((entry.owner, record), now)
    kept = dict(others)
    kept.update(seen)
    if dirty or kept != known:
        first_seen.write(tls, path, kept)
    return seen


def _signed(entry):
    """Whether the zone signs the RRset: a nameserver gave its RRSIG."""
    return any(served.signed for served in entry.nameservers)


def stage(tls, deployment):
    """Keep the material for a later run, mode 0600."""
    material, algorithm = deployment.material, deployment.algorithm
    path = config_file(tls, STAGED_FILE, algorithm)
    try:
        if material.source != "staged":
            tls.runner.replace_file(path, material.text.encode("ascii"), 0o600)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))
    deployment.path = path
    tls.runner.keep_replaced()  # staged: nothing to put back
