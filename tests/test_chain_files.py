"""smtpd_tls_chain_files (Postfix 3.4+): keys and chains in one file.

Real files made with openssl (a scratch CA, RSA and ECDSA leaves it signs,
an Ed25519 key), and a real Postfix instance loaded from them on
127.0.0.9, checked with openssl s_client per algorithm against the TLSA
records postfix-tls prints.
"""

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from postfix_tls.core import chainfiles
from postfix_tls.dane import check

from support import LOCK_FILE, OPENSSL, POSTFIX_PATH, openssl_in, ours_argv, snapshot
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
    assert [(record["data"], record["deployed"]) for record in document["records"]] == [
        (spki_digest(made["rsa.crt"]), True), (spki_digest(made["ec.crt"]), True)]


def test_the_rollover_leaves_out_legacy_keys_postfix_ignores(make_config, made):
    """With smtpd_tls_chain_files set, Postfix ignores the legacy key and
    certificate settings (postconf(5)): an ECDSA key left in
    smtpd_tls_eckey_file is no deployed key (from a break-it round; before:
    its record was listed, and check-server-tlsa expected it served)."""
    directory = configure(make_config, made["rsa.pem"], extra=[
        "smtpd_tls_eccert_file = " + made["ec.crt"], "smtpd_tls_eckey_file = " + made["ec.key"]])
    status, out, err = postfix_tls(directory, "--json", "output-server-tlsa-rollover")
    assert status == 0, err
    assert [(key["algorithm"], key["role"], key["keyfile"])
            for key in json.loads(out)["keys"]] == [("rsa", "deployed", made["rsa.pem"])]


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
def test_postfix_serves_both_keys_and_the_printed_records_verify_both(made, tmp_path):
    base = tempfile.mkdtemp(prefix="postfix-tls-chains.")
    os.chmod(base, 0o755)
    postfix = ScratchPostfix(base, ADDRESS)
    try:
        # The chain file as --chain-file writes it, RSA then ECDSA.
        for name, key, parts in (("rsa", "rsa.key", ("rsa.crt", "ca.crt")),
                                 ("ec", "ec.key", ("ec.crt", "ca.crt"))):
            status, out, err = postfix_tls(
                postfix.config, "--chain-file", "chains.pem", "deploy-server-cert",
                fullchain(made, tmp_path, name + "-full.pem", *parts), made[key])
            assert status == 0, err
            os.utime(os.path.join(postfix.config, "main.cf"), (0, 0))
        assert postfix.postconf("-nh", "smtpd_tls_chain_files").strip() == os.path.join(
            postfix.config, "chains.pem")
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
            "smtp", "-sigalgs", check.SIGALGS[algorithm], "-dane_tlsa_domain", HOSTNAME]
    for record in records:
        argv += ["-dane_tlsa_rrdata", record]
    output = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True).stdout
    return "Verification: OK" in output


# ----- deploying into chain files (--chain-file, ours)

def fullchain(made, tmp_path, name, *parts):
    """A certificate file as an ACME client writes it: leaf, then issuers."""
    path = tmp_path / name
    path.write_text("".join(open(made[part]).read() for part in parts))
    return str(path)


def main_cf_settings(directory):
    output = subprocess.run(["postconf", "-c", directory, "-n"], stdout=subprocess.PIPE,
                            universal_newlines=True).stdout
    return dict(line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "")
                for line in output.splitlines())


def unchanged_directory(directory):
    """Every file of a configuration directory, but the lock file."""
    return snapshot(directory, but=[LOCK_FILE])


def test_deploy_into_one_chain_file_keeps_the_other_algorithm(make_config, made, tmp_path):
    directory = make_config(["smtpd_tls_cert_file = /etc/postfix/old-cert.pem",
                             "myhostname = " + HOSTNAME])
    target = os.path.join(directory, "chains.pem")
    for name, key, parts in (("rsa", "rsa.key", ("rsa.crt", "ca.crt")),
                             ("ec", "ec.key", ("ec.crt", "ca.crt"))):
        status, out, err = postfix_tls(directory, "--chain-file", "chains.pem",
                                       "deploy-server-cert",
                                       fullchain(made, tmp_path, name + "-full.pem", *parts),
                                       made[key])
        assert status == 0, err
        os.utime(os.path.join(directory, "main.cf"), (0, 0))  # Postfix pauses on a new main.cf
    assert os.stat(target).st_mode & 0o777 == 0o600
    chains = chainfiles.read([target])
    assert [(chain.algorithm, len(chain.certificates)) for chain in chains] == [
        ("rsa", 2), ("ecdsa", 2)]
    settings = main_cf_settings(directory)
    assert settings["smtpd_tls_chain_files"] == target
    assert settings["smtpd_tls_cert_file"] == ""  # Postfix would ignore it, and warn
    status, out, err = postfix_tls(directory, "--json", "status", "-w", "10")
    assert status == 0, out
    assert [(entry["algorithm"], entry["key_matches"], entry["chain_in_order"])
            for entry in json.loads(out)["server"]] == [("rsa", True, True), ("ecdsa", True, True)]
    # A key of no algorithm of "postfix tls" is refused; the file stays.
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   made["ed.crt"], made["ed.key"])
    assert status == 1  # Ed25519 is no algorithm of "postfix tls"
    assert [chain.algorithm for chain in chainfiles.read([target])] == ["rsa", "ecdsa"]


