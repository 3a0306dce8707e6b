"""postfix-tls: Postfix's "postfix tls" command, in Python."""

__version__ = "0.1.0"


def run(extra_help=""):
    """The command's entry point.  A SIGINT while the modules load (Python
    raises KeyboardInterrupt wherever it is) ends the run quietly: nothing
    has been read or changed yet, so there is nothing to undo or say."""
    try:
        from postfix_tls.cli import run as run_command
    except KeyboardInterrupt:
        raise SystemExit(130)  # as a shell reports a SIGINT
    run_command(extra_help=extra_help)
