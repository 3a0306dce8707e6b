"""Steps 4 and 5 of deploy-acme-cert: ``postfix check`` and ``postfix
reload``, then every port must present the new key (and pass DANE
verification where records exist)."""

import time

from postfix_tls.core import messages
from postfix_tls.core.command import TO_STDOUT, Command
from postfix_tls.dane.check import SECONDS, Check, probe

_RETRY_SECONDS = 0.5  # an smtpd started before the reload may answer once more


def _postfix_command(tls, action):
    return Command(tls.postfix_program("postfix") + [action], stderr=TO_STDOUT,
                   changes=action != "status")


def postfix(tls, action):
    return tls.runner.run(_postfix_command(tls, action))


def output_of(result):
    return result.stdout.decode("utf-8", "replace").strip()


def check_and_reload(tls, notes):
    """postfix check (a failure: the old files back, and fail), then postfix
    reload where Postfix runs (a dry run: traced, not run), notes saying
    what was not done; (running, the reload's command line or "")."""
    running = postfix(tls, "status").returncode == 0
    result = postfix(tls, "check")
    if result.returncode:
        tls.fail(messages.ACME_CHECK_FAILED.format(output=output_of(result),
                                                   undone=undo(tls, messages.UNDONE)))
    if not running:
        notes.append(messages.ACME_NOT_RUNNING)
        return running, ""
    if tls.runner.dry_run:
        reload(tls)  # traced, not run
        notes.append(messages.ACME_DRY_RUN)
        return running, ""
    return running, reload(tls)


def reload(tls):
    command = _postfix_command(tls, "reload")
    shown = " ".join(["postfix"] + list(command.argv[1:]))
    result = tls.runner.run(command)
    if result.returncode:
        tls.fail(messages.ACME_RELOAD_FAILED.format(command=shown, output=output_of(result),
                                                    undone=undo(tls, messages.UNDONE)))
    # From now on, putting the old files back takes a reload too (last).
    tls.runner.on_restore(lambda: _reload_again(tls, command, shown), last=True)
    return shown


def _reload_again(tls, command, shown):
    from postfix_tls.core.changes import UndoFailed

    result = tls.runner.run(command)
    if result.returncode:
        raise UndoFailed(messages.UNDO_RELOAD_FAILED.format(command=shown,
                                                            output=output_of(result)))


def verify(tls, outcome, deployments, ports, hostname, address, seconds, records):
    """Every port presents each new key; DANE verifies where records are
    published.  Otherwise: the old files back, reloaded, and fail."""
    check = Check(hostname, ports, "", seconds=min(seconds, SECONDS))
    deadline = time.time() + seconds
    for deployment in deployments:
        for port in ports:
            published = records.get(port, [])
            while True:
                verified, digest, error = probe(tls, check, address, port,
                                                     deployment.algorithm, published)
                if digest == deployment.material.digest and (verified or not published):
                    deployment.live.append((address, port, bool(published)))
                    break
                if time.time() >= deadline:
                    if digest and digest != deployment.material.digest:
                        error = messages.ACME_LIVE_OTHER_KEY.format(digest=digest)
                    elif digest:
                        error = messages.ACME_LIVE_UNVERIFIED.format(error=error or "no match")
                    tls.fail(messages.ACME_LIVE_FAILED.format(
                        address=address, port=port, algorithm=deployment.algorithm,
                        reload=outcome.reload, error=error or "no TLS handshake",
                        undone=undo(tls, messages.ACME_UNDONE_RELOADED)))
                time.sleep(_RETRY_SECONDS)


def undo(tls, undone):
    """Put the old files and main.cf back; what to say of it: undone, or
    exactly what is left and what to run."""
    problems = tls.runner.restore_replaced()
    if not problems:
        return undone
    return messages.UNDO_INCOMPLETE.format(problems="\n  ".join(problems), tls=tls.hints.reads)
