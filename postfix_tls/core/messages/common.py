"""Exit statuses, and the words of upstream's script and of the start-up
checks and information blocks (with our own where upstream has none)."""

import collections

EXIT_OK = 0
EXIT_FAIL = 1
# deploy-acme-cert (ours): a new key waits for its TLSA record (EX_TEMPFAIL:
# a later run deploys it); dehydrated is told 0 (it stops at a hook's failure).
EXIT_STAGED = 75

# Ours: another run holds the configuration directory's lock (lock.py).
EXIT_BUSY = 75

# Where the log tag starts; postlog gets "$MAIL_LOGTAG/postfix-tls-script".
PROGRAM = "postfix-tls-script"

# Each subcommand's usage message is in its declaration (subcommands.py).
UNKNOWN_COMMAND = "unknown tls command: '{}'"
USAGE_ALL = (
    "usage: postfix tls enable-client (or enable-server, new-server-key,"
    " new-server-cert, deploy-server-cert, output-server-csr, output-server-tlsa,"
    " all-default-client, all-default-server)"
)

# Start-up checks, in the order upstream makes them.
NO_COMMAND_DIRECTORY = "no Postfix command directory '{}'"
NO_OPENSSL = "No working openssl(1) command found with 'openssl_path = {}'"
NO_CONFIG_DIRECTORY = "no Postfix configuration directory {}!"
NO_TLS = "Postfix {} is not compiled with TLS support"
NO_ECDSA_IN_OPENSSL = (
    "Postfix supports ECDSA, but the {openssl} command does not. Consider",
    "setting the openssl_path parameter to a more capable version of the",
    "command-line utility than {openssl} (with PATH={path}).",
)
NO_RSA_OR_ECDSA = "Postfix {} does not support either RSA or ECDSA"
NO_STDIN = "No /dev/fd/0 or /dev/stdin found"
NO_SHA256_STDERR = (
    "Your {openssl} does not support the SHA2-256 digest algorithm. To enable",
    "'postfix tls', install an OpenSSL that does. Install its openssl(1) command",
    "at /usr/local/bin/openssl or other suitable location, and set the",
    "'openssl_path' parameter in {default_config_directory}/main.cf accordingly.",
)
NO_SHA256 = "No 'postfix tls' support when openssl(1) is obsolete"
# Ours, where upstream's sh says "postconf: not found" and then finds no
# openssl (openssl_path comes from postconf): the first failure's words.
NO_POSTCONF = ("no postconf(1) command at {}: it is missing or not executable; is"
               " command_directory right?")

# Option checks.  Upstream words them differently per subcommand.
EMPTY_ALGORITHM = "Internal error: empty algorithm "
EMPTY_ALGORITHM_CERT = "Invalid empty key algorithm"
UNSUPPORTED_PRIVATE = "Unsupported private key algorithm: {}"
UNSUPPORTED_PUBLIC = "Unsupported public key algorithm: {}"
NO_RANDOM_SOURCE = "no default TLS random source defined and no /dev/urandom"

# Keys and certificates.
KEY_EXISTS = "New private key file already exists: {}"
CERT_EXISTS = "New certificate file already exists: {}"
COPY_KEY_FAILED = "Error copying private key from '{}' to '{}'"
KEY_ALGORITHM_MISMATCH = "Key algorithm '{}' of '{}' is not '{}'"
KEY_GENERATION_FAILED = "error generating new {} {} private key"
CERT_GENERATION_FAILED = "error generating self-signed SSL certificate"
NO_PRIVATE_KEY = "no private key found in file: {}"
CERT_DIGEST_FAILED = "error computing certificate public key digest"
KEY_DIGEST_FAILED = "error computing public key digest"
CERT_KEY_MISMATCH = "Certificate in {} does not match key in {}"
KEY_FILE_NOT_FOUND = "Key file: {} not found, creating new keys"
NO_USABLE_KEYFILE = "No usable keyfile specified or configured"
NO_USABLE_KEYFILES = "No usable keyfiles specified or configured"

# Ours: faults and input that upstream does not check.
BAD_HOSTNAME = "invalid hostname: {}: expected a DNS host name"
BAD_RSA_BITS = "invalid RSA key size: {}: expected a number of bits"
BAD_CURVE = "invalid EC curve name: {}"
BAD_RANDOM_SOURCE = (
    "invalid random source: {}: expected dev:/path/to/device or egd:/path/to/socket"
)
BAD_OPERAND = "invalid argument: {}: not valid UTF-8 text, or contains a NUL or control character"
NOT_A_FILE = "no such file, or not a regular file: {}"
# Ours: what keeps a path from being read as key or certificate material
# (material.py), after the path: "PATH is a FIFO, not a regular file".
MATERIAL_NOT_REGULAR = "is {kind}, not a regular file"
MATERIAL_TOO_LARGE = ("is {size} bytes, more than any key and certificate chain (at most {limit}"
                      " bytes are read)")
NOT_MATERIAL = "{problem}: nothing deployed, the old certificate stays"
KEY_ENCRYPTED = ("{0} holds an encrypted (passphrase-protected) private key; Postfix needs it"
                 " unencrypted: openssl pkey -in {0} -out NEWFILE")
KEY_NOT_DEPLOYED = ("the key in {keyfile} is an {algorithm} key, and postfix-tls deploys only RSA"
                    " and ECDSA keys: nothing deployed")
