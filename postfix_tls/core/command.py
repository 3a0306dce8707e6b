"""External commands as data (:class:`Command`) and what running one gave
(:class:`Result`).  Built by openssl.py, postconf.py and log.py; run,
traced and planned by runner.py, trace.py and plan.py.  Nothing here runs."""

import collections

# How a command's output streams are connected.
CAPTURE = "capture"
INHERIT = "inherit"
DEVNULL = "devnull"
TO_STDOUT = "stdout"  # stderr only: 2>&1

_Command = collections.namedtuple(
    "Command",
    "argv stdin umask stdout stderr changes reads creates key_type unset_env secret_stdin"
    " key_pipe key_fd"
)

# In argv, the path of the pipe a key is given on (Command key_pipe): the
# runner puts the pipe's /dev/fd/N there before the command is traced.
KEY_PIPE = "/dev/fd/KEY"


class Command(_Command):
    """One external command, as data: nothing here runs it."""

    __slots__ = ()

    def __new__(cls, argv, stdin=None, umask=None, stdout=CAPTURE, stderr=INHERIT,
                changes=False, reads=(), creates=(), key_type=None, unset_env=(),
                secret_stdin=False, key_pipe=None, key_fd=None):
        # reads/creates name files, key_type says which key type ("rsa",
        # "ec") the command parses or creates: a dry run needs both to plan
        # steps that use files an earlier skipped step would have made.
        # unset_env: environment variables the command runs without.
        # secret_stdin: stdin is a private key, never traced.
        # key_pipe: a private key's text, given on a pipe of its own (stdin
        # is taken: openssl req's configuration), read at KEY_PIPE in argv;
        # never traced.  key_fd: that pipe's descriptor, once the runner
        # has made it.
        return _Command.__new__(cls, tuple(argv), stdin, umask, stdout, stderr,
                                changes, tuple(reads), tuple(creates), key_type,
                                tuple(unset_env), secret_stdin, key_pipe, key_fd)


# returncode and stdout as a pipeline's last command gave them; dry_run:
# planned, not run; stderr: what it wrote there, when captured (CAPTURE).
Result = collections.namedtuple("Result", "returncode stdout dry_run stderr")
Result.__new__.__defaults__ = (b"",)