def test_deploy_refuses_a_chain_out_of_order_and_writes_nothing(make_config, made, tmp_path):
    directory = make_config()
    before = unchanged_directory(directory)
    # The leaf, then a certificate that did not sign it.
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   fullchain(made, tmp_path, "bad.pem", "rsa.crt", "ec.crt"),
                                   made["rsa.key"])
    assert status == 1 and "are not in order" in err and "nothing deployed" in err
    assert unchanged_directory(directory) == before


def test_deploy_into_a_chain_file_in_a_dry_run_changes_nothing(make_config, made, tmp_path):
    directory = make_config()
    before = dict((name, open(os.path.join(directory, name), "rb").read())
                  for name in os.listdir(directory))
    status, out, err = postfix_tls(directory, "--dry-run", "--trace", "--chain-file",
                                   "chains.pem", "deploy-server-cert",
                                   fullchain(made, tmp_path, "rsa-full.pem", "rsa.crt", "ca.crt"),
                                   made["rsa.key"])
    assert status == 0, err
    assert "# replace %s/chains.pem (mode 0600) (dry run: not done)" % directory in err
    assert dict((name, open(os.path.join(directory, name), "rb").read())
                for name in os.listdir(directory)) == before


# postconf -e, after the chain file was replaced: failing, or interrupted
# (SIGTERM while it runs; it notes that it started, then waits).
POSTCONF_E = {
    "fails": '[ "$1" = -e ] && exit 1',
    "is interrupted": '[ "$1" = -e ] && { touch "%(started)s"; exec sleep 30; }',
}


@pytest.mark.parametrize("how", sorted(POSTCONF_E))
def test_the_old_chain_file_is_put_back_when_postconf_e(make_config, made, tmp_path, how):
    import signal
    import time

    directory = configure(make_config, os.path.join(str(tmp_path), "chains.pem"))
    target = os.path.join(str(tmp_path), "chains.pem")
    shutil.copy(made["combo.pem"], target)
    os.chmod(target, 0o640)  # put back as it was, mode too
    wrapper = tmp_path / "sbin"
    wrapper.mkdir()
    started = tmp_path / "postconf-e-started"
    (wrapper / "postconf").write_text('#!/bin/sh\n%s\nexec %s "$@"\n' % (
        POSTCONF_E[how] % {"started": started},
        shutil.which("postconf", path="/usr/sbin:/usr/bin")))
    (wrapper / "postconf").chmod(0o755)
    os.symlink("/usr/sbin/postlog", str(wrapper / "postlog"))
    with open(os.path.join(directory, "main.cf"), "a") as stream:
        stream.write("command_directory = %s\n" % wrapper)
    os.utime(os.path.join(directory, "main.cf"), (0, 0))
    with open(target, "rb") as stream:
        old = stream.read()
    argv = ours_argv(["-c", directory, "--chain-file", target, "deploy-server-cert",
                      fullchain(made, tmp_path, "ec-full.pem", "ec.crt", "ca.crt"),
                      made["ec.key"]])
    process = subprocess.Popen(argv, env={"PATH": POSTFIX_PATH, "LANG": "C"},
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True,
                               start_new_session=True)
    if how == "is interrupted":
        deadline = time.time() + 30
        while not started.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert started.exists(), "postconf -e never started"
        with open(target, "rb") as stream:
            assert stream.read() != old  # replaced: the moment to interrupt
        process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the sleeping postconf stand-in
    except ProcessLookupError:
        pass
    assert process.returncode == 1
    assert ("postconf -e failed" if how == "fails" else "SIGTERM") in err
    with open(target, "rb") as stream:
        assert stream.read() == old  # put back: what Postfix loads is what it was
    assert os.stat(target).st_mode & 0o777 == 0o640
    assert [name for name in os.listdir(str(tmp_path)) if name.startswith(".chains.pem.")] == []


