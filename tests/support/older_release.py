"""Stand-ins for older Postfix releases, driven by what those releases answer.

``install(directory, "2.10.10")`` writes ``directory/postconf`` and
``directory/postlog``: each passes every call to this machine's real
postconf or postlog, except where the release differs, and there it
answers exactly as tests/reference/older-postfix.txt recorded that release
answering (Postfix 2.10.10, 2.11.11 and 3.4.29, built from the released
sources):

- a parameter missing from the release's ``postconf -d``
  (tests/reference/postconf-d/postfix-VERSION.txt) is not passed on: the
  release warns "NAME: unknown parameter" on stderr, prints nothing and
  exits 0 (``-n`` of one that main.cf sets also warns "unused parameter");
- ``-T`` before 3.1: "invalid option" and the release's usage, exit 1;
- ``-d`` reads: the release's recorded defaults; ``mail_version``: the release's;
- ``-m``: the release's map types;
- postlog before 3.0: ``-p fatal`` returns at once with exit status 0.

Every call that asks what the release does not know (an unknown parameter,
``-T`` before 3.1) is also appended to ``directory/unknown.log``: the tests
assert that ours never makes one.

Run as a program: ``older_release.py postconf|postlog ARGV0 VERSION ARGS...``.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(os.path.dirname(HERE), "reference")
RELEASES = ("2.10.10", "2.11.11", "3.4.29")
REAL_POSTCONF = "/usr/sbin/postconf"
REAL_POSTLOG = "/usr/sbin/postlog"
# postconf's options that take a value (-o since 2.11, -T since 3.1).
_VALUED = "cCoT"

_WRAPPER = """#!/bin/sh
exec %s %s %s "$0" %s "$@"
"""


def version_tuple(version):
    return tuple(int(part) for part in version.split("."))


class Recording(object):
    """What one release answered, as tests/reference records it."""

    def __init__(self, version):
        self.version = version
        self.defaults = _defaults(version)
        self.calls = _calls(version)

    def answer(self, command):
        """(stdout lines, stderr lines, exit) recorded for "$ /usr/sbin/postconf COMMAND"."""
        return self.calls["/usr/sbin/postconf " + command]


def _defaults(version):
    path = os.path.join(REFERENCE, "postconf-d", "postfix-%s.txt" % version)
    defaults = {}
    with open(path) as stream:
        for line in stream:
            name, _, value = line.rstrip("\n").partition(" = ")
            defaults[name.rstrip(" =")] = value
    return defaults


def _calls(version):
    """{command line: (stdout lines, stderr lines, exit)} of the release's section."""
    with open(os.path.join(REFERENCE, "older-postfix.txt")) as stream:
        text = stream.read()
    sections = re.split(r"^== Postfix: mail_version = (\S+)$", text, flags=re.M)
    section = sections[sections.index(version) + 1]
    calls = {}
    for block in section.split("\n$ ")[1:]:
        lines = block.split("\n")
        command = lines[0].split("   #")[0]
        out = [line[len("stdout: "):] for line in lines if line.startswith("stdout: ")]
        err = [line[len("stderr: "):] for line in lines if line.startswith("stderr: ")]
        status = [int(line[len("exit: "):]) for line in lines if line.startswith("exit: ")]
        calls[command] = (out, err, status[0] if status else 0)
    return calls


def install(directory, version):
    """postconf and postlog of release version in directory; returns directory."""
    os.makedirs(directory, exist_ok=True)
    for program in ("postconf", "postlog"):
        path = os.path.join(directory, program)
        with open(path, "w") as stream:
            stream.write(_WRAPPER % (sys.executable, os.path.abspath(__file__), program,
                                     version))
        os.chmod(path, 0o755)
    open(os.path.join(directory, "unknown.log"), "a").close()
    return directory


def unknown_calls(directory):
    """The calls that asked the release what it does not know."""
    with open(os.path.join(directory, "unknown.log")) as stream:
        return [line.rstrip("\n") for line in stream]


