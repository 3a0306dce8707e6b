"""Fixtures: scratch Postfix configurations, test keys, runs on a pty.

Integration and differential tests need Postfix (postconf, postlog) and
openssl; .ci/run installs them.  Without them these tests fail, they are
not skipped.
"""

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# make test-hosts runs the differential inside Debian roots with our package
# installed: there the original is at its diverted name, and ours is the
# installed drop-in, run as postfix(1) runs it.
UPSTREAM = os.environ.get("POSTFIX_TLS_UPSTREAM", "/usr/lib/postfix/sbin/postfix-tls-script")
INSTALLED_OURS = os.environ.get("POSTFIX_TLS_OURS")
OURS = INSTALLED_OURS or os.path.join(REPO, "scripts", "postfix-tls-script")
POSTCONF = "/usr/sbin/postconf"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
MYHOSTNAME = "mail.example.com"


# The PATH postfix(1) gives the script: the scenarios run with it.
POSTFIX_PATH = "/bin:/usr/bin:/sbin:/usr/sbin"


def needs_postfix():
    missing = [path for path in (POSTCONF, "/usr/sbin/postlog", UPSTREAM)
               if not os.path.exists(path)]
    if not shutil.which("openssl", path=POSTFIX_PATH):
        missing.append("openssl on PATH=" + POSTFIX_PATH)
    if missing:
        pytest.fail("needs Postfix and openssl (apt-get install postfix openssl): missing %s"
                    % missing)


def backdate(path):
    # Postfix programs pause while main.cf is a second or two old.
    old = time.time() - 60
    os.utime(path, (old, old))


def write_main_cf(directory, lines):
    path = os.path.join(directory, "main.cf")
    with open(path, "w") as stream:
        stream.write("".join(line + "\n" for line in lines))
    backdate(path)


@pytest.fixture
def make_config(tmp_path):
    """Factory: a scratch config directory with main.cf lines and files."""
    needs_postfix()
    counter = [0]

    def make(main_cf=(), files=(), name=None):
        counter[0] += 1
        directory = str(tmp_path / (name or "config%d" % counter[0]))
        os.mkdir(directory)
        if os.path.exists("/etc/postfix/master.cf"):
            shutil.copy("/etc/postfix/master.cf", directory)
        for target, source in files:
            shutil.copy(source, os.path.join(directory, target))
        lines = ["compatibility_level = 3.6", "myhostname = " + MYHOSTNAME]
        write_main_cf(directory, lines + [line.replace("$DIR", directory) for line in main_cf])
        return directory

    return make


def postfix_environment(config_directory, extra=None):
    """The environment postfix(1) gives postfix-tls-script (Postfix 3.7, Debian)."""
    env = {
        "LANG": "C",
        "MAIL_CONFIG": config_directory,
        "MAIL_LOGTAG": "postfix",
        "PATH": POSTFIX_PATH,
        "command_directory": "/usr/sbin",
        "config_directory": config_directory,
        "daemon_directory": "/usr/lib/postfix/sbin",
        "data_directory": "/var/lib/postfix",
        "mail_owner": "postfix",
        "meta_directory": "/etc/postfix",
        "queue_directory": "/var/spool/postfix",
        "setgid_group": "postdrop",
        "shlib_directory": "/usr/lib/postfix",
    }
    env.update(extra or {})
    return env


def run_on_pty(argv, env=None, cwd=None, timeout=120):
    """Run argv with stdout and stderr on a terminal, as an administrator
    sees it (postlog < 3.8 writes to stderr only then); returns
    (status, transcript with \\r\\n made \\n)."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                                   env=env, cwd=cwd, close_fds=True)
    finally:
        os.close(slave)
    chunks = []
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer has gone
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                # Children (postlog) may still hold the terminal; drain.
                continue
    finally:
        os.close(master)
    status = process.wait(timeout=timeout)
    return status, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def ours_argv(args):
    if INSTALLED_OURS:
        return [INSTALLED_OURS] + list(args)
    return [sys.executable, OURS] + list(args)


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Test keys and certificates, made once with the real openssl."""
    needs_postfix()
    directory = str(tmp_path_factory.mktemp("keys"))

    def openssl(*args, **kwargs):
        subprocess.run([OPENSSL] + list(args), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=directory, **kwargs)

    openssl("genrsa", "-out", "rsa.key", "2048")
    openssl("genrsa", "-out", "rsa2.key", "2048")
    openssl("ecparam", "-param_enc", "named_curve", "-genkey", "-out", "ec.key",
            "-name", "secp256r1")
    for name in ("rsa", "rsa2", "ec"):
        openssl("req", "-x509", "-new", "-key", name + ".key", "-subj", "/CN=" + MYHOSTNAME,
                "-days", "30", "-out", name + ".crt")
    openssl("genrsa", "-aes256", "-passout", "pass:secret", "-out", "encrypted.key", "2048")
    with open(os.path.join(directory, "garbage.pem"), "w") as stream:
        stream.write("this is not a key\n")
    return dict((name, os.path.join(directory, name)) for name in os.listdir(directory))


STAMP = re.compile(r"\d{8}-\d{6}")
# OpenSSL 3 starts each error line with the thread id, new in every process.
OPENSSL_THREAD = re.compile(r"\b[0-9A-F]{12,16}(?=:error:)")


def normalise(text, directory):
    text = STAMP.sub("STAMP", text.replace(directory, "$CONFIG"))
    return OPENSSL_THREAD.sub("THREAD", text)


def snapshot(directory):
    """{name: (mode, bytes)} of every file in directory."""
    state = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, "rb") as stream:
            state[name] = (oct(os.stat(path).st_mode & 0o7777), stream.read())
    return state


def pytest_configure(config):
    config._differential = {"identical": 0, "listed": 0, "failed": 0}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = config._differential
    total = sum(counts.values())
    if total:
        terminalreporter.write_line(
            "differential: %d scenarios against %s: %d identical, %d identical but for "
            "differences listed in README.rst, %d different"
            % (total, UPSTREAM, counts["identical"], counts["listed"], counts["failed"]))
