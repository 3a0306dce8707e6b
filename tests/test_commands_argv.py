"""The audit specification: the exact ordered argv of every command each
subcommand runs, and what it writes to their stdin (pytest-subprocess).

Start-up (every subcommand): postconf reads run at the same time (the
subcommand's own reads with them), then the openssl probes.
"""

import collections
import json
import os

import pytest

from postfix_tls import subcommands
from postfix_tls.core import messages
from postfix_tls.upstream import functions as upstream_functions

from support.fakehost import (
    DIGEST,
    KEY_DIGEST,
    OPENSSL,
    PASSIN,
    FakeHost,
    client_settings,
    server_settings,
    write,
)

STAMP = "20261124-101500"
RSA_PEM = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
EC_PEM = b"-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"

HINTS = messages.POSTFIX_HINTS  # postfix mode: upstream's commands


@pytest.fixture
def host(request, fp, tmp_path, monkeypatch):
    """A faked host; with the parameter "traced" (see also_traced), every
    run has --trace-json, and its records' argv must be what ran."""
    monkeypatch.setattr(upstream_functions.time, "strftime", lambda fmt, when: STAMP)
    host = FakeHost(fp, str(tmp_path), monkeypatch)
    if getattr(request, "param", "plain") == "plain":
        yield host
        return
    trace = str(tmp_path / "trace.json")
    run = host.run
    monkeypatch.setattr(host, "run", lambda *args: run("--trace-json", trace, *args))
    yield host
    with open(trace) as stream:
        records = [json.loads(line) for line in stream]
    # Records are written as commands end: those started together (the
    # first reads, the probes) may end in another order than they started.
    assert sorted(record["argv"] for record in records if "argv" in record) == \
        sorted(host.calls())


# Each subcommand's main scenario runs twice: as it is, and with
# --trace-json, whose records must list exactly the argv that ran.
also_traced = pytest.mark.parametrize("host", ["plain", "traced"], indirect=True)


def cert_config(*names):
    return "".join(line + "\n" for line in [
        "default_md = sha256", "x509_extensions = v3", "prompt = yes",
        "distinguished_name = dn", "[dn]", "[v3]", "basicConstraints = CA:false",
        "subjectKeyIdentifier = hash", "extendedKeyUsage = serverAuth, clientAuth",
        "subjectAltName = @alts", "[alts]"] + ["DNS.%d = %s" % (i, n) for i, n in
                                              enumerate(names, 1)])


def lines(*texts):
    return "".join(text + "\n" for text in texts)


def key_digest(host, key_type, keyfile, digest=KEY_DIGEST):
    return [host.openssl(key_type, *PASSIN + ["-in", keyfile, "-pubout"]),
            host.openssl(key_type, "-pubin", "-outform", "DER"),
            host.openssl(*DIGEST[1:], stdout=digest)]


def cert_digest(host, key_type, certfile, digest=KEY_DIGEST):
    return [host.openssl("x509", "-pubkey", "-noout", "-in", certfile),
            host.openssl(key_type, "-pubin", "-outform", "DER"),
            host.openssl(*DIGEST[1:], stdout=digest)]


def new_cert(host, keyfile, certfile, *names):
    argv = [OPENSSL, "req", "-x509", "-config", "/dev/stdin", "-new", "-key", keyfile,
            "-subj", "/CN=" + names[0], "-days", "36525", "-out", certfile]
    return host.register(argv, callback=lambda process: write(certfile))


# ----- all-default-client, all-default-server

@also_traced
def test_all_default_server_reads_every_setting_in_one_postconf(host):
    expected = host.startup(reads=[("-n", server_settings())])
    assert host.run("all-default-server") == 0
    assert host.calls() == expected


def test_all_default_server_fails_when_a_setting_is_set(host):
    settings = server_settings()
    settings["smtpd_tls_cert_file"] = "/etc/postfix/cert.pem"
    expected = host.startup(reads=[("-n", settings)])
    assert host.run("all-default-server") == 1
    assert host.calls() == expected


@also_traced
def test_all_default_client_treats_an_empty_value_as_default(host):
    settings = client_settings()
    settings["smtp_tls_security_level"] = ""
    expected = host.startup(reads=[("-n", settings)])
    assert host.run("all-default-client") == 0
    assert host.calls() == expected


def test_all_default_client_with_an_operand_logs_usage(host):
    expected = host.startup()
    expected.append(host.log("fatal", subcommands.find("all-default-client").usage))
    assert host.run("all-default-client", "x") == 1
    assert host.calls() == expected


# ----- enable-client

@also_traced
def test_enable_client_edits_main_cf_once_and_starts_postlog_first(host):
    expected = host.startup(reads=[("-n", client_settings())],
                            x_reads={"tls_random_source": "dev:/dev/urandom"},
                            lines=[(["-m"], ["btree", "hash", "lmdb"])])
    expected.append(host.log("info"))
    expected.append(host.edit([
        "smtp_tls_security_level = may", "smtp_tls_loglevel = 1",
        "smtp_tls_session_cache_database = lmdb:/var/lib/postfix/smtp_scache",
        "tls_random_source = dev:/dev/urandom"]))
    assert host.run("enable-client") == 0
    assert host.calls() == expected
    assert host.input_of(expected[-2]) == lines(*messages.client_deployed(HINTS))


def test_enable_client_with_r_does_not_read_tls_random_source(host):
    expected = host.startup(reads=[("-n", client_settings())],
                            lines=[(["-m"], ["btree", "hash"])])
    expected.append(host.log("info"))
    expected.append(host.edit([
        "smtp_tls_security_level = may", "smtp_tls_loglevel = 1",
        "smtp_tls_session_cache_database = btree:/var/lib/postfix/smtp_scache",
        "tls_random_source = egd:/var/run/egd"]))
    assert host.run("enable-client", "-r", "egd:/var/run/egd") == 0
    assert host.calls() == expected


