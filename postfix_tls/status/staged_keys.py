"""What ``status`` says of the keys deploy-acme-cert staged: one waits in
``acme-ALGORITHM.staged.pem`` (or ``acme-sni-LABEL-ALGORITHM.staged.pem``
for an SNI lineage) until its TLSA record is published; its age says how
long the rollover has been waiting, a WARNING past two days (the runs
are not getting it in).  Read-only: which staged file can be
deployed is deploy-acme-cert's to judge (dane/staged.py)."""

import os

from postfix_tls.core import messages
from postfix_tls.core.certificates import iso
from postfix_tls.core.keys import ACME_STAGED_FILE, SNI_STAGED_FILE, sni_files
from postfix_tls.status.facts import OK, WARNING, StagedKey

DAY = 86400
FUTURE_SLACK = 60  # seconds: a file written as status ran is not from the future


def check_staged(tls, report, now):
    """A StagedKey per staged file of an algorithm this Postfix supports,
    and a note for each."""
    directory = tls.config_directory
    for algorithm in tls.setup.algorithms():
        found = [(os.path.join(directory, ACME_STAGED_FILE.format(algorithm)), None)]
        for path, label in found + sni_files(directory, SNI_STAGED_FILE, algorithm):
            try:
                modified = os.stat(path).st_mtime
            except OSError:
                continue
            if not os.path.isfile(path):
                continue
            age = max(0, int(now - modified))
            report.staged.append(StagedKey(algorithm=algorithm, path=path, sni_label=label,
                                           modified=iso(modified), age_seconds=age))
            what = algorithm if label is None else "%s (SNI %s)" % (algorithm, label)
            if modified > now + FUTURE_SLACK:  # no age can be told: say why
                report.problem(OK, messages.STATUS_STAGED_FUTURE.format(
                    algorithm=what, path=path, when=iso(modified)))
                continue
            stuck = now - modified > report.thresholds["staged_warning_seconds"]
            report.problem(WARNING if stuck else OK, (
                messages.STATUS_STAGED_STUCK if stuck else messages.STATUS_STAGED).format(
                    algorithm=what, path=path, when=iso(modified), days=age // DAY))
