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
    for algorithm in algorithms:
        roles = dict((key.role, key.keyfile) for key in keys if key.algorithm == algorithm)
        if "deployed" in roles:
            lines.append(messages.ROLLOVER_DEPLOYED.format(algorithm=algorithm,
                                                           keyfile=roles["deployed"]))
        if "staged" in roles:
            lines.append(messages.ROLLOVER_NEXT.format(algorithm=algorithm,
                                                       keyfile=roles["staged"]))
        if "next" in roles:
            lines.append(messages.ROLLOVER_MADE_AHEAD.format(algorithm=algorithm,
                                                             keyfile=roles["next"]))
        elif "deployed" in roles and "staged" not in roles:
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
    if as_json:
        _write(json.dumps(status_document(report), indent=2) + "\n")
        return
    _write("".join(line + "\n" for line in status_lines(report)))


def status_unknown(report, as_json):
    """status when the run ended before its report: the summary line alone
    (its cause was logged as fatal), or the JSON document."""
    if as_json:
        _write(json.dumps(status_document(report), indent=2) + "\n")
        return
    _write(status_summary(report) + "\n")


def status_summary(report):
    if report.problems:
        worst = [problem.text for problem in report.problems
                 if problem.severity == report.verdict]
        # A monitoring system reads one line: a few of the worst, and a count.
        text = "; ".join(worst[:SUMMARY_PROBLEMS])
        more = len(report.problems) - len(worst[:SUMMARY_PROBLEMS])
        if more:
            text += " (and %d more)" % more
    else:
        dated = _dated(report)
        if dated:
            nearest = min(dated, key=lambda entry: entry.days_left)
            text = messages.STATUS_ALL_OK.format(
                count=len(dated), days=nearest.days_left,
                what="%s, %s" % (nearest.algorithm, nearest.not_after))
        else:
            text = "; ".join(report.notes) or messages.STATUS_NO_SERVER_CERT
    return messages.STATUS_SUMMARY.format(verdict=report.verdict, text=text)


SUMMARY_PROBLEMS = 5


def _dated(report):
    """The certificates with an expiry: the default's, then the SNI names'."""
    found = [entry for entry in report.server if entry.found("days_left")]
    seen = set()
    for name in report.sni:
        for entry in name.chains if name.found("chains") else []:
            if entry.found("days_left") and id(entry) not in seen:
                seen.add(id(entry))
                found.append(entry)
    return found


def _performance_data(report):
    thresholds = report.thresholds
    values = ["%s_days_left=%d;%d;%d" % (entry.algorithm, entry.days_left,
                                         thresholds["warning_days"], thresholds["critical_days"])
              for entry in report.server if entry.found("days_left")]
    sni_dated = _dated(report)[len(values):]
    if sni_dated:  # one value for all names: a table may have thousands
        values.append("sni_days_left=%d;%d;%d" % (
            min(entry.days_left for entry in sni_dated), thresholds["warning_days"],
            thresholds["critical_days"]))
    return " ".join(values)


def status_lines(report):
    summary = status_summary(report)
    performance = _performance_data(report)
    lines = [summary + (" | " + performance if performance else "")]
    for problem in report.problems:
        lines.append("%s: %s" % (problem.severity, problem.text))
    lines += ["note: " + note for note in report.notes]
    lines.append("config_directory: %s" % report.config_directory)
    lines += ["assumed: " + text for text in report.assumed]
    for entry in report.server:
        lines.append("server %s:" % entry.algorithm)
        for role in ("cert_file", "key_file"):
            if entry.found(role):
                facts = getattr(entry, role)
                lines.append("  %s: %s (%s)" % (role, facts.path, _file_state(facts)))
        for name in ("subject", "names", "not_before", "not_after", "days_left",
                     "myhostname_covered", "key_matches", "chain_length", "chain_in_order"):
            if entry.found(name):
                value = getattr(entry, name)
                if isinstance(value, list):
                    value = ", ".join(value) or "(none)"
                lines.append("  %s: %s" % (name, text(value)))
    for found in report.sni:
        lines.append("sni %s (%s line %d):" % (found.name, found.table, found.line))
        for facts in found.files:
            lines.append("  file: %s (%s)" % (facts.path, _file_state(facts)))
        for entry in found.chains if found.found("chains") else []:
            lines.append("  %s: %s, not_after %s, days_left %s, key_matches %s" % (
                entry.algorithm, ", ".join(entry.names) if entry.found("names") else "?",
                entry.not_after if entry.found("not_after") else "?",
                entry.days_left if entry.found("days_left") else "?",
                text(entry.key_matches) if entry.found("key_matches") else "?"))
        if found.found("covered"):
            lines.append("  covered: %s" % text(found.covered))
        if found.found("stale"):  # here yes is the alarm
            lines.append("  stale: %s" % {True: "YES", False: "no", None: "unknown"}[
                found.stale])
    for name in ("smtpd_tls_security_level", "myhostname"):
        lines.append("%s: %s" % (name, report.settings.get(name, "") or "(empty)"))
    client = report.client
    lines.append("client:")
    lines.append("  smtp_tls_security_level: %s" % (client.security_level or "(empty)"))
    cache = client.session_cache or "(none)"
    if client.found("session_cache_type_available"):
        cache += " (map type %s)" % ("available" if client.session_cache_type_available
                                     else "NOT available")
    lines.append("  smtp_tls_session_cache_database: %s" % cache)
    for facts in client.files:
        lines.append("  file: %s (%s)" % (facts.path, _file_state(facts)))
    return lines


def _file_state(facts):
    if not facts.exists:
        return "missing"
    return "mode %s, owner %s%s%s" % (facts.mode, facts.owner,
                                       "" if facts.readable else ", NOT readable",
                                       "" if facts.regular else ", NOT a regular file")


def text(value):
    if value is True:
        return "yes"
    if value is False:
        return "NO"
    if value is None:
        return "unknown"
    return str(value)


def status_document(report):
    return {
        "verdict": report.verdict,
        "exit_status": report.exit_status,
        "summary": status_summary(report),
        "config_directory": report.config_directory,
        "thresholds": report.thresholds,
        "settings": report.settings,
        "server": [entry.to_json() for entry in report.server],
        "sni": [found.to_json() for found in report.sni],
        "client": report.client.to_json(),
        "problems": [{"severity": problem.severity, "text": problem.text}
                     for problem in report.problems],
        "notes": report.notes,
        "assumed": report.assumed,
    }


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
