"""Messages to the administrator, through postlog(1) as upstream sends them.

A single message goes as postlog's argument; a block of lines goes on its
stdin, one postlog process per block, as upstream's ``... | $INFO`` does.
When postlog cannot be run, or fails, the lines go to stderr in postlog's
own format instead, so that no message is lost.

In standalone mode (echo) every message also goes to stderr, exactly once:
postlog before Postfix 3.8 writes there only when stderr is a terminal,
and scripts, cron and configuration management have none.  postlog then
logs with its stderr closed, and we write each line ourselves.
"""

import sys
import time

from postfix_tls.core.command import DEVNULL, INHERIT, Command
from postfix_tls.core.messages import DRY_RUN_MARK, PROGRAM

# postlog(1) prints no level for info.
_LEVEL_LABELS = {"info": "", "warn": "warning: ", "error": "error: ", "fatal": "fatal: "}

# This run's fatal messages, in order, whichever logger said them: a status
# run that ends before its report shows the last as its UNKNOWN line
# (status.always_a_line), and --json's error object repeats it (cli.main).
FATAL_TEXTS = []


class Logger(object):
    def __init__(self, runner, postlog, logtag, echo=False):
        self.runner = runner
        self.tag = "%s/%s" % (logtag, PROGRAM)
        self.postlog = postlog
        self.echo = echo

    def _command(self, level, args=(), stdin=None):
        argv = [self.postlog, "-t", self.tag, "-p", level] + list(args)
        return Command(argv, stdin=stdin, stdout=INHERIT, changes=True,
                       stderr=DEVNULL if self.echo else INHERIT)

    def _fallback(self, level, lines, marked=False):
        mark = DRY_RUN_MARK if marked else ""
        for line in lines:
            text = "%s: %s%s%s\n" % (self.tag, _LEVEL_LABELS[level], mark, line)
            sys.stderr.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))
        sys.stderr.flush()

    def _after(self, result, level, lines):
        if result.dry_run:
            self._fallback(level, lines, marked=True)
        elif self.echo or (result.returncode and not (level == "fatal"
                                                      and result.returncode == 1)):
            # postlog -p fatal exits 1 after logging; anything else failed.
            self._fallback(level, lines)

    def message(self, level, text):
        """One message, as postlog's argument."""
        self._after(self.runner.run(self._command(level, [text])), level, [text])

    def block(self, level, lines):
        """Lines, one message each, on postlog's stdin."""
        lines = list(lines)
        text = "".join(line + "\n" for line in lines)
        self._after(self.runner.run(self._command(level, stdin=text)), level, lines)

    def start_block(self, level):
        """A block whose lines are known later: :meth:`PendingBlock.finish`.

        Started early, postlog reads main.cf while other commands run, and
        before main.cf is edited (every Postfix program pauses while main.cf
        is a second or two old).  Used as a context manager, the block is
        closed empty when the subcommand fails before logging it.
        """
        return PendingBlock(self, level, self.runner.start(self._command(level, stdin="")))

    def record(self, lines):
        """Info lines for the mail log alone (what a run changed), not echoed:
        the subcommand prints them itself."""
        lines = list(lines)
        command = self._command("info", stdin="".join(line + "\n" for line in lines))
        self.runner.run(command._replace(stderr=DEVNULL))

    def warn(self, lines):
        self.block("warn", lines)

    def error(self, text):
        self.message("error", text)

    def fatal(self, text):
        """Log text as fatal; postlog -p fatal sleeps 1 s by design.

        (Info blocks go through start_block: every one is started early.)
        """
        FATAL_TEXTS.append(text)
        self.message("fatal", text)


class PendingBlock(object):
    def __init__(self, logger, level, pending):
        self.logger = logger
        self.level = level
        self.pending = pending

    def finish(self, lines):
        """Log lines (none: nothing) through the started postlog."""
        lines = list(lines)
        text = "".join(line + "\n" for line in lines) if lines else None
        pending, self.pending = self.pending, None
        self.logger._after(pending.finish(text), self.level, lines)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        if self.pending is not None:
            self.finish(())


def fallback_fatal(text):
    """Upstream's last resort when no postlog runs: stderr, then sleep 1."""
    FATAL_TEXTS.append(text)
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
    time.sleep(1)
