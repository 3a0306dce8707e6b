"""``status`` (ours): one verdict line and one line per problem, or
--json, or the Prometheus text (-o prometheus); -f writes that text to a
file for node_exporter's textfile collector; exit 0, 1 (warning), 2
(critical) or 3 (unknown)."""

import os
import time

from postfix_tls.core import messages, validate
from postfix_tls.status.checks import check_client, check_server
from postfix_tls.status.facts import CRITICAL_DAYS, SETTINGS, UNKNOWN, WARNING_DAYS, Report

OUTPUTS = ("text", "prometheus")
TEXTFILE_MODE = 0o644  # node_exporter runs as its own user


def _days(tls, options, letter, default):
    value = options.get(letter, default)
    if not validate.digits(value):
        tls.fail(messages.STATUS_BAD_DAYS.format(option="-" + letter,
                                                 value=validate.shown(value)))
    return int(value)


def _output(tls, options):
    value = options.get("o", "text")
    if value not in OUTPUTS:
        tls.fail(messages.STATUS_BAD_OUTPUT.format(validate.shown(value)))
    return value


def _textfile(tls, options):
    value = options.get("f", "")
    if value and not textfile_name_ok(value):
        # Said what is wrong: rel.prom does end in .prom.
        if not os.path.isabs(value):
            text = messages.STATUS_TEXTFILE_RELATIVE
        elif "\n" in value:
            text = messages.STATUS_TEXTFILE_LINE_BREAK
        else:
            text = messages.STATUS_TEXTFILE_NAME
        tls.fail(text.format(validate.shown(value)))
    return value


def textfile_name_ok(path):
    """An absolute name (a run works in the command directory) of a .prom
    file, the only files the textfile collector reads."""
    return os.path.isabs(path) and path.endswith(".prom") and "\n" not in path


def status(tls, options, operands):
    """Read, judge, show; the exit status is the verdict's."""
    warning_days, critical_days = (_days(tls, options, "w", WARNING_DAYS),
                                   _days(tls, options, "c", CRITICAL_DAYS))
    # Days left: critical is the nearer end.  A -c given above -w (or the
    # default 30) is refused; -w alone below the default 7 is left as it
    # was (no warning band: below 7 days is critical).
    if "c" in options and critical_days > warning_days:
        tls.fail(messages.STATUS_DAYS_ORDER.format(critical=critical_days,
                                                   warning=warning_days))
    report = Report(tls.config_directory, warning_days, critical_days)
    output, textfile = _output(tls, options), _textfile(tls, options)
    # A parameter the release lacks is not read (release.py), nor shown.
    settings = [name for name in SETTINGS if tls.postconf.knows(name)]
    report.settings.update(sorted(tls.postconf.read("-x", settings).items()))
    if tls.postconf.failed("-x", settings):  # not "nothing configured": UNKNOWN
        tls.fail(messages.STANDALONE_BAD_CONFIG.format(tls.config_directory))
    if tls.setup.assumed:
        report.assumed.append(messages.STATUS_ASSUMED.format(
            version=tls.postconf.release.mail_version,
            algorithms=" and ".join(tls.setup.algorithms()),
            daemon_directory=tls.env.get("daemon_directory", "")))
    now = time.time()
    check_server(tls, report, now)
    if report.settings.get("tls_server_sni_maps"):
        from postfix_tls.status.sni import check_sni

        check_sni(tls, report, now)
    check_client(tls, report)
    from postfix_tls.status.staged_keys import check_staged

    check_staged(tls, report, now)
    if "p" in options:  # -p "" too: refused there, not taken for no -p
        from postfix_tls.status.tlsa import check_tlsa

        check_tlsa(tls, report, options)
    if textfile:
        _write_textfile(tls, report, textfile, now)
    _show(report, tls.json, output, now)
    _shown.append(report)
    return report.exit_status


def _write_textfile(tls, report, path, now):
    """The metrics, written whole by a rename (the collector never reads a
    part); a failure is the verdict's UNKNOWN (the file keeps saying the
    last run's, so the monitoring must hear it here)."""
    from postfix_tls.core.render_metrics import metrics

    try:
        tls.runner.replace_file(path, metrics(report, now).encode("utf-8"), TEXTFILE_MODE,
                                undo=False)
    except OSError as error:
        report.problem(UNKNOWN, messages.STATUS_TEXTFILE_FAILED.format(
            path=path, error=error.strerror or error))


def _show(report, as_json, output, now):
    from postfix_tls.core import render

    if output == "prometheus" and not as_json:
        from postfix_tls.core.render_metrics import metrics

        render.metrics(metrics(report, now))
    else:
        render.status(report, as_json)


_shown = []  # the report this run printed (always_a_line prints one if none)


def always_a_line(run, as_json, config_directory, args=(), letters="", dry_run=False):
    """run() (the whole command), and status's line even when the run
    ended before status judged anything: no configuration directory, no
    postconf, main.cf unreadable, a start-up check or an option failing.
    Then the verdict is UNKNOWN (exit 3), with the fatal message as its
    cause, as monitoring plugins do: a monitoring system reads only the
    first line (or the JSON document, or the metrics) and the exit status.
    args: status's own (letters: its options); -o prometheus prints the metrics, and -f writes
    them (postfix_tls_status 3), so that the collector does not go on
    serving the last good run's (not in a dry run, which writes nothing)."""
    from postfix_tls.core import render
    from postfix_tls.core.log import FATAL_TEXTS

    code = run()
    if _shown:
        return code
    report = Report(config_directory, None, None)
    report.problem(UNKNOWN, FATAL_TEXTS[-1] if FATAL_TEXTS else messages.STATUS_NOT_RUN)
    options = _options(args, letters)
    now = time.time()
    if options.get("o") == "prometheus" or textfile_name_ok(options.get("f", "")):
        from postfix_tls.core.render_metrics import metrics

        text = metrics(report, now)
        if textfile_name_ok(options.get("f", "")) and not dry_run:
            _write_unknown(options["f"], text)
        if options.get("o") == "prometheus" and not as_json:
            render.metrics(text)
            return report.exit_status
    render.status_unknown(report, as_json)
    return report.exit_status


def _options(args, letters):
    """status's options as far as they can be read ({} when they cannot)."""
    from postfix_tls.core.getopts import UsageError, getopts

    try:
        return getopts(list(args), letters)[0]
    except UsageError:
        return {}


def _write_unknown(path, text):
    """The UNKNOWN metrics, when the run never got to its runner: written
    whole by a rename, as the runner writes them; a failure is said."""
    from postfix_tls.core.changes import write_whole

    try:
        write_whole(path, text.encode("utf-8"), TEXTFILE_MODE)
    except OSError as error:
        import sys

        sys.stderr.write("postfix-tls: %s\n" % messages.STATUS_TEXTFILE_FAILED.format(
            path=path, error=error.strerror or error))


def prefetch(options, operands):
    return [("-x", SETTINGS)], [("-m",)]
