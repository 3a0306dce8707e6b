"""Command line: ``postfix-tls [options] subcommand ...``.

Postfix mode: postfix(1) ran us as ``$daemon_directory/postfix-tls-script``
and its environment (``daemon_directory``, ``config_directory``,
``command_directory``, ``data_directory``, ``MAIL_CONFIG``, ``MAIL_LOGTAG``)
says everything, as for upstream.  Standalone mode (no ``daemon_directory``):
``-c config_directory`` or the default instance, and the same environment
derived through postconf(1).
"""

import os
import signal
import sys

from postfix_tls import __version__, dispatch, subcommands
from postfix_tls.core import messages, startup, validate
from postfix_tls.core.command import INHERIT, Command
from postfix_tls.core.context import Tls
from postfix_tls.core.descriptors import open_closed_standard_descriptors
from postfix_tls.core.log import FATAL_TEXTS, Logger, fallback_fatal
from postfix_tls.core.postconf import Postconf
from postfix_tls.core.release import POSTFIX_TLS, Release
from postfix_tls.core.runner import Interrupted, Runner
from postfix_tls.core.trace import TraceBroken

_HELP_TEMPLATE = """\
%s

Subcommands, as "postfix tls" (see postfix-tls(1)):
%s

Ours:
%s

Options:
  -c DIR             the Postfix configuration directory (standalone mode only;
                     default: postconf -dh config_directory)
  --dry-run          run only what changes nothing; show what would change
  --trace            print each command to stderr before it runs
  --trace-json FILE  write a JSON record per command to FILE (- for stderr)
  --json             our subcommands' output as JSON (status, the TLSA ones)
  --chain-file FILE  deploy key and chain into FILE, for smtpd_tls_chain_files
                     (Postfix 3.4+; deploy-server-cert, enable-server, and the
                     commands new-server-key and new-server-cert suggest)
  --version          print the version
  -h, --help         print this help (-h: standalone mode only)
"""


def help_text():
    """--help: the subcommands' lines come from their declarations."""
    upstream_lines, our_lines = subcommands.help_lines()
    return _HELP_TEMPLATE % (messages.GLOBAL_USAGE, "\n".join(upstream_lines),
                             "\n".join(our_lines))


# Standalone mode looks for postconf here when it is not on PATH.
_POSTCONF_DIRECTORIES = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class _Usage(Exception):
    pass


# Our long options that take a file name (--name FILE or --name=FILE), and
# the option each sets.
_FILE_OPTIONS = {"--trace-json": "trace_json", "--chain-file": "chain_file"}


def parse_global_options(args, postfix_mode):
    """(options, rest): our own options, which come before the subcommand."""
    options = {"config_directory": None, "dry_run": False, "trace": False,
               "trace_json": None, "json": False, "chain_file": None}
    args = list(args)
    while args:
        arg = args[0]
        if arg == "--":
            args.pop(0)
            break
        if arg == "--dry-run":
            options["dry_run"] = True
        elif arg == "--json":
            options["json"] = True
        elif arg == "--trace":
            options["trace"] = True
        elif arg.partition("=")[0] in _FILE_OPTIONS:
            name, equals, value = arg.partition("=")
            if not equals:
                if len(args) < 2:
                    raise _Usage(name + " needs a file name")
                value = args.pop(1)
            options[_FILE_OPTIONS[name]] = value
        elif arg in ("--help", "--version"):
            options[arg[2:]] = True
        elif arg == "-h" and not postfix_mode:
            options["help"] = True  # in postfix mode, upstream's unknown subcommand
        elif arg.startswith("-c") and not postfix_mode:
            # In postfix mode postfix(1) took -c already: "-c" is then an
            # unknown subcommand, as upstream says.
            if arg == "-c":
                if len(args) < 2:
                    raise _Usage("-c needs a directory")
                options["config_directory"] = args.pop(1)
            else:
                options["config_directory"] = arg[2:]
        elif arg.startswith("--") and arg != "--":
            raise _Usage("unknown option: " + arg)
        else:
            break
        args.pop(0)
    return options, args


# Our options that take a value, for the hint about misplaced options.
_VALUED_OPTIONS = tuple(_FILE_OPTIONS) + ("-c",)


def misplaced_option(args, postfix_mode, own_letters=""):
    """The first of our options among a subcommand's arguments, with its
    value; own_letters: the subcommand's own options (status has a -c)."""
    ours = ("--dry-run", "--trace", "--json", "--help", "--version") + tuple(_FILE_OPTIONS)
    ours += () if postfix_mode or "c" in own_letters else ("-c",)
    for index, arg in enumerate(args):
        if arg in ours or arg.partition("=")[0] in _FILE_OPTIONS:
            if arg in _VALUED_OPTIONS and index + 1 < len(args):
                return "%s %s" % (arg, args[index + 1])
            return arg
    return None


