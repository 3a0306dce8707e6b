"""--chain-file (ours): deploy a key and its chain into a file of
smtpd_tls_chain_files (Postfix 3.4+), the way Postfix reads it.

The file gets the key, then the certificate and its chain, in Postfix's
order, keeping the other algorithms' entries already there; it is written
to a temporary file in the same directory and renamed into place, mode
0600, so that Postfix never reads a key without its certificate.  Then one
``postconf -e`` lists the file in smtpd_tls_chain_files and empties the
legacy parameters, which Postfix would ignore (and warn about).  Nothing
is written before every check passed: the key matches the certificate
(deploy_server_cert checked), the chain is in order, the file as it would
be parses as Postfix would read it.
"""

from . import chainfiles, messages
from .keys import CHAIN_FILES, deployed_chains, in_order

# Emptied when chain files are deployed: Postfix ignores them then.
LEGACY_PARAMETERS = ("smtpd_tls_cert_file", "smtpd_tls_key_file", "smtpd_tls_eccert_file",
                     "smtpd_tls_eckey_file", "smtpd_tls_dcert_file", "smtpd_tls_dkey_file")


def certificates(tls, certfile):
    """The PEM certificates in certfile; fails unless it holds certificates only."""
    try:
        objects = chainfiles.read_objects(certfile)
    except chainfiles.ChainFileError as error:  # a byte-order mark: openssl would skip the leaf
        tls.fail(str(error))
    except OSError:
        objects = []
    found = [item.text for item in objects if item.label == "CERTIFICATE"]
    if not found or len(found) != len(objects):
        tls.fail(messages.CHAIN_FILE_NO_CERTIFICATE.format(certfile))
    return found


def deploy(tls, certfile, keyfile, key_pem, key_type):
    """Write the chain file with key_pem, the key deploy_server_cert checked
    (keyfile's); returns its main.cf settings, for the one postconf -e."""
    if not tls.postconf.knows(CHAIN_FILES):
        tls.fail(messages.CHAIN_FILE_NEEDS_3_4.format(
            version=tls.postconf.release.mail_version or "before 3.4"))
    path, algorithm = tls.chain_file, key_type.algorithm
    names = chainfiles.split_names(tls.postconf.get("-nx", CHAIN_FILES))
    if tls.runner.plan.planned(keyfile) or tls.runner.plan.planned(certfile):
        # A dry run whose skipped steps would have made them: only said.
        tls.runner.replace_file(path, b"", 0o600)
    else:
        _write(tls, path, algorithm, certfile, key_pem)
    settings = ["%s = %s" % (CHAIN_FILES, ", ".join(names + ([] if path in names else [path])))]
    legacy = tls.postconf.read("-n", LEGACY_PARAMETERS)
    return settings + ["%s =" % name for name in LEGACY_PARAMETERS if legacy[name]]


def _write(tls, path, algorithm, certfile, key_pem):
    """Check, then replace path: the other algorithms' entries, then this one."""
    found = certificates(tls, certfile)
    if not in_order(tls, found):
        tls.fail(messages.CHAIN_FILE_NOT_IN_ORDER.format(certfile))
    text = file_text(tls, path, algorithm, key_pem, found)
    try:
        tls.runner.replace_file(path, text.encode("ascii"), 0o600)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))


def file_text(tls, path, algorithm, key_pem, found):
    """path's text with algorithm's key and chain: the other algorithms'
    entries it holds, then this one, checked as Postfix will read it."""
    chains = deployed_chains(tls)
    for chain in chains:
        if chain.algorithm == algorithm and chain.key_path != path:
            tls.fail(messages.CHAIN_FILE_OTHER_FILE.format(path=path, algorithm=algorithm,
                                                           other=chain.key_path))
    kept = [chain for chain in chains if chain.key_path == path and chain.algorithm != algorithm]
    text = "".join(chain.key_text + "".join(chain.certificates) for chain in kept)
    text += key_pem.decode("ascii") + "".join(found)
    try:
        chainfiles.parse([(path, text)])  # as Postfix will read it
    except chainfiles.ChainFileError as error:
        tls.fail(str(error))
    return text
