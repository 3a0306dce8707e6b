"""The one place that shows results of our own subcommands, to people
(text) and to programs (``--json``).  Upstream's nine print as upstream's
do, in commands.py.
"""

import json
import sys

from . import messages


def _write(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def status(report, as_json):
    """status: a monitoring plugin's summary line (with performance data),
    then one line per fact and problem; or one JSON document."""
    if as_json:
        _write(json.dumps(status_document(report), indent=2) + "\n")
        return
    _write("".join(line + "\n" for line in status_lines(report)))


def status_summary(report):
    if report.problems:
        worst = [problem.text for problem in report.problems
                 if problem.severity == report.verdict]
        text = "; ".join(worst)
        more = len(report.problems) - len(worst)
        if more:
            text += " (and %d more)" % more
    else:
        dated = [entry for entry in report.server if "days_left" in entry]
        if dated:
            nearest = min(dated, key=lambda entry: entry["days_left"])
            text = messages.STATUS_ALL_OK.format(
                count=len(dated), days=nearest["days_left"],
                what="%s, %s" % (nearest["algorithm"], nearest["not_after"]))
        else:
            text = "; ".join(report.notes) or messages.STATUS_NO_SERVER_CERT
    return messages.STATUS_SUMMARY.format(verdict=report.verdict, text=text)


def _performance_data(report):
    thresholds = report.thresholds
    return " ".join("%s_days_left=%d;%d;%d" % (entry["algorithm"], entry["days_left"],
                                               thresholds["warning_days"],
                                               thresholds["critical_days"])
                    for entry in report.server if "days_left" in entry)


def status_lines(report):
    summary = status_summary(report)
    performance = _performance_data(report)
    lines = [summary + (" | " + performance if performance else "")]
    for problem in report.problems:
        lines.append("%s: %s" % (problem.severity, problem.text))
    lines.append("config_directory: %s" % report.config_directory)
    for entry in report.server:
        lines.append("server %s:" % entry["algorithm"])
        for role in ("cert_file", "key_file"):
            if role in entry:
                facts = entry[role]
                lines.append("  %s: %s (%s)" % (role, facts["path"], _file_state(facts)))
        for name in ("subject", "names", "not_before", "not_after", "days_left",
                     "myhostname_covered", "key_matches", "chain_length", "chain_in_order"):
            if name in entry:
                value = entry[name]
                if isinstance(value, list):
                    value = ", ".join(value) or "(none)"
                lines.append("  %s: %s" % (name, _text(value)))
    for name in ("smtpd_tls_security_level", "myhostname"):
        lines.append("%s: %s" % (name, report.settings.get(name, "") or "(empty)"))
    client = report.client
    lines.append("client:")
    lines.append("  smtp_tls_security_level: %s" % (client["security_level"] or "(empty)"))
    cache = client["session_cache"] or "(none)"
    if "session_cache_type_available" in client:
        cache += " (map type %s)" % ("available" if client["session_cache_type_available"]
                                     else "NOT available")
    lines.append("  smtp_tls_session_cache_database: %s" % cache)
    for facts in client["files"]:
        lines.append("  file: %s (%s)" % (facts["path"], _file_state(facts)))
    return lines


def _file_state(facts):
    if not facts["exists"]:
        return "missing"
    return "mode %s, owner %s%s" % (facts["mode"], facts["owner"],
                                     "" if facts["readable"] else ", NOT readable")


def _text(value):
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
        "server": report.server,
        "client": report.client,
        "problems": [{"severity": problem.severity, "text": problem.text}
                     for problem in report.problems],
        "notes": report.notes,
    }
