"""Install postfix-tls as ``$daemon_directory/postfix-tls-script``, and back.

    python -m postfix_tls.dropin install [DAEMON_DIRECTORY]
    python -m postfix_tls.dropin uninstall [DAEMON_DIRECTORY]

The original script is kept once, as ``postfix-tls-script.upstream`` with
its mode; an existing kept copy is never overwritten.  The installed
script runs with the interpreter running this (the one the package was
installed for).  Uninstalling puts the kept original back.
"""

import os
import sys
import tempfile

SCRIPT = "postfix-tls-script"
KEPT = SCRIPT + ".upstream"
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
    from plumbum import local  # the project's command library; not on any hot path

    postconf = local.get("postconf", "/usr/sbin/postconf")
    return postconf("-h", "daemon_directory").strip()


def is_ours(path):
    try:
        with open(path, "rb") as stream:
            return MARK.encode() in stream.read(4096)
    except OSError:
        return False


def _write_atomically(path, text, mode):
    directory = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix="." + SCRIPT + ".")
    try:
        with os.fdopen(fd, "w") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def install(daemon_directory, python=None):
    """Install the drop-in; returns a line saying what was done."""
    target = os.path.join(daemon_directory, SCRIPT)
    kept = os.path.join(daemon_directory, KEPT)
    if not os.path.isdir(daemon_directory):
        raise DropinError("no such directory: %s" % daemon_directory)
    said = []
    if os.path.exists(target) and not is_ours(target):
        if os.path.exists(kept):
            said.append("kept copy %s exists already, left as it is" % kept)
        else:
            with open(target, "rb") as source:
                original = source.read()
            mode = os.stat(target).st_mode & 0o7777
            fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as stream:
                stream.write(original)
            os.chmod(kept, mode)
            said.append("kept the original as %s" % kept)
    if os.path.exists(kept):
        mode = os.stat(kept).st_mode & 0o7777
    elif os.path.exists(target):
        mode = os.stat(target).st_mode & 0o7777
    else:
        mode = 0o755
    text = _TEMPLATE.format(python=python or sys.executable, mark=MARK, kept=kept)
    _write_atomically(target, text, mode)
    said.append("installed %s (mode %04o, %s)" % (target, mode, python or sys.executable))
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


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] not in ("install", "uninstall") or len(args) > 2:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    try:
        directory = args[1] if len(args) > 1 and args[1] else default_daemon_directory()
        action = install if args[0] == "install" else uninstall
        sys.stdout.write(action(directory) + "\n")
    except (DropinError, OSError) as error:
        sys.stderr.write("postfix-tls: %s\n" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
