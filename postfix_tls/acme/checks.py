"""Step 1 of deploy-acme-cert: the key and chain checked before anything
changes (key matches leaf, chain in order, dates, names); a refusal
changes nothing."""

import os
import time

from postfix_tls import chain_deploy
from postfix_tls.acme.facts import DAY, MARGIN_DAYS, Material, pem_certificates, private_key
from postfix_tls.core import material, messages, openssl
from postfix_tls.core.certificates import covers, iso, parse_certificate_facts
from postfix_tls.core.keys import (
    certificate_digest,
    checked_key,
    in_order,
    key_text_digest,
    read_key,
)
from postfix_tls.dane.staged import Refused, set_aside, staged_path


def check_material(tls, source, keyfile, chainfile, hostnames, margin=0, algorithm=None):
    """The key and chain in keyfile and chainfile, checked; staged.Refused
    (nothing changed) when Postfix should not serve them.  margin: seconds
    every certificate must still be valid for; algorithm: the key's, when
    the file's name says it (staged)."""
    for path in (keyfile, chainfile):
        try:
            material.check(path)  # before openssl reads it: a FIFO would block it
        except material.NotMaterial as error:
            raise Refused(messages.NOT_MATERIAL.format(problem=error))
        except OSError:
            raise Refused(messages.NOT_A_FILE.format(path))
    if algorithm:  # staged: a key that is not readable is a file to set aside
        key = read_key(tls, keyfile)
        if key is None:
            raise Refused(messages.NO_PRIVATE_KEY.format(keyfile))
        key_pem, key_type = key
        if key_type.algorithm != algorithm:
            raise Refused(messages.ACME_STAGED_WRONG_ALGORITHM.format(
                path=keyfile, found=key_type.algorithm, algorithm=algorithm))
    else:
        key_pem, key_type = checked_key(tls, keyfile, ours=True)
    # Deployed as the client wrote it (openssl rewrites some formats), so that
    # the next run can tell it is what Postfix loads without running openssl.
    original = private_key(keyfile)
    if original is not None:
        key_pem = original.text.encode("ascii")
    if key_type.algorithm not in tls.setup.algorithms():
        raise Refused(messages.ACME_UNSUPPORTED.format(keyfile=keyfile,
                                                       algorithm=key_type.algorithm))
    if keyfile == chainfile:  # staged: key, then chain, in one file
        certificates = pem_certificates(chainfile)
        if not certificates:
            raise Refused(messages.CHAIN_FILE_NO_CERTIFICATE.format(chainfile))
    else:
        certificates = chain_deploy.certificates(tls, chainfile)
    digest = key_text_digest(tls, key_pem.decode("ascii"))
    if not digest:
        raise Refused(messages.KEY_DIGEST_FAILED)
    if certificate_digest(tls, certificates[0]) != digest:
        raise Refused(messages.ACME_KEY_MISMATCH.format(chainfile=chainfile, keyfile=keyfile))
    if not in_order(tls, certificates):
        raise Refused(messages.CHAIN_FILE_NOT_IN_ORDER.format(chainfile))
    now = time.time()
    leaf = None
    soon = []  # certificates expiring within the warning's days (-e 0 lets them in)
    for position, certificate in enumerate(certificates, 1):
        facts = parse_certificate_facts(tls.runner.run(openssl.certificate_facts(
            tls.openssl, chainfile, certificate)).stdout)
        if "not_after" not in facts or "not_before" not in facts:
            raise Refused(messages.ACME_NOT_A_CERTIFICATE.format(position=position,
                                                                 chainfile=chainfile))
        what = dict(position=position, chainfile=chainfile, subject=facts.get("subject", ""))
        if facts["not_after"] <= now:
            raise Refused(messages.ACME_EXPIRED.format(when=iso(facts["not_after"]), **what),
                          expired=True)
        if facts["not_before"] > now:
            raise Refused(messages.ACME_NOT_YET_VALID.format(when=iso(facts["not_before"]),
                                                             **what))
        if facts["not_after"] <= now + margin:
            raise Refused(messages.ACME_EXPIRES_SOON.format(
                when=iso(facts["not_after"]), days=_days(margin), **what))
        if source != "staged" and facts["not_after"] <= now + MARGIN_DAYS * DAY:
            soon.append(messages.ACME_EXPIRES_SOON_DEPLOYED.format(
                when=iso(facts["not_after"]), days=MARGIN_DAYS, margin=_days(margin), **what))
        leaf = leaf or facts
    names = leaf["names"] or [leaf.get("subject", "").partition("CN=")[2].split(",")[0]]
    for hostname in hostnames:
        if not any(covers(name, hostname) for name in names):
            raise Refused(messages.ACME_NAME_MISSING.format(
                chainfile=chainfile, hostname=hostname, names=", ".join(names)))
    if soon:
        tls.log.warn(soon)
    issuers = [certificate_digest(tls, certificate) for certificate in certificates[1:]]
    return Material(source, keyfile, chainfile, key_pem, key_type.algorithm, digest,
                    certificates, [issuer for issuer in issuers if issuer], leaf["not_after"],
                    names)


def _days(seconds):
    return "%g" % (seconds / float(DAY))


def staged_materials(tls, hostnames, given):
    """What earlier runs staged, for the algorithms not given now (checked
    again: a date may have passed).  One that cannot be deployed any more
    is set aside, with a warning: it concerns its own algorithm only."""
    found = []
    for algorithm in tls.setup.algorithms():
        path = staged_path(tls, algorithm)
        if algorithm not in given and os.path.lexists(path) and not os.path.isfile(path):
            tls.log.warn([messages.ACME_STAGED_NOT_REMOVED.format(
                path=path, problem=material.problem(path) or "not a regular file")])
        if algorithm in given or not os.path.isfile(path):
            continue
        try:
            found.append(check_material(tls, "staged", path, path, hostnames,
                                        algorithm=algorithm))
        except Refused as refusal:
            set_aside(tls, algorithm, path, refusal)
    return found
