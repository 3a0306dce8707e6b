"""smtpd_tls_chain_files (Postfix 3.4+): keys and chains in one file.

Real files made with openssl (a scratch CA, RSA and ECDSA leaves it signs,
an Ed25519 key), and a real Postfix instance loaded from them on
127.0.0.9, checked with openssl s_client per algorithm against the TLSA
records postfix-tls prints.
"""

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from postfix_tls import chainfiles, dane

from support import OPENSSL, POSTFIX_PATH, openssl_in, ours_argv
from support.liveservers import HOSTNAME, ScratchPostfix

pytestmark = pytest.mark.postfix

ADDRESS = "127.0.0.9"  # the DANE tests use .1 to .8
EXTENSIONS = """[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
[v3_leaf]
basicConstraints = CA:false
subjectAltName = DNS:%s
""" % HOSTNAME


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """{name: path}: a CA, RSA and ECDSA keys with leaves it signed, chain files."""
    directory = str(tmp_path_factory.mktemp("chains"))

    openssl = openssl_in(directory)

    with open(os.path.join(directory, "ext.cnf"), "w") as stream:
        stream.write(EXTENSIONS)
    openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-subj", "/CN=Scratch CA", "-days", "30", "-config", "ext.cnf", "-extensions",
            "v3_ca", "-out", "ca.crt")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.key")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.key")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out",
            "ec384.key")
    openssl("genpkey", "-algorithm", "ED25519", "-out", "ed.key")
    for name in ("rsa", "ec", "ec384"):
        openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=" + HOSTNAME, "-out",
                name + ".csr")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "20", "-extfile", "ext.cnf", "-extensions",
                "v3_leaf", "-out", name + ".crt")
    openssl("req", "-x509", "-new", "-key", "ed.key", "-subj", "/CN=" + HOSTNAME, "-days", "20",
            "-out", "ed.crt")
    paths = dict((name, os.path.join(directory, name)) for name in os.listdir(directory))

    def concatenate(name, *parts):
        path = os.path.join(directory, name)
        with open(path, "w") as stream:
            for part in parts:
                with open(paths[part]) as source:
                    stream.write(source.read())
        os.chmod(path, 0o600)
        paths[name] = path

    concatenate("combo.pem", "rsa.key", "rsa.crt", "ca.crt", "ec.key", "ec.crt", "ca.crt")
    concatenate("rsa.pem", "rsa.key", "rsa.crt", "ca.crt")
    concatenate("ec.pem", "ec.key", "ec.crt", "ca.crt")
    concatenate("reversed.pem", "rsa.key", "ca.crt", "rsa.crt")
    concatenate("key-without-cert.pem", "rsa.key", "ec.key", "ec.crt")
    concatenate("cert-first.pem", "rsa.crt", "rsa.key")
    concatenate("two-ecdsa.pem", "ec.key", "ec.crt", "ec384.key", "ec384.crt")
    concatenate("ed.pem", "ed.key", "ed.crt")
    return paths


def spki_digest(certificate_path):
    """SHA-256 of a certificate's public key, computed apart from postfix-tls."""
    public = subprocess.run([OPENSSL, "x509", "-in", certificate_path, "-noout", "-pubkey"],
                            stdout=subprocess.PIPE, check=True).stdout
    der = subprocess.run([OPENSSL, "pkey", "-pubin", "-outform", "DER"], input=public,
                         stdout=subprocess.PIPE, check=True).stdout
    return subprocess.run([OPENSSL, "dgst", "-sha256", "-hex"], input=der,
                          stdout=subprocess.PIPE, check=True).stdout.decode().split()[-1]


def configure(make_config, *names, extra=()):
    # myhostname: the name the leaves carry (main.cf's last setting wins).
    return make_config(["smtpd_tls_chain_files = " + ", ".join(names),
                        "smtpd_tls_security_level = may", "myhostname = " + HOSTNAME]
                       + list(extra))


