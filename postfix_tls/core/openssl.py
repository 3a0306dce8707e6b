"""The openssl(1) commands of ``postfix tls``, built as data.

Each function returns the exact argv upstream runs (``$openssl`` is the
``openssl_path`` value, as given), with how its input and output are
connected.  The shell glue around them (od, tr, grep, expr) is done in
Python by the callers.
"""

from postfix_tls.core.command import CAPTURE, DEVNULL, INHERIT, KEY_PIPE, TO_STDOUT, Command

# SHA-256 of nothing: upstream's marker of a pipeline that produced no key.
NULL_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# SHA-512 of nothing: the same marker for the "3 1 2" and "2 1 2" records' digests.
NULL_SHA512 = ("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
               "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")

# Upstream gives every key-reading command a password, so that a
# passphrase-protected key fails instead of prompting.
PASSIN = ("-passin", "pass:umask 077")

# (openssl subcommand, algorithm name, key parameter, certificate parameter),
# in the order upstream tries them when it reads a key.
KEY_TYPES = (
    ("rsa", "rsa", "smtpd_tls_key_file", "smtpd_tls_cert_file"),
    ("ec", "ecdsa", "smtpd_tls_eckey_file", "smtpd_tls_eccert_file"),
)
# The order upstream tries them when it computes a public key digest.
DIGEST_TYPES = ("ec", "rsa")
KEY_TYPE_OF = {"rsa": "rsa", "ecdsa": "ec"}


def version(openssl):
    # Upstream discards the output; a dry run reads it (see ec_reads_rsa).
    return Command([openssl, "version"], stderr=DEVNULL)


def release(version_output):
    """(1, 0, 2) from "OpenSSL 1.0.2k-fips  26 Jan 2017"; None for another library."""
    words = version_output.decode("ascii", "replace").split()
    if len(words) < 2 or words[0] != "OpenSSL":
        return None
    numbers = []
    for word in words[1].split("."):
        digits = word[:len(word) - len(word.lstrip("0123456789"))]
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers) or None


# s_client -dane_tlsa_domain and -dane_tlsa_rrdata are new in OpenSSL 1.1.0
# (LibreSSL has neither).
DANE_CLIENT_SINCE = (1, 1, 0)


def ec_reads_rsa(version_output):
    """Whether "openssl ec" reads RSA keys: OpenSSL 3 does, 1.x and LibreSSL not.

    Upstream tries "ec" first when it computes a digest; a dry run needs to
    know which attempt would succeed for a key it did not create.
    """
    number = release(version_output)
    return number is not None and number >= (3,)


def has_dane_client(version_output):
    number = release(version_output)
    return number is not None and number >= DANE_CLIENT_SINCE


def ecdsa_check(openssl):
    return Command([openssl, "ecparam", "-name", "secp256r1"], stdout=DEVNULL,
                   stderr=TO_STDOUT)


def curve_check(openssl, curve):
    """Whether openssl knows the named curve (a dry run's stand-in for -genkey)."""
    return Command([openssl, "ecparam", "-name", curve, "-noout"], stderr=TO_STDOUT)


def is_encrypted(keyfile):
    """Whether keyfile holds an encrypted PEM private key (PKCS#8, or a
    traditional key with a Proc-Type header); False if it cannot be read,
    or is no regular file (a FIFO would block the read: material.py)."""
    from postfix_tls.core.material import read

    try:
        head = read(keyfile)[:4096]
    except OSError:
        return False
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in head or b"Proc-Type: 4,ENCRYPTED" in head


def sha256(openssl, **options):
    return digest(openssl, "sha256", **options)


def digest(openssl, hash_name, **options):
    """hash_name: sha256 (TLSA matching type 1) or sha512 (2)."""
    return Command([openssl, "dgst", "-binary", "-" + hash_name], **options)


def sha256_check(openssl):
    return sha256(openssl, stderr=DEVNULL)