def test_a_reader_never_sees_a_chain_file_half_written(make_config, made, tmp_path):
    import threading

    directory = make_config(["myhostname = " + HOSTNAME])
    target = os.path.join(directory, "chains.pem")
    rsa = fullchain(made, tmp_path, "rsa-full.pem", "rsa.crt", "ca.crt")
    ec = fullchain(made, tmp_path, "ec-full.pem", "ec.crt", "ca.crt")
    seen, bad, done = [0], [], threading.Event()

    def read_all_the_time():
        while not done.is_set():
            try:
                with open(target) as stream:
                    text = stream.read()
            except FileNotFoundError:
                continue
            seen[0] += 1
            try:
                chainfiles.parse([(target, text)])
            except chainfiles.ChainFileError as error:
                bad.append(str(error))

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    try:
        for _ in range(3):
            for certificate, key in ((rsa, made["rsa.key"]), (ec, made["ec.key"])):
                status, out, err = postfix_tls(directory, "--chain-file", "chains.pem",
                                               "deploy-server-cert", certificate, key)
                assert status == 0, err
                os.utime(os.path.join(directory, "main.cf"), (0, 0))
    finally:
        done.set()
        reader.join()
    assert seen[0] > 100 and bad == []
    # Each deploy replaced its algorithm's entry and kept the other's.
    assert [chain.algorithm for chain in chainfiles.read([target])] == ["rsa", "ecdsa"]


def test_chain_file_needs_postfix_3_4(make_config, made, tmp_path):
    from support import older_release

    sbin = older_release.install(str(tmp_path / "sbin"), "2.11.11")
    directory = make_config(["command_directory = " + sbin])
    result = subprocess.run(ours_argv(["-c", directory, "--chain-file", "chains.pem",
                                       "deploy-server-cert", made["rsa.crt"], made["rsa.key"]]),
                            env={"PATH": sbin + ":" + POSTFIX_PATH, "LANG": "C"},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 1
    assert ("--chain-file: smtpd_tls_chain_files is new in Postfix 3.4, and this is Postfix"
            " 2.11.11") in result.stderr
    assert not os.path.exists(os.path.join(directory, "chains.pem"))
    assert older_release.unknown_calls(sbin) == []


def test_chain_file_goes_only_with_subcommands_that_deploy(make_config):
    status, out, err = postfix_tls(make_config(), "--chain-file", "x.pem", "status")
    assert status == 3 and "--chain-file goes with deploy-server-cert" in err
    assert out.startswith("TLS UNKNOWN - ")  # status's one line, whatever stops it


def test_enable_server_deploys_into_the_chain_file_and_new_server_key_says_how(make_config):
    directory = make_config()
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "enable-server")
    assert status == 0, err
    target = os.path.join(directory, "chains.pem")
    assert [chain.algorithm for chain in chainfiles.read([target])] == ["rsa"]
    settings = main_cf_settings(directory)
    assert settings["smtpd_tls_chain_files"] == target
    assert settings["smtpd_tls_security_level"] == "may"
    assert "smtpd_tls_key_file" not in settings  # not set: Postfix reads the chain file
    os.utime(os.path.join(directory, "main.cf"), (0, 0))
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "new-server-key",
                                   "-a", "ecdsa")
    assert status == 0, err
    assert "# postfix-tls -c %s --chain-file %s deploy-server-cert %s/eccert-" % (
        directory, target, directory) in err


def csr_spki_digest(csr_text):
    public = subprocess.run([OPENSSL, "req", "-noout", "-pubkey"], input=csr_text.encode(),
                            stdout=subprocess.PIPE, check=True).stdout
    der = subprocess.run([OPENSSL, "pkey", "-pubin", "-outform", "DER"], input=public,
                         stdout=subprocess.PIPE, check=True).stdout
    return subprocess.run([OPENSSL, "dgst", "-sha256", "-hex"], input=der,
                          stdout=subprocess.PIPE, check=True).stdout.decode().split()[-1]


def test_output_server_csr_takes_the_chain_files_key(make_config, made):
    # One file per algorithm: the default (RSA first) and -k ecdsa.
    directory = configure(make_config, made["rsa.pem"], made["ec.pem"])
    for args, certificate in (([], "rsa.crt"), (["-k", "ecdsa"], "ec.crt")):
        status, out, err = postfix_tls(directory, "output-server-csr", *args)
        assert status == 0, err
        assert csr_spki_digest(out) == spki_digest(made[certificate]), args


def test_output_server_csr_gives_a_second_key_on_a_pipe_and_never_traces_it(make_config,
                                                                           made):
    """openssl req -key reads a file's first key, and its configuration is
    on stdin: combo.pem's ECDSA key (its second) goes on a pipe of its own
    (issue 31, item 5; before, a refusal)."""
    directory = configure(make_config, made["combo.pem"])
    status, out, err = postfix_tls(directory, "--trace", "output-server-csr", "-k", "ecdsa")
    assert status == 0, err
    assert csr_spki_digest(out) == spki_digest(made["ec.crt"])
    assert "-new -key /dev/fd/" in err and "PRIVATE KEY" not in err
    trace = os.path.join(directory, "trace.json")
    status, out, err = postfix_tls(directory, "--trace-json", trace, "output-server-csr",
                                   "-k", "ecdsa")
    assert status == 0, err
    with open(trace) as stream:
        text = stream.read()
    assert "/dev/fd/" in text and "PRIVATE KEY" not in text
    status, out, err = postfix_tls(directory, "output-server-csr")
    assert status == 0 and csr_spki_digest(out) == spki_digest(made["rsa.crt"])


