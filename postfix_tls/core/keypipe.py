"""A private key given to a command on a pipe of its own (Command.key_pipe).

openssl req reads its configuration on stdin, and -key reads a file's
first key only: a chain file's other keys reach it on a pipe, written
whole before the command starts (nothing feeds it while the runner waits),
and never by a write that could block.
"""

import errno
import fcntl
import os

from postfix_tls.core import messages
from postfix_tls.core.command import KEY_PIPE

# What a pipe holds by default on Linux, and far more than any key OpenSSL
# can use (RSA of 16384 bits, the largest, is about 12.6 KB of PEM).
LARGEST_KEY = 65536
# Linux's F_SETPIPE_SZ (2.6.35), which Python 3.6's fcntl does not name.
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class KeyPipeError(Exception):
    """A key that cannot go on a pipe; the text says why."""


def with_key_pipes(commands):
    """The commands with each key_pipe made a pipe: the key written into it
    and its write end closed, KEY_PIPE in argv the read end's /dev/fd/N,
    the text dropped (the trace shows the path, never the key); and the
    read ends, to close once run.  KeyPipeError: a key that cannot go."""
    made, pipes = [], []
    try:
        for command in commands:
            if command.key_pipe is None:
                made.append(command)
                continue
            read_end = _pipe_holding(command.key_pipe.encode("ascii"))
            pipes.append(read_end)
            made.append(command._replace(
                argv=tuple(argument.replace(KEY_PIPE, "/dev/fd/%d" % read_end)
                           for argument in command.argv), key_pipe=None, key_fd=read_end))
    except BaseException:
        for fd in pipes:
            os.close(fd)
        raise
    return tuple(made), pipes


def _pipe_holding(data):
    """The read end of a pipe that holds data, its write end closed."""
    if len(data) > LARGEST_KEY:
        raise KeyPipeError(messages.KEY_PIPE_TOO_LARGE.format(size=len(data),
                                                              largest=LARGEST_KEY))
    read_end, write_end = os.pipe()
    try:
        # Nothing reads the pipe before the command starts: a pipe smaller
        # than the key (a page or two, for a user over the kernel's
        # fs.pipe-user-pages-soft) would block a blocking write for ever.
        os.set_blocking(write_end, False)
        written = _write(write_end, data)
        if written < len(data):
            try:
                fcntl.fcntl(write_end, _F_SETPIPE_SZ, len(data))  # rounded up by the kernel
            except OSError as error:
                raise KeyPipeError(messages.KEY_PIPE_TOO_SMALL.format(
                    size=len(data), error=error.strerror))
            written += _write(write_end, data[written:])
        if written < len(data):
            raise KeyPipeError(messages.KEY_PIPE_TOO_SMALL.format(
                size=len(data), error=os.strerror(errno.EAGAIN)))
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end


def _write(fd, data):
    """How much of data the non-blocking fd took."""
    written = 0
    while written < len(data):
        try:
            written += os.write(fd, data[written:])
        except BlockingIOError:
            break
    return written