def test_enable_client_without_cache_type_sets_level_loglevel_and_random_source(host,
                                                                              monkeypatch):
    expected = host.startup(reads=[("-n", client_settings())],
                            x_reads={"tls_random_source": ""}, lines=[(["-m"], ["hash"])])
    expected.append(host.log("info"))
    expected.append(host.edit(["smtp_tls_security_level = may", "smtp_tls_loglevel = 1",
                               "tls_random_source = dev:/dev/urandom"]))
    assert host.run("enable-client") == 0
    assert host.calls() == expected


def test_enable_client_with_non_default_settings_only_suggests(host):
    settings = client_settings()
    settings["smtp_use_tls"] = "yes"
    expected = host.startup(reads=[("-n", settings)],
                            x_reads={"tls_random_source": "dev:/dev/urandom"},
                            lines=[(["-m"], ["btree"])])
    expected.append(host.log("info"))
    assert host.run("enable-client") == 0
    assert host.calls() == expected
    assert host.input_of(expected[-1]) == lines(*messages.enable_client_suggestion("btree"))


def test_enable_client_reports_a_failing_postconf_e(host):
    expected = host.startup(reads=[("-n", client_settings())],
                            x_reads={"tls_random_source": "dev:/dev/urandom"},
                            lines=[(["-m"], [])])
    expected.append(host.log("info"))
    expected.append(host.edit(["smtp_tls_security_level = may", "smtp_tls_loglevel = 1",
                               "tls_random_source = dev:/dev/urandom"], returncode=1))
    expected.append(host.log("fatal", messages.POSTCONF_EDIT_FAILED.format(
        host.config_directory)))
    assert host.run("enable-client") == 1
    assert host.calls() == expected


@pytest.mark.parametrize("args", [["-x"], ["-r"], ["extra"], ["-r", "dev:/dev/urandom", "x"]])
def test_enable_client_usage(host, args):
    expected = host.startup()
    expected.append(host.log("fatal", subcommands.find("enable-client").usage))
    assert host.run("enable-client", *args) == 1
    assert host.calls() == expected


# ----- enable-server, new-server-key

def _new_rsa_key_and_cert(host, *names):
    keyfile = "%s/key-%s.pem" % (host.config_directory, STAMP)
    certfile = "%s/cert-%s.pem" % (host.config_directory, STAMP)
    calls = [host.openssl("genrsa", "-out", keyfile, "2048"),
             new_cert(host, keyfile, certfile, *names)]
    return keyfile, certfile, calls


@also_traced
def test_enable_server_creates_key_and_cert_then_deploys(host):
    expected = host.startup(reads=[("-n", server_settings())],
                            x_reads={"tls_random_source": "dev:/dev/urandom",
                                     "myhostname": "mail.example.com"})
    info = host.log("info")
    expected.append(info)
    keyfile, certfile, calls = _new_rsa_key_and_cert(host, "mail.example.com")
    expected += calls
    expected.append(host.openssl("rsa", *PASSIN + ["-in", keyfile], stdout=RSA_PEM))
    expected += cert_digest(host, "ec", certfile)
    expected += key_digest(host, "ec", keyfile)
    expected.append(host.edit([
        "smtpd_tls_key_file = " + keyfile, "smtpd_tls_cert_file = " + certfile,
        "smtpd_tls_security_level = may", "smtpd_tls_received_header = yes",
        "smtpd_tls_loglevel = 1", "tls_random_source = dev:/dev/urandom"]))
    assert host.run("enable-server") == 0
    assert host.calls() == expected
    assert host.input_of(calls[1]) == cert_config("mail.example.com")
    info = host.input_of(info).splitlines()
    assert info[0] == "Enabled opportunistic TLS in the Postfix SMTP server"
    assert "  # postfix tls output-server-csr -k %s [<hostname> ...]" % keyfile in info
    assert os.stat(keyfile).st_mode & 0o777 == 0o600


def test_enable_server_ecdsa_with_names_tries_rsa_first_when_reading_the_key(host):
    expected = host.startup(reads=[("-n", server_settings())])
    expected.append(host.log("info"))
    keyfile = "%s/eckey-%s.pem" % (host.config_directory, STAMP)
    certfile = "%s/eccert-%s.pem" % (host.config_directory, STAMP)
    expected.append(host.openssl("ecparam", "-param_enc", "named_curve", "-genkey", "-out",
                                 keyfile, "-name", "secp384r1"))
    expected.append(new_cert(host, keyfile, certfile, "mx.example.net"))
    expected.append(host.openssl("rsa", *PASSIN + ["-in", keyfile], returncode=1))
    expected.append(host.openssl("ec", *PASSIN + ["-in", keyfile], stdout=EC_PEM))
    expected += cert_digest(host, "ec", certfile)
    expected += key_digest(host, "ec", keyfile)
    expected.append(host.edit([
        "smtpd_tls_eckey_file = " + keyfile, "smtpd_tls_eccert_file = " + certfile,
        "smtpd_tls_security_level = may", "smtpd_tls_received_header = yes",
        "smtpd_tls_loglevel = 1", "tls_random_source = dev:/dev/random"]))
    assert host.run("enable-server", "-a", "ecdsa", "-b", "secp384r1", "-r", "dev:/dev/random",
                    "mx.example.net", "alt.example.net") == 0
    assert host.calls() == expected
    assert host.input_of(expected[-5 - 5]) == cert_config("mx.example.net", "alt.example.net")


