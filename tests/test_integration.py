"""The real openssl and postconf on scratch configurations.

Needs Postfix and openssl (``make test`` installs them).  Wrappers on PATH
log the argv of every openssl, postconf and postlog process, so that the
trace can be compared with what really ran.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from postfix_tls.core import messages

from support import (
    MYHOSTNAME,
    OPENSSL,
    POSTCONF,
    POSTFIX_PATH,
    new_files,
    normalise,
    ours_argv,
    path_with,
    postfix_environment,
    run_on_pty,
    snapshot,
)

pytestmark = pytest.mark.postfix

# One printf, one write(2) to an O_APPEND file: parallel records never mix.
# With ORDER_LOG set (the file our stderr appends to), also a line there.
_WRAPPER = """#!/bin/sh
record=$(printf '%%s\\037' "$(basename "$0")" "$@")
printf '%%s\\036' "$record" >> "$WRAP_LOG"
[ -z "$ORDER_LOG" ] || echo "ran $(basename "$0")" >> "$ORDER_LOG"
exec %s "$@"
"""


@pytest.fixture
def wrappers(tmp_path):
    """A directory of logging wrappers for openssl, postconf and postlog."""
    directory = tmp_path / "wrap"
    directory.mkdir()
    for name, real in (("openssl", OPENSSL), ("postconf", POSTCONF),
                       ("postlog", "/usr/sbin/postlog")):
        path = directory / name
        path.write_text(_WRAPPER % real)
        path.chmod(0o755)
    log = tmp_path / "wrap.log"
    log.write_text("")
    return str(directory), str(log)


def logged(log):
    with open(log) as stream:
        records = stream.read().split("\036")
    return [record.split("\037")[:-1] for record in records if record]


def run(args, env, stdout=True):
    result = subprocess.run(ours_argv(args), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def standalone_env(**extra):
    env = {"PATH": POSTFIX_PATH, "LANG": "C"}
    env.update(extra)
    return env


def wrapped_env(config_directory, wrappers):
    directory, log = wrappers
    return postfix_environment(config_directory, {
        "command_directory": directory, "WRAP_LOG": log,
        "PATH": path_with(directory)})


def postconf_n(directory):
    return subprocess.run([POSTCONF, "-c", directory, "-n"], stdout=subprocess.PIPE,
                          universal_newlines=True).stdout


def openssl_text(*args):
    return subprocess.run([OPENSSL] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True).stdout


def spki_digest(path, cert=False):
    pub = openssl_text("x509", "-in", path, "-noout", "-pubkey") if cert else \
        subprocess.run([OPENSSL, "pkey", "-in", path, "-pubout"], stdout=subprocess.PIPE,
                       universal_newlines=True).stdout
    der = subprocess.run([OPENSSL, "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                         stdout=subprocess.PIPE).stdout
    return subprocess.run([OPENSSL, "dgst", "-sha256", "-hex"], input=der,
                          stdout=subprocess.PIPE).stdout.decode().split()[-1]


# ----- each subcommand, for real

def test_enable_server_standalone_deploys_a_matching_key_and_certificate(make_config):
    directory = make_config()
    status, out, err = run(["-c", directory, "enable-server", "-a", "ecdsa",
                            "mx.example.net", "mail.example.org"], standalone_env())
    assert status == 0, err
    [key], [cert] = new_files(directory, "eckey-"), new_files(directory, "eccert-")
    key, cert = os.path.join(directory, key), os.path.join(directory, cert)
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert os.stat(cert).st_mode & 0o777 == 0o644
    assert spki_digest(key) == spki_digest(cert, cert=True)
    text = openssl_text("x509", "-in", cert, "-noout", "-subject", "-ext", "subjectAltName")
    assert "CN = mx.example.net" in text or "CN=mx.example.net" in text
    assert "DNS:mx.example.net, DNS:mail.example.org" in text
    settings = postconf_n(directory)
    for line in ("smtpd_tls_eckey_file = " + key, "smtpd_tls_eccert_file = " + cert,
                 "smtpd_tls_security_level = may", "smtpd_tls_received_header = yes",
                 "smtpd_tls_loglevel = 1", "tls_random_source = dev:/dev/urandom"):
        assert line in settings.splitlines()


def test_enable_client_through_postfix_environment(make_config):
    directory = make_config()
    status, _ = run_on_pty(ours_argv(["enable-client"]), postfix_environment(directory))
    assert status == 0
    settings = postconf_n(directory).splitlines()
    assert "smtp_tls_security_level = may" in settings
    assert "smtp_tls_loglevel = 1" in settings
    assert any(line.startswith("smtp_tls_session_cache_database = ")
               and line.endswith(":/var/lib/postfix/smtp_scache") for line in settings)


def test_new_server_cert_copies_the_key_and_output_commands_agree(make_config, keys):
    directory = make_config(["smtpd_tls_key_file = $DIR/key.pem",
                             "smtpd_tls_cert_file = $DIR/cert.pem"],
                            [("key.pem", keys["rsa.key"]), ("cert.pem", keys["rsa.crt"])])
    env = postfix_environment(directory)
    status, out, err = run(["new-server-cert", "new.example.com"], env)
    assert status == 0, err
    [key], [cert] = new_files(directory, "key-"), new_files(directory, "cert-")
    key, cert = os.path.join(directory, key), os.path.join(directory, cert)
    assert spki_digest(key) == spki_digest(os.path.join(directory, "key.pem"))
    assert spki_digest(cert, cert=True) == spki_digest(key)
    assert os.stat(key).st_mode & 0o777 == 0o600
    # The TLSA record is the SHA-256 of the SPKI.
    status, out, err = run(["output-server-tlsa", "-h", "mx.example.net", key], env)
    assert status == 0, err
    assert out == "; %s\n_25._tcp.mx.example.net. IN TLSA 3 1 1 %s\n" % (key, spki_digest(key))
    # The CSR: the key's public key, the names as SANs, an empty subject.
    status, out, err = run(["output-server-csr", "-k", key, "a.example.net", "b.example.net"],
                           env)
    assert status == 0, err
    text = subprocess.run([OPENSSL, "req", "-noout", "-text", "-verify"], input=out.encode(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    assert "DNS:a.example.net, DNS:b.example.net" in text
    assert "verify OK" in text or "Certificate request self-signature verify OK" in text
    # deploy-server-cert deploys them.
    status, out, err = run(["deploy-server-cert", cert, key], env)
    assert status == 0, err
    assert "smtpd_tls_key_file = " + key in postconf_n(directory).splitlines()


def test_all_default_commands_read_the_real_main_cf(make_config):
    directory = make_config(["smtp_tls_security_level = may"])
    env = postfix_environment(directory)
    assert run(["all-default-client"], env)[0] == 1
    assert run(["all-default-server"], env)[0] == 0


# ----- issue 3: trace, trace-json, dry run

STATE_CHANGING = [
    ("enable-server", [], []),
    ("enable-server-ecdsa", ["-a", "ecdsa", "mx.example.net"], []),
    ("enable-client", [], []),
    ("new-server-key", ["-a", "ecdsa"], []),
    ("new-server-cert", [], ["smtpd_tls_key_file = $DIR/key.pem"]),
    ("deploy-server-cert", ["cert.pem", "key.pem"], []),
]


def _subcommand(name):
    return name.split("-ecdsa")[0]


EVERY_SUBCOMMAND = STATE_CHANGING + [
    ("output-server-csr", ["-k", "key.pem", "mx.example.net"], []),
    ("output-server-tlsa", [], ["smtpd_tls_key_file = $DIR/key.pem"]),
    ("all-default-client", [], []),
    ("all-default-server", [], ["smtpd_tls_cert_file = $DIR/cert.pem"]),
]


@pytest.mark.parametrize("name, args, main_cf", EVERY_SUBCOMMAND,
                         ids=[case[0] for case in EVERY_SUBCOMMAND])
def test_trace_json_lists_exactly_what_ran(name, args, main_cf, make_config, keys, wrappers,
                                          tmp_path):
    directory = make_config(main_cf, [("key.pem", keys["rsa.key"]),
                                      ("cert.pem", keys["rsa.crt"])])
    trace = str(tmp_path / "trace.json")
    status, out, err = run(["--trace-json", trace, _subcommand(name)] + args,
                           wrapped_env(directory, wrappers))
    assert status == (1 if name == "all-default-server" else 0), err
    with open(trace) as stream:
        records = [json.loads(line) for line in stream]
    commands = [record for record in records if "argv" in record]
    traced = [[os.path.basename(record["argv"][0])] + record["argv"][1:] for record in commands]
    assert sorted(traced) == sorted(logged(wrappers[1]))
    assert all(record["dry_run"] is False and isinstance(record["returncode"], int)
               for record in commands)
    assert all(set(record) == {"argv", "stdin", "umask", "returncode", "seconds", "dry_run"}
               for record in commands)


def _traced_programs(line):
    """The program of each stage of a traced line ("+ a | b | c")."""
    programs = []
    for stage in line[2:].split(" | "):
        words = stage.replace("(umask 077; ", "").split()
        if words[0] == "env":
            words = words[1:]
            while words[0] == "-u":
                words = words[2:]
        programs.append(os.path.basename(words[0]))
    return programs


def test_trace_prints_each_command_before_it_runs_but_early_postlog(make_config, wrappers,
                                                                     tmp_path):
    """Each command's trace line comes before it runs; the one exception is
    postlog for a block of messages, started early (before postconf -e, so
    that it does not wait for main.cf to settle) and traced when its input,
    known only then, is written."""
    directory = make_config()
    order = tmp_path / "order.log"
    env = dict(wrapped_env(directory, wrappers), ORDER_LOG=str(order))
    # Our stderr and the wrappers' "ran" lines append to one file, in time order.
    with open(str(order), "ab") as stderr:
        status = subprocess.run(ours_argv(["--trace", "enable-server"]), env=env,
                                stdout=subprocess.DEVNULL, stderr=stderr).returncode
    assert status == 0
    pending, early, ran = [], 0, 0
    for line in order.read_text().splitlines():
        if line.startswith("+ ") and not line.startswith("+ export "):
            programs = _traced_programs(line)
            if programs == ["postlog"] and early:
                early -= 1
            else:
                pending += programs
        elif line.startswith("ran "):
            ran += 1
            if line[4:] == "postlog" and "postlog" not in pending:
                early += 1
                continue
            assert line[4:] in pending, "%s ran before its trace line" % line[4:]
            pending.remove(line[4:])
    assert pending == [] and early == 0 and ran == len(logged(wrappers[1])) > 10
    text = order.read_text()
    assert "+ (umask 077; openssl genrsa -out %s/key-" % directory in text
    assert "\nDNS.1 = %s\nEOF\n" % MYHOSTNAME in text


def _plan(records, directory):
    # "openssl version" is the dry run's own read (README, --dry-run): the
    # real run needs it only where the digest check fails.
    return [normalise(json.dumps(record["argv"]), directory)
            for record in records if "argv" in record and record["argv"][1:] != ["version"]]


@pytest.mark.parametrize("name, args, main_cf", STATE_CHANGING,
                         ids=[case[0] for case in STATE_CHANGING])
def test_dry_run_changes_nothing_and_plans_the_real_run(name, args, main_cf, make_config, keys,
                                                        tmp_path):
    files = [("key.pem", keys["rsa.key"]), ("cert.pem", keys["rsa.crt"])]
    plans = []
    for dry_run in (True, False):
        directory = make_config(main_cf, files)
        before = snapshot(directory)
        trace = str(tmp_path / ("trace-%s.json" % dry_run))
        options = ["--dry-run"] if dry_run else []
        status, out, err = run(options + ["--trace-json", trace, _subcommand(name)] + args,
                               postfix_environment(directory))
        assert status == 0, err
        with open(trace) as stream:
            records = [json.loads(line) for line in stream]
        plans.append(_plan(records, directory))
        if dry_run:
            assert snapshot(directory) == before
            assert "(dry run) " in err
            skipped = [record for record in records if record.get("dry_run")]
            assert skipped and all(record.get("returncode") is None for record in skipped
                                   if "argv" in record)
        else:
            assert snapshot(directory) != before
    assert plans[0] == plans[1]


def test_no_private_key_bytes_in_any_trace(make_config, keys, tmp_path):
    with open(keys["rsa.key"]) as stream:
        body = [line for line in stream.read().splitlines() if "-----" not in line]
    directory = make_config(["smtpd_tls_key_file = $DIR/key.pem"],
                            [("key.pem", keys["rsa.key"]), ("cert.pem", keys["rsa.crt"])])
    env = postfix_environment(directory)
    outputs = []
    for args in (["new-server-cert"], ["deploy-server-cert", "cert.pem", "key.pem"],
                 ["output-server-tlsa"], ["--dry-run", "new-server-cert"]):
        status, out, err = run(["--trace", "--trace-json", "-"] + args, env)
        assert status == 0, err
        outputs.append(out + err)
    everything = "\n".join(outputs)
    assert "openssl rsa -passin" in everything  # the key was read...
    for line in body:
        assert line not in everything  # ...and never shown


def test_trace_json_to_a_file_appends_one_object_per_line(make_config, tmp_path):
    directory = make_config()
    trace = tmp_path / "t.json"
    run(["--trace-json", str(trace), "all-default-server"], postfix_environment(directory))
    run(["--trace-json", str(trace), "all-default-client"], postfix_environment(directory))
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    # Both runs' settings reads (the server's ends with smtpd_tls_chain_files).
    assert [r["argv"][1:] for r in records if "smtpd_tls_eccert_file" in r["argv"]]
    assert [r["argv"][1:] for r in records if r["argv"][-1] == "smtp_tls_eccert_file"]


@pytest.mark.parametrize("args, main_cf", [
    (["all-default-server"], ["smtpd_use_tls = yes"]),
    (["deploy-server-cert", "nocert.pem", "nokey.pem"], []),
    (["enable-server"], ["smtpd_use_tls = yes"]),  # suggests, changes nothing
    (["enable-server"], []),
    (["new-server-key", "-a", "ecdsa"], []),
    (["new-server-cert", "-a", "bogus"], []),
    (["output-server-tlsa"], []),
])
def test_dry_run_exit_status_is_the_real_ones(args, main_cf, make_config):
    statuses = []
    for dry_run in (["--dry-run"], []):
        env = postfix_environment(make_config(main_cf))
        statuses.append(run(dry_run + args, env)[0])
    assert statuses[0] == statuses[1]


def test_version_and_help(tmp_path):
    result = subprocess.run([sys.executable, "-m", "postfix_tls", "--version"],
                            stdout=subprocess.PIPE, universal_newlines=True)
    assert re.match(r"postfix-tls \d+\.\d+", result.stdout)
    result = subprocess.run([sys.executable, "-m", "postfix_tls", "--help"],
                            stdout=subprocess.PIPE, universal_newlines=True)
    assert "deploy-server-cert certfile keyfile" in result.stdout


def test_standalone_trace_says_which_configuration_its_commands_read(make_config):
    directory = make_config()
    status, out, err = run(["-c", directory, "--trace", "all-default-server"], standalone_env())
    assert status == 0, err
    lines = err.splitlines()
    assert lines[0] == "+ export MAIL_CONFIG=" + directory
    assert "+ export MAIL_LOGTAG=postfix" in lines
    # Pasted into sh, the traced read answers as it did for us.
    read = [line[2:] for line in lines if line.startswith("+ /usr/sbin/postconf -n ")][0]
    pasted = subprocess.run(["sh", "-c", "export MAIL_CONFIG=%s; %s" % (directory, read)],
                            stdout=subprocess.PIPE, universal_newlines=True)
    assert pasted.returncode == 0
    # ... and reads this configuration: its myhostname, not the default instance's.
    read = read.replace(" -n smtpd_use_tls", " -x myhostname smtpd_use_tls")
    pasted = subprocess.run(["sh", "-c", "export MAIL_CONFIG=%s; %s" % (directory, read)],
                            stdout=subprocess.PIPE, universal_newlines=True)
    assert "myhostname = %s\n" % MYHOSTNAME in pasted.stdout


def test_rollover_after_a_chain_file_deploy_has_no_next_key_twice(make_config):
    # new-server-key's key-STAMP.pem, deployed into a chain file: it is
    # the deployed key, not also the next one (its record once per port).
    directory = make_config()
    env = standalone_env()
    assert run(["-c", directory, "new-server-key", "-a", "rsa"], env)[0] == 0
    keyfile = [name for name in os.listdir(directory) if name.startswith("key-")][0]
    certfile = keyfile.replace("key-", "cert-")
    status, out, err = run(["-c", directory, "--chain-file", "chains.pem", "deploy-server-cert",
                            os.path.join(directory, certfile),
                            os.path.join(directory, keyfile)], env)
    assert status == 0, err
    status, out, err = run(["-c", directory, "output-server-tlsa-rollover"], env)
    assert status == 0, err
    records = [line for line in out.splitlines() if " IN TLSA 3 1 1 " in line]
    assert len(records) == 1, out
    assert "; rsa: next " not in out, out


@pytest.mark.parametrize("subcommand", [["output-server-tlsa"], ["new-server-cert"],
                                        ["output-server-csr"], ["status"]])
def test_chain_files_set_to_only_a_comma_name_nothing_and_say_so(subcommand, make_config, keys):
    # Postfix takes a non-empty smtpd_tls_chain_files (",") as set: it
    # loads no key from it and ignores the legacy parameters beside it.
    directory = make_config(["smtpd_tls_key_file = $DIR/key.pem",
                             "smtpd_tls_cert_file = $DIR/cert.pem",
                             "smtpd_tls_chain_files = ,"],
                            [("key.pem", keys["rsa.key"]), ("cert.pem", keys["rsa.crt"])])
    before = sorted(os.listdir(directory))
    status, out, err = run(["-c", directory] + subcommand, standalone_env())
    assert status == (2 if subcommand == ["status"] else 1), (out, err)
    assert messages.CHAIN_NAMES_NOTHING in out + err
    assert sorted(os.listdir(directory)) == before
