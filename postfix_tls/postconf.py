"""The postconf(1) adapter: every main.cf read and the one write.

Reads ask for several parameters at once and parse ``name = value`` lines,
so that one process answers what upstream asks one process per parameter
for (``postconf -n`` leaves out unset parameters, so ``-h`` output could
not be matched to names).  Answers are kept: a read made early, at the same
time as the start-up checks, is not made again.
"""

from .execute import INHERIT, Command

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
    def __init__(self, runner, path):
        self.runner = runner
        self.path = path
        self._values = {}  # (flags, config_directory, name) -> value
        self._lines = {}  # ("-T", "public-key-algorithms") -> output lines

    def _command(self, args, config_directory=None):
        """postconf ARGS, for MAIL_CONFIG's instance, config_directory's, or the default."""
        if config_directory == DEFAULT_INSTANCE:
            return Command([self.path] + list(args), stderr=INHERIT, unset_env=["MAIL_CONFIG"])
        argv = [self.path]
        if config_directory is not None:
            argv += ["-c", config_directory]
        return Command(argv + list(args), stderr=INHERIT)

    def _missing(self, flags, names, config_directory):
        return [name for name in names
                if (flags, config_directory, name) not in self._values]

    def _store(self, flags, names, config_directory, result):
        values = parse(result.stdout)
        for name in names:
            self._values[flags, config_directory, name] = values.get(name, "")

    def prefetch(self, reads=(), lines=()):
        """Make reads [(flags, names[, config_directory])] and lines
        [(flag, args...)] at the same time, for later read()s and lines()."""
        reads = [(read[0], self._missing(read[0], read[1], read[2] if len(read) > 2 else None),
                  read[2] if len(read) > 2 else None) for read in reads]
        reads = [read for read in reads if read[1]]
        lines = [tuple(args) for args in lines if tuple(args) not in self._lines]
        commands = [self._command([flags] + names, where) for flags, names, where in reads]
        commands += [self._command(args) for args in lines]
        results = self.runner.run_all(commands)
        for (flags, names, where), result in zip(reads, results):
            self._store(flags, names, where, result)
        for args, result in zip(lines, results[len(reads):]):
            self._lines[args] = result.stdout

    def read(self, flags, names, config_directory=None):
        """{name: value}, "" for what postconf leaves out (-n: unset)."""
        missing = self._missing(flags, names, config_directory)
        if missing:
            result = self.runner.run(self._command([flags] + missing, config_directory))
            self._store(flags, missing, config_directory, result)
        return dict((name, self._values[flags, config_directory, name]) for name in names)

    def get(self, flags, name, config_directory=None):
        return self.read(flags, (name,), config_directory)[name]

    def lines(self, *args):
        """Output lines of ``postconf -T ...`` or ``postconf -m``."""
        if args not in self._lines:
            self._lines[args] = self.runner.run(self._command(args)).stdout
        return self._lines[args].decode("utf-8", "surrogateescape").splitlines()

    def edit(self, settings):
        """One ``postconf -e`` with every "name = value" setting; its status."""
        command = Command([self.path, "-e"] + list(settings), stdout=INHERIT,
                          changes=True)
        return self.runner.run(command).returncode
