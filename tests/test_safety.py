"""Faults, signals, races and bad input (issue 5).

Each test asserts the exit status, the message, and the configuration
directory before and after: nothing half-made survives, main.cf changes
only through a successful postconf -e, key material is never shown.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postfix_tls import cli
from postfix_tls.core import messages

from support import (
    LOCK_FILE,
    OPENSSL,
    POSTFIX_PATH,
    SPECIAL_FILES,
    openssl_in,
    openssl_wrapper,
    ours_argv,
    path_with,
    postfix_environment,
    run_on_pty,
    snapshot,
    special_file,
)

pytestmark = pytest.mark.postfix


def env_with(directory, bin_directory, **extra):
    env = postfix_environment(directory, {"PATH": path_with(bin_directory)})
    env.update(extra)
    return env


def pem_files(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".pem"))


# ----- openssl failing at each step

@pytest.mark.parametrize("step, script, message", [
    ("key generation", 'case "$1" in genrsa) echo "disk full" >&2; exit 1;; esac',
     "fatal: error generating new rsa 2048 private key"),
    ("partial key", 'case "$1" in genrsa) for a; do out=$a; done; '
                    'while [ "$1" != -out ]; do shift; done; echo "-----BEGIN PRIV" > "$2"; '
                    'exit 1;; esac', "fatal: error generating new rsa 2048 private key"),
    ("certificate", 'case "$1" in req) exit 1;; esac',
     "fatal: error generating self-signed SSL certificate"),
    ("key digest", 'for a; do [ "$a" = -pubout ] && exit 1; done',
     "fatal: error computing public key digest"),
    ("key check", 'case "$1" in rsa|ec) for a; do [ "$a" = -passin ] && exit 1; done;; esac',
     "fatal: no private key found in file: "),
])
def test_openssl_failing_leaves_nothing_behind(step, script, message, make_config, tmp_path):
    directory = make_config()
    before = snapshot(directory)
    status, transcript = run_on_pty(ours_argv(["enable-server"]),
                                    env_with(directory, openssl_wrapper(tmp_path / "bin", script)))
    assert status == 1, step
    assert message in transcript, transcript
    assert snapshot(directory) == before, step  # no key, no certificate, main.cf untouched


def test_openssl_missing(make_config, tmp_path):
    directory = make_config()
    empty = tmp_path / "empty"
    empty.mkdir()
    env = postfix_environment(directory, {"PATH": str(empty) + ":/usr/sbin"})
    status, transcript = run_on_pty(ours_argv(["enable-server"]), env)
    assert status == 1
    assert "fatal: No working openssl(1) command found with 'openssl_path = openssl'" in transcript


@pytest.mark.parametrize("mode", [None, 0o644])
def test_postconf_missing_is_said_not_openssl(make_config, tmp_path, mode):
    # Upstream's sh says "postconf: not found", then finds no openssl (its
    # openssl_path is postconf's answer); we say the first failure.
    directory = make_config()
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    os.symlink("/usr/sbin/postlog", str(sbin / "postlog"))
    if mode is not None:  # there, but not executable
        (sbin / "postconf").write_bytes(open("/usr/sbin/postconf", "rb").read())
        (sbin / "postconf").chmod(mode)
    status, transcript = run_on_pty(ours_argv(["enable-client"]), postfix_environment(
        directory, {"command_directory": str(sbin)}), timeout=30)
    assert status == 1
    assert ("fatal: no postconf(1) command at %s/postconf: it is missing or not executable;"
            " is command_directory right?" % sbin) in transcript
    assert "openssl" not in transcript


def test_openssl_not_executable(make_config, tmp_path):
    directory = make_config()
    bin_directory = openssl_wrapper(tmp_path / "bin", "")
    os.chmod(os.path.join(bin_directory, "openssl"), 0o644)
    # No other openssl on PATH: the search would skip this one and use it.
    status, transcript = run_on_pty(ours_argv(["new-server-key"]), postfix_environment(
        directory, {"PATH": bin_directory + ":/usr/sbin"}))
    assert status == 1 and "No working openssl(1) command" in transcript


# ----- postlog failing

def test_postlog_failing_still_shows_messages(make_config, tmp_path):
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    os.symlink("/usr/sbin/postconf", str(sbin / "postconf"))
    (sbin / "postlog").write_text("#!/bin/sh\ncat >/dev/null\nexit 2\n")
    (sbin / "postlog").chmod(0o755)
    directory = make_config()
    env = postfix_environment(directory, {"command_directory": str(sbin)})
    status, transcript = run_on_pty(ours_argv(["enable-client"]), env)
    assert status == 0
    assert "postfix/postfix-tls-script: Enabled opportunistic TLS in the Postfix SMTP client." \
        in transcript
    status, transcript = run_on_pty(ours_argv(["enable-client", "-x"]), env)
    assert status == 1
    assert "postfix/postfix-tls-script: fatal: usage: postfix tls enable-client" in transcript


# ----- a full disk or an unwritable directory (and see "partial key" above)

def test_key_file_that_cannot_be_created(make_config, monkeypatch, fp, tmp_path):
    from postfix_tls.upstream import functions as upstream_functions

    from support.fakehost import FakeHost

    monkeypatch.setattr(upstream_functions.time, "strftime", lambda fmt, when: "20261124-101500")
    host = FakeHost(fp, str(tmp_path), monkeypatch)

    real_open = os.open

    def full_disk(path, *args, **kwargs):
        if str(path).startswith(host.config_directory):
            raise OSError(28, "No space left on device")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_disk)
    expected = host.startup(x_reads={"myhostname": "mail.example.com"})
    expected.append(host.log("info"))
    expected.append(host.log("fatal", messages.CANNOT_CREATE.format(
        host.config_directory + "/key-20261124-101500.pem", "No space left on device")))
    assert host.run("new-server-key") == 1
    assert host.calls() == expected
    assert os.listdir(host.config_directory) == []


# ----- signals

def echoing_postlog(tmp_path):
    """A command directory whose postlog prints its message on stdout."""
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    os.symlink("/usr/sbin/postconf", str(sbin / "postconf"))
    (sbin / "postlog").write_text('#!/bin/sh\necho "postlog $*"\ncat\n')
    (sbin / "postlog").chmod(0o755)
    return str(sbin)


def signal_while_openssl_hangs(tmp_path, directory, script, signum, while_hanging=None):
    """Run enable-server with an openssl that runs script first (which
    touches tmp_path/started, then hangs); signal it then: (status, output)."""
    env = env_with(directory, openssl_wrapper(tmp_path / "bin", script),
                   command_directory=echoing_postlog(tmp_path))
    process = subprocess.Popen(ours_argv(["enable-server"]), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 30
    while not os.path.exists(str(tmp_path / "started")) and time.time() < deadline:
        time.sleep(0.05)
    if while_hanging is not None:
        while_hanging()
    process.send_signal(signum)
    output, _ = process.communicate(timeout=30)
    return process.returncode, output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_key_generation_removes_what_was_made(signum, make_config, tmp_path):
    # genrsa writes part of the key, then hangs until it is killed.
    script = ('case "$1" in genrsa) while [ "$1" != -out ]; do shift; done; '
              'echo partial > "$2"; touch %s/started; exec sleep 30;; esac' % tmp_path)
    directory = make_config()
    before = snapshot(directory)

    def key_file_exists():
        assert pem_files(directory), "the key file should exist while openssl runs"

    status, output = signal_while_openssl_hangs(tmp_path, directory, script, signum,
                                                key_file_exists)
    name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
    assert status == 1
    assert ("interrupted by signal %s while running: openssl genrsa -out %s/key-"
            % (name, directory)).encode() in output
    assert snapshot(directory) == before


def test_signal_during_start_up_probes_names_the_probe(make_config, tmp_path):
    # The probes are started together; the message names the one waited for.
    script = 'case "$1" in dgst) touch %s/started; exec sleep 30;; esac' % tmp_path
    directory = make_config()
    before = snapshot(directory)
    status, output = signal_while_openssl_hangs(tmp_path, directory, script, signal.SIGTERM,
                                                lambda: time.sleep(0.2))  # reach the wait
    assert status == 1
    assert b"interrupted by signal SIGTERM while running: openssl dgst -binary -sha256\n" in output
    assert snapshot(directory) == before


# ----- concurrent runs in the same second

def test_concurrent_runs_never_share_a_key_file(make_config):
    collisions = 0
    for _attempt in range(3):
        directory = make_config()
        env = postfix_environment(directory)
        # Start them together just after a second boundary, so that they
        # compute the same time stamp and race for the same file names.
        time.sleep(1 - time.time() % 1 + 0.02)
        processes = [subprocess.Popen(ours_argv(["new-server-key", "-a", "ecdsa"]), env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for _ in range(4)]
        statuses = [process.wait(timeout=60) for process in processes]
        assert set(statuses) <= {0, 1} and 0 in statuses
        keys = [name for name in pem_files(directory) if name.startswith("eckey-")]
        certs = [name for name in pem_files(directory) if name.startswith("eccert-")]
        assert len(keys) == len(certs) == statuses.count(0)
        for key in keys:
            key_path = os.path.join(directory, key)
            cert_path = os.path.join(directory, key.replace("eckey-", "eccert-"))
            assert os.stat(key_path).st_mode & 0o777 == 0o600
            pub_key = subprocess.run([OPENSSL, "pkey", "-in", key_path, "-pubout"],
                                     stdout=subprocess.PIPE).stdout
            pub_cert = subprocess.run([OPENSSL, "x509", "-in", cert_path, "-noout", "-pubkey"],
                                      stdout=subprocess.PIPE).stdout
            assert pub_key and pub_key == pub_cert
        collisions += statuses.count(1)
        if collisions:
            break
    assert collisions, "no two runs raced for the same file names in 3 attempts"


# ----- no key material anywhere

def test_key_material_is_never_shown_even_on_errors(make_config, keys):
    with open(keys["rsa.key"]) as stream:
        body = [line for line in stream.read().splitlines() if "-----" not in line]
    directory = make_config(["smtpd_tls_key_file = $DIR/key.pem"],
                            [("key.pem", keys["rsa.key"]), ("ec.pem", keys["ec.key"])])
    env = postfix_environment(directory)
    transcript = ""
    for args in (["--trace", "new-server-cert", "-a", "ecdsa"],
                 ["--trace", "deploy-server-cert", "key.pem", "ec.pem"],
                 ["--trace", "--trace-json", "-", "new-server-cert"],
                 ["--trace", "output-server-tlsa", "key.pem", "ec.pem"]):
        transcript += run_on_pty(ours_argv(args), env)[1]
    assert "fatal:" in transcript
    for line in body:
        assert line not in transcript


def test_passphrase_protected_key_is_never_prompted_for(make_config, keys):
    directory = make_config(files=[("key.pem", keys["encrypted.key"])])
    status, transcript = run_on_pty(ours_argv(["output-server-tlsa", "key.pem"]),
                                    postfix_environment(directory), timeout=20)
    assert status == 1
    assert "no private key found in file: %s/key.pem" % directory in transcript
    assert "pass phrase" not in transcript.lower()


# ----- FIFOs, devices, directories and huge files as keys or certificates (issue 27)

def standalone(directory, *args):
    """(status, stdout, stderr) of ours with -c directory, which must not hang."""
    result = subprocess.run(ours_argv(["-c", directory] + list(args)),
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=30)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("kind, what", SPECIAL_FILES)
@pytest.mark.parametrize("operand", ["key", "chain"])
@pytest.mark.parametrize("command", [["deploy-acme-cert"],
                                     ["--chain-file", "chains.pem", "deploy-server-cert"]])
def test_deploys_of_ours_name_what_is_no_regular_file_and_never_read_it(
        make_config, keys, tmp_path, kind, what, operand, command):
    directory = make_config()
    path = special_file(str(tmp_path), kind)
    key, chain = (path, keys["rsa.crt"]) if operand == "key" else (keys["rsa.key"], path)
    before = snapshot(directory, but=[LOCK_FILE])
    # deploy-acme-cert takes keyfile fullchainfile; deploy-server-cert certfile keyfile.
    operands = [key, chain] if command == ["deploy-acme-cert"] else [chain, key]
    status, out, err = standalone(directory, *(command + operands))
    assert status == 1, err
    assert "fatal: %s %s: nothing deployed, the old certificate stays" % (path, what) in err
    assert snapshot(directory, but=[LOCK_FILE]) == before


@pytest.mark.parametrize("args", [["output-server-tlsa"], ["output-server-tlsa-rollover"],
                                  ["--chain-file", "chains.pem", "deploy-server-cert",
                                   "CERT", "KEY"],
                                  ["deploy-acme-cert", "KEY", "CERT"]])
def test_a_fifo_in_smtpd_tls_chain_files_is_named_not_waited_for(make_config, keys, tmp_path,
                                                                 args):
    fifo = special_file(str(tmp_path), "fifo")
    directory = make_config(["smtpd_tls_chain_files = " + fifo])
    args = [{"CERT": keys["rsa.crt"], "KEY": keys["rsa.key"]}.get(arg, arg) for arg in args]
    status, out, err = standalone(directory, *args)
    assert status == 1
    assert ("fatal: smtpd_tls_chain_files: cannot read %s: it is a FIFO, not a regular file"
            % fifo) in err


@pytest.mark.parametrize("algorithm, name", [("ED25519", "Ed25519"), ("ED448", "Ed448")])
def test_an_ed25519_or_ed448_key_is_named_not_missing(make_config, tmp_path, algorithm, name):
    openssl = openssl_in(str(tmp_path))
    openssl("genpkey", "-algorithm", algorithm, "-out", "key.pem")
    openssl("req", "-x509", "-new", "-key", "key.pem", "-subj", "/CN=mail.example.com",
            "-addext", "subjectAltName=DNS:mail.example.com", "-days", "30", "-out", "cert.pem")
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    directory = make_config()
    said = ("fatal: the key in %s is an %s key, and postfix-tls deploys only RSA and ECDSA keys:"
            " nothing deployed" % (key, name))
    for args in (["deploy-acme-cert", key, cert],
                 ["--chain-file", "chains.pem", "deploy-server-cert", cert, key]):
        status, out, err = standalone(directory, *args)
        assert status == 1 and said in err, err
    # Upstream's deploy-server-cert keeps upstream's words.
    status, out, err = standalone(directory, "deploy-server-cert", cert, key)
    assert status == 1 and err.endswith("fatal: no private key found in file: %s\n" % key), err
    assert "chains.pem" not in os.listdir(directory)


# ----- any argv: exit 0 or 1, never a traceback

WORDS = st.sampled_from(["enable-client", "enable-server", "new-server-key",
                         "new-server-cert", "deploy-server-cert", "output-server-csr",
                         "output-server-tlsa", "all-default-client", "all-default-server",
                         "-a", "-b", "-r", "-k", "-h", "-c", "--", "-", "rsa", "ecdsa",
                         "2048", "secp384r1", "dev:/dev/urandom", "mail.example.com",
                         "*.example.com", "key.pem", "cert.pem", "/", "none", "",
                         "--dry-run", "--trace", "--version"])
# No NUL: an argv cannot hold one.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00",
                                      max_codepoint=0x2FF)
               | st.sampled_from(["\udcff", "\udc80", "\n", "\x01", "/", "="]),
               max_size=12)
ARGS = st.lists(st.one_of(WORDS, TEXT), max_size=6)


@pytest.fixture(scope="module")
def quiet_host(tmp_path_factory):
    """A scratch configuration whose postlog prints and returns at once."""
    root = tmp_path_factory.mktemp("hypothesis")
    sbin = root / "sbin"
    sbin.mkdir()
    os.symlink("/usr/sbin/postconf", str(sbin / "postconf"))
    (sbin / "postlog").write_text("#!/bin/sh\nexit 0\n")  # no 1 s sleep on fatal
    (sbin / "postlog").chmod(0o755)
    config = root / "config"
    config.mkdir()
    (config / "main.cf").write_text("compatibility_level = 3.6\nmyhostname = mail.example.com\n")
    old = time.time() - 60
    os.utime(str(config / "main.cf"), (old, old))
    return str(config), str(sbin)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(args=ARGS)
def test_any_argv_exits_0_or_1_without_traceback(args, quiet_host, monkeypatch, capsys):
    config, sbin = quiet_host
    for name, value in postfix_environment(config, {"command_directory": sbin}).items():
        monkeypatch.setenv(name, value)
    before = snapshot(config)
    cwd = os.getcwd()
    try:
        status = cli.main(["--dry-run"] + args)  # a traceback would fail the test
    finally:
        os.chdir(cwd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert status in (0, 1)
    assert snapshot(config) == before
    output = capsys.readouterr()
    assert "Traceback" not in output.out + output.err
    sys.stdout.flush()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_quote_gives_what_shlex_quote_gives(word):
    """Our quote (traces, hints) without shlex's import of re."""
    import shlex

    from postfix_tls.core.validate import quote

    assert quote(word) == shlex.quote(word)


