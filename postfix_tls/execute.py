"""The one place that runs external commands and changes files.

Commands are built elsewhere as plain data (:class:`Command`); the
:class:`Runner` runs them, prints the ``--trace`` and ``--trace-json``
records, and in a dry run skips every command that would change state while
still running the ones that only read.  File writes and removals done in
Python go through here too, so that the trace is complete.
"""

import collections
import os
import subprocess
import sys
import time

# How a command's output streams are connected.
CAPTURE = "capture"
INHERIT = "inherit"
DEVNULL = "devnull"
TO_STDOUT = "stdout"  # stderr only: 2>&1

_Command = collections.namedtuple(
    "Command", "argv stdin umask stdout stderr changes reads creates key_type unset_env"
)


class Command(_Command):
    """One external command, as data: nothing here runs it."""

    __slots__ = ()

    def __new__(cls, argv, stdin=None, umask=None, stdout=CAPTURE, stderr=INHERIT,
                changes=False, reads=(), creates=(), key_type=None, unset_env=()):
        # reads/creates name files, key_type says which key type ("rsa",
        # "ec") the command parses or creates: a dry run needs both to plan
        # steps that use files an earlier skipped step would have made.
        # unset_env: environment variables the command runs without.
        return _Command.__new__(cls, tuple(argv), stdin, umask, stdout, stderr,
                                changes, tuple(reads), tuple(creates), key_type,
                                tuple(unset_env))


Result = collections.namedtuple("Result", "returncode stdout dry_run")


class Interrupted(Exception):
    """SIGTERM arrived (SIGINT arrives as KeyboardInterrupt)."""

    def __init__(self, signame):
        Exception.__init__(self, signame)
        self.signame = signame


def _stream(how):
    if how == CAPTURE:
        return subprocess.PIPE
    if how == DEVNULL:
        return subprocess.DEVNULL
    if how == TO_STDOUT:
        return subprocess.STDOUT
    return None


def _quote(arg):
    from .validate import quote
    return quote(arg)