def _which(program, path):
    for directory in path.split(os.pathsep) + list(_POSTCONF_DIRECTORIES):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _standalone_environment(runner, postconf, config_directory, env):
    """Set env as postfix(1) would for config_directory; False after a fatal message."""
    tag = "postfix"
    early_log = Logger(runner, os.path.join(os.path.dirname(postconf.path), "postlog"), tag,
                       echo=True)
    if config_directory is None:
        config_directory = postconf.get("-d", "config_directory")
    config_directory = os.path.abspath(config_directory)
    if not os.path.isdir(config_directory):
        early_log.fatal(messages.NO_CONFIG_DIRECTORY.format(config_directory))
        return False
    # As postfix(1) would: the trace shows it, so that its lines can be pasted.
    runner.export("MAIL_CONFIG", config_directory)
    # mail_version in the same read: the release says what postconf may be asked.
    names = ("command_directory", "daemon_directory", "data_directory", "syslog_name",
             "mail_version")
    values = postconf.read("-x", names)
    postconf.release = Release(values["mail_version"])
    if not values["command_directory"]:
        early_log.fatal(messages.STANDALONE_BAD_CONFIG.format(config_directory))
        return False
    env.update(config_directory=config_directory,
               command_directory=values["command_directory"],
               daemon_directory=values["daemon_directory"],
               data_directory=values["data_directory"])
    runner.export("MAIL_LOGTAG", values["syslog_name"] or tag)
    return True


def _program_name():
    """How the administrator ran us, for the commands we suggest."""
    if sys.argv[0].endswith(".pyz"):
        return "python3 " + validate.quote(os.path.abspath(sys.argv[0]))
    return "postfix-tls"


def _open_trace_json(name):
    if name == "-":
        return sys.stderr
    return open(name, "a")


