"""Entry point of the single-file build, ``postfix-tls.pyz``.

    python3 postfix-tls.pyz [options] subcommand ...     as postfix-tls
    python3 postfix-tls.pyz --install-dropin [DIR]       "postfix tls" runs this file
    python3 postfix-tls.pyz --uninstall-dropin [DIR]     Postfix's script back

--install-dropin copies the archive itself into DIR (default: ``postconf -h
daemon_directory``), so the drop-in needs neither this file nor anything
but a python3 afterwards.
"""

import sys

HELP = """
Installing this file (postfix-tls.pyz only):
  --install-dropin [DIR]    make "postfix tls" run a copy of this file; the
                            original is kept as postfix-tls-script.upstream
                            (DIR: postconf -h daemon_directory)
  --uninstall-dropin [DIR]  put the original back
"""
ACTIONS = {"--install-dropin": "install", "--uninstall-dropin": "uninstall"}
_ZIP_START = b"PK\x03\x04"


def _archive():
    """The zip archive this runs from, without the lines in front of it."""
    with open(__loader__.archive, "rb") as stream:  # noqa: F821 (zipimport's)
        data = stream.read()
    return data[data.index(_ZIP_START):]


def _interpreter():
    # A virtualenv's interpreter goes when the virtualenv does; the
    # system's python3 is then found on postfix(1)'s PATH.
    if sys.prefix != getattr(sys, "base_prefix", sys.prefix) or not sys.executable:
        return "/usr/bin/env python3"
    return sys.executable


def main():
    args = sys.argv[1:]
    if args and args[0] in ACTIONS:
        from postfix_tls.packaging import dropin

        python = _interpreter()
        payload = dropin.with_mark(python, _archive()) if args[0] == "--install-dropin" else None
        sys.exit(dropin.main([ACTIONS[args[0]]] + args[1:], payload=payload, python=python))
    from postfix_tls import run

    run(extra_help=HELP)

