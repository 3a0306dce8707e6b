"""From ``postfix tls ARGS`` to the subcommand that runs: its options
parsed as upstream's getopts would, its reads started with the start-up
checks, then the checks, then the subcommand, or the usage message."""

import os

from postfix_tls.core import messages, validate
from postfix_tls.core.context import Failed
from postfix_tls.core.getopts import UsageError, getopts
from postfix_tls.subcommands import find


def parse(subcommand, args):
    """(options, operands) as upstream's option parsing sees them."""
    if subcommand.letters is None:
        options, operands = {}, list(args)
    else:
        options, operands = getopts(args, subcommand.letters)
    if subcommand.operands is not None and len(operands) != subcommand.operands:
        raise UsageError(args)
    return options, operands


def _lock(tls):
    """Hold the configuration directory's lock before the first read (a dry
    run changes nothing and takes none); an exit status when it cannot."""
    if tls.runner.dry_run:
        return None
    from postfix_tls.core import lock

    path = os.path.join(tls.config_directory, lock.LOCK_FILE)
    tls.runner.doing(messages.LOCK_WAITING.format(path=path))  # if a signal comes
    try:
        lock.acquire(tls.config_directory)
    except lock.Busy as busy:
        tls.log.fatal(str(busy))
        return messages.EXIT_BUSY
    except OSError as error:
        tls.log.fatal(messages.LOCK_FAILED.format(path=path, error=error.strerror))
        return messages.EXIT_FAIL
    tls.runner.doing("")  # held (an interrupt during the wait still names it)
    return None


def run(tls, args, check_startup):
    """Run ``postfix tls ARGS``; returns the exit status."""
    name = args[0] if args else ""
    subcommand = find(name)
    parsed = None
    reads, lines = [], []
    if subcommand is not None:
        try:
            parsed = parse(subcommand, args[1:])
            reads, lines = subcommand.prefetch(*parsed)
        except UsageError:
            pass
    reads = [(flags, names) for flags, names in reads if names]
    if subcommand is not None and (subcommand.locks or tls.chain_file):
        status = _lock(tls)
        if status:
            return status
    setup = check_startup(tls, reads, lines)
    if setup is None:
        tls.postconf.finish()
        return messages.EXIT_FAIL
    tls = tls.started(setup)
    if subcommand is None:
        tls.log.error(messages.UNKNOWN_COMMAND.format(name))
        tls.log.fatal(messages.USAGE_ALL)
        return messages.EXIT_FAIL
    if parsed is None:
        tls.log.fatal(subcommand.usage)
        return messages.EXIT_FAIL
    try:
        bad = validate.first_bad_argument(args)
        if bad is not None:
            tls.fail(messages.BAD_OPERAND.format(validate.shown(bad)))
        return subcommand.run(tls, *parsed)
    except Failed:
        problems = tls.runner.discard_created()
        if problems:
            tls.log.error(messages.UNDO_INCOMPLETE.format(problems="\n  ".join(problems),
                                                          tls=tls.hints.reads))
        return messages.EXIT_FAIL
    finally:
        tls.postconf.finish()