def read_key(openssl, key_type, keyfile):
    """Print the private key in keyfile, when it is of key_type."""
    return Command([openssl, key_type] + list(PASSIN) + ["-in", keyfile],
                   stderr=DEVNULL, reads=[keyfile], key_type=key_type)


def key_digest_pipeline(openssl, key_type, keyfile):
    """SHA-256 of the DER public key of keyfile, when it is of key_type."""
    return (
        Command([openssl, key_type] + list(PASSIN) + ["-in", keyfile, "-pubout"],
                stderr=DEVNULL, reads=[keyfile], key_type=key_type),
        Command([openssl, key_type, "-pubin", "-outform", "DER"], stderr=DEVNULL,
                key_type=key_type),
        sha256(openssl, stderr=DEVNULL),
    )


def cert_digest_pipeline(openssl, key_type, certfile):
    """SHA-256 of the DER public key in certfile, when it is of key_type."""
    return (
        Command([openssl, "x509", "-pubkey", "-noout", "-in", certfile],
                stderr=DEVNULL, reads=[certfile]),
        Command([openssl, key_type, "-pubin", "-outform", "DER"], stderr=DEVNULL,
                key_type=key_type),
        sha256(openssl, stderr=DEVNULL),
    )


def new_key(openssl, algorithm, bits, keyfile):
    """Generate a key, under umask 077; output kept for the warning."""
    if algorithm == "rsa":
        argv = [openssl, "genrsa", "-out", keyfile, bits]
    else:
        argv = [openssl, "ecparam", "-param_enc", "named_curve", "-genkey",
                "-out", keyfile, "-name", bits]
    return Command(argv, umask=0o077, stdout=CAPTURE, stderr=TO_STDOUT, changes=True,
                   creates=[keyfile], key_type=KEY_TYPE_OF[algorithm])


def _alt_names(hostnames):
    return ["DNS.%d = %s" % (number, name) for number, name in enumerate(hostnames, 1)]


def self_signed_cert(openssl, algorithm, keyfile, certfile, hostnames, stdin_path):
    """A ~100-year self-signed certificate for hostnames[0] and all as SANs.

    openssl reads the configuration text at stdin_path (/dev/stdin, or else
    /dev/fd/0), where we write it."""
    config = [
        "default_md = sha256",
        "x509_extensions = v3",
        "prompt = yes",
        "distinguished_name = dn",
        "[dn]",
        "[v3]",
        "basicConstraints = CA:false",
        "subjectKeyIdentifier = hash",
        "extendedKeyUsage = serverAuth, clientAuth",
        "subjectAltName = @alts",
        "[alts]",
    ] + _alt_names(hostnames)
    argv = [openssl, "req", "-x509", "-config", stdin_path, "-new", "-key", keyfile,
            "-subj", "/CN=" + hostnames[0], "-days", "36525", "-out", certfile]
    return Command(argv, stdin="\n".join(config) + "\n", stdout=INHERIT, changes=True,
                   reads=[keyfile], creates=[certfile], key_type=KEY_TYPE_OF[algorithm])


def csr(openssl, keyfile, hostnames, stdin_path, key_text=None):
    """A CSR on stdout for keyfile, with hostnames as SANs and an empty subject;
    key_text: the key given on a pipe of its own instead (a chain file's
    key that is not its file's first, which -key would not reach)."""
    config = [
        "default_md = sha256",
        "req_extensions = v3",
        "prompt = yes",
        "distinguished_name = dn",
        "[dn]",
        "[v3]",
        "subjectKeyIdentifier = hash",
        "extendedKeyUsage = serverAuth, clientAuth",
        "subjectAltName = @alts",
        "[alts]",
    ] + _alt_names(hostnames)
    if key_text is not None:
        keyfile = KEY_PIPE
    argv = [openssl, "req", "-config", stdin_path, "-new", "-key", keyfile, "-subj", "/"]
    return Command(argv, stdin="\n".join(config) + "\n", stdout=INHERIT,
                   reads=[] if key_text is not None else [keyfile], key_pipe=key_text)