# ----- a key that is not its file's first, on a pipe of its own

def with_second_key(made, tmp_path, key_text):
    """A chain file: the ECDSA key and its certificate, then key_text
    (an RSA key) and a certificate (not its own: output-server-csr does not look)."""
    path = os.path.join(str(tmp_path), "second-key.pem")
    with open(path, "w") as stream:
        for name in ("ec.key", "ec.crt"):
            with open(made[name]) as source:
                stream.write(source.read())
        stream.write(key_text)
        with open(made["rsa.crt"]) as source:
            stream.write(source.read())
    return path


def test_a_traditionally_encrypted_key_is_refused_as_encrypted(make_config, made, tmp_path):
    """Its Proc-Type header says so (a PKCS#8 key's label does).  Before:
    taken for an RSA key; openssl then asked for a pass phrase and failed."""
    encrypted = subprocess.run([OPENSSL, "rsa", "-in", made["rsa.key"], "-aes256",
                                "-traditional", "-passout", "pass:x"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if encrypted.returncode:  # OpenSSL 1.1 writes the traditional form unasked
        encrypted = subprocess.run([OPENSSL, "rsa", "-in", made["rsa.key"], "-aes256",
                                    "-passout", "pass:x"], stdout=subprocess.PIPE, check=True)
    assert b"Proc-Type: 4,ENCRYPTED" in encrypted.stdout
    path = with_second_key(made, tmp_path, encrypted.stdout.decode())
    with pytest.raises(chainfiles.ChainFileError) as raised:
        chainfiles.read([path])
    assert "the private key at %s, object 3, is encrypted" % path in str(raised.value)
    directory = configure(make_config, path)
    status, out, err = postfix_tls(directory, "output-server-csr", "-k", "rsa")
    assert (status, out) == (1, ""), err
    assert "the private key at %s, object 3, is encrypted: Postfix cannot read it" % path in err
    assert "pass phrase" not in err


def test_a_huge_key_is_refused_in_words(make_config, made, tmp_path):
    """A key object of 94 KB in a chain file.  Before: "ValueError: a key
    of 94857 bytes cannot go through a pipe", a traceback and "stopped by
    an unexpected error"."""
    huge = ("-----BEGIN RSA PRIVATE KEY-----\n" + ("A" * 64 + "\n") * 1458
            + "-----END RSA PRIVATE KEY-----\n")
    path = with_second_key(made, tmp_path, huge)
    directory = configure(make_config, path)
    status, out, err = postfix_tls(directory, "output-server-csr", "-k", "rsa")
    assert (status, out) == (1, ""), err
    assert ("fatal: the private key at %s, object 3, cannot go to openssl on a pipe: it is"
            " %d bytes" % (path, len(huge))) in err, err
    assert "Traceback" not in err and "unexpected" not in err


# Linux's fcntl F_SETPIPE_SZ (Python 3.6's fcntl has no name for it).
F_SETPIPE_SZ = 1031
# As big as an RSA key of 16384 bits in PEM, the largest OpenSSL takes.
KEY_12K = ("-----BEGIN RSA PRIVATE KEY-----\n" + ("A" * 64 + "\n") * 195
           + "-----END RSA PRIVATE KEY-----\n")


@contextlib.contextmanager
def at_most(seconds):
    """A hang becomes a failure (the old runner blocked in os.write)."""
    def hung(signum, frame):
        raise AssertionError("still running after %d seconds" % seconds)

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_key_larger_than_its_pipe_goes_through_once_the_pipe_is_enlarged(monkeypatch):
    """A user over fs.pipe-user-pages-soft gets pipes of a page or two;
    before, the runner wrote the whole key into one before openssl started,
    and hung."""
    from postfix_tls.core.command import KEY_PIPE, Command
    from postfix_tls.core.runner import Runner

    real_pipe = os.pipe

    def one_page_pipe():
        read_end, write_end = real_pipe()
        fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)
        return read_end, write_end

    monkeypatch.setattr(os, "pipe", one_page_pipe)
    with at_most(20):
        result = Runner(dict(os.environ)).run(Command(["cat", KEY_PIPE], key_pipe=KEY_12K))
    assert result.returncode == 0 and result.stdout.decode() == KEY_12K


# As test_a_key_larger_than_its_pipe... has it, and the kernel refusing a
# larger pipe as it does an unprivileged user over the soft limit; then our
# command, as sys.argv[1:] gives it.
SMALL_PIPES_REFUSED = """
import errno, fcntl, os, runpy, sys
real_pipe, real_fcntl = os.pipe, fcntl.fcntl
def one_page_pipe():
    read_end, write_end = real_pipe()
    real_fcntl(write_end, 1031, 4096)
    return read_end, write_end
def no_larger_pipe(fd, command, arg=0):
    if command == 1031:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
    return real_fcntl(fd, command, arg)
os.pipe, fcntl.fcntl = one_page_pipe, no_larger_pipe
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_key_its_pipe_cannot_hold_is_refused_in_words(make_config, made, tmp_path):
    """Before: a hang (see the test above)."""
    path = with_second_key(made, tmp_path, KEY_12K)
    directory = configure(make_config, path)
    argv = ours_argv(["-c", directory, "output-server-csr", "-k", "rsa"])
    if argv[0] == sys.executable:
        argv = argv[1:]
    result = subprocess.run([sys.executable, "-c", SMALL_PIPES_REFUSED] + argv,
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert ("fatal: the private key at %s, object 3, cannot go to openssl on a pipe: the"
            " pipe holds less than its %d bytes, and a larger one was refused (Operation"
            " not permitted)" % (path, len(KEY_12K))) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def run_closing(directory, closing, *args):
    """postfix_tls with a standard descriptor closed, as sh closes it
    (closing: "<&-", ">&-" or "2>&-")."""
    result = subprocess.run(["sh", "-c", 'exec "$@" ' + closing, "sh"]
                            + ours_argv(["-c", directory] + list(args)),
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


def test_output_server_csr_with_stdin_stdout_or_stderr_closed(make_config, made):
    """Before: with stdin closed, the key's pipe was descriptor 0, which
    the configuration's stdin then replaced ("Could not read private key
    from /dev/fd/0"); with stdout or stderr closed, Python had no
    sys.stdout or sys.stderr: an AttributeError."""
    directory = configure(make_config, made["combo.pem"])
    status, out, err = run_closing(directory, "<&-", "output-server-csr", "-k", "ecdsa")
    assert status == 0, err
    assert csr_spki_digest(out) == spki_digest(made["ec.crt"])
    status, out, err = run_closing(directory, ">&-", "output-server-csr", "-k", "ecdsa")
    assert (status, out) == (0, ""), err
    assert "Error" not in err
    status, out, err = run_closing(directory, "2>&-", "output-server-csr", "-k", "ecdsa")
    assert status == 0 and csr_spki_digest(out) == spki_digest(made["ec.crt"])


def test_deploy_refuses_a_certificate_that_is_not_the_keys(make_config, made, tmp_path):
    # The issuer first (not the server's certificate), or another key's leaf.
    directory = make_config()
    for parts in (("ca.crt", "rsa.crt"), ("ec.crt", "ca.crt")):
        status, out, err = postfix_tls(directory, "--chain-file", "chains.pem",
                                       "deploy-server-cert",
                                       fullchain(made, tmp_path, "x.pem", *parts),
                                       made["rsa.key"])
        assert status == 1 and "does not match key in" in err, parts
        assert not os.path.exists(os.path.join(directory, "chains.pem"))


# ----- what may be a chain file (issue 27): refused before anything changes

@pytest.mark.parametrize("name, message", [
    ("my chain.pem", "has a space in"),
    ("a,b.pem", "has a comma in"),
    ("main.cf", "reads that file as its configuration"),
    ("master.cf", "reads that file as its configuration"),
    ("notes.txt", "not only PEM private keys and certificates"),
    ("subdir", "it is a directory, not a regular file"),
    ("fifo.pem", "it is a FIFO, not a regular file"),
    ("link.pem", "it is a symbolic link, not a regular file"),
    ("csr.pem", "holds a CERTIFICATE REQUEST"),
    ("nowhere/chain.pem", "no such directory"),
    # Found by the break-it review: main.cf expands $, Postfix splits at CR.
    ("c$myhostname.pem", "has a $ (main.cf would expand it)"),
    ("ch\rx.pem", "has a carriage return in"),
    ("ch\x0bx.pem", "has a control character in"),
    ("bundle.pem", "keys and certificates that are no chain file"),
    ("lone-key.pem", "keys and certificates that are no chain file"),
])
def test_a_chain_file_postfix_cannot_hold_or_not_ours_is_refused(make_config, made, tmp_path,
                                                                  name, message):
    directory = make_config(["smtpd_tls_cert_file = " + made["rsa.pem"],
                             "smtpd_tls_key_file = " + made["rsa.pem"]])
    with open(os.path.join(directory, "notes.txt"), "w") as stream:
        stream.write("the administrator's notes\n")
    os.mkdir(os.path.join(directory, "subdir"))
    os.mkfifo(os.path.join(directory, "fifo.pem"))
    os.symlink(made["ec.pem"], os.path.join(directory, "link.pem"))
    subprocess.run([OPENSSL, "req", "-new", "-key", made["rsa.key"], "-subj", "/CN=x", "-out",
                    os.path.join(directory, "csr.pem")], check=True)
    shutil.copy(made["ca.crt"], os.path.join(directory, "bundle.pem"))  # a CA file: certificates
    shutil.copy(made["ec.key"], os.path.join(directory, "lone-key.pem"))  # a client's key
    before = unchanged_directory(directory)
    status, out, err = postfix_tls(directory, "--chain-file", name, "deploy-server-cert",
                                   fullchain(made, tmp_path, "full.pem", "ec.crt", "ca.crt"),
                                   made["ec.key"])
    assert status == 1 and message in err, err
    assert unchanged_directory(directory) == before
    assert not os.path.exists(os.path.join(directory, "postfix-tls.lock"))  # refused before it


def test_moving_to_a_chain_file_carries_the_other_legacy_algorithm(make_config, made, tmp_path):
    """RSA and ECDSA legacy pairs set; --chain-file deploys a new ECDSA key:
    the RSA key and certificate Postfix loads go into the chain file too."""
    directory = make_config(["smtpd_tls_cert_file = " + made["rsa.crt"],
                             "smtpd_tls_key_file = " + made["rsa.key"],
                             "smtpd_tls_eccert_file = " + made["ec.crt"],
                             "smtpd_tls_eckey_file = " + made["ec.key"]])
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   fullchain(made, tmp_path, "full.pem", "ec384.crt", "ca.crt"),
                                   made["ec384.key"])
    assert status == 0, err
    assert "rsa: the key and certificate of smtpd_tls_key_file" in err
    chains = chainfiles.read([os.path.join(directory, "chains.pem")])
    assert [(chain.algorithm, len(chain.certificates)) for chain in chains] == [
        ("rsa", 1), ("ecdsa", 2)]
    assert chains[0].key_text == open(made["rsa.key"]).read()
    settings = main_cf_settings(directory)
    assert settings["smtpd_tls_cert_file"] == settings["smtpd_tls_eccert_file"] == ""


def test_moving_to_a_chain_file_refuses_to_drop_an_unreadable_legacy_pair(make_config, made,
                                                                          tmp_path):
    directory = make_config(["smtpd_tls_cert_file = " + made["rsa.crt"],
                             "smtpd_tls_key_file = " + made["ec.key"]])  # not the cert's key
    before = unchanged_directory(directory)
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   fullchain(made, tmp_path, "full.pem", "ec.crt", "ca.crt"),
                                   made["ec.key"])
    assert status == 1
    assert "would drop the rsa key and certificate" in err and "nothing deployed" in err, err
    assert unchanged_directory(directory) == before


def test_a_deploy_repairs_a_setting_that_names_a_missing_file(make_config, made, tmp_path):
    """smtpd_tls_chain_files names files that are gone: no deploy could
    repair it before; now the file is written (into that very file), and
    another missing name is left out, said."""
    directory = make_config(["smtpd_tls_chain_files = $DIR/chains.pem, $DIR/gone.pem"])
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   fullchain(made, tmp_path, "full.pem", "ec.crt", "ca.crt"),
                                   made["ec.key"])
    assert status == 0, err
    assert "gone.pem, which does not exist: it is left out" in err
    assert main_cf_settings(directory)["smtpd_tls_chain_files"] == os.path.join(
        directory, "chains.pem")
    assert [chain.algorithm for chain in chainfiles.read(
        [os.path.join(directory, "chains.pem")])] == ["ecdsa"]


# ----- one run at a time (issue 27)

def start_postfix_tls(directory, *args, extra_env=None):
    env = {"PATH": POSTFIX_PATH, "LANG": "C"}
    env.update(extra_env or {})
    return subprocess.Popen(ours_argv(["-c", directory] + list(args)), env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)


def test_two_runs_at_once_into_one_new_chain_file_keep_both_keys(make_config, made, tmp_path):
    """As certbot runs an RSA and an ECDSA lineage's hooks, or a hook and a
    timer: without the lock, each read the file, added its key and renamed
    its version over the other's (one key lost, 10 times in 10)."""
    rsa_full = fullchain(made, tmp_path, "rsa-full.pem", "rsa.crt", "ca.crt")
    ec_full = fullchain(made, tmp_path, "ec-full.pem", "ec.crt", "ca.crt")
    for attempt in range(4):
        directory = make_config(name="race%d" % attempt)
        runs = [start_postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                  full, key)
                for full, key in ((rsa_full, made["rsa.key"]), (ec_full, made["ec.key"]))]
        for run in runs:
            out, err = run.communicate(timeout=120)
            assert run.returncode == 0, err
        chains = chainfiles.read([os.path.join(directory, "chains.pem")])
        assert sorted(chain.algorithm for chain in chains) == ["ecdsa", "rsa"], attempt


