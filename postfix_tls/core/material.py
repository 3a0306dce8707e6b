"""Key and certificate files, read only when they are regular files of a
size a key and its chain can have.

A FIFO blocks open() and read() until someone writes to it, a device such
as /dev/zero never ends, a directory or socket cannot be read, and a huge
file would be read whole: none of them is key or certificate material, and
our subcommands must neither hang nor run out of memory on them.  Files
are opened O_NONBLOCK (a FIFO's open returns at once) and judged by
fstat() of what was opened, so a file swapped after a check is caught too;
check() is for a path about to go to openssl as -in, which would block on
a FIFO.  (Upstream's nine test -f, as upstream does: see keys.py.)
"""

import os
import stat

from postfix_tls.core import messages

# The largest file read as keys and certificates.  A PEM certificate is 1
# to 3 KB (a few KB more with a hundred names), a key at most 3.3 KB (RSA
# 4096); a chain file with a key and a chain of five for each of four
# algorithms stays under 100 KB.  1 MiB is ten times that, and read in
# well under a millisecond; a 67 MB "chain" is refused, not read.
MAX_SIZE = 1 << 20

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISSOCK, "a socket"),
)


class NotMaterial(OSError):
    """A path that is not a regular file of a sane size.  An OSError, so
    that callers that handle a missing file handle this too: strerror
    says why after "cannot read PATH: " ("it is a FIFO, ..."), str() says
    it whole ("PATH is a FIFO, ...")."""

    def __init__(self, path, text):
        OSError.__init__(self, None, "it " + text)
        self.filename = path
        self.text = text

    def __str__(self):
        return "%s %s" % (self.filename, self.text)


def _judge(path, info):
    """NotMaterial for what stat said of path, or None: it is material."""
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
        return NotMaterial(path, messages.MATERIAL_NOT_REGULAR.format(kind=kind))
    if info.st_size > MAX_SIZE:
        return NotMaterial(path, messages.MATERIAL_TOO_LARGE.format(
            size=info.st_size, limit=MAX_SIZE))
    return None


def check(path):
    """Raise NotMaterial unless path is a regular file of a sane size, or
    OSError when it cannot be found; before openssl is given path as -in.
    (stat, not open: opening a device may do something.)"""
    error = _judge(path, os.stat(path))
    if error is not None:
        raise error


def problem(path):
    """What keeps path from being read as material ("... is a FIFO, not a
    regular file", "... No such file or directory"), or "" when nothing does."""
    try:
        check(path)
    except NotMaterial as error:
        return str(error)
    except OSError as error:
        return "%s: %s" % (path, error.strerror)
    return ""


def read(path):
    """The bytes of path; NotMaterial (or OSError) when it is no regular
    file of a sane size, or grew past the bound while it was read."""
    check(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        error = _judge(path, os.fstat(fd))  # what was opened, not what was checked
        if error is not None:
            raise error
        chunks, size = [], 0
        while size <= MAX_SIZE:
            chunk = os.read(fd, MAX_SIZE + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_SIZE:
            raise NotMaterial(path, messages.MATERIAL_TOO_LARGE.format(
                size="more than %d" % MAX_SIZE, limit=MAX_SIZE))
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path):
    """path's text: PEM is ASCII; anything else (a byte-order mark, say)
    is kept as UTF-8 where it is, else U+FFFD, for the parser to name."""
    return read(path).decode("utf-8", "replace")