def test_enable_server_with_non_default_settings_only_suggests(host):
    settings = server_settings()
    settings["smtpd_use_tls"] = "yes"
    expected = host.startup(reads=[("-n", settings)],
                            x_reads={"tls_random_source": "x", "myhostname": "h"})
    info = host.log("info")
    expected.append(info)
    assert host.run("enable-server") == 0
    assert host.calls() == expected
    assert host.input_of(info) == lines(*messages.enable_server_suggestion(HINTS))


@pytest.mark.parametrize("subcommand, algorithm, message", [
    ("enable-server", "dsa", messages.UNSUPPORTED_PRIVATE.format("dsa")),
    ("enable-server", "", messages.EMPTY_ALGORITHM),
    ("new-server-key", "dsa", messages.UNSUPPORTED_PUBLIC.format("dsa")),
    ("new-server-key", "", messages.EMPTY_ALGORITHM),
    ("new-server-cert", "", messages.EMPTY_ALGORITHM_CERT),
    ("new-server-cert", "ed25519", messages.UNSUPPORTED_PRIVATE.format("ed25519")),
])
def test_bad_algorithm_is_fatal_before_anything_is_made(host, subcommand, algorithm, message):
    reads = {"enable-server": [("-n", server_settings())]}.get(subcommand, [])
    if subcommand == "new-server-cert":
        # (waiting for mail_version, as it has smtpd_tls_chain_files: never made)
        reads = [("-nx", {"smtpd_tls_key_file": None, "smtpd_tls_eckey_file": None,
                          "smtpd_tls_chain_files": None})]
    x_reads = {"tls_random_source": "x"} if subcommand == "enable-server" else {}
    x_reads["myhostname"] = "mail.example.com"
    expected = host.startup(reads=reads, x_reads=x_reads)
    expected.append(host.log("fatal", message))
    assert host.run(subcommand, "-a", algorithm) == 1
    assert host.calls() == expected
    assert os.listdir(host.config_directory) == []


def test_ecdsa_unsupported_by_openssl_is_warned_about_and_dropped(host):
    expected = host.startup(reads=[("-n", server_settings())], ecdsa_ok=False)
    expected.append(host.log("warn"))
    assert host.run("all-default-server") == 0
    assert host.calls() == expected
    warning = host.input_of(expected[-1])
    assert warning.startswith("Postfix supports ECDSA, but the openssl command does not.")


def test_new_server_key_failing_key_generation_warns_with_openssl_output(host):
    expected = host.startup(x_reads={"myhostname": "mail.example.com"})
    expected.append(host.log("info"))  # started first; closed empty
    keyfile = "%s/eckey-%s.pem" % (host.config_directory, STAMP)
    expected.append(host.openssl("ecparam", "-param_enc", "named_curve", "-genkey", "-out",
                                 keyfile, "-name", "nosuchcurve", stdout=b"unknown curve\n\n",
                                 returncode=1))
    expected.append(host.log("warn"))
    expected.append(host.log("fatal", "error generating new ecdsa nosuchcurve private key"))
    assert host.run("new-server-key", "-a", "ecdsa", "-b", "nosuchcurve") == 1
    assert host.calls() == expected
    assert host.input_of(expected[-2]) == "unknown curve\n"
    assert os.listdir(host.config_directory) == []


@also_traced
def test_new_server_key_logs_how_to_deploy(host):
    expected = host.startup(x_reads={"myhostname": "mail.example.com"})
    info = host.log("info")
    expected.append(info)
    keyfile, certfile, calls = _new_rsa_key_and_cert(host, "mail.example.com")
    expected += calls
    assert host.run("new-server-key") == 0
    assert host.calls() == expected
    assert host.input_of(info) == lines(
        *messages.created(certfile, keyfile, HINTS)
        + messages.csr_hint(certfile, keyfile, "", HINTS)
        + messages.tlsa_hint(keyfile, "", HINTS) + messages.dane_dns_hint(""))


def test_new_server_key_removes_the_key_when_the_certificate_fails(host):
    expected = host.startup(x_reads={"myhostname": "mail.example.com"})
    expected.append(host.log("info"))
    keyfile = "%s/key-%s.pem" % (host.config_directory, STAMP)
    certfile = "%s/cert-%s.pem" % (host.config_directory, STAMP)
    expected.append(host.openssl("genrsa", "-out", keyfile, "2048"))
    expected.append(host.register([OPENSSL, "req", "-x509", "-config", "/dev/stdin", "-new",
                                   "-key", keyfile, "-subj", "/CN=mail.example.com", "-days",
                                   "36525", "-out", certfile], returncode=1))
    expected.append(host.log("fatal", messages.CERT_GENERATION_FAILED))
    assert host.run("new-server-key") == 1
    assert host.calls() == expected
    assert os.listdir(host.config_directory) == []


# ----- new-server-cert

@also_traced
def test_new_server_cert_copies_the_configured_key(host):
    oldkey = write(os.path.join(host.config_directory, "old.pem"))
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": oldkey,
                                            "smtpd_tls_eckey_file": None,
                                            "smtpd_tls_chain_files": None})])
    info = host.log("info")
    expected.append(info)
    keyfile = "%s/key-%s.pem" % (host.config_directory, STAMP)
    certfile = "%s/cert-%s.pem" % (host.config_directory, STAMP)
    expected.append(host.openssl("rsa", *PASSIN + ["-in", oldkey], stdout=RSA_PEM))
    expected.append(new_cert(host, keyfile, certfile, "new.example.com"))
    assert host.run("new-server-cert", "new.example.com") == 0
    assert host.calls() == expected
    with open(keyfile, "rb") as stream:
        assert stream.read() == RSA_PEM
    assert os.stat(keyfile).st_mode & 0o777 == 0o600
    info = host.input_of(info)
    assert "(deploy after updating the DNS" not in info  # the key is not new


