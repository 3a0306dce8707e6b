"""What openssl says of a certificate: its subject, validity and names
(``openssl x509`` as openssl.certificate_facts asks it), read into
Python values; and whether a certificate's name covers a host name.
status and deploy-acme-cert judge certificates with these."""

import calendar
import time

_MONTHS = dict((name, number) for number, name in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1))


def openssl_time(text):
    """Seconds since the epoch of openssl's "Nov 28 21:10:46 2026 GMT"
    (not strptime: its month names follow the locale)."""
    month, day, clock, year = text.split()[:4]
    hour, minute, second = (int(part) for part in clock.split(":"))
    return calendar.timegm((int(year), _MONTHS[month], int(day), hour, minute, second))


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def parse_certificate_facts(output):
    """{subject, not_before, not_after, names} from certificate_facts' output."""
    facts = {"names": []}
    lines = output.decode("utf-8", "replace").splitlines()
    for index, line in enumerate(lines):
        if line.startswith("subject="):
            facts["subject"] = line[len("subject="):].strip()
        elif line.startswith("notBefore="):
            facts["not_before"] = openssl_time(line.split("=", 1)[1])
        elif line.startswith("notAfter="):
            facts["not_after"] = openssl_time(line.split("=", 1)[1])
        elif "Subject Alternative Name" in line and index + 1 < len(lines):
            facts["names"] = [name.strip()[4:] for name in lines[index + 1].split(",")
                              if name.strip().startswith("DNS:")]
    return facts


def covers(name, hostname):
    name, hostname = name.lower(), hostname.lower()
    if name.startswith("*."):
        return hostname.partition(".")[2] == name[2:]
    return name == hostname
