"""What the tests share: the programs and paths they run, scratch Postfix
configurations, runs on a pty, wrappers on PATH, and comparisons.

Imported by the tests as ``support`` (pytest puts tests/ on sys.path);
conftest.py holds only fixtures and hooks.  Fakes and real servers have
modules of their own here: fakehost (pytest-subprocess), liveservers (the
DANE tests' Postfix and DNS), older_release (Postfix 2.10, 2.11, 3.4).
"""

import os
import pty
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# make test-hosts runs the differential inside Debian roots with our package
# installed: there the original is at its diverted name, and ours is the
# installed drop-in, run as postfix(1) runs it.
UPSTREAM = os.environ.get("POSTFIX_TLS_UPSTREAM", "/usr/lib/postfix/sbin/postfix-tls-script")
INSTALLED_OURS = os.environ.get("POSTFIX_TLS_OURS")
OURS = INSTALLED_OURS or os.path.join(REPO, "scripts", "postfix-tls-script")
POSTCONF = "/usr/sbin/postconf"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
MYHOSTNAME = "mail.example.com"


def free_port(address="127.0.0.1"):
    """A port on address that nothing holds for TCP or UDP, below the
    kernel's ephemeral range.  A port the kernel hands out (bind to 0) may
    be any client's local port a moment later, and a connection's port makes
    a server's bind fail (unbound exits 1): the CI run of c03acf4 lost a
    test that way.  Below the range only our own pickers choose, at random."""
    low, high = 20000, 32767
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as stream:
            high = min(high, int(stream.read().split()[0]) - 1)
    except OSError:
        pass
    # SystemRandom: pytest plugins may seed every worker's random alike.
    choose = random.SystemRandom().randint
    for _ in range(200):
        # A kernel whose ephemeral range starts low leaves us its choice.
        port = choose(low, high) if high - low >= 1000 else _kernels_choice(address)
        if _bindable(address, port, socket.SOCK_STREAM) and \
                _bindable(address, port, socket.SOCK_DGRAM):
            return port
    raise RuntimeError("no free port on %s between %d and %d" % (address, low, high))


def _kernels_choice(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _bindable(address, port, kind):
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def no_dnspython(directory):
    """directory, for PYTHONPATH: an import of dns fails there."""
    with open(os.path.join(directory, "dns.py"), "w") as stream:
        stream.write("raise ImportError('blocked for the test')\n")
    return directory


def old_dnspython(directory):
    """directory, for PYTHONPATH: a stand-in of Debian 10's dnspython 1.16.
    It has every module dane/lookup.py imports, but not Resolver.resolve():
    without the version check a run would fail half-way.  The stand-in
    has the modules and 1.16's version numbers."""
    package = os.path.join(directory, "dns")
    os.mkdir(package)
    for name in ("__init__", "exception", "flags", "message", "name", "query", "rcode",
                 "rdataclass", "rdatatype", "resolver"):
        open(os.path.join(package, name + ".py"), "w").close()
    with open(os.path.join(package, "version.py"), "w") as stream:
        stream.write("MAJOR = 1\nMINOR = 16\nversion = '1.16.0'\n")
    return directory


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


STAMP = re.compile(r"\d{8}-\d{6}")
# OpenSSL 3 starts each error line with the thread id, new in every process.
OPENSSL_THREAD = re.compile(r"\b[0-9A-F]{12,16}(?=:error:)")


def normalise(text, directory):
    text = STAMP.sub("STAMP", text.replace(directory, "$CONFIG"))
    return OPENSSL_THREAD.sub("THREAD", text)


# The lock our deploying runs hold (postfix_tls/lock.py): made once, never
# written; no configuration.
LOCK_FILE = "postfix-tls.lock"


def snapshot(directory, but=()):
    """{name: (mode, bytes)} of every file in directory, but those named."""
    state = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name in but or not os.path.isfile(path):
            continue
        with open(path, "rb") as stream:
            state[name] = (oct(os.stat(path).st_mode & 0o7777), stream.read())
    return state




def new_files(directory, prefix="", before=()):
    """The names in directory starting with prefix, not among before, sorted."""
    return sorted(name for name in os.listdir(directory)
                  if name.startswith(prefix) and name not in before)


def special_file(directory, kind):
    """A path in directory that is no key or certificate file."""
    path = os.path.join(directory, kind)
    if kind == "fifo":
        os.mkfifo(path)  # openssl -in would wait for a writer forever
    elif kind == "dev-zero":
        os.symlink("/dev/zero", path)  # never ends
    elif kind == "directory":
        os.mkdir(path)
    else:  # 67 MB, sparse: refused by its size, never read
        with open(path, "wb") as stream:
            stream.truncate(67 * 1000 * 1000)
    return path


# What special_file makes, and how postfix-tls names each (after the path).
SPECIAL_FILES = [
    ("fifo", "is a FIFO, not a regular file"),
    ("dev-zero", "is a character device, not a regular file"),
    ("directory", "is a directory, not a regular file"),
    ("huge", "is 67000000 bytes, more than any key and certificate chain (at most 1048576"
             " bytes are read)"),
]


def openssl_wrapper(directory, script):
    """directory/openssl: runs script (sh, openssl's arguments in "$@"), then
    the real openssl unless script exits; returns directory as a string."""
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "openssl")
    with open(path, "w") as stream:
        stream.write("#!/bin/sh\n%s\nexec %s \"$@\"\n" % (script, OPENSSL))
    os.chmod(path, 0o755)
    return directory


def openssl_in(directory):
    """openssl(*args): the real openssl run in directory, quietly, checked
    (for making test keys and certificates)."""
    def openssl(*args):
        subprocess.run([OPENSSL] + list(args), check=True, cwd=directory,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return openssl


def path_with(directory):
    """PATH as postfix(1) gives it, with directory first."""
    return "%s:%s" % (directory, POSTFIX_PATH)