def test_new_server_cert_refuses_a_key_of_another_algorithm(host):
    oldkey = write(os.path.join(host.config_directory, "old.pem"))
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": oldkey,
                                            "smtpd_tls_eckey_file": None,
                                            "smtpd_tls_chain_files": None})],
                            x_reads={"myhostname": "mail.example.com"})
    expected.append(host.log("info"))
    keyfile = "%s/key-%s.pem" % (host.config_directory, STAMP)
    expected.append(host.openssl("rsa", *PASSIN + ["-in", oldkey], returncode=1))
    expected.append(host.openssl("ec", *PASSIN + ["-in", oldkey], stdout=EC_PEM))
    expected.append(host.log("fatal", messages.KEY_ALGORITHM_MISMATCH.format(
        "ecdsa", oldkey, "rsa")))
    assert host.run("new-server-cert") == 1
    assert host.calls() == expected
    assert sorted(os.listdir(host.config_directory)) == ["old.pem"]
    assert not os.path.exists(keyfile)


def test_new_server_cert_warns_when_the_configured_key_is_missing(host):
    gone = os.path.join(host.config_directory, "gone.pem")
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": gone,
                                            "smtpd_tls_eckey_file": None,
                                            "smtpd_tls_chain_files": None})],
                            x_reads={"myhostname": "mail.example.com"})
    warning = host.log("warn")
    expected += [warning, host.log("info")]
    keyfile, certfile, calls = _new_rsa_key_and_cert(host, "mail.example.com")
    expected += calls
    assert host.run("new-server-cert") == 0
    assert host.calls() == expected
    assert host.input_of(warning) == lines(
        messages.KEY_FILE_NOT_FOUND.format(gone))


# ----- deploy-server-cert

@also_traced
def test_deploy_server_cert_checks_then_deploys_relative_names(host):
    certfile = write(os.path.join(host.config_directory, "cert.pem"))
    keyfile = write(os.path.join(host.config_directory, "key.pem"), mode=0o600)
    expected = host.startup()
    info = host.log("info")
    expected.append(info)
    expected.append(host.openssl("rsa", *PASSIN + ["-in", keyfile], stdout=RSA_PEM))
    expected += cert_digest(host, "ec", certfile, digest=b"")
    expected += cert_digest(host, "rsa", certfile)
    expected += key_digest(host, "ec", keyfile)
    expected.append(host.edit(["smtpd_tls_key_file = " + keyfile,
                               "smtpd_tls_cert_file = " + certfile]))
    assert host.run("deploy-server-cert", "cert.pem", "key.pem") == 0
    assert host.calls() == expected
    assert host.input_of(info) == lines(*messages.server_deployed(HINTS))


def test_deploy_server_cert_refuses_a_certificate_of_another_key(host):
    certfile = write(os.path.join(host.config_directory, "cert.pem"))
    keyfile = write(os.path.join(host.config_directory, "key.pem"))
    expected = host.startup()
    expected.append(host.log("info"))
    expected.append(host.openssl("rsa", *PASSIN + ["-in", keyfile], stdout=RSA_PEM))
    expected += cert_digest(host, "ec", certfile, digest=bytes(32 * [7]))
    expected += key_digest(host, "ec", keyfile)
    expected.append(host.log("fatal", messages.CERT_KEY_MISMATCH.format(certfile, keyfile)))
    assert host.run("deploy-server-cert", certfile, keyfile) == 1
    assert host.calls() == expected


def test_deploy_server_cert_without_a_key_checks_nothing_else(host):
    keyfile = write(os.path.join(host.config_directory, "key.pem"))
    expected = host.startup()
    expected.append(host.log("info"))
    expected.append(host.openssl("rsa", *PASSIN + ["-in", keyfile], returncode=1))
    expected.append(host.openssl("ec", *PASSIN + ["-in", keyfile], returncode=1))
    expected.append(host.log("fatal", messages.NO_PRIVATE_KEY.format(keyfile)))
    assert host.run("deploy-server-cert", "cert.pem", "key.pem") == 1
    assert host.calls() == expected


# ----- output-server-csr, output-server-tlsa

@also_traced
def test_output_server_csr_for_the_configured_key(host):
    keyfile = write(os.path.join(host.config_directory, "key.pem"))
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": keyfile,
                                            "smtpd_tls_eckey_file": None,
                                            "smtpd_tls_chain_files": None})],
                            x_reads={"myhostname": "mail.example.com"})
    expected.append(host.register([OPENSSL, "req", "-config", "/dev/stdin", "-new", "-key",
                                   keyfile, "-subj", "/"]))
    assert host.run("output-server-csr") == 0
    assert host.calls() == expected
    assert host.input_of(expected[-1]) == lines(
        "default_md = sha256", "req_extensions = v3", "prompt = yes",
        "distinguished_name = dn", "[dn]", "[v3]", "subjectKeyIdentifier = hash",
        "extendedKeyUsage = serverAuth, clientAuth", "subjectAltName = @alts", "[alts]",
        "DNS.1 = mail.example.com")


def test_output_server_csr_uses_dev_fd_0_without_dev_stdin(host, monkeypatch):
    from postfix_tls.core import startup

    real_lexists = os.path.lexists
    monkeypatch.setattr(startup.os.path, "lexists",
                        lambda path: path != "/dev/stdin" and real_lexists(path))
    keyfile = write(os.path.join(host.config_directory, "key.pem"))
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": keyfile,
                                            "smtpd_tls_eckey_file": None,
                                            "smtpd_tls_chain_files": None})])
    expected.append(host.register([OPENSSL, "req", "-config", "/dev/fd/0", "-new", "-key",
                                   keyfile, "-subj", "/"]))
    assert host.run("output-server-csr", "mx.example.net") == 0
    assert host.calls() == expected


