"""--trace and --trace-json: what ran, as a person could paste it into sh
and as one JSON record per command (and per file changed in Python)."""

import collections
import sys

from postfix_tls.core import messages
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


class TraceBroken(Exception):
    """The trace could not be written: no command or file change may go
    on untraced (what the run did so far is undone as after a failure)."""


class Tracer(object):
    """Writes the trace (shell, a stream or None) and the JSON records (a
    stream or None).  A write that fails (a full disk, a closed pipe) is
    not raised where it happens, perhaps just after a change was made:
    broken says so, and check() stops the run before its next step."""

    def __init__(self, shell=None, json_stream=None):
        self.shell = shell
        self.json_stream = json_stream
        self.broken = None  # the first write error's message

    def check(self):
        """Raise TraceBroken once a write of the trace has failed."""
        if self.broken:
            raise TraceBroken(self.broken)

    def close(self):
        """No more trace: what runs now (the undo, the last message) runs
        untraced rather than not at all."""
        self.shell = self.json_stream = self.broken = None

    def _write(self, stream, option, text):
        if self.broken:
            return
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError) as error:
            self.broken = messages.TRACE_BROKEN.format(
                option=option, error=getattr(error, "strerror", None) or error)
            if stream not in (sys.stdout, sys.stderr):
                try:
                    stream.close()  # what it holds would fail again, at exit
                except (OSError, ValueError):
                    pass  # closed all the same

    def _shell(self, text):
        self._write(self.shell, "--trace", _printable(text))

    def _json(self, record):
        import json  # only with --trace-json: it imports re, a few ms of start-up

        self._write(self.json_stream, "--trace-json", json.dumps(record) + "\n")

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

    def dns_update(self, zone, server, port, key_name, changes, dry_run):
        """An RFC 2136 update (dane/publish.py): what it requires, deletes
        and adds; the TSIG key by name alone, never its secret."""
        if self.shell is not None:
            lines = dns_update_lines(zone, server, port, key_name, changes)
            if dry_run:
                lines.append("(dry run: not sent)")
            self._shell("".join("# %s\n" % line for line in lines))
        if self.json_stream is not None:
            self._json(collections.OrderedDict((
                ("action", "dns-update"), ("zone", zone), ("server", server), ("port", port),
                ("key", key_name), ("changes", changes), ("dry_run", dry_run))))

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


def dns_update_lines(zone, server, port, key_name, changes):
    """An RFC 2136 update as text (the trace's, and a dry run's output):
    where it goes, and per owner what it requires, deletes and adds;
    changes: Change.to_json() documents."""
    lines = ["update %s at %s port %d, signed with TSIG key %s" % (zone, server, port,
                                                                  key_name)]
    for change in changes:
        lines.append("  require %s TLSA = {%s}" % (change["owner"], ", ".join(
            change["records"])) if change["records"] else
            "  require %s TLSA absent" % change["owner"])
        lines += ["  delete %s TLSA %s" % (change["owner"], record)
                  for record in change["delete"]]
        lines += ["  add %s %d TLSA %s" % (change["owner"], change["ttl"], record)
                  for record in change["add"]]
    return lines
