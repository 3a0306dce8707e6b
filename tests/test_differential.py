"""Upstream's postfix-tls-script and ours, side by side.

Each scenario runs both on identical scratch configurations, with the
environment postfix(1) passes and on a terminal, and compares the exit
status, the transcript, main.cf, the files made (names and modes) and
what the keys, certificates and CSRs say.  Paths and time stamps are
normalised; nothing else is.  Deliberate differences are tested in
test_differences.py, not here.
"""

import collections
import os
import re
import subprocess

import pytest
from conftest import (
    OPENSSL,
    UPSTREAM,
    normalise,
    ours_argv,
    postfix_environment,
    run_on_pty,
    snapshot,
)

Scenario = collections.namedtuple("Scenario", "name args main_cf files")


def scenario(name, args, main_cf=(), files=()):
    return Scenario(name, list(args), list(main_cf), list(files))


RSA_FILES = [("key.pem", "rsa.key"), ("cert.pem", "rsa.crt")]
EC_FILES = [("eckey.pem", "ec.key"), ("eccert.pem", "ec.crt")]
RSA_CONFIGURED = ["smtpd_tls_key_file = $DIR/key.pem", "smtpd_tls_cert_file = $DIR/cert.pem"]
EC_CONFIGURED = ["smtpd_tls_eckey_file = $DIR/eckey.pem",
                 "smtpd_tls_eccert_file = $DIR/eccert.pem"]

