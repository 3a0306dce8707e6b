"""status (ours): one test per problem it must report, on real keys and
certificates made by openssl in scratch configurations; each asserts the
exit status, the summary line and the JSON document."""

import json
import os
import shutil
import subprocess

import pytest

from support import (
    MYHOSTNAME,
    POSTFIX_PATH,
    SPECIAL_FILES,
    openssl_in,
    ours_argv,
    postfix_environment,
    special_file,
)

pytestmark = pytest.mark.postfix

CA_CONFIG = """[ca]
default_ca = scratch
[scratch]
dir = .
database = ./index.txt
new_certs_dir = ./issued
serial = ./serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Keys and certificates for each case, made with the real openssl."""
    directory = str(tmp_path_factory.mktemp("status"))

    openssl = openssl_in(directory)

    def self_signed(name, days, key="key.pem", host=MYHOSTNAME):
        openssl("req", "-x509", "-new", "-key", key, "-subj", "/CN=" + host,
                "-addext", "subjectAltName=DNS:" + host, "-days", str(days), "-out", name)

    openssl("genrsa", "-out", "key.pem", "2048")
    openssl("genrsa", "-out", "other.pem", "2048")
    openssl("ecparam", "-param_enc", "named_curve", "-genkey", "-name", "secp256r1",
            "-out", "eckey.pem")
    self_signed("fresh.pem", 365)
    self_signed("ecfresh.pem", 365, key="eckey.pem")
    self_signed("ten-days.pem", 10)
    self_signed("three-days.pem", 3)
    self_signed("other-host.pem", 365, host="other.example.net")
    # Expired: a certificate whose validity ended in the past, from openssl ca.
    os.mkdir(os.path.join(directory, "issued"))
    open(os.path.join(directory, "index.txt"), "w").close()
    with open(os.path.join(directory, "serial"), "w") as stream:
        stream.write("01\n")
    with open(os.path.join(directory, "ca.cnf"), "w") as stream:
        stream.write(CA_CONFIG)
    openssl("req", "-new", "-key", "key.pem", "-subj", "/CN=" + MYHOSTNAME, "-out", "key.csr")
    openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "key.pem",
            "-in", "key.csr", "-startdate", "20200101000000Z", "-enddate",
            "20200201000000Z", "-out", "expired.pem")
    # A chain: a root CA, an intermediate CA signed by it, and the server's
    # certificate signed by the intermediate.
    with open(os.path.join(directory, "ca.ext"), "w") as stream:
        stream.write("basicConstraints = critical, CA:true\n")
    openssl("req", "-x509", "-new", "-key", "other.pem", "-subj", "/CN=Scratch Root",
            "-days", "365", "-out", "root.pem")
    openssl("genrsa", "-out", "intermediate.key", "2048")
    openssl("req", "-new", "-key", "intermediate.key", "-subj", "/CN=Scratch Intermediate",
            "-out", "intermediate.csr")
    openssl("x509", "-req", "-in", "intermediate.csr", "-CA", "root.pem", "-CAkey",
            "other.pem", "-CAcreateserial", "-days", "365", "-extfile", "ca.ext",
            "-out", "intermediate.pem")
    openssl("x509", "-req", "-in", "key.csr", "-CA", "intermediate.pem", "-CAkey",
            "intermediate.key", "-CAcreateserial", "-days", "365", "-out", "leaf.pem")
    pem = {}
    for name in ("leaf", "intermediate", "root"):
        with open(os.path.join(directory, name + ".pem")) as stream:
            pem[name] = stream.read()
    chains = {"chain.pem": ("leaf", "intermediate", "root"),
              "misordered.pem": ("leaf", "root", "intermediate"),
              "root-first.pem": ("root", "intermediate", "leaf")}
    for name, order in chains.items():
        with open(os.path.join(directory, name), "w") as stream:
            stream.write("".join(pem[part] for part in order))
    return directory


