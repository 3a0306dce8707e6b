"""deploy-acme-cert's staged keys (``acme-ALGORITHM.staged.pem``): a key and
chain waiting for their TLSA record, one file per algorithm.

Each concerns its own algorithm only.  One that can no longer be deployed
must not stop another algorithm's renewal, nor the rollover or the check,
which read it as the next key: an expired one is removed (nothing in it
can ever be served again); any other (unparseable, no key, a key of
another algorithm or not matching its leaf, not yet valid...) is moved
aside, never deleted, since it may hold the only copy of a key somebody
wants to look at.  Either way a warning says so, through the runner and
postlog, so that a dry run only says it and --trace shows it.
"""

import os
import time

from postfix_tls.core import chainfiles, messages, openssl
from postfix_tls.core.certificates import iso, parse_certificate_facts
from postfix_tls.core.command import TO_STDOUT, Command
from postfix_tls.core.keys import ACME_STAGED_FILE, read_key

ASIDE_SUFFIX = ".corrupt-"  # acme-ecdsa.staged.pem.corrupt-YYYYmmdd-HHMMSS


class Refused(Exception):
    """Why a key and chain cannot be deployed; expired: only the calendar
    is against them (staged: they go, as nothing else can be done)."""

    def __init__(self, text, expired=False):
        Exception.__init__(self, text)
        self.expired = expired


def staged_path(tls, algorithm):
    return os.path.join(tls.config_directory, ACME_STAGED_FILE.format(algorithm))


def set_aside(tls, algorithm, path, refusal):
    """path can no longer be deployed: removed when it expired, else moved
    aside; a warning either way."""
    if refusal.expired:
        tls.runner.remove_file(path)
        tls.log.warn([messages.ACME_STAGED_REMOVED.format(algorithm=algorithm, path=path,
                                                          reason=refusal)])
        return
    aside = _aside_name(path)
    # mv: a rename, which keeps the file's mode (0600, as stage() wrote it)
    # and cannot leave a half-written copy; a command, so that the dry run
    # skips it and the trace shows it.
    command = Command(["mv", path, aside], stderr=TO_STDOUT, changes=True)
    result = tls.runner.run(command)
    if result.returncode:
        tls.log.warn([messages.ACME_STAGED_NOT_MOVED.format(
            algorithm=algorithm, path=path, command=" ".join(command.argv), reason=refusal)])
        return
    tls.log.warn([messages.ACME_STAGED_MOVED_ASIDE.format(algorithm=algorithm, path=path,
                                                          aside=aside, reason=refusal)])


def _aside_name(path):
    base = path + ASIDE_SUFFIX + time.strftime("%Y%m%d-%H%M%S")
    aside, number = base, 0
    while os.path.lexists(aside):  # never over an earlier one
        number += 1
        aside = "%s.%d" % (base, number)
    return aside


def next_key_refusal(tls, algorithm, path):
    """Why the rollover and the check must not take path as algorithm's next
    key (None: they may): read-only, so only what they need is checked
    (a private key of algorithm, a leaf not expired); deploy-acme-cert's
    next run checks the rest, and sets the file aside."""
    key = read_key(tls, path)
    if key is None:
        return messages.NO_PRIVATE_KEY.format(path)
    if key[1].algorithm != algorithm:
        return messages.ACME_STAGED_WRONG_ALGORITHM.format(path=path, found=key[1].algorithm,
                                                           algorithm=algorithm)
    leaf = [item.text for item in chainfiles.file_objects(path) if item.label == "CERTIFICATE"]
    if not leaf:
        return messages.CHAIN_FILE_NO_CERTIFICATE.format(path)
    facts = parse_certificate_facts(tls.runner.run(openssl.certificate_facts(
        tls.openssl, path, leaf[0])).stdout)
    if "not_after" not in facts:
        return messages.ACME_NOT_A_CERTIFICATE.format(position=1, chainfile=path)
    if facts["not_after"] <= time.time():
        return messages.ACME_EXPIRED.format(position=1, chainfile=path, when=iso(
            facts["not_after"]), subject=facts.get("subject", ""))
    return None