# ----- what Python itself cannot write (issue 28's break-it round)

def test_a_trace_that_cannot_be_written_stops_the_run_and_undoes_it(make_config):
    # --trace's reader goes away once the key is being made: the next step
    # cannot be traced, so it is not taken, and the key is removed.
    directory = make_config()
    before = snapshot(directory)
    process = subprocess.Popen(ours_argv(["--trace", "enable-server"]),
                               env=postfix_environment(directory), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for line in process.stderr:
        if b" genrsa " in line:
            break
    process.stderr.close()
    assert process.wait(timeout=60) == 1
    assert snapshot(directory) == before  # no key, no certificate, main.cf untouched


def test_a_trace_json_file_on_a_full_disk_stops_the_run_with_a_message(make_config, tmp_path):
    directory = make_config()
    before = snapshot(directory)
    status, transcript = run_on_pty(ours_argv(["--trace-json", "/dev/full", "enable-server"]),
                                    postfix_environment(directory))
    assert status == 1
    assert ("fatal: " + messages.TRACE_BROKEN.format(
        option="--trace-json", error="No space left on device")) in transcript, transcript
    assert "Traceback" not in transcript
    assert snapshot(directory) == before


def test_stdout_that_cannot_be_written_is_a_failure_not_a_traceback(make_config, keys):
    directory = make_config(["smtpd_tls_key_file = $DIR/key.pem"],
                            [("key.pem", keys["rsa.key"])])
    with open("/dev/full", "w") as full:
        result = subprocess.run(ours_argv(["output-server-tlsa"]),
                                env=postfix_environment(directory), stdin=subprocess.DEVNULL,
                                stdout=full, stderr=subprocess.PIPE)
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr, result.stderr


def test_a_signal_once_main_cf_names_the_new_files_keeps_them(make_config, tmp_path):
    # postlog, given the info block after postconf -e, sends the run a
    # SIGTERM: main.cf names the new key and certificate by then, so the
    # run completes rather than remove them (Runner.finishing).
    bin_directory = tmp_path / "sbin"
    bin_directory.mkdir()
    for name in ("postconf", "postfix", "postmap", "postlog"):
        os.symlink("/usr/sbin/" + name, str(bin_directory / name))
    os.unlink(str(bin_directory / "postlog"))
    with open(str(bin_directory / "postlog"), "w") as stream:
        stream.write('#!/bin/sh\ntext=$(cat)\n[ -n "$text" ] && kill -TERM $PPID\n'
                     'exec /usr/sbin/postlog "$@" <<EOF\n$text\nEOF\n')
    os.chmod(str(bin_directory / "postlog"), 0o755)
    directory = make_config()
    env = postfix_environment(directory, {"command_directory": str(bin_directory)})
    status = subprocess.run(ours_argv(["enable-server"]), env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            timeout=60).returncode
    values = dict(line.split(" = ", 1) for line in subprocess.run(
        ["/usr/sbin/postconf", "-c", directory, "-n", "smtpd_tls_key_file",
         "smtpd_tls_cert_file"], stdout=subprocess.PIPE,
        universal_newlines=True).stdout.splitlines())
    assert sorted(values) == ["smtpd_tls_cert_file", "smtpd_tls_key_file"]
    assert all(os.path.isfile(path) for path in values.values()), (status, values)
    assert status == 0


def test_a_first_sighting_is_kept_rounded_up_never_down(tmp_path, monkeypatch):
    """The gate's wait runs from the first sighting, kept in whole seconds:
    rounded down, a run at x.999 s let a key in up to a second before a
    whole TTL had passed (with test_acme's 1 s TTL, at once)."""
    from postfix_tls.acme import gate
    from postfix_tls.core.tlsa import Lookup, Served

    class Runner(object):
        def replace_file(self, path, data, mode):
            with open(path, "wb") as stream:
                stream.write(data)

    class Tls(object):
        config_directory = str(tmp_path)
        runner = Runner()

    entry = Lookup("_25._tcp.mail.example.com.", ["3 1 1 " + "ab" * 32], 1)
    entry.nameservers = [Served("ns1.example.com.", "192.0.2.1", ["3 1 1 " + "ab" * 32], 1)]
    monkeypatch.setattr(gate.time, "time", lambda: 1800000000.999)
    seen = gate._seen(Tls(), [entry], [entry.owner])
    assert seen == {("_25._tcp.mail.example.com.", "3 1 1 " + "ab" * 32): 1800000001}


def test_a_gate_keeps_the_first_sightings_of_other_names(tmp_path, monkeypatch):
    """Each SNI name's gate asks of its own owners; one name's run must not
    forget another's first sighting (its wait would start again at every
    run, and its key never get in)."""
    from postfix_tls.acme import gate
    from postfix_tls.core.tlsa import Lookup, Served

    class Log(object):
        def warn(self, lines):
            pass

    class Runner(object):
        def replace_file(self, path, data, mode):
            with open(path, "wb") as stream:
                stream.write(data)

    class Tls(object):
        config_directory = str(tmp_path)
        runner = Runner()
        log = Log()

    record = "3 1 1 " + "ab" * 32
    monkeypatch.setattr(gate.time, "time", lambda: 1800000000)
    for owner in ("_25._tcp.shop.example.org.", "_25._tcp.www.example.net."):
        entry = Lookup(owner, [record], 1)
        entry.nameservers = [Served("ns1.example.com.", "192.0.2.1", [record], 1)]
        gate._seen(Tls(), [entry], [owner])
        monkeypatch.setattr(gate.time, "time", lambda: 1800000100)
    with open(str(tmp_path / "acme-tlsa.seen")) as stream:
        kept = stream.read()
    assert "_25._tcp.shop.example.org. %s 1800000000" % record in kept
    assert "_25._tcp.www.example.net. %s 1800000100" % record in kept


def test_a_signal_while_one_change_finished_stops_the_run_before_the_next():
    """A timer's run deploys several lineages one after another: a SIGTERM
    deferred while the first finished ends the run before the second."""
    import signal

    from postfix_tls.core.runner import Interrupted, Runner

    runner = Runner(dict(os.environ))
    runner.finishing()
    runner.on_sigterm(signal.SIGTERM, None)  # deferred, not raised
    with pytest.raises(Interrupted):
        runner.next_unit()
    runner.next_unit()  # nothing pending: goes on
