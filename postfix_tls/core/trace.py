"""--trace and --trace-json: what ran, as a person could paste it into sh
and as one JSON record per command (and per file changed in Python)."""

import collections

from postfix_tls.core.command import DEVNULL, TO_STDOUT
from postfix_tls.core.validate import quote

# What the trace shows of a private key given on stdin.
SECRET = "<a private key: not shown>"


def _printable(text):
    """text as it can be written anywhere: bytes that were not UTF-8
    (surrogateescape) become backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _heredoc_delimiter(text):
    delimiter = "EOF"
    while delimiter in text.splitlines():
        delimiter += "_"
    return delimiter


def shell_words(command):
    """The command as a line a person could paste into sh."""
    line = " ".join(quote(arg) for arg in command.argv)
    if command.unset_env:
        line = "env %s %s" % (" ".join("-u " + name for name in command.unset_env), line)
    if command.umask is not None:
        line = "(umask %03o; %s)" % (command.umask, line)
    if command.stdout == DEVNULL:
        line += " >/dev/null"
    if command.stderr == DEVNULL:
        line += " 2>/dev/null"
    elif command.stderr == TO_STDOUT:
        line += " 2>&1"
    return line


class Tracer(object):
    """Writes the trace (shell, a stream or None) and the JSON records (a stream or None)."""

    def __init__(self, shell=None, json_stream=None):
        self.shell = shell
        self.json_stream = json_stream

    def _shell(self, text):
        self.shell.write(_printable(text))
        self.shell.flush()

    def _json(self, record):
        import json  # only with --trace-json: it imports re, a few ms of start-up

        self.json_stream.write(json.dumps(record) + "\n")
        self.json_stream.flush()

    def started(self, commands, dry_run):
        """A pipeline (or one command) starts, or a dry run skips it."""
        if self.shell is None:
            return
        stages = [shell_words(command) for command in commands]
        stdin = commands[0].stdin
        if commands[0].secret_stdin:
            stdin = SECRET + "\n"
        if stdin is not None:
            # The here-document feeds the first stage: "a <<'EOF' | b".
            delimiter = _heredoc_delimiter(stdin)
            stages[0] += " <<'%s'" % delimiter
        line = " | ".join(stages)
        if stdin is not None:
            line += "\n%s%s" % (stdin, delimiter)
        if dry_run:
            line += "\n# (dry run: not run)"
        self._shell("+ " + line + "\n")

    def ended(self, commands, returncodes, seconds, dry_run):
        """It ended (returncodes None: a dry run's, not run)."""
        if self.shell is not None and returncodes[-1]:
            self._shell("# exit status %d\n" % returncodes[-1])
        if self.json_stream is None:
            return
        for index, (command, returncode) in enumerate(zip(commands, returncodes)):
            stdin = SECRET if command.secret_stdin else command.stdin
            if index:
                stdin = "<output of previous command>"
            self._json(collections.OrderedDict((
                ("argv", list(command.argv)),
                ("stdin", stdin),
                ("umask", None if command.umask is None else "%03o" % command.umask),
                ("returncode", returncode),
                ("seconds", round(seconds, 6)),
                ("dry_run", dry_run),
            )))

    def exported(self, name, value):
        if self.shell is not None:
            self._shell("+ export %s=%s\n" % (name, quote(value)))

    def file_changed(self, action, path, mode=None, dry_run=False):
        """A file change made in Python: written, created, removed."""
        if self.shell is not None:
            what = "# %s %s" % (action, path)
            if mode is not None:
                what += " (mode %04o)" % mode
            if dry_run:
                what += " (dry run: not done)"
            self._shell(what + "\n")
        if self.json_stream is not None:
            self._json(collections.OrderedDict((
                ("action", action),
                ("path", path),
                ("mode", None if mode is None else "%04o" % mode),
                ("dry_run", dry_run),
            )))
