"""status's text (a monitoring plugin's: the summary line with its
performance data, then the facts) and its --json document; render.py
writes them."""

from postfix_tls.core import messages
from postfix_tls.core.validate import utf8


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
    return messages.STATUS_SUMMARY.format(verdict=report.verdict, text=_one_line(text))


def _one_line(text):
    """A monitoring plugin's text: one line, and no "|", which would start
    the performance data (a file name may hold either); a backslash
    written \\\\ first, so that \\n is a line break and nothing else; valid
    UTF-8 last (a byte of a file name that is not is written \\xff)."""
    return utf8(text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
                .replace("|", "\\x7c"))


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
    """label=value;warn;crit per the plugin guidelines: days left alert
    below their thresholds, the range "N:" (a bare N alerts above N)."""
    thresholds = "%d:;%d:" % (report.thresholds["warning_days"],
                              report.thresholds["critical_days"])
    dated = [entry for entry in report.server if entry.found("days_left")]
    values = [("%s_days_left" % entry.algorithm, "%d;%s" % (entry.days_left, thresholds))
              for entry in dated]
    sni_dated = _dated(report)[len(dated):]
    if sni_dated:  # one value for all names: a table may have thousands
        values.append(("sni_days_left", "%d;%s" % (
            min(entry.days_left for entry in sni_dated), thresholds)))
    # How long a staged key has waited for its TLSA record, in seconds,
    # alerting above status's threshold.
    staged_warning = report.thresholds["staged_warning_seconds"]
    for staged in report.staged:
        if staged.sni_label is None:
            values.append(("%s_staged_age" % staged.algorithm,
                           "%ds;%d" % (staged.age_seconds, staged_warning)))
    sni_staged = [staged.age_seconds for staged in report.staged if staged.sni_label]
    if sni_staged:
        values.append(("sni_staged_age", "%ds;%d" % (max(sni_staged), staged_warning)))
    labels, shown = set(), []
    for label, value in values:
        # Labels are unique (two chain files of one algorithm: _2, _3...).
        unique, number = label, 1
        while unique in labels:
            number += 1
            unique = "%s_%d" % (label, number)
        labels.add(unique)
        shown.append("%s=%s" % (unique, value))
    return " ".join(shown)


def status_lines(report):
    summary = status_summary(report)
    performance = _performance_data(report)
    lines = [summary + (" | " + performance if performance else "")]
    lines += [_one_line(line) for line in _fact_lines(report)]
    return lines


def _fact_lines(report):
    """The lines after the first, a plugin's long text (where a "|" would
    start performance data too)."""
    lines = []
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
    for staged in report.staged:
        lines.append("staged %s%s: %s (since %s, %d s)" % (
            staged.algorithm, " SNI %s" % staged.sni_label if staged.sni_label else "",
            staged.path, staged.modified, staged.age_seconds))
    for port in report.tlsa:
        if port.found("looked_up") and not port.looked_up:
            found = port.error
        elif port.error:
            found = "lookup failed: %s" % port.error
        elif port.records:
            found = "%d record(s), DNSSEC-validated: %s" % (len(port.records),
                                                          text(port.validated))
        else:
            found = "no records"
        lines.append("tlsa %s: %s" % (port.owner, found))
        for match in port.matches:
            lines.append("  %s %s: %s" % (match["algorithm"], match["file"],
                                          "matched" if match["match"] else "NO MATCH"))
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
    return _valid({
        "verdict": report.verdict,
        "exit_status": report.exit_status,
        "summary": status_summary(report),
        "config_directory": report.config_directory,
        "thresholds": report.thresholds,
        "settings": report.settings,
        "server": [entry.to_json() for entry in report.server],
        "sni": [found.to_json() for found in report.sni],
        "client": report.client.to_json(),
        "staged": [staged.to_json() for staged in report.staged],
        "tlsa": [port.to_json() for port in report.tlsa],
        "problems": [{"severity": problem.severity, "text": problem.text}
                     for problem in report.problems],
        "notes": report.notes,
        "assumed": report.assumed,
    })


def _valid(value):
    """The document with its strings valid UTF-8 (validate.utf8): JSON
    cannot say a byte, and a lone surrogate (\\udcff) is not text."""
    if isinstance(value, str):
        return utf8(value)
    if isinstance(value, dict):
        return type(value)((_valid(key), _valid(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_valid(item) for item in value]
    return value
