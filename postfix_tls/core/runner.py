"""The one place that runs external commands and changes files.

Commands are built elsewhere as plain data (command.py); the
:class:`Runner` runs them, one at a time, as a pipeline, or several at
once.  It asks the dry run's :class:`~postfix_tls.core.plan.Plan` which to skip
and tells the :class:`~postfix_tls.core.trace.Tracer` what ran.  File writes
and removals done in Python go through here too, so that the trace is
complete and a failure or a signal can remove what this run created.
"""

import os
import subprocess
import sys
import time

from postfix_tls.core.changes import FileChanges
from postfix_tls.core.command import CAPTURE, DEVNULL, INHERIT, TO_STDOUT, Result
from postfix_tls.core.plan import Plan
from postfix_tls.core.trace import Tracer

# As sh says when it cannot execute a program.
_CANNOT_RUN = 127
# A command that ended this recently is still what a signal interrupted.
_JUST_ENDED = 0.5


class Interrupted(BaseException):
    """SIGTERM arrived (SIGINT arrives as KeyboardInterrupt)."""

    def __init__(self, signame):
        BaseException.__init__(self, signame)
        self.signame = signame


def _stream(how):
    if how == CAPTURE:
        return subprocess.PIPE
    if how == DEVNULL:
        return subprocess.DEVNULL
    if how == TO_STDOUT:
        return subprocess.STDOUT
    return None


class _Pipeline(object):
    """Started processes of one pipeline, or none: it could not start."""

    def __init__(self, commands, processes, started, could_start=True):
        self.commands = commands
        self.processes = processes
        self.started = started  # before the first process: its whole wall time
        self.could_start = could_start