KEY_ENCRYPTED_NO_TERMINAL = ("the private key in {} is encrypted (passphrase-protected), and"
                             " there is no terminal to ask for its pass phrase")
UNKNOWN_CURVE = "openssl ecparam -name {} fails: the real run would fail here"
CANNOT_CREATE = "cannot create {}: {}"
POSTCONF_EDIT_FAILED = "error updating {}/main.cf: postconf -e failed"
INTERRUPTED = "interrupted by signal {} while running: {}"
# Ours: where Python itself failed (a write error, a bug), not a step.
TRACE_BROKEN = "the trace ({option}) cannot be written: {error}: stopped"
TRACE_INCOMPLETE = "the trace is incomplete: {problem}; the run itself is complete"
UNEXPECTED_ERROR = "stopped by an unexpected error: {error}"
STANDALONE_NO_POSTCONF = "no postconf(1) command found on PATH or in /usr/sbin"
STANDALONE_BAD_CONFIG = "cannot read the Postfix configuration in {}"
GLOBAL_USAGE = (
    "usage: postfix-tls [-c config_directory] [--dry-run] [--trace]"
    " [--trace-json file] [--json] [--chain-file file] subcommand [options] [arguments]"
)
DRY_RUN_MARK = "(dry run) "
# After a failure, when one of our options came after the subcommand.
MISPLACED_OPTION = "postfix-tls: {option} goes before the subcommand: {command} {option} {name} ..."


# Information blocks: what upstream pipes into "postlog -p info".

# The commands these blocks tell the administrator to run: upstream's in
# postfix mode; in standalone mode, ones that act on the -c configuration.
# tls: the command to suggest (with --chain-file when given: the deploying
# subcommands take it); reads: the same without it, for the others.
Hints = collections.namedtuple("Hints", "tls reload reads")
POSTFIX_HINTS = Hints("postfix tls", "postfix reload", "postfix tls")


def standalone_hints(program, config_directory):
    from postfix_tls.core.validate import quote
    directory = quote(config_directory)
    return Hints("%s -c %s" % (program, directory), "postfix -c %s reload" % directory,
                 "%s -c %s" % (program, directory))


def enable_client_suggestion(cache_type):
    lines = [
        "*** Non-default SMTP client TLS settings detected, no changes made.",
        "For opportunistic TLS in the Postfix SMTP client, the below settings",
        "are typical:",
        "  smtp_tls_security_level = may",
        "  smtp_tls_loglevel = 1",
    ]
    if cache_type:
        lines.append(
            "  smtp_tls_session_cache_database = %s:${data_directory}/smtp_scache"
            % cache_type
        )
    return lines


def client_deployed(hints):
    return [
        "Enabled opportunistic TLS in the Postfix SMTP client.",
        "Run the command:",
        "  # " + hints.reload,
        "if you want the new settings to take effect immediately.",
    ]

def enable_server_suggestion(hints):
    return [
        "*** Non-default SMTP server TLS settings detected, no changes made.",
        "For opportunistic TLS in the Postfix SMTP server, the below settings",
        "are typical:",
        "  smtpd_tls_security_level = may",
        "  smtpd_tls_loglevel = 1",
        'You can use "%s new-server-cert" to create a new certificate.' % hints.tls,
        'Or, "%s new-server-key" to also force a new private key.' % hints.tls,
    ] + list(DANE_REFERENCES)


DANE_REFERENCES = (
    "If you publish DANE TLSA records, see:",
    "  https://tools.ietf.org/html/rfc7671#section-8",
    "  https://tools.ietf.org/html/rfc7671#section-5.1",
    "  https://tools.ietf.org/html/rfc7671#section-5.2",
    "  https://community.letsencrypt.org/t/please-avoid-3-0-1-and-3-0-2-dane-tlsa"
    "-records-with-le-certificates/7022",
)


def created(certfile, keyfile, hints):
    return [
        "New private key and self-signed certificate created. To deploy run:",
        "  # %s deploy-server-cert %s %s" % (hints.tls, certfile, keyfile),
    ]


def server_deployed(hints, enabled=False):
    lines = ["Enabled opportunistic TLS in the Postfix SMTP server"] if enabled else []
    return lines + [
        "New TLS private key and certificate deployed.",
        "Run the command:",
        "  # " + hints.reload,
        "if you want the new settings to take effect immediately.",
    ]


def csr_hint(certfile, keyfile, deployed, hints):
    return [
        "To generate a CSR run:",
        "  # %s output-server-csr -k %s [<hostname> ...]" % (hints.reads, keyfile),
        "Save the signed certificate chain in %s%s"
        % (certfile, "." if deployed else ", and deploy as above."),
    ]


def tlsa_hint(keyfile, deployed, hints):
    # Once deployed, upstream shows the command for all keys: no key file
    # (and a trailing space, kept).
    return [
        "To generate TLSA records run:",
        "  # %s output-server-tlsa [-h <hostname>] %s" % (hints.reads,
                                                          "" if deployed else keyfile),
    ]


def dane_dns_hint(deployed):
    if deployed:
        return [
            "(If you have DANE TLSA RRs, update them as soon as possible to match",
            "the newly deployed keys).",
        ]
    return ["(deploy after updating the DNS and waiting for stale RRs to expire)."]


def tlsa_record(hostname, digest, port=25):
    return "_%d._tcp.%s. IN TLSA 3 1 1 %s" % (port, hostname, digest)