def configure(make_config, made, cert=None, key="key.pem", lines=(), key_mode=0o600):
    """A configuration deploying made's cert and key (copied in)."""
    directory = make_config(lines)
    settings = []
    if cert:
        shutil.copy(os.path.join(made, cert), os.path.join(directory, "cert.pem"))
        settings.append("smtpd_tls_cert_file = %s/cert.pem" % directory)
    if key:
        shutil.copy(os.path.join(made, key), os.path.join(directory, "key.pem"))
        os.chmod(os.path.join(directory, "key.pem"), key_mode)
        settings.append("smtpd_tls_key_file = %s/key.pem" % directory)
    with open(os.path.join(directory, "main.cf"), "a") as stream:
        stream.write("".join(line + "\n" for line in settings))
    past = os.stat(os.path.join(directory, "main.cf")).st_mtime - 60
    os.utime(os.path.join(directory, "main.cf"), (past, past))
    return directory


def status(directory, *args):
    """(exit status, first line of text, JSON document) of status, standalone."""
    env = {"PATH": POSTFIX_PATH, "LANG": "C"}
    # A timeout: status must never hang (on a FIFO, say).
    text = subprocess.run(ours_argv(["-c", directory, "status"] + list(args)), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30)
    document = subprocess.run(ours_argv(["-c", directory, "--json", "status"] + list(args)),
                              env=env, stdout=subprocess.PIPE, universal_newlines=True,
                              timeout=30)
    assert document.returncode == text.returncode
    summary = text.stdout.splitlines()[0].split(" | ")[0]  # without performance data
    return text.returncode, summary, json.loads(document.stdout)


def severities(document):
    return sorted(problem["severity"] for problem in document["problems"])


def test_healthy_certificate_is_ok(make_config, made):
    directory = configure(make_config, made, cert="fresh.pem")
    code, summary, document = status(directory)
    assert code == 0
    assert summary.startswith("TLS OK - 1 server certificate(s) valid, the nearest expiry in 36")
    assert document["summary"] == summary
    assert document["verdict"] == "OK" and document["problems"] == []
    server = document["server"][0]
    assert server["key_matches"] is True and server["myhostname_covered"] is True
    assert server["names"] == [MYHOSTNAME] and server["key_file"]["mode"] == "0600"


def test_certificate_expiring_within_30_days_is_a_warning(make_config, made):
    directory = configure(make_config, made, cert="ten-days.pem")
    code, summary, document = status(directory)
    assert code == 1
    assert summary.startswith("TLS WARNING - rsa certificate %s/cert.pem expires in 9 days"
                              % directory) or "expires in 10 days" in summary
    assert document["verdict"] == "WARNING" and severities(document) == ["WARNING"]


def test_warning_threshold_is_an_option(make_config, made):
    directory = configure(make_config, made, cert="ten-days.pem")
    code, summary, document = status(directory, "-w", "5")
    assert code == 0 and summary.startswith("TLS OK")


def test_certificate_expiring_within_7_days_is_critical(make_config, made):
    directory = configure(make_config, made, cert="three-days.pem")
    code, summary, document = status(directory)
    assert code == 2 and summary.startswith("TLS CRITICAL - rsa certificate")
    assert "renew it" in summary and severities(document) == ["CRITICAL"]
    code, summary, document = status(directory, "-c", "2")
    assert code == 1 and summary.startswith("TLS WARNING")


def test_expired_certificate_is_critical(make_config, made):
    directory = configure(make_config, made, cert="expired.pem")
    code, summary, document = status(directory)
    assert code == 2
    assert summary.startswith("TLS CRITICAL - rsa certificate %s/cert.pem expired on "
                              "2020-02-01T00:00:00Z" % directory)
    assert document["server"][0]["days_left"] < 0 and document["verdict"] == "CRITICAL"


def test_key_not_matching_certificate_is_critical(make_config, made):
    directory = configure(make_config, made, cert="fresh.pem", key="other.pem")
    code, summary, document = status(directory)
    assert code == 2
    assert summary == "TLS CRITICAL - Certificate in %s/cert.pem does not match key in " \
                      "%s/key.pem" % (directory, directory)
    assert document["server"][0]["key_matches"] is False


def test_private_key_readable_by_others_is_critical(make_config, made):
    directory = configure(make_config, made, cert="fresh.pem", key_mode=0o644)
    code, summary, document = status(directory)
    assert code == 2
    assert summary == "TLS CRITICAL - private key %s/key.pem is readable by others (mode " \
                      "0644): chmod 600 %s/key.pem" % (directory, directory)
    assert document["server"][0]["key_file"]["mode"] == "0644"


