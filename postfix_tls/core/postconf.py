"""The postconf(1) adapter: every main.cf read and the one write.

Reads ask for several parameters at once and parse ``name = value`` lines,
so that one process answers what upstream asks one process per parameter
for (``postconf -n`` leaves out unset parameters, so ``-h`` output could
not be matched to names).  Answers are kept: a read made early, at the same
time as the start-up checks, is not made again.

A parameter the release lacks is never asked for (see release.py): its
value is "" (unset, for -n), as if postconf had been asked and had only
warned.
"""

from postfix_tls.core.command import DEVNULL, INHERIT, Command
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
        self._deferred = []  # prefetched reads waiting for mail_version (see prefetch)
        self._failed = set()  # (flags, config_directory, name) of reads postconf failed

    def _command(self, args, config_directory=None):
        """postconf ARGS, for MAIL_CONFIG's instance, config_directory's, or the default."""
        # -T's stderr is not shown (a 3.1+ postconf prints nothing there;
        # releases without -T are not asked, see release.py).
        stderr = DEVNULL if args[0] == "-T" else INHERIT
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
        # What -n leaves out is unset (None); for other reads, unknown ("").
        absent = None if flags.startswith("-n") else ""
        for name in names:
            self._values[flags, config_directory, name] = values.get(name, absent)
            if result.returncode:
                self._failed.add((flags, config_directory, name))

    def prefetch(self, reads=(), lines=()):
        """Start reads [(flags, names[, config_directory])] and lines
        [(flag, args...)] at the same time; read() and lines() wait for
        the one they need.  A read with a name the release may lack waits
        until mail_version says (it comes with openssl_path, see
        startup.py), and is then made whole when one of its names is asked
        for: one process, as if it had started now."""
        reads = self._merge_into_nx(reads)
        entries = []
        for read in reads:
            where = read[2] if len(read) > 2 else None
            names = self._missing(read[0], read[1], where)
            if any(self.release.knows(name) is None for name in names):
                self._deferred.append((read[0], tuple(names), where))
                continue
            names = [name for name in names if self.release.knows(name)]
            if names:
                entries.append((("read", read[0], tuple(names), where),
                                self._command([read[0]] + names, where)))
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
        """Wait for every prefetched read (none is left running)."""
        while self._running:
            self._wait_for(lambda read: True)

    def _make_deferred(self, flags, names, where):
        """Make the deferred read that answers one of names, whole."""
        for entry in list(self._deferred):
            read_flags, read_names, read_where = entry
            if read_where != where or not set(read_names) & set(names) or not (
                    read_flags == flags or (read_flags == "-nx" and flags == "-x")):
                continue
            self._deferred.remove(entry)
            known = [name for name in read_names if self.knows(name)]
            if known:
                self._store(read_flags, known, where,
                            self.runner.run(self._command([read_flags] + known, where)))

    def read(self, flags, names, config_directory=None):
        """{name: value}, "" for what postconf leaves out (-n: unset)."""
        self._make_deferred(flags, names, config_directory)
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