SCENARIOS = [
    # all-default-client / all-default-server
    scenario("all-default-client", ["all-default-client"]),
    scenario("all-default-client-set", ["all-default-client"],
             ["smtp_tls_security_level = may"]),
    scenario("all-default-client-empty-value", ["all-default-client"],
             ["smtp_tls_security_level ="]),
    scenario("all-default-client-operand", ["all-default-client", "x"]),
    scenario("all-default-server", ["all-default-server"]),
    scenario("all-default-server-set", ["all-default-server"], RSA_CONFIGURED, RSA_FILES),
    scenario("all-default-server-dashdash", ["all-default-server", "--"]),
    # enable-client
    scenario("enable-client", ["enable-client"]),
    scenario("enable-client-randsource", ["enable-client", "-r", "dev:/dev/urandom"]),
    scenario("enable-client-randsource-joined", ["enable-client", "-regd:/var/run/egd"]),
    scenario("enable-client-empty-random-source", ["enable-client"], ["tls_random_source ="]),
    scenario("enable-client-not-default", ["enable-client"], ["smtp_use_tls = yes"]),
    scenario("enable-client-operand", ["enable-client", "extra"]),
    scenario("enable-client-unknown-option", ["enable-client", "-x"]),
    scenario("enable-client-missing-argument", ["enable-client", "-r"]),
    scenario("enable-client-dashdash", ["enable-client", "--"]),
    # enable-server
    scenario("enable-server", ["enable-server"]),
    scenario("enable-server-ecdsa", ["enable-server", "-a", "ecdsa"]),
    scenario("enable-server-ecdsa-names", ["enable-server", "-a", "ecdsa", "-b", "secp384r1",
                                           "mx.example.net", "mail.example.org"]),
    scenario("enable-server-clustered", ["enable-server", "-aecdsa", "-r", "dev:/dev/urandom"]),
    scenario("enable-server-dashdash", ["enable-server", "-a", "ecdsa", "--",
                                        "mx.example.net"]),
    scenario("enable-server-empty-first-name", ["enable-server", "-a", "ecdsa", "",
                                                "alt.example.net"]),
    scenario("enable-server-not-default", ["enable-server"], RSA_CONFIGURED, RSA_FILES),
    scenario("enable-server-bad-algorithm", ["enable-server", "-a", "dsa"]),
    scenario("enable-server-empty-algorithm", ["enable-server", "-a", ""]),
    scenario("enable-server-bad-curve", ["enable-server", "-a", "ecdsa", "-b", "nosuchcurve"]),
    scenario("enable-server-unknown-option", ["enable-server", "-q"]),
    # new-server-key
    scenario("new-server-key", ["new-server-key"]),
    scenario("new-server-key-ecdsa", ["new-server-key", "-a", "ecdsa", "host.example.com",
                                      "alt.example.com"]),
    scenario("new-server-key-bad-algorithm", ["new-server-key", "-a", "bogus"]),
    scenario("new-server-key-empty-algorithm", ["new-server-key", "-a", ""]),
    scenario("new-server-key-missing-argument", ["new-server-key", "-b"]),
    # new-server-cert
    scenario("new-server-cert-no-key", ["new-server-cert"]),
    scenario("new-server-cert-copy-rsa", ["new-server-cert", "new.example.com"],
             RSA_CONFIGURED, RSA_FILES),
    scenario("new-server-cert-copy-ecdsa", ["new-server-cert", "-a", "ecdsa"],
             EC_CONFIGURED, EC_FILES),
    scenario("new-server-cert-missing-key", ["new-server-cert"],
             ["smtpd_tls_key_file = $DIR/gone.pem"]),
    scenario("new-server-cert-wrong-algorithm", ["new-server-cert"],
             ["smtpd_tls_key_file = $DIR/eckey.pem"], EC_FILES),
    scenario("new-server-cert-garbage-key", ["new-server-cert"],
             ["smtpd_tls_key_file = $DIR/garbage.pem"], [("garbage.pem", "garbage.pem")]),
    scenario("new-server-cert-empty-algorithm", ["new-server-cert", "-a", ""]),
    scenario("new-server-cert-bad-algorithm", ["new-server-cert", "-a", "ed25519"]),
    # deploy-server-cert
    scenario("deploy-server-cert", ["deploy-server-cert", "cert.pem", "key.pem"],
             files=RSA_FILES),
    scenario("deploy-server-cert-absolute", ["deploy-server-cert", "$DIR/eccert.pem",
                                             "$DIR/eckey.pem"], files=EC_FILES),
    scenario("deploy-server-cert-mismatch", ["deploy-server-cert", "cert.pem", "key2.pem"],
             files=RSA_FILES + [("key2.pem", "rsa2.key")]),
    scenario("deploy-server-cert-garbage-key", ["deploy-server-cert", "cert.pem",
                                                "garbage.pem"],
             files=RSA_FILES + [("garbage.pem", "garbage.pem")]),
    scenario("deploy-server-cert-encrypted-key", ["deploy-server-cert", "cert.pem",
                                                  "encrypted.pem"],
             files=RSA_FILES + [("encrypted.pem", "encrypted.key")]),
    scenario("deploy-server-cert-missing-key", ["deploy-server-cert", "cert.pem",
                                                "nokey.pem"], files=RSA_FILES),
    scenario("deploy-server-cert-swapped", ["deploy-server-cert", "key.pem", "cert.pem"],
             files=RSA_FILES),
    scenario("deploy-server-cert-one-operand", ["deploy-server-cert", "cert.pem"]),
    scenario("deploy-server-cert-three-operands", ["deploy-server-cert", "a", "b", "c"]),
    # output-server-csr
    scenario("output-server-csr", ["output-server-csr"], RSA_CONFIGURED, RSA_FILES),
    scenario("output-server-csr-names", ["output-server-csr", "-k", "key.pem",
                                         "mx.example.net", "mail.example.org"],
             files=RSA_FILES),
    scenario("output-server-csr-ecdsa", ["output-server-csr", "-k", "ecdsa"],
             EC_CONFIGURED, EC_FILES),
    scenario("output-server-csr-ecdsa-fallback", ["output-server-csr"], EC_CONFIGURED, EC_FILES),
    scenario("output-server-csr-no-key", ["output-server-csr"]),
    scenario("output-server-csr-configured-key-missing", ["output-server-csr"],
             ["smtpd_tls_key_file = $DIR/gone.pem"]),
    scenario("output-server-csr-unknown-option", ["output-server-csr", "-h", "x"]),
    # output-server-tlsa
    scenario("output-server-tlsa", ["output-server-tlsa"], RSA_CONFIGURED + EC_CONFIGURED,
             RSA_FILES + EC_FILES),
    scenario("output-server-tlsa-host-files", ["output-server-tlsa", "-h", "mx.example.net",
                                               "key.pem", "$DIR/eckey.pem"],
             files=RSA_FILES + EC_FILES),
    scenario("output-server-tlsa-none", ["output-server-tlsa"],
             ["smtpd_tls_key_file = none"]),
    scenario("output-server-tlsa-nothing", ["output-server-tlsa"]),
    scenario("output-server-tlsa-garbage", ["output-server-tlsa", "garbage.pem"],
             files=[("garbage.pem", "garbage.pem")]),
    scenario("output-server-tlsa-options-after-operand", ["output-server-tlsa", "key.pem",
                                                          "-h", "x"], files=RSA_FILES),
    scenario("output-server-tlsa-algorithm-names", ["output-server-tlsa", "ecdsa", "rsa"],
             RSA_CONFIGURED + EC_CONFIGURED, RSA_FILES + EC_FILES),
    # upstream quirks: relative key paths in main.cf are taken from the
    # command directory (upstream cd's there); an empty -h is $myhostname
    scenario("output-server-csr-relative-configured-key", ["output-server-csr"],
             ["smtpd_tls_key_file = key.pem"], RSA_FILES),
    scenario("output-server-tlsa-relative-configured-key", ["output-server-tlsa"],
             ["smtpd_tls_key_file = key.pem"], RSA_FILES),
    scenario("new-server-cert-relative-configured-key", ["new-server-cert"],
             ["smtpd_tls_key_file = key.pem"], RSA_FILES),
    scenario("output-server-tlsa-empty-h", ["output-server-tlsa", "-h", "", "key.pem"],
             files=RSA_FILES),
    scenario("enable-client-configured-egd", ["enable-client"],
             ["tls_random_source = egd:/var/run/egd-pool"]),
        # the command itself
    scenario("unknown-subcommand", ["bogus"]),
    scenario("no-subcommand", []),
    scenario("empty-subcommand", [""]),
]

