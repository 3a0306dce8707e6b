"""status's report in the Prometheus text exposition format (version
0.0.4), for ``-o prometheus`` and node_exporter's textfile collector (-f).

Names follow Prometheus' conventions: the ``postfix_tls_`` prefix, base
units in the name (``_seconds``, ``_timestamp_seconds``), a yes/no as a
gauge of 0 or 1, one HELP and TYPE per family, its samples together.
Times are timestamps, not "seconds left": a file the collector serves an
hour late still says the truth.  A fact status did not get to (a
certificate openssl could not read) has no sample, never a made-up 0.
Every sample has a ``config_directory`` label: two Postfix instances on
one host write two files.
"""

import calendar
import collections
import time

from postfix_tls.core.validate import utf8

PREFIX = "postfix_tls_"

# name: (help, type); the order of the output.
FAMILIES = collections.OrderedDict((
    ("status", ("The verdict as a monitoring plugin's exit status: 0 OK, 1 WARNING,"
                " 2 CRITICAL, 3 UNKNOWN.", "gauge")),
    ("problems", ("Problems status found, by severity.", "gauge")),
    ("last_run_timestamp_seconds", ("When status judged the configuration.", "gauge")),
    ("certificate_expiry_timestamp_seconds", ("When a served certificate expires (its"
                                              " notAfter).", "gauge")),
    ("certificate_not_before_timestamp_seconds", ("When a served certificate becomes valid"
                                                  " (its notBefore).", "gauge")),
    ("key_matches_certificate", ("1 when the private key matches the certificate's public"
                                 " key, else 0.", "gauge")),
    ("chain_in_order", ("1 when each certificate of the chain is signed by the next (the"
                        " order Postfix sends), else 0.", "gauge")),
    ("certificate_chain_length", ("Certificates in the chain Postfix sends, the leaf"
                                  " included.", "gauge")),
    ("sni_name_covered", ("1 when an SNI name's certificates cover the name, else 0.",
                          "gauge")),
    ("sni_name_stale", ("1 when the built SNI table holds other keys or certificates for"
                        " the name than its files (run postmap -F), else 0.", "gauge")),
    ("sni_table_stale", ("1 when the built SNI table is stale for one of its names or"
                         " more, else 0.", "gauge")),
    ("staged_key_timestamp_seconds", ("When deploy-acme-cert staged a key waiting for its"
                                      " TLSA record (the file's mtime).", "gauge")),
    ("staged_key_age_seconds", ("How long a staged key has waited for its TLSA record, at"
                                " the last run.", "gauge")),
    ("tlsa_lookup_success", ("1 when the port's TLSA lookup got an answer (records or"
                             " none), else 0.", "gauge")),
    ("tlsa_records", ("TLSA records published for the port.", "gauge")),
    ("tlsa_dnssec_validated", ("1 when the resolver validated the port's TLSA records (AD"
                               " flag), else 0.", "gauge")),
    ("tlsa_match", ("1 when a TLSA record of the port matches the served certificate (3 1 1"
                    " of its key, 2 1 1 of an issuer's), else 0.", "gauge")),
))
SEVERITIES = ("WARNING", "CRITICAL", "UNKNOWN")


def escape_label(value):
    """A label value as the text format wants it: valid UTF-8 (a byte of a
    file name that is not is written \\xff, validate.utf8), then
    backslash, double quote and line feed escaped."""
    return utf8(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _seconds(iso):
    """Seconds since the epoch of certificates.iso's text (UTC)."""
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(round(value, 3))
    return str(value)


class _Samples(object):
    """Samples by family, each with the config_directory label first."""

    def __init__(self, config_directory):
        self.common = (("config_directory", config_directory),)
        self.by_family = collections.OrderedDict((name, []) for name in FAMILIES)

    def add(self, family, value, *labels):
        labels = self.common + tuple((name, label) for name, label in labels
                                     if label is not None)
        self.by_family[family].append((labels, value))

    def text(self):
        lines = []
        for family, samples in self.by_family.items():
            if not samples:
                continue
            name = PREFIX + family
            description, kind = FAMILIES[family]
            lines.append("# HELP %s %s" % (name, description))
            lines.append("# TYPE %s %s" % (name, kind))
            seen = set()
            for labels, value in samples:
                text = ",".join('%s="%s"' % (label, escape_label(str(found)))
                                for label, found in labels)
                if text in seen:  # one entry judged twice (two names, one file)
                    continue
                seen.add(text)
                lines.append("%s{%s} %s" % (name, text, _number(value)))
        return "".join(line + "\n" for line in lines)


def metrics(report, now):
    """The report's metrics, as the text of a .prom file."""
    samples = _Samples(report.config_directory)
    samples.add("status", report.exit_status)
    for severity in SEVERITIES:
        samples.add("problems", sum(1 for problem in report.problems
                                    if problem.severity == severity),
                    ("severity", severity.lower()))
    samples.add("last_run_timestamp_seconds", float(now))
    for entry in report.server:
        _certificate(samples, entry, ())
    tables = collections.OrderedDict()
    for found in report.sni:
        names = (("sni_name", found.name), ("table", found.table))
        for entry in found.chains if found.found("chains") else []:
            _certificate(samples, entry, names)
        if found.covered is not None:
            samples.add("sni_name_covered", found.covered, *names)
        if found.stale is not None:
            samples.add("sni_name_stale", found.stale, *names)
            tables[found.table] = tables.get(found.table, False) or found.stale
    for table, stale in tables.items():
        samples.add("sni_table_stale", stale, ("table", table))
    for staged in report.staged:
        labels = (("algorithm", staged.algorithm), ("file", staged.path),
                  ("sni_name", staged.sni_label or None))
        samples.add("staged_key_timestamp_seconds", _seconds(staged.modified), *labels)
        samples.add("staged_key_age_seconds", int(staged.age_seconds), *labels)
    for port in report.tlsa:
        labels = (("port", port.port), ("owner", port.owner))
        samples.add("tlsa_lookup_success", not port.error, *labels)
        if port.error:
            continue
        samples.add("tlsa_records", len(port.records), *labels)
        if port.records:  # no records (NXDOMAIN, say): nothing was validated
            samples.add("tlsa_dnssec_validated", port.validated, *labels)
        for match in port.matches:
            samples.add("tlsa_match", match["match"], *(labels + (
                ("algorithm", match["algorithm"]), ("file", match["file"]))))
    return samples.text()


def _certificate(samples, entry, names):
    """One served certificate's samples; names: an SNI name's labels."""
    if not entry.found("not_after"):
        return
    path = entry.cert_file.path if entry.found("cert_file") else ""
    labels = (("algorithm", entry.algorithm), ("file", path)) + names
    samples.add("certificate_expiry_timestamp_seconds", _seconds(entry.not_after), *labels)
    samples.add("certificate_not_before_timestamp_seconds", _seconds(entry.not_before),
                *labels)
    if entry.found("key_matches") and entry.key_matches is not None:
        samples.add("key_matches_certificate", entry.key_matches, *labels)
    if entry.found("chain_length"):
        samples.add("certificate_chain_length", entry.chain_length, *labels)
        # One certificate is in order; a longer chain was judged (or not).
        in_order = entry.chain_in_order if entry.found("chain_in_order") else (
            True if entry.chain_length < 2 else None)
        if in_order is not None:
            samples.add("chain_in_order", in_order, *labels)