HOLD_LOCK = """
import sys, time
sys.path.insert(0, %r)
from postfix_tls.core import lock
lock.acquire(sys.argv[1])
print("held", flush=True)
time.sleep(30)
"""


@contextlib.contextmanager
def lock_held(directory):
    """Another process holds directory's lock while the block runs; its Popen."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(chainfiles.__file__)))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK % repo, directory],
                              stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_second_run_waits_then_says_who_holds_the_lock(make_config, made, tmp_path):
    directory = make_config()
    with lock_held(directory) as holder:
        before = unchanged_directory(directory)
        run = start_postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                fullchain(made, tmp_path, "full.pem", "rsa.crt", "ca.crt"),
                                made["rsa.key"], extra_env={"POSTFIX_TLS_LOCK_WAIT": "1"})
        out, err = run.communicate(timeout=60)
        assert run.returncode == 75, err
        assert "another postfix-tls run (pid %d)" % holder.pid in err
        assert "waited 1 s" in err
        assert unchanged_directory(directory) == before
    # Gone with its holder: the next run goes ahead.
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   fullchain(made, tmp_path, "full.pem", "rsa.crt", "ca.crt"),
                                   made["rsa.key"])
    assert status == 0, err


def test_every_command_new_server_cert_suggests_with_a_chain_file_is_accepted(make_config):
    """Before: output-server-csr and output-server-tlsa were suggested with
    --chain-file, which they refuse."""
    directory = make_config()
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "new-server-cert")
    assert status == 0, err
    suggested = [line.split("# ", 1)[1] for line in err.splitlines() if "  # postfix-tls" in line]
    assert len(suggested) == 3, err
    for command in suggested:
        args = [arg for arg in command.split()[3:] if not arg.startswith(("[", "<"))]
        args = [arg for arg in args if arg not in ("-h", "...]")]
        os.utime(os.path.join(directory, "main.cf"), (0, 0))
        status, out, err = postfix_tls(directory, *args)
        assert status == 0, (command, err)


# ----- a byte-order mark before a BEGIN line (issue 27)

BOM = "\ufeff"  # what an editor saving "UTF-8 with BOM" puts first: EF BB BF


def with_byte_order_mark(made, tmp_path, name, *parts, before=0):
    """parts concatenated, a byte-order mark before part number before."""
    texts = [open(made[part]).read() for part in parts]
    texts[before] = BOM + texts[before]
    path = tmp_path / name
    path.write_bytes("".join(texts).encode("utf-8"))
    path.chmod(0o600)
    return str(path)


def test_a_byte_order_mark_before_the_leaf_is_named_not_a_mismatch(make_config, made, tmp_path):
    # Our parser (and OpenSSL before 3.0) skipped the leaf: the issuer
    # seemed the server's certificate, "does not match the key", or worse,
    # was deployed as it.
    directory = make_config()
    chain = with_byte_order_mark(made, tmp_path, "fullchain.pem", "rsa.crt", "ca.crt")
    said = ("%s has a byte-order mark (U+FEFF) before object 1 (CERTIFICATE): OpenSSL before 3.0"
            " (and Postfix built with it) skips that object" % chain)
    for args in (["--chain-file", "chains.pem", "deploy-server-cert", chain, made["rsa.key"]],
                 ["deploy-acme-cert", made["rsa.key"], chain]):
        status, out, err = postfix_tls(directory, *args)
        assert status == 1 and said in err, (args, status, err)
        assert "does not match" not in err
        assert not os.path.exists(os.path.join(directory, "chains.pem"))


def test_status_names_a_byte_order_mark_in_a_chain_file(make_config, made, tmp_path):
    path = with_byte_order_mark(made, tmp_path, "chains.pem", "rsa.key", "rsa.crt", "ca.crt",
                                before=1)
    directory = configure(make_config, path)
    status, out, err = postfix_tls(directory, "status")
    assert status == 2
    assert out.splitlines()[0] == (
        "TLS CRITICAL - %s has a byte-order mark (U+FEFF) before object 2 (CERTIFICATE):"
        " OpenSSL before 3.0 (and Postfix built with it) skips that object, and OpenSSL 3 too"
        " unless the mark is the file's first bytes or directly follows an END line; save the"
        " file without the byte-order mark" % path)


def test_a_name_postfix_does_not_split_keeps_both_keys(make_config, made, tmp_path):
    """Before: a no-break space in the name made our reader split it where
    Postfix does not; the second algorithm's deploy then dropped the first
    algorithm's key ("which does not exist: it is left out"), exit 0."""
    directory = make_config()
    name = "ch\u00a0x.pem"
    for key, parts in (("rsa.key", ("rsa.crt", "ca.crt")), ("ec.key", ("ec.crt", "ca.crt"))):
        status, out, err = postfix_tls(directory, "--chain-file", name, "deploy-server-cert",
                                       fullchain(made, tmp_path, key + ".full", *parts), made[key])
        assert status == 0 and "left out" not in err, err
        os.utime(os.path.join(directory, "main.cf"), (0, 0))
    assert [chain.algorithm for chain in chainfiles.read([os.path.join(directory, name)])] == [
        "rsa", "ecdsa"]


