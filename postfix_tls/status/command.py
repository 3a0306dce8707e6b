"""``status`` (ours): one verdict line and one line per problem, or
--json; exit 0, 1 (warning) or 2 (critical)."""

import time

from postfix_tls.core import messages, validate
from postfix_tls.status.checks import check_client, check_server
from postfix_tls.status.facts import CRITICAL_DAYS, SETTINGS, UNKNOWN, WARNING_DAYS, Report


def _days(tls, options, letter, default):
    value = options.get(letter, default)
    if not validate.digits(value):
        tls.fail(messages.STATUS_BAD_DAYS.format(option="-" + letter,
                                                 value=validate.shown(value)))
    return int(value)


def status(tls, options, operands):
    """Read, judge, show; the exit status is the verdict's."""
    report = Report(tls.config_directory, _days(tls, options, "w", WARNING_DAYS),
                    _days(tls, options, "c", CRITICAL_DAYS))
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
    from postfix_tls.core import render

    render.status(report, tls.json)
    _shown.append(report)
    return report.exit_status


_shown = []  # the report this run printed (always_a_line prints one if none)


def always_a_line(run, as_json, config_directory):
    """run() (the whole command), and status's line even when the run
    ended before status judged anything: no configuration directory, no
    postconf, main.cf unreadable, a start-up check or an option failing.
    Then the verdict is UNKNOWN (exit 3), with the fatal message as its
    cause, as monitoring plugins do: a monitoring system reads only the
    first line (or the JSON document) and the exit status."""
    from postfix_tls.core import render
    from postfix_tls.core.log import FATAL_TEXTS

    code = run()
    if _shown:
        return code
    report = Report(config_directory, None, None)
    report.problem(UNKNOWN, FATAL_TEXTS[-1] if FATAL_TEXTS else messages.STATUS_NOT_RUN)
    render.status_unknown(report, as_json)
    return report.exit_status


def prefetch(options, operands):
    return [("-x", SETTINGS)], [("-m",)]
