"""One run at a time per configuration directory, for the runs of ours
that change it (deploy-acme-cert, and every run with --chain-file).

Two runs deploying into one chain file, or a hook's run and a timer's,
would each read the file, add their key and rename their version over the
other's: one key lost.  And a run that fails its live check puts back the
files as it found them, over what another run deployed meanwhile.  So
such a run holds an flock(2) on ``postfix-tls.lock`` in the configuration
directory from its first read to its last write; the lock goes with the
process (a run killed by SIGKILL holds it no longer).  A second run waits
a bounded time, then gives up with EXIT_BUSY, naming the holder's pid
(from /proc/locks: the kernel's word, never a stale pid in a file).  The
file is made once and never written again, so a run that changes nothing
leaves the directory byte- and time-identical.

Upstream's nine without our options take no lock: upstream has none, and
they leave the directory as upstream's script does.
"""

import os
import time

from postfix_tls.core import messages

LOCK_FILE = "postfix-tls.lock"
# How long a second run waits: longer than a whole deployment takes
# (DNS, a reload, the live check's -t 30 s), short enough that a hook
# never hangs an ACME client for long.  POSTFIX_TLS_LOCK_WAIT overrides it.
WAIT_SECONDS = 120
MAX_WAIT_SECONDS = 3600
_POLL_SECONDS = 0.1


class Busy(Exception):
    """Another run holds the lock; the text says which."""


def acquire(config_directory, wait_seconds=None):
    """Hold the lock (the descriptor is kept open until the process exits);
    Busy after waiting, OSError when the lock file cannot be made."""
    import fcntl  # only in the runs that lock

    if wait_seconds is None:
        wait_seconds = _wait_seconds()
    path = os.path.join(config_directory, LOCK_FILE)
    # O_NOFOLLOW: a link planted in its place is not followed; close-on-exec
    # (the default for os.open): no child keeps the lock after we exit.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    deadline = time.time() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.time() >= deadline:
                holder = _holder(fd)
                os.close(fd)
                raise Busy(messages.LOCK_BUSY.format(
                    path=path, pid=holder or "unknown", seconds=wait_seconds))
            time.sleep(_POLL_SECONDS)  # a signal ends the wait at once
    return fd


def _holder(fd):
    """The pid /proc/locks gives for the lock on fd's file, or ""."""
    status = os.fstat(fd)
    where = "%02x:%02x:%d" % (os.major(status.st_dev), os.minor(status.st_dev), status.st_ino)
    try:
        with open("/proc/locks") as stream:
            for line in stream:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; a waiter's
                # line has "->" after the number.
                if "FLOCK" in fields and where in fields and "->" not in fields:
                    return fields[fields.index(where) - 1]
    except OSError:
        pass
    return ""


def _wait_seconds():
    value = os.environ.get("POSTFIX_TLS_LOCK_WAIT", "")
    try:
        seconds = float(value) if value else WAIT_SECONDS
    except ValueError:
        return WAIT_SECONDS
    if seconds != seconds:  # nan
        return WAIT_SECONDS
    return min(max(0.0, seconds), MAX_WAIT_SECONDS)  # never "inf": a bounded wait
