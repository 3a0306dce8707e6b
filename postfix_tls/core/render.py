"""The one place that shows results of our own subcommands, to people
(text) and to programs (``--json``).  Upstream's nine print as upstream's
do, in upstream/.
"""

import collections
import json
import sys

from postfix_tls.core import messages

_written = []  # whether anything was shown: a failure's JSON goes only where nothing was


def _write(text):
    _written.append(True)
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        # A file name this locale cannot show (Python 3.6 under LANG=C,
        # a name kept as os.fsdecode gave it): escaped, never a traceback.
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
    sys.stdout.flush()


def written():
    return bool(_written)


def failure(text, status):
    """--json: a failure as a JSON object on stdout, for programs that
    read nothing else (the message itself went to stderr and the log)."""
    _write(json.dumps({"error": text, "exit_status": status}, indent=2) + "\n")


def tlsa_records(records):
    """output-server-tlsa --json: the records as a list of objects."""
    _write(json.dumps([record.to_json() for record in records], indent=2) + "\n")


def rollover(algorithms, keys, records, as_json, hints):
    """output-server-tlsa-rollover: keys as comments, then the RRset to
    publish, ready for a zone file; or JSON."""
    if as_json:
        _write(json.dumps({"keys": [key._asdict() for key in keys],
                           "records": [record.to_json() for record in records]},
                          indent=2) + "\n")
        return
    lines = []
    templates = (("deployed", messages.ROLLOVER_DEPLOYED), ("staged", messages.ROLLOVER_NEXT),
                 ("next", messages.ROLLOVER_MADE_AHEAD))
    for algorithm in algorithms:
        roles = set(key.role for key in keys if key.algorithm == algorithm)
        # An SNI name on the default certificate until its lineage goes in
        # has a next key of each.
        for role, template in templates:
            lines += [template.format(algorithm=algorithm, keyfile=key.keyfile)
                      for key in keys if key.algorithm == algorithm and key.role == role]
        if "deployed" in roles and not roles & set(("staged", "next")):
            lines.append(messages.ROLLOVER_NO_NEXT.format(algorithm=algorithm,
                                                          command=hints.tls))
    lines.append(messages.ROLLOVER_PUBLISH)
    lines += ["%s IN TLSA 3 1 1 %s" % (record.owner, record.digest) for record in records]
    _write("".join(line + "\n" for line in lines))


def tlsa_check(check, keys, as_json):
    """check-server-tlsa: the verdict first, then DNS, the live server, and
    one line per problem saying what to do; or JSON."""
    if as_json:
        _write(json.dumps({
            "ok": not check.problems, "exit_status": check.exit_status,
            "hostname": check.hostname, "ports": check.ports,
            "nameserver": check.nameserver or None, "timeout_seconds": check.seconds,
            "keys": [key._asdict() for key in keys],
            "dns": [entry.to_json() for entry in check.dns.values()],
            "published": check.lines, "live": check.live,
            "problems": check.problems, "notes": check.notes}, indent=2) + "\n")
        return
    lines = [messages.TLSA_CHECK_PROBLEMS.format(count=len(check.problems))
             if check.problems else messages.TLSA_CHECK_OK]
    lines += ["  " + problem for problem in check.problems]
    for entry in check.dns.values():
        lines.append("dns %s: %d record(s), TTL %s, DNSSEC-validated: %s" % (
            entry.owner, len(entry.records), entry.ttl, "yes" if entry.validated else "no"))
        for served in entry.nameservers:
            lines.append("dns %s at %s (%s): %s" % (
                entry.owner, served.name, served.address,
                "not asked: %s" % served.error if served.error else
                "%s %d record(s), TTL %s" % ("the same" if served.same else "ANOTHER RRSET,",
                                             len(served.records), served.ttl)))
    for line in check.lines:
        parts = ["%s %s %s" % (role, line[role], "published" if line[role + "_published"]
                               else "NOT published")
                 for role in ("deployed", "staged") if role in line]
        if not parts:  # a key made ahead only: its note says it
            continue
        lines.append("port %d %s: %s" % (line["port"], line["algorithm"], "; ".join(parts)))
    for live in check.live:
        lines.append("live %s port %d %s: presents %s; DANE verification: %s" % (
            live["address"], live["port"], live["algorithm"],
            live["presented_key"] or live["presented_spki_sha256"] or "nothing",
            "OK" if live["dane_verified"] else (live["error"] or (
                "not run" if live["dane_verified"] is None else "failed"))))
    lines += ["note: " + note for note in check.notes]
    _write("".join(line + "\n" for line in lines))


def status(report, as_json):
    """status: a monitoring plugin's summary line (with performance data),
    then one line per fact and problem; or one JSON document."""
    from postfix_tls.core import render_status

    if as_json:
        _write(json.dumps(render_status.status_document(report), indent=2) + "\n")
        return
    _write("".join(line + "\n" for line in render_status.status_lines(report)))


def metrics(text):
    """status -o prometheus: the text exposition format (render_metrics.py)."""
    _write(text)


def status_unknown(report, as_json):
    """status when the run ended before its report: the summary line alone
    (its cause was logged as fatal), or the JSON document."""
    from postfix_tls.core import render_status

    if as_json:
        _write(json.dumps(render_status.status_document(report), indent=2) + "\n")
        return
    _write(render_status.status_summary(report) + "\n")