def test_a_file_main_cf_names_elsewhere_is_no_chain_file_of_ours(make_config, made, tmp_path):
    """A valid chain file, but the SMTP client's (smtp_tls_chain_files)."""
    client = os.path.join(str(tmp_path), "client.pem")
    shutil.copy(made["rsa.pem"], client)
    directory = make_config(["smtp_tls_chain_files = " + client])
    before = open(client).read()
    status, out, err = postfix_tls(directory, "--chain-file", client, "deploy-server-cert",
                                   fullchain(made, tmp_path, "full.pem", "ec.crt", "ca.crt"),
                                   made["ec.key"])
    assert status == 1 and "main.cf names it in smtp_tls_chain_files" in err, err
    assert open(client).read() == before


def test_an_existing_chain_file_not_yet_listed_keeps_its_other_algorithm(make_config, made,
                                                                           tmp_path):
    directory = make_config()
    shutil.copy(made["rsa.pem"], os.path.join(directory, "chains.pem"))
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   fullchain(made, tmp_path, "full.pem", "ec.crt", "ca.crt"),
                                   made["ec.key"])
    assert status == 0, err
    assert [chain.algorithm for chain in chainfiles.read(
        [os.path.join(directory, "chains.pem")])] == ["rsa", "ecdsa"]


def test_an_empty_chain_file_option_is_refused(make_config, made, tmp_path):
    directory = make_config()
    status, out, err = postfix_tls(directory, "--chain-file", "", "deploy-server-cert",
                                   made["rsa.crt"], made["rsa.key"])
    assert status == 1 and "--chain-file needs a file name" in err
    assert "smtpd_tls_cert_file" not in main_cf_settings(directory)