_PEM = re.compile(r"(-----BEGIN ([A-Z ]+)-----\n)(.*?)(-----END \2-----)", re.S)


def _openssl(*args):
    return subprocess.run([OPENSSL] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT).stdout.decode()


def describe_pem(path):
    """What a key, certificate or CSR says, without its random parts."""
    with open(path, "rb") as stream:
        data = stream.read()
    if b"BEGIN CERTIFICATE-----" in data:
        text = _openssl("x509", "-in", path, "-noout", "-subject", "-issuer", "-ext",
                        "subjectAltName,basicConstraints,extendedKeyUsage")
        dates = _openssl("x509", "-in", path, "-noout", "-startdate", "-enddate")
        details = _openssl("x509", "-in", path, "-noout", "-text")
        kinds = [line.strip() for line in details.splitlines()
                 if "Public Key Algorithm" in line or "Public-Key:" in line
                 or "Signature Algorithm" in line or "ASN1 OID" in line]
        years = [int(line.split()[-2]) for line in dates.splitlines()]
        return "%s\nyears: %d\n%s" % (text, years[1] - years[0], "\n".join(kinds))
    if b"PRIVATE KEY-----" in data:
        details = _openssl("pkey", "-in", path, "-noout", "-text")
        return "\n".join(line.strip() for line in details.splitlines()
                         if "Private-Key" in line or "ASN1 OID" in line or "NIST" in line)
    return data.decode("utf-8", "replace")


def describe_csr_blocks(transcript):
    """The transcript with each CSR replaced by what it says (ECDSA
    signatures are random; RSA ones are compared byte for byte anyway)."""
    def decoded(match):
        if match.group(2) != "CERTIFICATE REQUEST":
            return match.group(0)
        result = subprocess.run([OPENSSL, "req", "-noout", "-text"], input=match.group(0).encode(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        text = result.stdout.decode()
        # The signature's bytes follow its algorithm's name, under a
        # "Signature Value:" label since OpenSSL 3.0, bare in 1.1.1.
        return re.sub(r"(?s)(Signature Algorithm: \S+).*", r"\1", text)
    return _PEM.sub(decoded, transcript)


def run_both(case, keys, make_config):
    results = []
    for argv0 in ([UPSTREAM], None):
        directory = make_config(case.main_cf, [(target, keys[source])
                                               for target, source in case.files])
        args = [arg.replace("$DIR", directory) for arg in case.args]
        argv = argv0 + args if argv0 else ours_argv(args)
        status, transcript = run_on_pty(argv, postfix_environment(directory),
                                        cwd="/var/spool/postfix")
        files = snapshot(directory)
        results.append({
            "status": status,
            "transcript": normalise(transcript, directory),
            "decoded transcript": normalise(describe_csr_blocks(transcript), directory),
            # postconf -e appends new parameters in an order seeded anew on
            # every run (upstream against itself differs): compare line sets.
            "main.cf": sorted(normalise(files.pop("main.cf")[1].decode(), directory)
                              .splitlines()),
            "files": sorted((normalise(name, directory), mode)
                            for name, (mode, _) in files.items()),
            "contents": dict((normalise(name, directory),
                              normalise(describe_pem(os.path.join(directory, name)), directory))
                             for name in files if name.endswith(".pem")),
            "directory": directory,
        })
    return results


@pytest.mark.postfix
@pytest.mark.parametrize("case", SCENARIOS, ids=[case.name for case in SCENARIOS])
def test_same_as_upstream(case, keys, make_config, request):
    counts = request.config._differential
    upstream, ours = run_both(case, keys, make_config)
    counts["failed"] += 1
    for key in ("status", "decoded transcript", "main.cf", "files", "contents"):
        assert ours[key] == upstream[key], key
    ecdsa_csr = "ecdsa" in case.name and "csr" in case.name
    if not ecdsa_csr:
        # Byte for byte, CSRs (RSA signatures are deterministic) and TLSA records included.
        assert ours["transcript"] == upstream["transcript"]
    counts["failed"] -= 1
    counts["identical"] += 1


def test_enough_scenarios():
    assert len(SCENARIOS) >= 40
    assert len(set(case.name for case in SCENARIOS)) == len(SCENARIOS)
    covered = set(case.args[0] for case in SCENARIOS if case.args)
    assert covered >= {"enable-client", "enable-server", "new-server-key", "new-server-cert",
                       "deploy-server-cert", "output-server-csr", "output-server-tlsa",
                       "all-default-client", "all-default-server"}