def _printable(text):
    """text as it can be written anywhere: bytes that were not UTF-8
    (surrogateescape) become backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _heredoc_delimiter(text):
    delimiter = "EOF"
    while delimiter in text.splitlines():
        delimiter += "_"
    return delimiter


def _shell_words(command):
    """The command as a line a person could paste into sh."""
    line = " ".join(_quote(arg) for arg in command.argv)
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


def _planned_digest(key_type):
    # Stands in for the digest of a key or certificate that a dry run did
    # not create; equal for a key and its certificate, as the real ones are.
    import hashlib
    return hashlib.sha256(b"planned " + key_type.encode()).digest()


class Runner(object):
    """Runs commands for one invocation, with its environment and options."""

    def __init__(self, env, dry_run=False, trace=None, trace_json=None):
        self.env = env
        self.dry_run = dry_run
        self.trace = trace
        self.trace_json = trace_json
        self.created = []  # files this run created, removed if interrupted
        self._planned = {}  # dry run: file -> key type a skipped step would make
        self._current = ()  # processes running now, for the signal handler
        self.running_text = ""  # the command running now, for messages
        self.ec_reads_rsa = False  # set from "openssl version" (dry run only)

    # ----- tracing

    def _trace_start(self, commands, dry_run):
        if self.trace is None:
            return
        stages = [_shell_words(command) for command in commands]
        stdin = commands[0].stdin
        if stdin is not None:
            # The here-document feeds the first stage: "a <<'EOF' | b".
            delimiter = _heredoc_delimiter(stdin)
            stages[0] += " <<'%s'" % delimiter
        line = " | ".join(stages)
        if stdin is not None:
            line += "\n%s%s" % (stdin, delimiter)
        if dry_run:
            line += "\n# (dry run: not run)"
        self.trace.write(_printable("+ " + line + "\n"))
        self.trace.flush()

    def _trace_end(self, commands, returncodes, seconds, dry_run):
        if self.trace is not None and returncodes[-1]:
            self.trace.write("# exit status %d\n" % returncodes[-1])
            self.trace.flush()
        if self.trace_json is None:
            return
        import json
        for index, (command, returncode) in enumerate(zip(commands, returncodes)):
            stdin = command.stdin
            if index:
                stdin = "<output of previous command>"
            record = collections.OrderedDict((
                ("argv", list(command.argv)),
                ("stdin", stdin),
                ("umask", None if command.umask is None else "%03o" % command.umask),
                ("returncode", returncode),
                ("seconds", round(seconds, 6)),
                ("dry_run", dry_run),
            ))
            self.trace_json.write(json.dumps(record) + "\n")
        self.trace_json.flush()

    def export(self, name, value):
        """Set name in the children's environment, and say so in the trace."""
        self.env[name] = value
        if self.trace is not None:
            self.trace.write(_printable("+ export %s=%s\n" % (name, _quote(value))))
            self.trace.flush()

    def note(self, action, path, mode=None, dry_run=False):
        """Record a file change made in Python (trace only)."""
        if self.trace is not None:
            what = "# %s %s" % (action, path)
            if mode is not None:
                what += " (mode %04o)" % mode
            if dry_run:
                what += " (dry run: not done)"
            self.trace.write(_printable(what + "\n"))
            self.trace.flush()
        if self.trace_json is not None:
            import json
            record = collections.OrderedDict((
                ("action", action),
                ("path", path),
                ("mode", None if mode is None else "%04o" % mode),
                ("dry_run", dry_run),
            ))
            self.trace_json.write(json.dumps(record) + "\n")
            self.trace_json.flush()

    # ----- dry run

    def _skip(self, commands):
        """In a dry run: None to run the commands, else the planned result."""
        if not self.dry_run:
            return None
        planned = [self._planned[path] for command in commands
                   for path in command.reads if path in self._planned]
        if not planned and not any(command.changes for command in commands):
            return None
        for command in commands:
            for path in command.creates:
                self._planned[path] = command.key_type
        if planned:
            key_type = planned[0]
            if not all(self._reads(command.key_type, key_type) for command in commands):
                return Result(1, b"", True)
            return Result(0, _planned_digest(key_type), True)
        return Result(0, b"", True)

    def _reads(self, command_type, key_type):
        """Whether a command for command_type keys accepts a key_type key."""
        return command_type in (None, key_type) or (
            command_type == "ec" and key_type == "rsa" and self.ec_reads_rsa)

    def planned(self, path):
        """True when a dry run skipped the step that would create path."""
        return path in self._planned

    # ----- running

    def _popen(self, command, stdin, stdout):
        old_umask = os.umask(command.umask) if command.umask is not None else None
        try:
            env = self.env
            if command.unset_env:
                env = dict((name, value) for name, value in env.items()
                           if name not in command.unset_env)
            return subprocess.Popen(
                command.argv, stdin=stdin, stdout=stdout,
                stderr=_stream(command.stderr), env=env, close_fds=True)
        finally:
            if old_umask is not None:
                os.umask(old_umask)

    def _start(self, commands):
        """Start a pipeline; returns its processes, or a Result on failure."""
        processes = []
        previous = None
        try:
            for index, command in enumerate(commands):
                if index:
                    stdin = previous.stdout
                elif command.stdin is not None:
                    stdin = subprocess.PIPE
                else:
                    stdin = subprocess.DEVNULL
                last = index == len(commands) - 1
                stdout = _stream(command.stdout) if last else subprocess.PIPE
                process = self._popen(command, stdin, stdout)
                if previous is not None and previous.stdout is not None:
                    previous.stdout.close()  # the next process owns it now
                processes.append(process)
                previous = process
        except OSError as error:
            # As sh does when it cannot execute a program: say so, status 127.
            if commands[len(processes)].stderr == INHERIT:
                sys.stderr.write("postfix-tls: %s: %s\n" % (
                    commands[len(processes)].argv[0], error.strerror))
                sys.stderr.flush()
            for process in processes:
                self._reap(process)
            return Result(127, b"", False)
        return processes

    @staticmethod
    def _reap(process):
        if process.stdout is not None:
            process.stdout.close()
        if process.stdin is not None:
            process.stdin.close()
        process.wait()

    def _finish(self, commands, processes, stdin_text):
        self._current = processes
        try:
            data = None if stdin_text is None else stdin_text.encode("utf-8", "surrogateescape")
            if len(processes) > 1 and processes[0].stdin is not None:
                # A pipeline's input goes to its first stage (a certificate:
                # far less than a pipe holds, so writing it cannot block).
                try:
                    processes[0].stdin.write(data or b"")
                    processes[0].stdin.close()
                except BrokenPipeError:
                    pass
                data = None
            output, _ = processes[-1].communicate(data)
            for process in processes[:-1]:
                process.wait()
        except BaseException:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                process.wait()
            raise
        finally:
            self._current = ()
        return [process.returncode for process in processes], output or b""

    def run(self, *commands):
        """Run one command, or several as a pipeline; returns a Result.

        A pipeline's status and output are its last command's, as in sh.
        """
        sys.stdout.flush()  # keep our output ahead of the child's
        skipped = self._skip(commands)
        self._trace_start(commands, skipped is not None)
        if skipped is not None:
            self._trace_end(commands, [None] * len(commands), 0.0, True)
            return skipped
        started = time.time()
        self.running_text = " | ".join(" ".join(command.argv) for command in commands)
        self._record_creations(commands)
        processes = self._start(commands)
        if isinstance(processes, Result):
            self._trace_end(commands, [127] * len(commands), time.time() - started, False)
            return processes
        returncodes, output = self._finish(commands, processes, commands[0].stdin)
        self._trace_end(commands, returncodes, time.time() - started, False)
        return Result(returncodes[-1], output, False)

    def start_all(self, commands):
        """Start independent commands at the same time; a Running each.

        Read-only commands only (in a dry run they simply run later, one
        by one, when their result is asked for).
        """
        if self.dry_run:
            return [Running(self, command, None) for command in commands]
        sys.stdout.flush()
        running = []
        for command in commands:
            self._trace_start((command,), False)
            started = time.time()  # before the process starts: its whole wall time
            running.append(Running(self, command, self._start((command,)), started))
        return running

    def start(self, command):
        """Start a command whose stdin is written later, by :meth:`Pending.finish`.

        Used to start postlog before main.cf is edited: every Postfix
        program pauses while main.cf is newer than a second or two.
        """
        if self._skip((command,)) is not None:
            return Pending(self, command, None)
        sys.stdout.flush()
        started = time.time()
        return Pending(self, command, self._start((command,)), started)

    def _record_creations(self, commands):
        for command in commands:
            for path in command.creates:
                if not os.path.lexists(path):
                    self.created.append(path)

    # ----- files written by Python

    def create_file(self, path, mode, data=b""):
        """Create path exclusively with mode, holding data; False if it exists."""
        action = "write" if data else "create"
        if self.dry_run:
            self.note(action, path, mode, dry_run=True)
            return True
        old_umask = os.umask(0o077)  # never readable by others, even briefly
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o777)
        except FileExistsError:
            return False
        finally:
            os.umask(old_umask)
        self.created.append(path)
        self.note(action, path, mode)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
        except OSError:
            self.discard(path)
            raise
        return True

    def plan_file(self, path, key_type):
        """Dry run: path would now exist, holding a key_type key."""
        if self.dry_run:
            self._planned[path] = key_type

    def discard(self, *paths):
        """rm -f, for the files among paths that this run created."""
        for path in paths:
            if path not in self.created:
                continue
            self.created.remove(path)
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            self.note("remove", path)

    def discard_created(self):
        """Remove every file this run created (after a failure or a signal)."""
        self.discard(*list(self.created))

    def terminate_children(self):
        for process in self._current:
            if process.poll() is None:
                process.terminate()