def test_output_server_csr_reads_myhostname_apart_when_main_cf_does_not_set_it(host):
    keyfile = write(os.path.join(host.config_directory, "key.pem"))
    # -nx leaves an unset myhostname out; -x then gives its default.
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": keyfile,
                                            "smtpd_tls_eckey_file": None,
                                            "smtpd_tls_chain_files": None})],
                            x_reads={"myhostname": None})
    expected.append(host.read("-x", {"myhostname": "vm.example.net"}))
    expected.append(host.register([OPENSSL, "req", "-config", "/dev/stdin", "-new", "-key",
                                   keyfile, "-subj", "/"]))
    assert host.run("output-server-csr") == 0
    assert host.calls() == expected
    assert host.input_of(expected[-1]).endswith("DNS.1 = vm.example.net\n")


def test_output_server_csr_without_a_key(host):
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": None,
                                            "smtpd_tls_eckey_file": None,
                                            "smtpd_tls_chain_files": None})])
    expected.append(host.log("fatal", messages.NO_USABLE_KEYFILE))
    assert host.run("output-server-csr", "mx.example.net") == 1
    assert host.calls() == expected


@also_traced
def test_output_server_tlsa_prints_a_record_per_configured_key(host, capsys):
    keyfile = write(os.path.join(host.config_directory, "key.pem"))
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": keyfile,
                                            "smtpd_tls_eckey_file": "none",
                                            "smtpd_tls_chain_files": None})],
                            x_reads={"myhostname": "mail.example.com"})
    expected.append(host.openssl("rsa", *PASSIN + ["-in", keyfile], stdout=RSA_PEM))
    expected += key_digest(host, "ec", keyfile)
    assert host.run("output-server-tlsa") == 0
    assert host.calls() == expected
    assert capsys.readouterr().out == "; %s\n_25._tcp.mail.example.com. IN TLSA 3 1 1 %s\n" % (
        keyfile, KEY_DIGEST.hex())


def test_output_server_tlsa_with_nothing_configured(host):
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": None,
                                            "smtpd_tls_eckey_file": None,
                                            "smtpd_tls_chain_files": None})])
    expected.append(host.log("fatal", messages.NO_USABLE_KEYFILES))
    assert host.run("output-server-tlsa", "-h", "mx.example.net") == 1
    assert host.calls() == expected


# ----- DANE (ours): the rollover and the check

def deployed_and_staged_rsa(host):
    """key.pem deployed for RSA, and a newer key new-server-key made beside it."""
    deployed = write(os.path.join(host.config_directory, "key.pem"))
    staged = write(os.path.join(host.config_directory, "key-%s.pem" % STAMP))
    expected = host.startup(reads=[("-nx", {"smtpd_tls_key_file": deployed,
                                            "smtpd_tls_eckey_file": "none",
                                            "smtpd_tls_chain_files": None})],
                            x_reads={"myhostname": "mail.example.com"})
    for keyfile, digest in ((deployed, KEY_DIGEST), (staged, NEXT_DIGEST)):
        expected.append(host.openssl("rsa", *PASSIN + ["-in", keyfile], stdout=RSA_PEM))
        expected += key_digest(host, "ec", keyfile, digest=digest)
    return deployed, staged, expected


NEXT_DIGEST = bytes(range(32, 64))


@also_traced
def test_output_server_tlsa_rollover_digests_the_deployed_and_the_next_key(host, capsys):
    deployed, staged, expected = deployed_and_staged_rsa(host)
    assert host.run("output-server-tlsa-rollover", "-p", "25,587") == 0
    assert host.calls() == expected
    out = capsys.readouterr().out
    for port in (25, 587):
        for digest in (KEY_DIGEST, NEXT_DIGEST):
            assert "_%d._tcp.mail.example.com. IN TLSA 3 1 1 %s\n" % (port, digest.hex()) in out


PRESENTED = (b"CONNECTED(00000003)\n-----BEGIN CERTIFICATE-----\nMIIB\n"
             b"-----END CERTIFICATE-----\nVerification: OK\nDANE TLSA 3 1 1 ...00 "
             b"matched EE certificate at depth 0\n")


@also_traced
def test_check_server_tlsa_connects_per_port_then_digests_what_is_presented(host, monkeypatch,
                                                                           capsys):
    from postfix_tls.core import tlsa
    from postfix_tls.dane import check, lookup

    deployed, staged, expected = deployed_and_staged_rsa(host)
    published = ["3 1 1 " + KEY_DIGEST.hex(), "3 1 1 " + NEXT_DIGEST.hex()]
    # DNS is test_dane's (unbound): here, the answers are given.
    monkeypatch.setattr(lookup, "resolver", lambda address, port: None)
    monkeypatch.setattr(lookup, "lookup", lambda owner, resolver: tlsa.Lookup(
        owner, published, 3600, True))
    monkeypatch.setattr(lookup, "nameservers", lambda owner, resolver: (
        [("ns1.example.com.", "192.0.2.53")], ""))
    monkeypatch.setattr(lookup, "ask_nameserver", lambda owner, name, address: tlsa.Served(
        name, address, published, 3600))
    # Whether openssl s_client can check DANE: asked once, when first needed.
    expected.append(host.openssl("version", stdout=b"OpenSSL 3.0.22 25 Aug 2026\n"))
    for port, starttls in ((25, ["-starttls", "smtp"]), (465, [])):
        argv = ["timeout", "7", OPENSSL, "s_client", "-connect", "192.0.2.1:%d" % port]
        argv += starttls + ["-sigalgs", check.SIGALGS["rsa"]]
        argv += ["-dane_ee_no_namechecks", "-dane_tlsa_domain", "mail.example.com"]
        for record in published:
            argv += ["-dane_tlsa_rrdata", record]
        expected.append(host.register(argv, stdout=PRESENTED))
        expected += [host.openssl("x509", "-pubkey", "-noout"),
                     host.openssl("pkey", "-pubin", "-outform", "DER"),
                     host.openssl(*DIGEST[1:], stdout=KEY_DIGEST)]
    assert host.run("check-server-tlsa", "-p", "25,465", "-s", "192.0.2.1", "-t", "7") == 0
    assert host.calls() == expected
    assert capsys.readouterr().out.startswith(messages.TLSA_CHECK_OK + "\n")