def postfix_tls(directory, *args):
    result = subprocess.run(ours_argv(["-c", directory] + list(args)),
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


# ----- the parser

def test_each_key_goes_with_its_certificate_and_chain(made):
    chains = chainfiles.read([made["combo.pem"]])
    assert [(chain.algorithm, chain.key_position, len(chain.certificates))
            for chain in chains] == [("rsa", 1, 2), ("ecdsa", 4, 2)]
    with open(made["ec.crt"]) as stream:
        assert chains[1].certificates[0] == stream.read()


def test_files_are_one_sequence_and_ed25519_is_known(made):
    chains = chainfiles.read([made["rsa.key"], made["rsa.crt"], made["ed.pem"]])
    assert [chain.algorithm for chain in chains] == ["rsa", "ed25519"]
    assert chains[0].key_path == made["rsa.key"] and chains[0].cert_path == made["rsa.crt"]


@pytest.mark.parametrize("name, message", [
    ("key-without-cert.pem", "the private key at {path}, object 1, is not followed by its"
                             " certificate"),
    ("cert-first.pem", "the certificate at {path}, object 1, comes before any private key"),
    ("two-ecdsa.pem", "a second ecdsa key at {path}, object 3 (the first is at {path},"
                      " object 1): at most one key per algorithm"),
    ("missing.pem", "cannot read {path}: No such file or directory"),
])
def test_a_file_postfix_would_refuse_is_named_with_the_position(made, name, message):
    path = made.get(name, os.path.join(os.path.dirname(made["ca.crt"]), name))
    with pytest.raises(chainfiles.ChainFileError) as raised:
        chainfiles.read([path])
    assert message.format(path=path) in str(raised.value)


def test_a_refused_file_is_a_clear_error(make_config, made):
    directory = configure(make_config, made["two-ecdsa.pem"])
    status, out, err = postfix_tls(directory, "output-server-tlsa")
    assert status == 1 and out == ""
    assert ("fatal: smtpd_tls_chain_files: a second ecdsa key at %s, object 3"
            % made["two-ecdsa.pem"]) in err


# ----- the subcommands

def test_output_server_tlsa_gives_every_key_of_the_chain_files(make_config, made):
    directory = configure(make_config, made["combo.pem"])
    status, out, err = postfix_tls(directory, "output-server-tlsa", "-p", "25,465")
    assert status == 0, err
    rsa, ecdsa = spki_digest(made["rsa.crt"]), spki_digest(made["ec.crt"])
    host = HOSTNAME
    assert out.splitlines() == [
        "; %s, object 1 (rsa)" % made["combo.pem"],
        "_25._tcp.%s. IN TLSA 3 1 1 %s" % (host, rsa),
        "_465._tcp.%s. IN TLSA 3 1 1 %s" % (host, rsa),
        "; %s, object 4 (ecdsa)" % made["combo.pem"],
        "_25._tcp.%s. IN TLSA 3 1 1 %s" % (host, ecdsa),
        "_465._tcp.%s. IN TLSA 3 1 1 %s" % (host, ecdsa)]


def test_the_rollover_and_its_rrset_have_every_chain_key(make_config, made):
    directory = configure(make_config, made["combo.pem"])
    status, out, err = postfix_tls(directory, "--json", "output-server-tlsa-rollover")
    assert status == 0, err
    document = json.loads(out)
    assert [(key["algorithm"], key["role"], key["keyfile"], key["digest"])
            for key in document["keys"]] == [
        ("rsa", "deployed", made["combo.pem"], spki_digest(made["rsa.crt"])),
        ("ecdsa", "deployed", made["combo.pem"], spki_digest(made["ec.crt"]))]
    assert [record["data"] for record in document["records"]] == [
        spki_digest(made["rsa.crt"]), spki_digest(made["ec.crt"])]


@pytest.mark.parametrize("algorithm, prefix, certificate", [
    ("rsa", "", "rsa.crt"), ("ecdsa", "ec", "ec.crt")])
def test_new_server_cert_copies_the_chain_files_key(make_config, made, algorithm, prefix,
                                                   certificate):
    # The "3 1 1" records stay right: the new certificate has the deployed key.
    directory = configure(make_config, made["combo.pem"])
    status, out, err = postfix_tls(directory, "new-server-cert", "-a", algorithm)
    assert status == 0, err
    [key] = [name for name in os.listdir(directory) if name.startswith(prefix + "key-")]
    [cert] = [name for name in os.listdir(directory) if name.startswith(prefix + "cert-")]
    assert os.stat(os.path.join(directory, key)).st_mode & 0o777 == 0o600
    assert spki_digest(os.path.join(directory, cert)) == spki_digest(made[certificate])
    assert "(deploy after updating the DNS" not in err  # not a new key


def test_the_trace_never_shows_a_chain_files_key(make_config, made):
    directory = configure(make_config, made["combo.pem"])
    status, out, err = postfix_tls(directory, "--trace", "output-server-tlsa")
    assert status == 0, err
    with open(made["rsa.key"]) as stream:
        body = stream.read().splitlines()[1]
    assert body not in err and "<a private key: not shown>" in err


def test_status_reports_each_key_and_chain_per_algorithm(make_config, made):
    directory = configure(make_config, made["combo.pem"])
    status, out, err = postfix_tls(directory, "--json", "status", "-w", "10")
    document = json.loads(out)
    assert status == 0 and document["verdict"] == "OK", out + err
    assert [(entry["algorithm"], entry["key_matches"], entry["chain_length"],
             entry["chain_in_order"], entry["spki_sha256"]) for entry in document["server"]] == [
        ("rsa", True, 2, True, spki_digest(made["rsa.crt"])),
        ("ecdsa", True, 2, True, spki_digest(made["ec.crt"]))]


def test_status_finds_a_chain_out_of_order(make_config, made):
    directory = configure(make_config, made["reversed.pem"])
    status, out, err = postfix_tls(directory, "--json", "status", "-w", "10")
    document = json.loads(out)
    assert document["server"][0]["chain_in_order"] is False
    assert any("are not in order" in problem["text"] for problem in document["problems"])


def test_all_default_server_counts_chain_files(make_config, made):
    directory = make_config(["smtpd_tls_chain_files = " + made["combo.pem"]])
    assert postfix_tls(directory, "all-default-server")[0] == 1
    # enable-server then suggests, and changes nothing (upstream would add
    # legacy parameters that Postfix ignores while chain files are set).
    status, out, err = postfix_tls(directory, "enable-server")
    assert status == 0 and "Non-default SMTP server TLS settings detected" in err
    assert not [name for name in os.listdir(directory) if name.startswith("key-")]


# ----- a real Postfix loaded from the chain files

@pytest.mark.root
def test_postfix_serves_both_keys_and_the_printed_records_verify_both(made):
    base = tempfile.mkdtemp(prefix="postfix-tls-chains.")
    os.chmod(base, 0o755)
    postfix = ScratchPostfix(base, ADDRESS)
    try:
        postfix.write_main_cf(["smtpd_tls_chain_files = " + made["combo.pem"]])
        status, out, err = postfix_tls(postfix.config, "output-server-tlsa")
        assert status == 0, err
        records = [line.split(" IN TLSA ")[1] for line in out.splitlines() if "IN TLSA" in line]
        assert len(records) == 2
        postfix.start()
        for algorithm in ("rsa", "ecdsa"):
            assert verified(algorithm, records), algorithm
        # Upstream's one record (the first key of the file) leaves ECDSA
        # clients without a match: the outage this prevents.
        assert verified("rsa", records[:1]) and not verified("ecdsa", records[:1])
    finally:
        postfix.stop()
        shutil.rmtree(base, ignore_errors=True)


def verified(algorithm, records):
    argv = ["timeout", "30", OPENSSL, "s_client", "-connect", "%s:25" % ADDRESS, "-starttls",
            "smtp", "-sigalgs", dane.SIGALGS[algorithm], "-dane_tlsa_domain", HOSTNAME]
    for record in records:
        argv += ["-dane_tlsa_rrdata", record]
    output = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True).stdout
    return "Verification: OK" in output