def test_the_words_for_a_key_beside_the_certificates_and_an_encrypted_legacy_key(
        make_config, made, tmp_path):
    # The legacy key-in-certificate layout is taken (before: "no certificate found").
    directory = make_config()
    combined = fullchain(made, tmp_path, "combined.pem", "rsa.key", "rsa.crt", "ca.crt")
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   combined, made["rsa.key"])
    assert status == 0, err
    # A CSR as the certificate file: named (before: "error computing certificate
    # public key digest").
    csr = os.path.join(str(tmp_path), "req.pem")
    subprocess.run([OPENSSL, "req", "-new", "-key", made["ec.key"], "-subj", "/CN=x", "-out",
                    csr], check=True)
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   csr, made["ec.key"])
    assert status == 1 and "holds a CERTIFICATE REQUEST besides certificates" in err, err
    # Carrying an encrypted legacy key along: named as such.
    encrypted = os.path.join(str(tmp_path), "enc.key")
    subprocess.run([OPENSSL, "pkey", "-in", made["rsa.key"], "-aes256", "-passout", "pass:x",
                    "-out", encrypted], check=True)
    directory = make_config(["smtpd_tls_cert_file = " + made["rsa.crt"],
                             "smtpd_tls_key_file = " + encrypted])
    status, out, err = postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                   fullchain(made, tmp_path, "full.pem", "ec.crt", "ca.crt"),
                                   made["ec.key"])
    assert status == 1 and "is encrypted (passphrase-protected)" in err, err


def test_a_signal_while_waiting_for_the_lock_says_so(make_config, made, tmp_path):
    """Before: it named the postconf command that had ended long before."""
    directory = make_config()
    with lock_held(directory):
        run = start_postfix_tls(directory, "--chain-file", "chains.pem", "deploy-server-cert",
                                fullchain(made, tmp_path, "full.pem", "rsa.crt", "ca.crt"),
                                made["rsa.key"], extra_env={"POSTFIX_TLS_LOCK_WAIT": "30"})
        time.sleep(1.5)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=30)
    assert run.returncode == 1
    assert "interrupted by signal SIGTERM while running: (waiting for the lock %s/%s)" % (
        directory, LOCK_FILE) in err, err
