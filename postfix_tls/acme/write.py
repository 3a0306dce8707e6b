"""Steps 3 to 5 of deploy-acme-cert: one file renamed into place,
main.cf edited only when a parameter changes, then the live check; on
failure the old files and main.cf are put back."""

import os

from postfix_tls import chain_deploy
from postfix_tls.acme.facts import CERT_PARAMETERS, STAGED_FILE, config_file
from postfix_tls.acme.live import check_and_reload, verify
from postfix_tls.core import material, messages, validate
from postfix_tls.core.keys import (
    CHAIN_FILES,
    KEY_FILE_PARAMETERS,
)
from postfix_tls.core.ordered import unique


def deploy(tls, outcome, deployments, ports, hostname, address, seconds, records, setting):
    for path in unique(d.path for d in deployments):
        outcome.notes += _write(tls, path, [d for d in deployments if d.path == path], setting)
    outcome.settings = _settings(tls, deployments, setting)
    outcome.notes += setting.notes([d.path for d in deployments if d.chain_file])
    if outcome.settings:
        _edit_main_cf(tls, outcome.settings)
    outcome.running, outcome.reload = check_and_reload(tls, outcome.notes)
    if outcome.reload:
        verify(tls, outcome, deployments, ports, hostname, address, seconds, records)
    # Deployed: a signal from now on no longer makes it a failure.
    tls.runner.finishing()
    _remove_staged(tls, deployments)
    if not tls.runner.dry_run:
        tls.log.record([messages.ACME_DEPLOYED.format(
            algorithm=d.algorithm, path=d.path, why=d.why) for d in deployments])


def _write(tls, path, deployments, setting):
    """Replace path: every deployment into it at once (a chain file may get
    both algorithms in one run); returns the notes on what else it holds."""
    notes = []
    if deployments[0].chain_file:
        text, notes = chain_deploy.file_text(tls, path, [
            (d.algorithm, d.material.key_pem, d.material.certificates) for d in deployments],
            setting)
    else:
        text = deployments[0].material.text  # acme-ALGORITHM.pem: one algorithm's
    try:
        tls.runner.replace_file(path, text.encode("ascii"), 0o600)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))
    return notes


def _settings(tls, deployments, setting):
    """The main.cf lines that point Postfix at the deployments' files (none
    when it loads them already)."""
    settings = []
    chain_paths = [d.path for d in deployments if d.chain_file]
    if chain_paths:
        names = setting.names
        wanted = setting.written(chain_paths)
        if wanted != names:
            settings.append("%s = %s" % (CHAIN_FILES, ", ".join(wanted)))
        legacy = tls.postconf.read("-n", chain_deploy.LEGACY_PARAMETERS)
        settings += ["%s =" % name for name in chain_deploy.LEGACY_PARAMETERS if legacy[name]]
    for deployment in deployments:
        if deployment.chain_file:
            continue
        names = (KEY_FILE_PARAMETERS[deployment.algorithm], CERT_PARAMETERS[deployment.algorithm])
        values = tls.postconf.read("-nx", names)
        settings += ["%s = %s" % (name, deployment.path) for name in names
                     if values[name] != deployment.path]
    return settings


def _edit_main_cf(tls, settings):
    names = [setting.partition("=")[0].strip() for setting in settings]
    old = tls.postconf.read("-n", names)
    # Put back before the files are: main.cf never names a file that is gone.
    tls.runner.on_restore(lambda: _restore_main_cf(tls, old))
    if tls.postconf.edit(settings):
        tls.fail(messages.POSTCONF_EDIT_FAILED.format(tls.config_directory))


def _restore_main_cf(tls, old):
    """main.cf's old settings back; UndoFailed saying what it still has,
    and the commands that would finish the job."""
    from postfix_tls.core.changes import UndoFailed

    # Only what differs: an edit that failed changed nothing to undo.
    changed = tls.postconf.read_now("-n", sorted(old))
    differs = sorted(name for name in old if changed[name] != old[name])
    settings = ["%s = %s" % (name, old[name]) for name in differs if old[name]]
    unset = [name for name in differs if not old[name]]
    steps = ([("-e", settings)] if settings else []) + ([("-X", unset)] if unset else [])
    for flag, arguments in steps:
        status = tls.postconf.edit(arguments) if flag == "-e" else tls.postconf.remove(arguments)
        if status:
            command = "postconf %s" % flag
            now = tls.postconf.read_now("-n", differs)
            commands = "; ".join("postconf -c %s %s %s" % (
                validate.quote(tls.config_directory), f, " ".join(
                    validate.quote(argument) for argument in a)) for f, a in steps)
            raise UndoFailed(messages.UNDO_MAIN_CF_FAILED.format(
                command=command, output="exit status %d" % status,
                now=", ".join("%s = %s" % (name, value) for name, value in sorted(now.items())),
                commands=commands))




def _remove_staged(tls, deployments):
    """A deployed algorithm's staged material is done with (a newer one
    deployed supersedes it too)."""
    for deployment in deployments:
        path = config_file(tls, STAGED_FILE, deployment.algorithm)
        if os.path.isdir(path) or (os.path.lexists(path) and not os.path.isfile(path)):
            # Deployed already: a warning, not a failure, and not removed.
            tls.log.warn([messages.ACME_STAGED_NOT_REMOVED.format(
                path=path, problem=material.problem(path) or "not a regular file")])
        elif os.path.lexists(path):
            try:
                tls.runner.remove_file(path)
            except OSError as error:
                tls.log.warn([messages.ACME_STAGED_NOT_REMOVED.format(
                    path=path, problem=error.strerror)])