class Runner(FileChanges):
    """Runs commands for one invocation, with its environment and options;
    the files it changes in Python, and how they are put back, are
    FileChanges' (changes.py)."""

    def __init__(self, env, dry_run=False, trace=None, trace_json=None):
        self.env = env
        self.plan = Plan(dry_run)
        self.tracer = Tracer(trace, trace_json)
        FileChanges.__init__(self)
        self._unwaited = []  # every process started and not yet waited for
        self._starting = False  # SIGTERM waits while processes are being started
        self._pending = None
        self._finishing = False  # see finishing()
        self.running_text = ""  # the command running now, for messages
        self._ended = None  # when it ended

    @property
    def dry_run(self):
        return self.plan.dry_run

    def doing(self, text):
        """What the run is doing now (a command, a wait), for an interrupt's message."""
        self.running_text = text
        self._ended = None

    def interrupted_text(self):
        """What a signal interrupted, for its message: the command running,
        or one that ended an instant ago (a signal to the process group
        ends the child first); never one that ended long before."""
        if self._ended is not None and time.time() - self._ended > _JUST_ENDED:
            return ""
        return self.running_text

    def export(self, name, value):
        """Set name in the children's environment, and say so in the trace."""
        self.env[name] = value
        self.tracer.exported(name, value)

    def on_sigterm(self, signum, frame):
        """SIGTERM's handler: Interrupted; but while a process is being
        started, only once it is known (one started and not yet known would
        be left running: a postconf -e finishing after the old main.cf was
        put back)."""
        if self._starting or self._finishing:
            self._pending = "SIGTERM"
            return
        raise Interrupted("SIGTERM")

    def on_sigint(self, signum, frame):
        """SIGINT's handler: KeyboardInterrupt, as Python's own, but not
        once the run is finishing (see :meth:`finishing`)."""
        if self._finishing:
            self._pending = "SIGINT"
            return
        raise KeyboardInterrupt()

    def next_unit(self):
        """A run that makes several changes one after another (a timer's
        deploy of several lineages): the one before is finished; a signal
        that came while it was finishing ends the run now, before the next
        one starts."""
        self._finishing = False
        if self._pending:
            signame, self._pending = self._pending, None
            if signame == "SIGINT":
                raise KeyboardInterrupt()
            raise Interrupted(signame)

    def finishing(self):
        """The change is made and verified, nothing is to be put back (or
        removed: main.cf may name what this run created): a signal no
        longer ends the run as a failure, and what is left (the log line,
        the output) is done before it exits."""
        del self.replaced[:]
        del self.created[:]
        self._finishing = True

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
                stderr=_stream(command.stderr), env=env, close_fds=True,
                pass_fds=() if command.key_fd is None else (command.key_fd,))
        finally:
            if old_umask is not None:
                os.umask(old_umask)

    def _start(self, commands):
        """Start a pipeline (see :class:`_Pipeline`)."""
        started = time.time()
        processes = []
        previous = None
        self._starting = True
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
                self._unwaited.append(process)
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
            return _Pipeline(commands, [], started, could_start=False)
        finally:
            self._starting = False
        if self._pending and not self._finishing:
            signame, self._pending = self._pending, None
            raise Interrupted(signame)  # terminate_children knows them now
        return _Pipeline(commands, processes, started)

    def _reap(self, process):
        if process.stdout is not None:
            process.stdout.close()
        if process.stdin is not None:
            process.stdin.close()
        process.wait()
        self._waited(process)

    def _waited(self, process):
        if process in self._unwaited:
            self._unwaited.remove(process)

    def _communicate(self, processes, stdin_text):
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
            output, errors = processes[-1].communicate(data)
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
            for process in processes:
                if process.returncode is not None:
                    self._waited(process)
        return [process.returncode for process in processes], output or b"", errors or b""

    def wait(self, pipeline, stdin_text, commands=None):
        """Write stdin_text, wait for the pipeline to end; its Result, traced.

        commands: as the trace shows them, when not as they started (a
        postlog started before its input was known).
        """
        commands = commands or pipeline.commands
        if not pipeline.could_start:
            self.tracer.ended(commands, [_CANNOT_RUN] * len(commands),
                              time.time() - pipeline.started, False)
            return Result(_CANNOT_RUN, b"", False)
        returncodes, output, errors = self._communicate(pipeline.processes, stdin_text)
        self._ended = time.time()
        self.tracer.ended(commands, returncodes, time.time() - pipeline.started, False)
        return Result(returncodes[-1], output, False, errors)

    def run(self, *commands):
        """Run one command, or several as a pipeline; returns a Result.

        A pipeline's status and output are its last command's, as in sh.
        """
        sys.stdout.flush()  # keep our output ahead of the child's
        pipes = []
        if any(command.key_pipe is not None for command in commands):
            # Loaded only here: one subcommand, in one case, gives a key so.
            from postfix_tls.core.keypipe import with_key_pipes

            commands, pipes = with_key_pipes(commands)
        try:
            skipped = self.plan.skip(commands)
            self.tracer.started(commands, skipped is not None)
            self.tracer.check()  # nothing runs untraced
            if skipped is not None:
                self.tracer.ended(commands, [None] * len(commands), 0.0, True)
                return skipped
            self.doing(" | ".join(" ".join(command.argv) for command in commands))
            self._record_creations(commands)
            return self.wait(self._start(commands), commands[0].stdin)
        finally:
            for fd in pipes:
                os.close(fd)

    def start_all(self, commands):
        """Start independent commands at the same time; a Running each.

        Read-only commands only (in a dry run they simply run later, one
        by one, when their result is asked for).
        """
        self.tracer.check()
        if self.dry_run:
            return [Running(self, command, None) for command in commands]
        sys.stdout.flush()
        running = []
        for command in commands:
            self.tracer.started((command,), False)
            self.tracer.check()
            running.append(Running(self, command, self._start((command,))))
        return running

    def start(self, command):
        """Start a command whose stdin is written later, by :meth:`Pending.finish`.

        Used to start postlog before main.cf is edited: every Postfix
        program pauses while main.cf is newer than a second or two.
        """
        self.tracer.check()
        if self.plan.skip((command,)) is not None:
            return Pending(self, command, None)
        sys.stdout.flush()
        return Pending(self, command, self._start((command,)))

    def _record_creations(self, commands):
        for command in commands:
            for path in command.creates:
                if not os.path.lexists(path):
                    self.created.append(path)

    def terminate_children(self):
        """Terminate every child still running, and wait for each: none may
        go on (and change a file) while what it did is being undone."""
        for process in self._unwaited:
            if process.poll() is None:
                process.terminate()
        for process in list(self._unwaited):
            process.wait()
            self._waited(process)


class Running(object):
    """A started command; result() waits for it (see :meth:`Runner.start_all`)."""

    def __init__(self, runner, command, pipeline):
        self.runner = runner
        self.command = command
        self.pipeline = pipeline  # None: not started (dry run)
        self._result = None

    def result(self):
        if self._result is None:
            if self.pipeline is None:  # dry run: run it now, if it only reads
                self._result = self.runner.run(self.command)
            else:
                # Named by an interrupt message while we wait for it.
                self.runner.doing(" ".join(self.command.argv))
                self._result = self.runner.wait(self.pipeline, self.command.stdin)
        return self._result


class Pending(Running):
    """A started command waiting for its stdin (see :meth:`Runner.start`)."""

    def finish(self, stdin_text):
        """Write stdin_text (None: nothing) and wait; returns a Result.

        Traced now, when its input is known, rather than when it started.
        """
        command = self.command._replace(stdin=stdin_text or "")
        dry_run = self.pipeline is None
        self.runner.tracer.started((command,), dry_run)
        if dry_run:
            self.runner.tracer.ended((command,), [None], 0.0, True)
            return Result(0, b"", True)
        return self.runner.wait(self.pipeline, stdin_text or "", (command,))
