"""What a new user meets in the first hour (issue: "A mail administrator's
first hour"): standalone output without a terminal, hints that act on the
-c configuration, misplaced options, encrypted keys, the dry run's curve
check, --trace-json times, -h.  Postfix mode is upstream's: the
differential suite checks it.
"""

import fcntl
import json
import os
import pty
import select
import subprocess
import sys
import termios
import time

import pytest

from postfix_tls import subcommands
from postfix_tls.core import messages
from postfix_tls.core import runner as runner_module
from postfix_tls.core.command import Command

from support import POSTFIX_PATH, ours_argv, run_on_pty, snapshot

pytestmark = pytest.mark.postfix


def standalone(args, timeout=60, **kwargs):
    """Ours in standalone mode, stdout and stderr to pipes (no terminal)."""
    result = subprocess.run(ours_argv(args), env={"PATH": POSTFIX_PATH, "LANG": "C"},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=timeout, **kwargs)
    return result.returncode, result.stdout, result.stderr


CREATED = "postfix/postfix-tls-script: New private key and self-signed certificate created."


# 1. Standalone messages reach stderr, exactly once, with or without a terminal

def test_standalone_messages_reach_stderr_without_a_terminal(make_config):
    directory = make_config()
    status, out, err = standalone(["-c", directory, "new-server-key", "-a", "ecdsa"])
    assert status == 0
    assert err.count(CREATED) == 1
    keyfile = [name for name in os.listdir(directory) if name.startswith("eckey-")][0]
    assert os.path.join(directory, keyfile) in err


def test_standalone_messages_appear_once_on_a_terminal(make_config):
    directory = make_config()
    status, transcript = run_on_pty(ours_argv(["-c", directory, "new-server-key"]),
                                    {"PATH": POSTFIX_PATH, "LANG": "C"})
    assert status == 0 and transcript.count(CREATED) == 1


def test_standalone_fatal_messages_reach_stderr_without_a_terminal(tmp_path):
    status, out, err = standalone(["-c", str(tmp_path / "nope"), "all-default-client"])
    assert status == 1
    assert err.count("fatal: no Postfix configuration directory %s!" % (tmp_path / "nope")) == 1


# 2. The printed instructions act on the -c configuration

def _hint(err, word):
    return [line.split("# ", 1)[1] for line in err.splitlines() if "  # " in line
            and word in line][0]


def test_standalone_hints_name_the_configuration_directory(make_config):
    directory = make_config()
    status, out, err = standalone(["-c", directory, "new-server-key"])
    assert status == 0
    deploy = _hint(err, "deploy-server-cert")
    assert deploy.startswith("postfix-tls -c %s deploy-server-cert %s/cert-" % (directory,
                                                                                   directory))
    assert _hint(err, "output-server-csr").startswith("postfix-tls -c %s " % directory)
    assert _hint(err, "output-server-tlsa").startswith("postfix-tls -c %s " % directory)
    # Pasted, the deploy hint deploys into this configuration.
    status, out, err = standalone(deploy.split()[1:])
    assert status == 0, err
    assert _hint(err, "reload") == "postfix -c %s reload" % directory
    with open(os.path.join(directory, "main.cf")) as stream:
        assert "smtpd_tls_cert_file = %s/cert-" % directory in stream.read()


def test_standalone_enable_client_suggests_reloading_this_instance(make_config):
    directory = make_config()
    status, out, err = standalone(["-c", directory, "enable-client"])
    assert status == 0 and _hint(err, "reload") == "postfix -c %s reload" % directory


def test_standalone_suggestion_names_the_configuration_directory(make_config):
    directory = make_config(["smtpd_use_tls = yes"])
    status, out, err = standalone(["-c", directory, "enable-server"])
    assert status == 0
    assert 'You can use "postfix-tls -c %s new-server-cert"' % directory in err


# 3. Our options after the subcommand

@pytest.mark.parametrize("args, option", [
    (["enable-server", "-c", "$DIR"], "-c $DIR"),
    (["new-server-key", "--dry-run"], "--dry-run"),
    (["new-server-key", "mail.example.com", "--dry-run"], "--dry-run"),
    (["output-server-tlsa", "--trace"], "--trace"),
])
def test_options_after_the_subcommand_say_where_they_go(args, option, make_config):
    directory = make_config()
    before = snapshot(directory)
    args = [arg.replace("$DIR", directory) for arg in args]
    option = option.replace("$DIR", directory)
    status, out, err = standalone(["-c", directory] + args)
    assert status == 1
    hint = "postfix-tls: %s goes before the subcommand: postfix-tls " % option
    assert hint in err
    if option.startswith("-c"):
        assert "postfix-tls %s %s ..." % (option, args[0]) in err
    else:
        assert "postfix-tls -c %s %s %s ..." % (directory, option, args[0]) in err
    assert snapshot(directory) == before


def test_options_after_the_subcommand_in_postfix_mode_add_a_line(make_config):
    from support import postfix_environment
    directory = make_config()
    status, transcript = run_on_pty(ours_argv(["new-server-key", "--dry-run"]),
                                    postfix_environment(directory))
    assert status == 1
    lines = transcript.splitlines()
    assert lines[-2] == ("postfix/postfix-tls-script: fatal: "
                         + subcommands.find("new-server-key").usage)
    assert lines[-1] == ("postfix-tls: --dry-run goes before the subcommand: "
                         "postfix tls --dry-run new-server-key ...")