def test_private_key_readable_by_group_is_a_warning(make_config, made):
    directory = configure(make_config, made, cert="fresh.pem", key_mode=0o640)
    code, summary, document = status(directory)
    assert code == 1 and "readable by its group (mode 0640)" in summary


def test_missing_configured_file_is_critical(make_config, made):
    directory = configure(make_config, made, cert="fresh.pem")
    os.unlink(os.path.join(directory, "key.pem"))
    code, summary, document = status(directory)
    assert code == 2
    assert summary == "TLS CRITICAL - private key %s/key.pem is missing: create it, or point " \
                      "main.cf at the right file" % directory
    assert document["server"][0]["key_file"]["exists"] is False


def test_ecdsa_key_without_certificate_is_critical(make_config, made):
    directory = configure(make_config, made, cert="fresh.pem",
                          lines=["smtpd_tls_eckey_file = $DIR/eckey.pem"])
    shutil.copy(os.path.join(made, "eckey.pem"), os.path.join(directory, "eckey.pem"))
    os.chmod(os.path.join(directory, "eckey.pem"), 0o600)
    code, summary, document = status(directory)
    assert code == 2
    assert summary == "TLS CRITICAL - ecdsa private key %s/eckey.pem is configured without " \
                      "a certificate" % directory


def test_chain_in_the_wrong_order_is_a_warning(make_config, made):
    directory = configure(make_config, made, cert="misordered.pem")  # leaf, root, intermediate
    code, summary, document = status(directory)
    assert code == 1
    assert "the certificates in %s/cert.pem are not in order" % directory in summary
    assert document["server"][0]["chain_in_order"] is False
    assert document["server"][0]["chain_length"] == 3


def test_chain_with_the_root_first_presents_the_wrong_certificate(make_config, made):
    directory = configure(make_config, made, cert="root-first.pem")
    code, summary, document = status(directory)
    assert code == 2  # Postfix would send the root's certificate for the server's key
    assert "does not match key" in summary
    assert severities(document) == ["CRITICAL", "WARNING", "WARNING"]


def test_chain_in_order_is_ok(make_config, made):
    directory = configure(make_config, made, cert="chain.pem")
    code, summary, document = status(directory)
    assert code == 0, summary
    assert document["server"][0]["chain_in_order"] is True


def test_certificate_without_myhostname_is_a_warning(make_config, made):
    directory = configure(make_config, made, cert="other-host.pem")
    code, summary, document = status(directory)
    assert code == 1
    assert "does not name myhostname %s (it names other.example.net)" % MYHOSTNAME in summary


def test_garbage_instead_of_a_certificate_is_unknown(make_config, made):
    directory = configure(make_config, made, cert="key.pem")  # a key, not a certificate
    code, summary, document = status(directory)
    assert code == 3 and summary.startswith("TLS UNKNOWN - no certificate found in ")


def test_unsupported_session_cache_type_is_a_warning(make_config, made):
    directory = configure(make_config, made, cert="fresh.pem", lines=[
        "smtp_tls_security_level = may",
        "smtp_tls_session_cache_database = nosuchtype:/var/lib/postfix/smtp_scache"])
    code, summary, document = status(directory)
    assert code == 1 and "uses map type nosuchtype" in summary
    assert document["client"]["session_cache_type_available"] is False


