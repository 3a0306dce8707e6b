"""The postconf(1) adapter: every main.cf read and the one write.

Reads ask for several parameters at once and parse ``name = value`` lines,
so that one process answers what upstream asks one process per parameter
for (``postconf -n`` leaves out unset parameters, so ``-h`` output could
not be matched to names).  Answers are kept: a read made early, at the same
time as the start-up checks, is not made again.

A parameter the release lacks has the value "" (unset, for -n), as if
postconf had been asked and had only warned (see release.py).  It is asked
for only while the release is not known yet: then the read starts at once
all the same, and that warning is not shown (see prefetch).
"""

import sys

from postfix_tls.core.command import CAPTURE, DEVNULL, INHERIT, Command
from postfix_tls.core.release import Release

# Reads of the default instance: postconf without MAIL_CONFIG (and without
# -c) reads the compiled-in config_directory, which is what upstream's
# "postconf -c `postconf -dh config_directory` ..." asks for, in one process.
DEFAULT_INSTANCE = "(default instance)"


def parse(output):
    """{name: value} from ``name = value`` lines."""
    values = {}
    for line in output.decode("utf-8", "surrogateescape").splitlines():
        name, sep, value = line.partition(" =")
        if sep:
            values[name] = value[1:]
    return values


class Postconf(object):
    def __init__(self, runner, path, release=None):
        self.runner = runner
        self.path = path
        self.release = release or Release()
        self._values = {}  # (flags, config_directory, name) -> value
        self._lines = {}  # ("-T", "public-key-algorithms") -> output
        self._running = []  # prefetched reads not yet waited for
        self._failed = set()  # (flags, config_directory, name) of reads postconf failed

    def _command(self, args, config_directory=None, hold_stderr=False):
        """postconf ARGS, for MAIL_CONFIG's instance, config_directory's, or
        the default; hold_stderr: shown when the answer is used (_store)."""
        # -T's stderr is not shown (a 3.1+ postconf prints nothing there;
        # releases without -T are not asked, see release.py).
        stderr = DEVNULL if args[0] == "-T" else CAPTURE if hold_stderr else INHERIT
        if config_directory == DEFAULT_INSTANCE:
            return Command([self.path] + list(args), stderr=stderr, unset_env=["MAIL_CONFIG"])
        argv = [self.path]
        if config_directory is not None:
            argv += ["-c", config_directory]
        return Command(argv + list(args), stderr=stderr)

    def _missing(self, flags, names, config_directory):
        return [name for name in names if not self._known(flags, config_directory, name)]

    def _known(self, flags, where, name):
        """Whether a read made (or running) answers ``postconf FLAGS name``."""
        def answers(flags):
            return lambda read: (read[0] == "read" and read[1] == flags and read[3] == where
                                 and name in read[2])
        if (flags, where, name) in self._values or self._wait_for(answers(flags)):
            return True
        if flags == "-x":
            # -nx prints a parameter only when main.cf sets it, and then
            # exactly as -x does: one process can answer both.
            if ("-nx", where, name) not in self._values:
                self._wait_for(answers("-nx"))
            value = self._values.get(("-nx", where, name))
            if value is not None:
                self._values["-x", where, name] = value
                return True
        return False

    def _wait_for(self, wanted):
        """Finish the prefetched read that wanted() picks; False if none."""
        for entry in self._running:
            key, running = entry
            if wanted(key):
                self._running.remove(entry)
                if key[0] == "read":
                    self._store(key[1], key[2], key[3], running.result())
                else:
                    self._lines[key[1]] = running.result()
                return True
        return False

    def _store(self, flags, names, config_directory, result):
        values = parse(result.stdout)
        if result.stderr:
            lacking = [name for name in names
                       if self.release.knows(name) is not True and not self.knows(name)]
            self._show_stderr(result.stderr, lacking)
            values = dict((name, value) for name, value in values.items()
                          if name not in lacking)
        # What -n leaves out is unset (None); for other reads, unknown ("").
        absent = None if flags.startswith("-n") else ""
        for name in names:
            self._values[flags, config_directory, name] = values.get(name, absent)
            if result.returncode:
                self._failed.add((flags, config_directory, name))

    def prefetch(self, reads=(), lines=()):
        """Start reads [(flags, names[, config_directory])] and lines
        [(flag, args...)] at the same time; read() and lines() wait for
        the one they need.

        A read's stderr (postconf's warnings about main.cf) is held until
        its answer is used, and shown then, where upstream, asking one
        postconf at a time, shows it; a read whose answer is never used
        (start-up failed first) shows none, as upstream made none.  A read
        with a name the release may lack (postfix mode knows only "3.1 or
        later" until mail_version comes with openssl_path, see startup.py)
        starts with the others all the same, rather than after
        mail_version (a process more on the start-up's path); its held
        stderr is shown without postconf's warning for a name the release
        turned out to lack (a 3.1 to 3.3 postconf asked for
        smtpd_tls_chain_files)."""
        reads = self._merge_into_nx(reads)
        entries = []
        for read in reads:
            where = read[2] if len(read) > 2 else None
            names = [name for name in self._missing(read[0], read[1], where)
                     if self.release.knows(name) is not False]
            if names:
                entries.append((("read", read[0], tuple(names), where),
                                self._command([read[0]] + names, where, hold_stderr=True)))
        for args in lines:
            if tuple(args) not in self._lines:
                entries.append((("lines", tuple(args), None, None), self._command(args)))
        running = self.runner.start_all([command for _, command in entries])
        self._running += [(key, handle) for (key, _), handle in zip(entries, running)]

    @staticmethod
    def _merge_into_nx(reads):
        """Ask the -x names of an instance with its -nx read, if it has one."""
        reads = [tuple(read) if len(read) > 2 else (read[0], tuple(read[1]), None)
                 for read in reads]
        for index, (flags, names, where) in enumerate(reads):
            x_read = [read for read in reads if read[0] == "-x" and read[2] == where]
            if flags == "-nx" and x_read:
                reads[index] = (flags, tuple(names) + tuple(x_read[0][1]), where)
                reads.remove(x_read[0])
                break
        return reads

    def finish(self):
        """Wait for every prefetched read (none is left running).  A held
        stderr (see prefetch) of a read whose answer was never used is not
        shown: upstream, failing earlier, would not have made the read."""
        while self._running:
            _, running = self._running.pop()
            running.result()

    @staticmethod
    def _show_stderr(text, lacking):
        """Write a held stderr as postconf would have, but for its
        "warning: NAME: unknown parameter" for each name in lacking."""
        unknown = tuple((": warning: %s: unknown parameter" % name).encode() for name in lacking)
        text = b"".join(line for line in text.splitlines(True)
                        if not line.rstrip(b"\n").endswith(unknown))
        if not text:
            return
        sys.stderr.flush()
        stream = getattr(sys.stderr, "buffer", None)
        if stream is not None:
            stream.write(text)
            stream.flush()
        else:
            sys.stderr.write(text.decode("utf-8", "surrogateescape"))
            sys.stderr.flush()

    def read(self, flags, names, config_directory=None):
        """{name: value}, "" for what postconf leaves out (-n: unset)."""
        missing = [name for name in self._missing(flags, names, config_directory)
                   if self.knows(name)]
        if missing:
            result = self.runner.run(self._command([flags] + missing, config_directory))
            self._store(flags, missing, config_directory, result)
        return dict((name, self._values.get((flags, config_directory, name)) or "")
                    for name in names)

    def read_now(self, flags, names):
        """{name: value} as main.cf has them now, asked again (read()
        answers from earlier reads: main.cf may have changed since)."""
        result = self.runner.run(self._command([flags] + list(names)))
        values = parse(result.stdout)
        return dict((name, values.get(name) or "") for name in names)

    def failed(self, flags, names, config_directory=None):
        """Whether postconf failed (main.cf unreadable, say) when it was asked
        for one of names: then read() said "" for what it could not read."""
        return any((flags, config_directory, name) in self._failed for name in names)

    def get(self, flags, name, config_directory=None):
        return self.read(flags, (name,), config_directory)[name]

    def lines(self, *args):
        """Output lines of ``postconf -T ...`` or ``postconf -m``."""
        return self._lines_result(args).stdout.decode("utf-8", "surrogateescape").splitlines()

    def _lines_result(self, args):
        if args not in self._lines and not self._wait_for(
                lambda read: read[0] == "lines" and read[1] == args):
            self._lines[args] = self.runner.run(self._command(args))
        return self._lines[args]

    def knows(self, name):
        """Whether this release has the parameter; reads mail_version when
        only it can tell (start-up asks it with openssl_path, see startup.py)."""
        known = self.release.knows(name)
        if known is None:
            self.release = Release(self.get("-x", "mail_version", DEFAULT_INSTANCE),
                                   self.release.at_least)
            known = self.release.knows(name)
        return bool(known)

    def remove(self, names):
        """One ``postconf -X`` of names (back to their defaults); its status."""
        command = Command([self.path, "-X"] + list(names), stdout=INHERIT, changes=True)
        return self.runner.run(command).returncode

    def edit(self, settings):
        """One ``postconf -e`` with every "name = value" setting; its status."""
        command = Command([self.path, "-e"] + list(settings), stdout=INHERIT,
                          changes=True)
        return self.runner.run(command).returncode