def certificate_facts(openssl, certfile, certificate_pem=None):
    """Subject, validity and DNS names of the first certificate in certfile,
    or of certificate_pem on stdin (status; -ext needs OpenSSL 1.1.1)."""
    source = ["-in", certfile] if certificate_pem is None else []
    return Command([openssl, "x509"] + source + [
        "-noout", "-nameopt", "RFC2253", "-subject", "-startdate", "-enddate", "-ext",
        "subjectAltName"], stdin=certificate_pem, stderr=DEVNULL,
        reads=[certfile] if certificate_pem is None else [])


def pem_key_digest(openssl, key_pem, hash_name="sha256"):
    """SHA-256 (or hash_name) of the DER public key of a private key given as
    text (one of several in a chain file: openssl -in reads only the first)."""
    return (
        Command([openssl, "pkey", "-pubout"], stdin=key_pem, stderr=DEVNULL,
                secret_stdin=True),
        Command([openssl, "pkey", "-pubin", "-outform", "DER"], stderr=DEVNULL),
        digest(openssl, hash_name, stderr=DEVNULL),
    )


def key_file_digest(openssl, keyfile, hash_name):
    """hash_name of the DER public key of keyfile's private key, whatever
    its type (pkey; the "3 1 2" records of check-server-tlsa's keys)."""
    return (
        Command([openssl, "pkey"] + list(PASSIN) + ["-in", keyfile, "-pubout"],
                stderr=DEVNULL, reads=[keyfile]),
        Command([openssl, "pkey", "-pubin", "-outform", "DER"], stderr=DEVNULL),
        digest(openssl, hash_name, stderr=DEVNULL),
    )


def signed_by(openssl, certfile, issuerfile):
    """Whether issuerfile's certificate signed certfile's (status: a chain's
    order); dates are another question, asked by certificate_facts."""
    return Command([openssl, "verify", "-no_check_time", "-partial_chain", "-no-CApath",
                    "-CAfile", issuerfile, certfile], stderr=TO_STDOUT,
                   reads=[certfile, issuerfile])


def s_client(openssl, address, port, starttls, hostname, sigalgs, tlsa_records, seconds,
             servername=None):
    """Connect to address:port as a DANE client for hostname would, checking
    the presented certificate against tlsa_records ("3 1 1 HEX"); openssl
    prints the certificate and its verdict.  timeout(1): a peer that does not
    answer must not keep the check waiting (it exits 124 then).  servername:
    the SNI name to send (tls_server_sni_maps picks the certificate by it)."""
    where = "[%s]:%d" % (address, port) if ":" in address else "%s:%d" % (address, port)
    argv = ["timeout", str(seconds), openssl, "s_client", "-connect", where]
    if starttls:
        argv += ["-starttls", "smtp"]
    if servername:
        argv += ["-servername", servername]
    argv += ["-sigalgs", sigalgs]
    if tlsa_records:
        # As an SMTP client does with DANE-EE(3) records (RFC 7672 3.1.1, as
        # Postfix's): the key is matched, the certificate's names are not.
        argv += ["-dane_ee_no_namechecks", "-dane_tlsa_domain", hostname]
        for record in tlsa_records:
            argv += ["-dane_tlsa_rrdata", record]
    return Command(argv, stderr=TO_STDOUT)


def presented_key_digest(openssl, certificate_pem, hash_name="sha256"):
    """SHA-256 (or hash_name) of the public key of a certificate given as text."""
    return (
        Command([openssl, "x509", "-pubkey", "-noout"], stdin=certificate_pem,
                stderr=DEVNULL),
        Command([openssl, "pkey", "-pubin", "-outform", "DER"], stderr=DEVNULL),
        digest(openssl, hash_name, stderr=DEVNULL),
    )


def hex_digest(output):
    """What upstream's ``od | tr | egrep -v`` keeps: a non-empty digest or ""."""
    text = "".join("%02x" % byte for byte in bytearray(output))
    return "" if text in (NULL_SHA256, NULL_SHA512) else text