class Running(object):
    """A started command; result() waits for it (see :meth:`Runner.start_all`)."""

    def __init__(self, runner, command, processes, started=None):
        self.runner = runner
        self.command = command
        self.processes = processes  # None: not started (dry run)
        self.started = time.time() if started is None else started
        self._result = None

    def result(self):
        if self._result is None:
            if self.processes is None:  # dry run: run it now, if it only reads
                self._result = self.runner.run(self.command)
            else:
                # Named by an interrupt message while we wait for it.
                self.runner.running_text = " ".join(self.command.argv)
                self._result = self._wait(self.command, self.command.stdin)
        return self._result

    def _wait(self, command, stdin_text):
        runner = self.runner
        if isinstance(self.processes, Result):  # it could not be started
            runner._trace_end((command,), [127], time.time() - self.started, False)
            return self.processes
        returncodes, output = runner._finish((command,), self.processes, stdin_text)
        runner._trace_end((command,), returncodes, time.time() - self.started, False)
        return Result(returncodes[0], output, False)


class Pending(Running):
    """A started command waiting for its stdin (see :meth:`Runner.start`)."""

    def finish(self, stdin_text):
        """Write stdin_text (None: nothing) and wait; returns a Result.

        Traced now, when its input is known, rather than when it started.
        """
        command = self.command._replace(stdin=stdin_text or "")
        dry_run = self.processes is None
        self.runner._trace_start((command,), dry_run)
        if dry_run:
            self.runner._trace_end((command,), [None], 0.0, True)
            return Result(0, b"", True)
        return self._wait(command, stdin_text or "")
