"""``status`` (ours): the TLS health of a Postfix instance, in one look.

Reads main.cf's TLS settings with postconf and each configured key and
certificate with openssl, through the runner (so ``--trace`` shows every
command and ``--dry-run`` runs it as it is: it changes nothing), and
judges what it found the way monitoring plugins do: OK, WARNING, CRITICAL
or UNKNOWN, exit status 0 to 3.  render.py shows the report as text or
JSON.
"""

import collections

# (algorithm, certificate parameter, key parameter); -x expands the key
# parameters' defaults, $smtpd_tls_cert_file and $smtpd_tls_eccert_file.
SERVER_FILES = (
    ("rsa", "smtpd_tls_cert_file", "smtpd_tls_key_file"),
    ("ecdsa", "smtpd_tls_eccert_file", "smtpd_tls_eckey_file"),
)
CLIENT_FILES = (
    ("rsa", "smtp_tls_cert_file", "smtp_tls_key_file"),
    ("ecdsa", "smtp_tls_eccert_file", "smtp_tls_eckey_file"),
)
SETTINGS = tuple(name for row in SERVER_FILES + CLIENT_FILES for name in row[1:]) + (
    "smtpd_tls_chain_files", "smtpd_tls_security_level", "myhostname",
    "smtp_tls_security_level", "smtp_tls_session_cache_database",
    "tls_server_sni_maps",  # 3.4+: read only where the release knows it
)
WARNING_DAYS = "30"
CRITICAL_DAYS = "7"
# A staged key older than this is a WARNING: the timer runs every 6 hours
# and a TLSA TTL is rarely over a day, so two days means the runs fail.
STAGED_WARNING_SECONDS = 2 * 86400

OK, WARNING, CRITICAL, UNKNOWN = "OK", "WARNING", "CRITICAL", "UNKNOWN"
EXIT_STATUS = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
_ORDER = (OK, WARNING, CRITICAL, UNKNOWN)

Problem = collections.namedtuple("Problem", "severity text")
PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


NOT_FOUND = object()  # a fact status did not get to (no certificate, say)


class Facts(object):
    """Facts found one by one, some never: to_json() gives those found, in
    FIELDS order (the JSON document's), nested facts as their own."""

    FIELDS = ()

    def __init__(self, **found):
        for name in self.FIELDS:
            setattr(self, name, found.pop(name, NOT_FOUND))
        if found:
            raise TypeError("unknown facts: %s" % ", ".join(sorted(found)))

    def found(self, name):
        return getattr(self, name) is not NOT_FOUND

    def to_json(self):
        document = collections.OrderedDict()
        for name in self.FIELDS:
            value = getattr(self, name)
            if value is NOT_FOUND:
                continue
            if isinstance(value, Facts):
                value = value.to_json()
            elif isinstance(value, list):
                value = [item.to_json() if isinstance(item, Facts) else item for item in value]
            document[name] = value
        return document


class FileFacts(Facts):
    """A configured file: whether it exists, is readable, its mode and owner,
    whether it is a regular file (not a FIFO, device or directory)."""

    FIELDS = ("path", "exists", "readable", "mode", "owner", "regular")
    refused = ""  # why material.py would not read it, if it would not

    @property
    def usable(self):
        """Whether its keys and certificates can be read: openssl is given
        only what material.py accepts (it would block on a FIFO)."""
        return self.found("readable") and self.readable and not self.refused


class ServerEntry(Facts):
    """One configured server key and certificate (or chain file)."""

    FIELDS = ("algorithm", "cert_file", "key_file", "subject", "names", "not_before",
              "not_after", "days_left", "myhostname_covered", "key_matches", "spki_sha256",
              "chain_length", "chain_in_order")


class ClientFacts(Facts):
    """The SMTP client's TLS settings and files."""

    FIELDS = ("security_level", "session_cache", "session_cache_type_available", "files")


class StagedKey(Facts):
    """A key deploy-acme-cert staged, waiting for its TLSA record: its file,
    its SNI lineage's label (None: the default certificate's), when it was
    written and how long ago."""

    FIELDS = ("algorithm", "path", "sni_label", "modified", "age_seconds")


class TlsaPort(Facts):
    """status -p: a port's TLSA RRset as the resolver gives it, and per
    served certificate whether a record matches it (matches: [{algorithm,
    file, match}]); looked_up false: status's DNS time was spent before
    this port's turn (tlsa.py)."""

    FIELDS = ("port", "owner", "looked_up", "records", "validated", "error", "matches")


class Report(object):
    """What status found: facts, as data, and the problems among them."""

    def __init__(self, config_directory, warning_days, critical_days):
        self.config_directory = config_directory
        self.thresholds = {"warning_days": warning_days, "critical_days": critical_days,
                           "staged_warning_seconds": STAGED_WARNING_SECONDS}
        self.server = []  # a ServerEntry per configured key and certificate (or chain file)
        self.sni = []  # an SniName per name of tls_server_sni_maps' tables (sni.py)
        self.client = ClientFacts()
        self.staged = []  # a StagedKey per staged key file (staged_keys.py)
        self.tlsa = []  # a TlsaPort per port of -p (tlsa.py)
        self.settings = collections.OrderedDict()
        self.problems = []
        self.notes = []  # what is worth saying but is no problem
        self.assumed = []  # what could not be known and was assumed

    def problem(self, severity, text):
        if severity == OK:
            self.notes.append(text)
        else:
            self.problems.append(Problem(severity, text))

    @property
    def verdict(self):
        worst = OK
        for problem in self.problems:
            if _ORDER.index(problem.severity) > _ORDER.index(worst):
                worst = problem.severity
        return worst

    @property
    def exit_status(self):
        return EXIT_STATUS[self.verdict]