def acme_deploy(outcome, hints, as_json):
    """deploy-acme-cert: per algorithm what was done and why, main.cf's
    changes, the reload, the live server; the records to publish for a
    staged key, ready for a zone file; or JSON."""
    if as_json:
        _write(json.dumps({
            "source": outcome.source.name, "exit_status": outcome.exit_status,
            "deployments": [_deployment_document(d) for d in outcome.deployments],
            "main_cf": outcome.settings, "postfix_running": outcome.running,
            "reloaded": outcome.reload or None, "notes": outcome.notes,
            "published": outcome.published, "retired": outcome.retired,
            "publish_error": str(outcome.failure) if outcome.failure else None,
            "sni": [_sni_document(d) for d in outcome.sni], "sni_table": outcome.sni_table,
            "sni_default": outcome.sni_default},
            indent=2) + "\n")
        return
    lines = []
    for material in sorted(set((d.material.source, d.material.keyfile, d.material.chainfile)
                               for d in outcome.deployments + outcome.sni)):
        lines.append(messages.ACME_FROM.format(source=material[0], keyfile=material[1],
                                               chainfile=material[2]))
    lines += outcome.published
    for deployment in outcome.deployments:
        if deployment.action == "unchanged":
            lines.append(messages.ACME_UNCHANGED.format(algorithm=deployment.algorithm,
                                                        path=deployment.loaded.certfile))
        elif deployment.action == "stage":
            lines.append(messages.ACME_STAGED.format(algorithm=deployment.algorithm,
                                                     path=deployment.path))
            lines += ["  " + reason for reason in deployment.reasons]
            if deployment.publish:
                lines.append(messages.ACME_PUBLISH.format(command=hints.tls))
                lines += deployment.publish
        else:
            lines.append(messages.ACME_DEPLOYED.format(algorithm=deployment.algorithm,
                                                       path=deployment.path,
                                                       why=deployment.why))
    lines += _sni_lines(outcome.sni, hints)
    lines += outcome.sni_table
    if outcome.settings:
        lines.append(messages.ACME_MAIN_CF.format(settings="; ".join(outcome.settings)))
    if outcome.reload:
        lines.append(messages.ACME_RELOADED.format(command=outcome.reload))
    for deployment in outcome.deployments:
        for address, port, dane_verified in deployment.live:
            lines.append(messages.ACME_LIVE_OK.format(
                address=address, port=port, algorithm=deployment.algorithm,
                dane=messages.ACME_LIVE_DANE if dane_verified else ""))
    for deployment in outcome.sni:
        for address, port, dane_verified, name in deployment.live:
            lines.append(messages.SNI_LIVE_OK.format(
                address=address, port=port, name=name, algorithm=deployment.algorithm,
                dane=messages.ACME_LIVE_DANE if dane_verified else ""))
    lines += outcome.sni_default
    lines += outcome.retired + outcome.notes
    _write("".join(line + "\n" for line in lines))


def sni_removal(removal, as_json):
    """remove-sni-name: the lines taken out, the reload, what each name now
    gets, the files removed; or JSON."""
    if as_json:
        _write(json.dumps(collections.OrderedDict((
            ("removed", removal.removed), ("absent", removal.absent),
            ("postfix_running", removal.running), ("reloaded", removal.reload or None),
            ("live", removal.live), ("files_removed", removal.files),
            ("notes", removal.notes))), indent=2) + "\n")
        return
    lines = list(removal.removed)
    lines += [messages.SNI_NAME_ABSENT.format(name=name) for name in removal.absent]
    if removal.reload:
        lines.append(messages.ACME_RELOADED.format(command=removal.reload))
    lines += removal.live
    lines += [messages.SNI_FILE_REMOVED.format(path=path) for path in removal.files]
    lines += removal.notes
    _write("".join(line + "\n" for line in lines))


def _sni_lines(deployments, hints):
    lines = []
    for deployment in deployments:
        what = dict(algorithm=deployment.algorithm, names=", ".join(deployment.names),
                    path=deployment.path)
        if deployment.action == "unchanged" and deployment.why:
            lines.append(messages.SNI_UNCHANGED_FILE.format(why=deployment.why, **what))
        elif deployment.action == "unchanged":
            lines.append(messages.SNI_UNCHANGED.format(**what))
        elif deployment.action == "stage":
            lines.append(messages.SNI_STAGED.format(**what))
            lines += ["  " + reason for reason in deployment.reasons]
            if deployment.publish:
                lines.append(messages.ACME_PUBLISH.format(command=hints.tls))
                lines += deployment.publish
        else:
            lines.append(messages.SNI_DEPLOYED.format(why=deployment.why, **what))
    return lines


def _sni_document(deployment):
    document = _deployment_document(deployment, live=False)
    document["names"] = deployment.names
    document["live"] = [collections.OrderedDict((
        ("address", address), ("port", port), ("name", name),
        ("dane_verified", dane_verified)))
        for address, port, dane_verified, name in deployment.live]
    return document


def _deployment_document(deployment, live=True):
    material = deployment.material
    return collections.OrderedDict((
        ("algorithm", deployment.algorithm), ("action", deployment.action),
        ("source", material.source), ("keyfile", material.keyfile),
        ("chainfile", material.chainfile), ("path", deployment.path),
        ("key_changed", deployment.key_changed), ("spki_sha256", material.digest),
        ("why", deployment.why or None), ("staged_because", deployment.reasons),
        ("publish", deployment.publish),
        ("live", [collections.OrderedDict((("address", address), ("port", port),
                                           ("dane_verified", dane_verified)))
                  for address, port, dane_verified in deployment.live] if live else [])))