def main(argv=None, extra_help=""):
    """Run; returns the exit status.  With --json, a failure that showed
    nothing on stdout shows its message there as a JSON object."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        status = _main(args, extra_help)
    except KeyboardInterrupt:
        # Before the subcommand started (its own interrupts are handled in
        # _main): nothing was changed.
        _say(messages.INTERRUPTED.format("SIGINT", "postfix-tls"))
        status = messages.EXIT_FAIL
    if status and _wants_json(args):
        render = sys.modules.get("postfix_tls.core.render")
        if render is None or not render.written():
            from postfix_tls.core import render
            render.failure(FATAL_TEXTS[-1] if FATAL_TEXTS else messages.FAILED, status)
    return status


def _say(text):
    """A fatal message of ours on stderr, where no logger runs yet."""
    FATAL_TEXTS.append(text)
    sys.stderr.write("postfix-tls: %s\n" % text)


def _wants_json(args):
    try:
        return parse_global_options(args, False)[0]["json"]
    except _Usage:
        return "--json" in args


def _main(args, extra_help):
    env = dict(os.environ)
    postfix_mode = bool(env.get("daemon_directory"))
    try:
        options, args = parse_global_options(args, postfix_mode)
    except _Usage as error:
        _say("%s\n%s" % (error, messages.GLOBAL_USAGE))
        return messages.EXIT_FAIL
    if options.get("help"):
        sys.stdout.write(help_text() + extra_help)
        return messages.EXIT_OK
    if options.get("version"):
        sys.stdout.write("postfix-tls %s\n" % __version__)
        return messages.EXIT_OK
    if args[:1] == ["status"]:
        # Ours: a monitoring check prints its one line however the run ends.
        from postfix_tls.status.command import always_a_line

        return always_a_line(lambda: _run(args, options, env, postfix_mode), options["json"],
                             options["config_directory"] or env.get("config_directory", ""),
                             args[1:], subcommands.find("status").letters,
                             options["dry_run"])
    return _run(args, options, env, postfix_mode)


def _run(args, options, env, postfix_mode):
    """The run, once our options are read: environment, context, subcommand."""
    try:
        trace_json = options["trace_json"] and _open_trace_json(options["trace_json"])
    except OSError as error:
        _say("--trace-json %s: %s" % (options["trace_json"], error.strerror))
        return messages.EXIT_FAIL

    # Upstream runs under umask 022; files it makes get 0644 unless it says otherwise.
    os.umask(0o022)
    runner = Runner(env, dry_run=options["dry_run"],
                    trace=sys.stderr if options["trace"] else None,
                    trace_json=trace_json or None)
    if postfix_mode:
        # postfix(1) runs a postfix-tls-script only from Postfix 3.1 on.
        postconf = Postconf(runner, os.path.join(env.get("command_directory", ""), "postconf"),
                            Release(at_least=POSTFIX_TLS))
    else:
        path = _which("postconf", env.get("PATH", ""))
        if path is None:
            _say("fatal: " + messages.STANDALONE_NO_POSTCONF)
            return messages.EXIT_FAIL
        postconf = Postconf(runner, path)
        if not _standalone_environment(runner, postconf, options["config_directory"], env):
            return messages.EXIT_FAIL

    command_directory = env.get("command_directory", "")
    logtag = env.get("MAIL_LOGTAG", "")
    try:
        os.chdir(command_directory)
    except OSError:
        # Let's hope there's a "postlog" somewhere else on the PATH.
        text = messages.NO_COMMAND_DIRECTORY.format(command_directory)
        if not postfix_mode:
            Logger(runner, "postlog", logtag, echo=True).fatal(text)
            return messages.EXIT_FAIL
        argv = ["postlog", "-p", "fatal", "-t", "%s/%s" % (logtag, messages.PROGRAM), text]
        if runner.run(Command(argv, stdout=INHERIT, changes=True)).returncode not in (0, 1):
            fallback_fatal(text)
        return messages.EXIT_FAIL
    postconf.path = os.path.join(command_directory, "postconf")
    log = Logger(runner, os.path.join(command_directory, "postlog"), logtag,
                 echo=not postfix_mode)
    config_directory = env.get("config_directory", "")
    hints = messages.POSTFIX_HINTS if postfix_mode else messages.standalone_hints(
        _program_name(), config_directory)
    chain_file = options["chain_file"]
    if chain_file == "":  # given, but empty: not the same as not given
        _say(messages.CHAIN_FILE_EMPTY)
        return messages.EXIT_FAIL
    chain_file = chain_file or ""
    if chain_file:
        if (args[0] if args else "") not in subcommands.CHAIN_FILE_SUBCOMMANDS:
            _say(messages.CHAIN_FILE_SUBCOMMANDS)
            return messages.EXIT_FAIL
        # Relative to the configuration directory, as key and certificate names are.
        chain_file = os.path.join(config_directory, chain_file)
        from postfix_tls import chain_deploy  # only with --chain-file

        problem = chain_deploy.target_problem(chain_file)
        if problem:  # before anything runs
            log.fatal(problem)
            return messages.EXIT_FAIL
        hints = hints._replace(tls="%s --chain-file %s" % (hints.tls, validate.quote(chain_file)))
    tls = Tls(runner, postconf, log, env, config_directory, env.get("data_directory", ""),
              hints=hints, json=options["json"], chain_file=chain_file)

    signal.signal(signal.SIGTERM, runner.on_sigterm)
    signal.signal(signal.SIGINT, runner.on_sigint)
    try:
        status = dispatch.run(tls, args, startup.check)
        subcommand = subcommands.find(args[0] if args else "")
        letters = (subcommand and subcommand.letters) or ""
        misplaced = misplaced_option(args[1:], postfix_mode, letters) if status else None
        if misplaced:
            command = _program_name() if misplaced.startswith("-c") else tls.hints.tls
            sys.stderr.write(messages.MISPLACED_OPTION.format(
                option=validate.shown(misplaced), command=command,
                name=validate.shown(args[0])) + "\n")
        if status == messages.EXIT_OK and runner.tracer.broken:
            _say(messages.TRACE_INCOMPLETE.format(problem=runner.tracer.broken))
            status = messages.EXIT_FAIL
        return status
    except (KeyboardInterrupt, Interrupted) as error:
        signame = getattr(error, "signame", "SIGINT")
        return _stop(tls, messages.INTERRUPTED.format(
            signame, runner.interrupted_text() or "postfix-tls"))
    except TraceBroken as error:
        return _stop(tls, str(error))
    except Exception as error:
        # A write error no step expected (a full disk, stdout closed), or a
        # bug: undone as after a failure, said in one line; a bug's
        # traceback after it, for a report.
        text = messages.UNEXPECTED_ERROR.format(error=_error_text(error))
        return _stop(tls, text, with_traceback=not isinstance(error, OSError))
    finally:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass  # said by the run, or by run()'s exit status


def _error_text(error):
    if isinstance(error, OSError) and error.strerror:
        return "%s%s" % (error.strerror, ": %s" % error.filename if error.filename else "")
    return "%s: %s" % (type(error).__name__, error)


def _stop(tls, text, with_traceback=False):
    """After a signal or an error no step expected: children ended, what
    this run made removed and what it replaced put back (nothing, once
    main.cf names it: Runner.finishing), then the fatal message."""
    runner, log = tls.runner, tls.log
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        # stdout cannot be written (the error itself, perhaps): the runner
        # flushes it before each command, and the undo must run.
        sys.stdout = open(os.devnull, "w")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if with_traceback:
        import traceback

        traceback.print_exc()
    if runner.tracer.broken:
        runner.tracer.close()  # the undo and the message go on untraced
    runner.terminate_children()
    problems = runner.discard_created()
    if problems:
        log.error(messages.UNDO_INCOMPLETE.format(problems="\n  ".join(problems),
                                                  tls=tls.hints.reads))
    log.fatal(text)
    return messages.EXIT_FAIL


def run(extra_help=""):
    """Entry point: main(), then exit without tearing the interpreter down.

    Every child has been waited for and only stdout and stderr are open,
    so after flushing them there is nothing left to finalise; skipping it
    saves about 5 ms of a run that upstream's shell finishes in 0.1 s.
    """
    open_closed_standard_descriptors()
    status = main(extra_help=extra_help)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or messages.EXIT_FAIL
    os._exit(status)