def test_misplaced_option_hint_shows_a_non_text_subcommand_escaped(make_config):
    """Found by hypothesis on Python 3.6: the hint wrote the raw surrogate."""
    directory = make_config()
    result = subprocess.run(ours_argv(["-c", directory, "\udcff", "--dry-run"]),
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stderr=subprocess.PIPE)
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    assert b"postfix-tls: --dry-run goes before the subcommand: postfix-tls -c %s --dry-run " \
           b"\\udcff ..." % directory.encode() in result.stderr


def test_h_is_help_in_standalone_mode():
    status, out, err = standalone(["-h"])
    assert status == 0 and "deploy-server-cert certfile keyfile" in out


# 4. Passphrase-protected keys

def test_encrypted_key_without_a_terminal_fails_at_once(make_config, keys):
    directory = make_config(files=[("enc.pem", keys["encrypted.key"])])
    started = time.time()
    status, out, err = standalone(["-c", directory, "output-server-csr", "-k", "enc.pem"],
                                  timeout=20)
    assert status == 1 and time.time() - started < 10
    assert ("fatal: the private key in %s/enc.pem is encrypted (passphrase-protected), and "
            "there is no terminal to ask for its pass phrase" % directory) in err
    assert "BEGIN CERTIFICATE REQUEST" not in out


def test_encrypted_key_on_a_terminal_asks_for_the_pass_phrase(make_config, keys):
    """As upstream: openssl prompts on the terminal, and the CSR follows."""
    directory = make_config(files=[("enc.pem", keys["encrypted.key"])])
    master, slave = pty.openpty()
    name = os.ttyname(slave)

    def controlling_terminal():
        os.setsid()
        fd = os.open(name, os.O_RDWR)  # the first terminal opened becomes ours
        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(ours_argv(["-c", directory, "output-server-csr", "-k",
                                          "enc.pem"]),
                               env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdin=slave,
                               stdout=slave, stderr=slave, preexec_fn=controlling_terminal)
    os.close(slave)
    seen, answered = b"", False
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                seen += data
                if not answered and b"pass phrase" in seen:
                    os.write(master, b"secret\n")
                    answered = True
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    assert process.wait(timeout=10) == 0
    assert answered and b"-----BEGIN CERTIFICATE REQUEST-----" in seen


@pytest.mark.parametrize("args", [["deploy-server-cert", "cert.pem", "enc.pem"],
                                  ["output-server-tlsa", "enc.pem"]])
def test_encrypted_key_is_named_as_such(args, make_config, keys):
    directory = make_config(files=[("enc.pem", keys["encrypted.key"]),
                                   ("cert.pem", keys["rsa.crt"])])
    status, out, err = standalone(["-c", directory] + args)
    assert status == 1
    path = directory + "/enc.pem"
    assert err.splitlines()[-2].endswith(messages.KEY_ENCRYPTED.format(path))
    assert err.splitlines()[-1].endswith("fatal: no private key found in file: " + path)


# 5. The dry run knows which curves openssl knows

@pytest.mark.parametrize("curve", ["notacurve", "256"])
def test_dry_run_predicts_an_unknown_curve(curve, make_config):
    directory = make_config()
    before = snapshot(directory)
    dry = standalone(["-c", directory, "--dry-run", "new-server-key", "-a", "ecdsa",
                      "-b", curve])
    real = standalone(["-c", directory, "new-server-key", "-a", "ecdsa", "-b", curve])
    assert dry[0] == real[0] == 1
    message = "fatal: %serror generating new ecdsa %s private key"
    assert message % ("(dry run) ", curve) in dry[2]
    assert message % ("", curve) in real[2]
    assert snapshot(directory) == before


def test_dry_run_accepts_a_curve_openssl_knows(make_config):
    directory = make_config()
    status, out, err = standalone(["-c", directory, "--dry-run", "new-server-key", "-a",
                                   "ecdsa", "-b", "secp384r1"])
    assert status == 0 and "(dry run) New private key" in err


# 7. --trace-json: a command's time runs from before its process starts

def test_trace_json_times_include_starting_the_process(monkeypatch, tmp_path):
    clock = [1000.0]
    monkeypatch.setattr(runner_module.time, "time", lambda: clock[0])
    records = []

    class Sink(object):
        def write(self, text):
            records.append(json.loads(text))

        def flush(self):
            pass

    runner = runner_module.Runner(dict(os.environ), trace_json=Sink())
    real_popen = runner._popen

    def slow_popen(*args):
        clock[0] += 1.0  # starting the process takes a second
        return real_popen(*args)

    monkeypatch.setattr(runner, "_popen", slow_popen)
    command = Command([sys.executable, "-c", "pass"])
    for running in runner.start_all([command]):
        running.result()
    runner.start(command._replace(stdin="")).finish(None)
    assert [record["seconds"] for record in records] == [1.0, 1.0]



# 9. make help

def test_make_help_has_a_line_for_every_target():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(["make", "-s", "-C", repo, "help"], stdout=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 0
    with open(os.path.join(repo, "Makefile")) as stream:
        makefile = stream.read().replace("\\\n", " ")  # join continued lines
    phony = [line for line in makefile.splitlines() if line.startswith(".PHONY:")][0]
    listed = " ".join(line.split()[1] for line in result.stdout.splitlines() if line.strip())
    for target in phony.replace("\\", " ").split()[1:]:
        if target not in ("help", "deps", "venv", "debootstrap"):
            assert target in listed + result.stdout, target