# ----- status (ours)

CERT_FACTS = (b"subject=CN=mail.example.com\nnotBefore=Nov 28 21:40:40 2026 GMT\n"
              b"notAfter=Nov 29 21:40:40 2126 GMT\nX509v3 Subject Alternative Name: \n"
              b"    DNS:mail.example.com\n")


@also_traced
def test_status_reads_settings_then_each_certificate_and_key(host, capsys):
    assert status_reads_settings_then_each_certificate_and_key(host, capsys, "3.7.11") == ""


UNKNOWN_CHAIN_FILES = b"postconf: warning: smtpd_tls_chain_files: unknown parameter\n"
UNUSED_CHAIN_FILES = (b"postconf: warning: /etc/postfix/main.cf: unused parameter: "
                      b"smtpd_tls_chain_files=/etc/postfix/combo.pem\n")


def test_status_on_postfix_3_3_hides_only_the_chain_files_warning(host, capsys):
    # Postfix mode says 3.1 or later: the settings' read, with
    # smtpd_tls_chain_files (3.4), starts before mail_version says 3.3.2;
    # postconf's warning for it (tests/reference/older-postfix.txt) is not
    # shown, any other is.
    shown = status_reads_settings_then_each_certificate_and_key(
        host, capsys, "3.3.2", stderr=UNKNOWN_CHAIN_FILES + UNUSED_CHAIN_FILES)
    assert shown == UNUSED_CHAIN_FILES.decode()