def test_status_changes_nothing_and_traces_what_it_reads(make_config, made):
    directory = configure(make_config, made, cert="chain.pem")
    before = sorted(os.listdir(directory))
    env = {"PATH": POSTFIX_PATH, "LANG": "C"}
    result = subprocess.run(ours_argv(["-c", directory, "--trace", "status"]), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 0
    assert "+ openssl x509 -in %s/cert.pem -noout" % directory in result.stderr
    assert "+ openssl verify -no_check_time -partial_chain" in result.stderr
    assert sorted(os.listdir(directory)) == before
    dry = subprocess.run(ours_argv(["-c", directory, "--dry-run", "status"]), env=env,
                         stdout=subprocess.PIPE, universal_newlines=True)
    assert dry.returncode == 0 and dry.stdout == result.stdout


def test_status_in_postfix_mode(make_config, made):
    directory = configure(make_config, made, cert="expired.pem")
    result = subprocess.run(ours_argv(["status"]), env=postfix_environment(directory),
                            stdout=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 2 and result.stdout.startswith("TLS CRITICAL - ")


def test_bad_days_value_is_refused(make_config, made):
    # UNKNOWN, as monitoring plugins answer invalid arguments: its one line too.
    directory = configure(make_config, made, cert="fresh.pem")
    result = subprocess.run(ours_argv(["-c", directory, "status", "-w", "soon"]),
                            env={"PATH": POSTFIX_PATH}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 3
    assert "fatal: invalid -w value: soon: expected a number of days" in result.stderr
    assert result.stdout == "TLS UNKNOWN - invalid -w value: soon: expected a number of days\n"


# ----- what is not a file, and a configuration that cannot be read (issue 27)

@pytest.mark.parametrize("kind, what", SPECIAL_FILES)
@pytest.mark.parametrize("parameter, role", [("smtpd_tls_cert_file", "certificate"),
                                             ("smtpd_tls_chain_files", "chain file")])
def test_a_certificate_that_is_no_regular_file_is_named_not_read(make_config, made, kind, what,
                                                                 parameter, role):
    directory = configure(make_config, made, key=None)
    path = special_file(directory, kind)
    with open(os.path.join(directory, "main.cf"), "a") as stream:
        stream.write("%s = %s\n" % (parameter, path))
    os.utime(os.path.join(directory, "main.cf"), (0, 0))
    code, summary, document = status(directory)
    assert code == 2, summary
    assert summary == "TLS CRITICAL - %s %s %s: point main.cf at the file itself" % (
        role, path, what)
    assert document["server"][0]["cert_file"]["regular"] is (kind == "huge")


def postfix_mode_status(directory, *args, **extra):
    env = postfix_environment(directory, extra)
    return subprocess.run(ours_argv(list(args) + ["status"]), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=30)


def test_a_missing_configuration_directory_is_unknown(tmp_path):
    missing = str(tmp_path / "nowhere")
    code, summary, document = status(missing)
    assert code == 3
    assert summary == "TLS UNKNOWN - no Postfix configuration directory %s!" % missing
    assert document["verdict"] == "UNKNOWN" and document["exit_status"] == 3
    assert document["problems"] == [{"severity": "UNKNOWN",
                                     "text": summary[len("TLS UNKNOWN - "):]}]
    for as_json in ((), ("--json",)):
        result = postfix_mode_status(missing, *as_json)
        assert result.returncode == 3
        assert "TLS UNKNOWN - no Postfix configuration directory %s!" % missing in result.stdout


def test_an_unreadable_main_cf_is_unknown_not_ok(make_config, made):
    # As root every file is readable: main.cf is missing, then a directory.
    directory = configure(make_config, made, cert="fresh.pem")
    os.unlink(os.path.join(directory, "main.cf"))
    expected = "TLS UNKNOWN - cannot read the Postfix configuration in %s" % directory
    code, summary, document = status(directory)
    assert (code, summary, document["verdict"]) == (3, expected, "UNKNOWN")
    # postfix(1) gave the directory: postconf fails reading main.cf, no "TLS OK".
    for as_json in ((), ("--json",)):
        result = postfix_mode_status(directory, *as_json)
        assert result.returncode == 3 and expected in result.stdout, result.stdout
    os.mkdir(os.path.join(directory, "main.cf"))
    code, summary, document = status(directory)
    assert (code, summary) == (3, expected)


def test_no_postconf_is_unknown_and_says_so(make_config, made, tmp_path):
    directory = configure(make_config, made, cert="fresh.pem")
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    os.symlink("/usr/sbin/postlog", str(sbin / "postlog"))
    result = postfix_mode_status(directory, "--json", command_directory=str(sbin))
    assert result.returncode == 3
    assert json.loads(result.stdout)["summary"] == (
        "TLS UNKNOWN - no postconf(1) command at %s/postconf: it is missing or not executable;"
        " is command_directory right?" % sbin)