# ----- the programs

def _split(args):
    """(flag letters, [(letter, value)], operands), as postconf's getopt does."""
    letters, valued, index = "", [], 0
    while index < len(args) and args[index].startswith("-") and args[index] != "-":
        arg = args[index]
        if arg == "--":
            index += 1
            break
        position = 1
        while position < len(arg):
            letter = arg[position]
            if letter in _VALUED:
                value = arg[position + 1:] or (args[index + 1] if index + 1 < len(args) else "")
                if not arg[position + 1:]:
                    index += 1
                valued.append((letter, value))
                break
            letters += letter
            position += 1
        index += 1
    return letters, valued, args[index:]


def _note_unknown(argv0, text):
    with open(os.path.join(os.path.dirname(argv0), "unknown.log"), "a") as stream:
        stream.write(text + "\n")


def postconf(argv0, version, args):
    recording = Recording(version)
    release = version_tuple(version)
    letters, valued, names = _split(args)
    option_args = [word for letter, value in valued for word in ("-" + letter, value)]
    if "T" in dict(valued) and release < (3, 1):
        _note_unknown(argv0, "postconf " + " ".join(args))
        out, err, status = recording.answer("-T " + dict(valued)["T"])
        sys.stderr.write("".join(line.replace("/usr/sbin/postconf", argv0) + "\n"
                                 for line in err))
        return status
    if "m" in letters:
        out, _, status = recording.answer("-m")
        sys.stdout.write("".join(line + "\n" for line in out))
        return status
    if "e" in letters or "#" in letters or "X" in letters or not names:
        return subprocess.call([REAL_POSTCONF] + args)
    status = 0
    known = []

    def flush():
        # The names known to the release, in one real postconf.
        if known:
            sys.stdout.flush()
            flags = ["-" + letters] if letters else []
            code = subprocess.call([REAL_POSTCONF] + flags + option_args + known)
            del known[:]
            return code
        return 0

    for name in names:
        if name not in recording.defaults:
            status = flush() or status
            _note_unknown(argv0, "postconf %s: %s" % (" ".join(args), name))
            sys.stderr.write("%s: warning: %s: unknown parameter\n" % (argv0, name))
            if "n" in letters:
                set_in_main_cf = subprocess.run(
                    [REAL_POSTCONF, "-n"] + option_args + [name], stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL).stdout.decode().strip()
                if set_in_main_cf:
                    sys.stderr.write("%s: warning: %s/main.cf: unused parameter: %s\n" % (
                        argv0, _config_directory(valued),
                        set_in_main_cf.replace(" = ", "=", 1)))
        elif "d" in letters or name == "mail_version":
            status = flush() or status
            value = version if name == "mail_version" else recording.defaults[name]
            if "n" in letters:
                continue  # main.cf does not set it
            sys.stdout.write(value + "\n" if "h" in letters else "%s = %s\n" % (name, value))
        else:
            known.append(name)
    sys.stdout.flush()
    return flush() or status


def _config_directory(valued):
    return dict(valued).get("c") or os.environ.get("MAIL_CONFIG") or "/etc/postfix"


def postlog(argv0, version, args):
    args = list(args)
    if version_tuple(version) < (3, 0) and "fatal" in args:
        # 2.10 and 2.11: "postlog -p fatal" logs and returns at once, exit 0.
        args[args.index("fatal")] = "info"
        if args and not args[-1].startswith("-") and args[-2] != "-p":
            args[-1] = "fatal: " + args[-1]
        subprocess.call([REAL_POSTLOG] + args)
        return 0
    return subprocess.call([REAL_POSTLOG] + args)


if __name__ == "__main__":
    program, argv0, release_version = sys.argv[1:4]
    sys.exit({"postconf": postconf, "postlog": postlog}[program](
        argv0, release_version, sys.argv[4:]))
