"""Install postfix-tls as ``$daemon_directory/postfix-tls-script``, and back.

    python -m postfix_tls.packaging.dropin install [DAEMON_DIRECTORY]
    python -m postfix_tls.packaging.dropin uninstall [DAEMON_DIRECTORY]

The original script is kept once, as ``postfix-tls-script.upstream`` with
its mode; an existing kept copy is never overwritten.  Uninstalling puts
the kept original back.  What is installed is either a small script that
imports the installed package with the interpreter running this (``make
install-dropin``, for development), or a whole self-contained file (the
.pyz's ``--install-dropin``: the zip archive itself, so that it depends on
nothing but a python3).  Standard library only: this runs from the .pyz.
"""

import os
import subprocess
import sys
import tempfile

SCRIPT = "postfix-tls-script"
KEPT = SCRIPT + ".upstream"
# Every drop-in installed so far carries this line (the module was
# postfix_tls.dropin then), and debian/preinst looks for it: unchanged.
MARK = "# Installed by postfix-tls (python -m postfix_tls.dropin)."

_TEMPLATE = '''#!{python}
{mark}
"""postfix-tls: run by postfix(1) for "postfix tls"; the original is {kept}."""

from postfix_tls.cli import run

run()
'''


class DropinError(Exception):
    pass


def default_daemon_directory():
    """``postconf -h daemon_directory`` of the default instance."""
    for postconf in ("postconf", "/usr/sbin/postconf"):
        try:
            output = subprocess.check_output([postconf, "-h", "daemon_directory"])
        except (OSError, subprocess.CalledProcessError):
            continue
        return output.decode().strip()
    raise DropinError("no postconf(1) found: name the daemon directory "
                      "(postconf -h daemon_directory)")


def is_ours(path):
    try:
        with open(path, "rb") as stream:
            return MARK.encode() in stream.read(4096)
    except OSError:
        return False


def _write_atomically(path, data, mode):
    directory = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix="." + SCRIPT + ".")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _keep_original(target, kept):
    """Copy target to kept with its mode, unless kept exists; says what it did."""
    if os.path.exists(kept):
        return "kept copy %s exists already, left as it is" % kept
    with open(target, "rb") as source:
        original = source.read()
    mode = os.stat(target).st_mode & 0o7777
    fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as stream:
        stream.write(original)
    os.chmod(kept, mode)
    return "kept the original as %s" % kept


def script(python):
    """The development drop-in: imports the package installed for python."""
    return _TEMPLATE.format(python=python, mark=MARK, kept=KEPT).encode()


def with_mark(python, archive):
    """A zip archive (the .pyz, without its #! line) as a self-contained drop-in.

    Python finds a zip archive's contents from its end, so the lines in
    front (interpreter and mark) do not disturb it.
    """
    return ("#!%s\n%s\n" % (python, MARK)).encode() + archive


def install(daemon_directory, python=None, payload=None):
    """Install payload (default: the development script) as the drop-in;
    returns a line saying what was done."""
    target = os.path.join(daemon_directory, SCRIPT)
    kept = os.path.join(daemon_directory, KEPT)
    if not os.path.isdir(daemon_directory):
        raise DropinError("no such directory: %s" % daemon_directory)
    python = python or sys.executable
    said = []
    if os.path.exists(target) and not is_ours(target):
        said.append(_keep_original(target, kept))
    if os.path.exists(kept):
        mode = os.stat(kept).st_mode & 0o7777
    elif os.path.exists(target):
        mode = os.stat(target).st_mode & 0o7777
    else:
        mode = 0o755
    _write_atomically(target, payload if payload is not None else script(python), mode)
    said.append("installed %s (mode %04o, %s)" % (target, mode, python))
    return "; ".join(said)


def uninstall(daemon_directory):
    """Put the kept original back; returns a line saying what was done."""
    target = os.path.join(daemon_directory, SCRIPT)
    kept = os.path.join(daemon_directory, KEPT)
    if os.path.exists(target) and not is_ours(target):
        raise DropinError("%s is not ours: left as it is" % target)
    if os.path.exists(kept):
        os.replace(kept, target)
        return "restored %s" % target
    if os.path.exists(target):
        os.unlink(target)
        return "removed %s (there was no original to restore)" % target
    return "nothing to do in %s" % daemon_directory


def main(argv=None, payload=None, python=None):
    """install|uninstall [DIR]; payload and python as for install()."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] not in ("install", "uninstall") or len(args) > 2:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    try:
        directory = args[1] if len(args) > 1 and args[1] else default_daemon_directory()
        if args[0] == "install":
            said = install(directory, python=python, payload=payload)
        else:
            said = uninstall(directory)
        sys.stdout.write(said + "\n")
    except (DropinError, OSError) as error:
        sys.stderr.write("postfix-tls: %s\n" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