def status_reads_settings_then_each_certificate_and_key(host, capsys, mail_version,
                                                        stderr=b""):
    from postfix_tls.status import facts as status_facts

    certfile = write(os.path.join(host.config_directory, "cert.pem"),
                     "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    keyfile = write(os.path.join(host.config_directory, "key.pem"), mode=0o600)
    settings = collections.OrderedDict((name, "") for name in status_facts.SETTINGS)
    settings.update(smtpd_tls_cert_file=certfile, smtpd_tls_key_file=keyfile,
                    myhostname="mail.example.com", smtpd_tls_security_level="may")
    if stderr:
        settings["smtpd_tls_chain_files"] = None  # the release lacks it: nothing
    # The settings are read with the start-up's reads, all at once.
    expected = host.startup(lines=[(["-m"], ["btree", "hash"])], mail_version=mail_version)
    expected.insert(0, host.read("-x", settings, stderr=stderr))
    expected.append(host.openssl("x509", "-in", certfile, "-noout", "-nameopt", "RFC2253",
                                 "-subject", "-startdate", "-enddate", "-ext",
                                 "subjectAltName", stdout=CERT_FACTS))
    expected += cert_digest(host, "ec", certfile, digest=b"")
    expected += cert_digest(host, "rsa", certfile)
    expected += key_digest(host, "ec", keyfile)
    assert host.run("status") == 0
    assert host.calls() == expected
    captured = capsys.readouterr()
    assert captured.out.startswith("TLS OK - 1 server certificate(s) valid")
    return captured.err


# ----- deploy-acme-cert (ours)

LEAF = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
OLD_LEAF = "-----BEGIN CERTIFICATE-----\nMIIA\n-----END CERTIFICATE-----\n"


def acme_host(host, key_text, deployed):
    """A renewed RSA key (key_text) and one-certificate chain; main.cf names
    acme-rsa.pem, which holds deployed."""
    from postfix_tls.acme import deploy as acme_deploy

    keyfile = write(os.path.join(host.config_directory, "new.key"), key_text, mode=0o600)
    chainfile = write(os.path.join(host.config_directory, "new.crt"), LEAF)
    ours = write(os.path.join(host.config_directory, "acme-rsa.pem"), deployed, mode=0o600)
    files = collections.OrderedDict((name, None) for name in acme_deploy.prefetch({}, [])[0][1][1])
    files.update(smtpd_tls_key_file=ours, smtpd_tls_cert_file=ours)
    expected = host.startup(reads=[("-nx", files)], x_reads={"myhostname": "mail.example.com"})
    return keyfile, chainfile, ours, expected


def acme_material_checked(host, deployed_leaf):
    """The key (not PEM text Python can compare) and chain checked with openssl."""
    keyfile, chainfile, ours, expected = acme_host(host, "x\n", RSA_PEM.decode() + deployed_leaf)
    expected.append(host.openssl("rsa", *PASSIN + ["-in", keyfile], stdout=RSA_PEM))
    expected += [host.openssl("pkey", "-pubout"),
                 host.openssl("pkey", "-pubin", "-outform", "DER"),
                 host.openssl(*DIGEST[1:], stdout=KEY_DIGEST)]
    expected += presented_digest(host)
    expected.append(host.openssl("x509", "-noout", "-nameopt", "RFC2253", "-subject",
                                 "-startdate", "-enddate", "-ext", "subjectAltName",
                                 stdout=CERT_FACTS))
    expected += key_digest(host, "ec", ours)
    return keyfile, chainfile, ours, expected


def presented_digest(host):
    return [host.openssl("x509", "-pubkey", "-noout"),
            host.openssl("pkey", "-pubin", "-outform", "DER"),
            host.openssl(*DIGEST[1:], stdout=KEY_DIGEST)]


RSA_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"


@also_traced
def test_deploy_acme_cert_of_what_postfix_loads_runs_no_openssl(host, capsys):
    # Key and chain as acme-rsa.pem has them: nothing to check or change.
    keyfile, chainfile, ours, expected = acme_host(host, RSA_KEY, RSA_KEY + "\n" + LEAF)
    assert host.run("deploy-acme-cert", keyfile, chainfile) == 0
    assert host.calls() == expected
    assert capsys.readouterr().out.splitlines()[1:] == [
        messages.ACME_UNCHANGED.format(algorithm="rsa", path=ours),
        messages.ACME_NOTHING_CHANGED]


@also_traced
def test_deploy_acme_cert_same_key_writes_checks_reloads_then_connects_per_port(host,
                                                                              capsys):
    keyfile, chainfile, ours, expected = acme_material_checked(host, OLD_LEAF)
    postfix = os.path.join(host.command_directory, "postfix")
    # The key is the deployed one: no DNS asked; main.cf already names the file.
    expected += [host.register([postfix, "status"]), host.register([postfix, "check"]),
                 host.register([postfix, "reload"])]
    for port, starttls in ((25, ["-starttls", "smtp"]), (587, ["-starttls", "smtp"])):
        from postfix_tls.dane import check

        expected.append(host.register(
            ["timeout", "30", OPENSSL, "s_client", "-connect", "192.0.2.1:%d" % port]
            + starttls + ["-sigalgs", check.SIGALGS["rsa"]], stdout=PRESENTED))
        expected += presented_digest(host)
    log = host.log("info")
    expected.append(log)
    assert host.run("deploy-acme-cert", "-p", "25,587", "-s", "192.0.2.1", keyfile,
                    chainfile) == 0
    assert host.calls() == expected
    with open(ours) as stream:
        assert stream.read() == RSA_PEM.decode() + LEAF
    assert oct(os.stat(ours).st_mode & 0o777) == "0o600"
    deployed = messages.ACME_DEPLOYED.format(algorithm="rsa", path=ours,
                                             why=messages.ACME_SAME_KEY)
    assert host.input_of(log) == deployed + "\n"
    assert capsys.readouterr().out.splitlines()[1:] == [
        deployed, messages.ACME_RELOADED.format(command="postfix reload")] + [
        messages.ACME_LIVE_OK.format(address="192.0.2.1", port=port, algorithm="rsa",
                                     dane="") for port in (25, 587)]


# ----- the command line

def test_unknown_subcommand_logs_an_error_and_the_usage(host):
    expected = host.startup()
    expected.append(host.log("error", "unknown tls command: 'bogus'"))
    expected.append(host.log("fatal", messages.USAGE_ALL))
    assert host.run("bogus") == 1
    assert host.calls() == expected


def test_no_working_openssl_is_fatal(host):
    # The settings' read starts with the start-up's, but its answer is never
    # used: start-up fails first.  "openssl version" runs once the digest's
    # check has failed: which message to give.
    calls = [host.read("-n", server_settings()),
             host.openssl_path_read("/opt/openssl"),
             host.lines(["-T", "public-key-algorithms"], ["rsa"]),
             host.register(["/opt/openssl", "dgst", "-binary", "-sha256"], returncode=127),
             host.register(["/opt/openssl", "version"], returncode=127),
             host.log("fatal", messages.NO_OPENSSL.format("/opt/openssl"))]
    assert host.run("all-default-server") == 1
    assert host.calls() == calls


def test_openssl_without_sha256_is_asked_its_version_and_fails_last(host, capsys):
    # The digest's check failed: "openssl version" says whether openssl
    # runs at all (upstream's first check); it does, so the checks go on
    # and SHA-256's is the fatal one, last, as upstream's.  Where the digest
    # is right, "openssl version" is not run at all (host.startup).
    calls = [host.read("-n", server_settings()),
             host.openssl_path_read(),
             host.lines(["-T", "public-key-algorithms"], ["rsa"]),
             host.openssl("dgst", "-binary", "-sha256", returncode=1),
             host.openssl("version", stdout=b"OpenSSL 0.9.7m 23 Feb 2007\n"),
             host.read("-d", {"config_directory": "/etc/postfix"}),
             host.log("fatal", messages.NO_SHA256)]
    assert host.run("all-default-server") == 1
    assert host.calls() == calls
    assert capsys.readouterr().err.startswith(messages.NO_SHA256_STDERR[0].format(
        openssl=OPENSSL))


def test_an_openssl_whose_digest_is_wrong_and_version_fails_does_not_work(host):
    # Upstream's first check, "openssl version", fails: its message, not
    # SHA-256's (which a wrong digest alone would give).
    calls = [host.read("-n", server_settings()),
             host.openssl_path_read(),
             host.lines(["-T", "public-key-algorithms"], ["rsa"]),
             host.openssl("dgst", "-binary", "-sha256", stdout=b"junk\n"),
             host.openssl("version", returncode=1),
             host.log("fatal", messages.NO_OPENSSL.format(OPENSSL))]
    assert host.run("all-default-server") == 1
    assert host.calls() == calls


UNUSED_FOO = b"postconf: warning: /etc/postfix/main.cf: unused parameter: foo=bar\n"


def test_a_read_that_start_up_never_used_shows_no_warning(host, capsys):
    # Upstream fails at "openssl version" before it reads main.cf: no
    # warning of postconf's about it.  Ours read it at the same time, with
    # the warning held back, and drops it unused.
    calls = [host.read("-n", client_settings(), stderr=UNUSED_FOO),
             host.openssl_path_read(),
             host.lines(["-T", "public-key-algorithms"], ["rsa"]),
             host.openssl("dgst", "-binary", "-sha256", returncode=127),
             host.openssl("version", returncode=127),
             host.log("fatal", messages.NO_OPENSSL.format(OPENSSL))]
    assert host.run("all-default-client") == 1
    assert host.calls() == calls
    assert "foo=bar" not in capsys.readouterr().err


def test_a_read_whose_answer_is_used_shows_its_warning_then(host, capsys):
    calls = [host.read("-n", client_settings(), stderr=UNUSED_FOO),
             host.openssl_path_read(),
             host.lines(["-T", "public-key-algorithms"], ["rsa"]),
             host.openssl("dgst", "-binary", "-sha256", stdout=NULL_SHA256)]
    assert host.run("all-default-client") == 0
    assert host.calls() == calls
    assert capsys.readouterr().err.count("foo=bar") == 1


def test_openssl_path_is_read_from_the_default_instance(host, capsys):
    host.startup(reads=[("-n", server_settings())])
    assert host.run("--trace", "all-default-server") == 0
    # The one read of openssl_path runs without MAIL_CONFIG: postconf then
    # reads the compiled-in config_directory, as upstream's -c does.
    assert [host.postconf, "-x", "openssl_path", "mail_version"] in host.calls()
    assert "+ env -u MAIL_CONFIG %s -x openssl_path mail_version" % host.postconf \
        in capsys.readouterr().err.splitlines()


def test_postfix_without_tls_is_fatal(host):
    calls = [host.read("-x", {"myhostname": "mail.example.com"}),
             host.openssl_path_read(),
             host.lines(["-T", "public-key-algorithms"], []),
             host.openssl("dgst", "-binary", "-sha256", stdout=bytes(32)),
             host.openssl("version"),  # the digest is wrong: does openssl run at all?
             host.lines(["-T", "compile-version"], []),
             host.read("-d", {"mail_version": "3.7.11"}),
             host.log("fatal", messages.NO_TLS.format("3.7.11"))]
    assert host.run("output-server-csr", "-k", "/x") == 1
    assert host.calls() == calls


# ----- standalone mode, and Postfix before 3.1: no openssl_path, no postconf -T

NULL_SHA256 = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def standalone(host, mail_version):
    """Standalone mode on host's configuration: postconf found on PATH, the
    environment read from main.cf; returns that read's argv."""
    for name in ("daemon_directory", "config_directory", "command_directory",
                 "data_directory", "MAIL_CONFIG", "MAIL_LOGTAG"):
        host.monkeypatch.delenv(name)
    host.monkeypatch.setenv("PATH", host.command_directory + ":/bin:/usr/bin")
    write(host.postconf, mode=0o755)  # found on PATH; pytest-subprocess runs it
    return host.read("-x", collections.OrderedDict((
        ("command_directory", host.command_directory),
        ("daemon_directory", "/usr/libexec/postfix"),
        ("data_directory", "/var/lib/postfix"), ("syslog_name", "postfix"),
        ("mail_version", mail_version))))


def test_standalone_reads_mail_version_with_the_environment(host):
    # No process more than before on 3.x: mail_version comes with the
    # directories, then start-up is postfix mode's, without asking it again.
    # The release is known at once: smtpd_tls_chain_files comes with the rest.
    expected = [standalone(host, "3.7.11")]
    settings = server_settings()
    settings["smtpd_tls_chain_files"] = None
    expected += host.startup(reads=[("-n", settings)], mail_version=None)
    assert host.run("-c", host.config_directory, "all-default-server") == 0
    assert host.calls() == expected


def test_postfix_2_10_is_asked_neither_openssl_path_nor_T(host, capsys):
    # Neither exists before 3.1 (tests/reference/older-postfix.txt):
    # openssl_path is 3.1's default, and TLS with RSA and ECDSA assumed.
    calls = [standalone(host, "2.10.10"),
             host.read("-n", server_settings(chain_files=False)),
             host.openssl("dgst", "-binary", "-sha256", stdout=NULL_SHA256),
             host.openssl("ecparam", "-name", "secp256r1")]
    assert host.run("-c", host.config_directory, "all-default-server") == 0
    assert host.calls() == calls
    assert capsys.readouterr().err == ""


def test_postfix_older_than_2_6_has_rsa_only(host):
    calls = [standalone(host, "2.5.6"),
             host.read("-x", {"myhostname": "mail.example.com"}),
             host.openssl("dgst", "-binary", "-sha256", stdout=NULL_SHA256),
             host.log("fatal", messages.UNSUPPORTED_PUBLIC.format("ecdsa"))]
    assert host.run("-c", host.config_directory, "new-server-key", "-a", "ecdsa") == 1
    assert host.calls() == calls


def test_postfix_older_than_2_2_has_no_tls(host):
    calls = [standalone(host, "2.1.5"),
             host.read("-n", client_settings()),
             host.openssl("dgst", "-binary", "-sha256"),
             host.openssl("version"),
             host.read("-d", {"mail_version": "2.1.5"}),
             host.log("fatal", messages.NO_TLS.format("2.1.5"))]
    assert host.run("-c", host.config_directory, "all-default-client") == 1
    assert host.calls() == calls
