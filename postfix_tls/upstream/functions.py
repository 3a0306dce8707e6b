"""The shell functions of postfix-tls-script that upstream's nine
subcommands (commands.py) are built from, one function each, named as the
script names them.

Each reads like its namesake in the script; the shell glue is Python,
every external command goes through the runner, every message through the
logger.  A failing step logs its fatal message and raises
:class:`~postfix_tls.core.context.Failed`.
"""

import os
import time

from postfix_tls.core import messages, openssl, validate
from postfix_tls.core.context import Failed
from postfix_tls.core.keys import (
    CHAIN_FILES,
    cert_pubkey_digest,
    checked_key,
    pubkey_digest,
    read_key,
    set_fqdn,
)

RSA_BITS = "2048"
EC_CURVE = "secp256r1"

# Overwrite SMTP client and server settings only when these are at defaults.
CLIENT_SETTINGS = (
    "smtp_use_tls",
    "smtp_enforce_tls",
    "smtp_tls_enforce_peername",
    "smtp_tls_security_level",
    "smtp_tls_cert_file",
    "smtp_tls_dcert_file",
    "smtp_tls_eccert_file",
)
SERVER_SETTINGS = (
    "smtpd_use_tls",
    "smtpd_enforce_tls",
    "smtpd_tls_security_level",
    "smtpd_tls_cert_file",
    "smtpd_tls_dcert_file",
    "smtpd_tls_eccert_file",
)
# Ours: with smtpd_tls_chain_files (3.4+), which Postfix loads instead of the
# legacy files: set, it is no default either (a release without it is not asked).
SERVER_TLS_SETTINGS = SERVER_SETTINGS + (CHAIN_FILES,)



def copy_key(tls, algorithm, oldkey, newkey):
    key = read_key(tls, oldkey)
    if key is None:
        tls.fail(messages.COPY_KEY_FAILED.format(oldkey, newkey))
    pem, key_type = key
    # Upstream writes the copy, then checks and removes it; checked first,
    # nothing is written that would be removed again.
    if key_type.algorithm != algorithm:
        tls.fail(messages.KEY_ALGORITHM_MISMATCH.format(key_type.algorithm, oldkey, algorithm))
    if not _create_key_file(tls, newkey, pem):
        tls.fail(messages.KEY_EXISTS.format(newkey))
    tls.runner.plan.file_made(newkey, key_type.command)


def copy_chain_key(tls, chain, newkey):
    """Ours: copy the key of a chain file's entry (openssl -in would read
    only a file's first key; the parser has this one's text)."""
    if not _create_key_file(tls, newkey, chain.key_text.encode("ascii")):
        tls.fail(messages.KEY_EXISTS.format(newkey))
    tls.runner.plan.file_made(newkey, openssl.KEY_TYPE_OF[chain.algorithm])


def _create_key_file(tls, path, data):
    """Create path, mode 0600, exclusively; False if it exists."""
    try:
        return tls.runner.create_file(path, 0o600, data)
    except OSError as error:  # unwritable directory, full disk
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))


def create_key(tls, algorithm, bits, newkey):
    # Created empty and exclusively first (ours): of two runs in the same
    # second, one gets the file and the other fails, as upstream's check
    # says it would.
    if not _create_key_file(tls, newkey, b""):
        tls.fail(messages.KEY_EXISTS.format(newkey))
    result = tls.runner.run(openssl.new_key(tls.openssl, algorithm, bits, newkey))
    if result.returncode:
        # echo "$_err" | $WARN: trailing newlines go, one line at least.
        output = result.stdout.decode("utf-8", "surrogateescape").rstrip("\n")
        tls.log.warn(output.split("\n"))
        tls.fail(messages.KEY_GENERATION_FAILED.format(algorithm, bits))


def create_cert(tls, algorithm, keyfile, certfile, hostnames):
    if tls.is_readable(certfile):
        tls.runner.discard(keyfile)
        tls.fail(messages.CERT_EXISTS.format(certfile))
    command = openssl.self_signed_cert(tls.openssl, algorithm, keyfile, certfile, hostnames,
                                       tls.setup.stdin_path)
    if tls.runner.run(command).returncode:
        tls.runner.discard(certfile, keyfile)
        tls.fail(messages.CERT_GENERATION_FAILED)


def ensure_key(tls, algorithm, bits, oldkey, chain=None):
    """Copy oldkey (or chain's key), or else create a key; returns (keyfile, certfile)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    prefix = "" if algorithm == "rsa" else "ec"
    keyfile = "%s/%skey-%s.pem" % (tls.config_directory, prefix, stamp)
    certfile = "%s/%scert-%s.pem" % (tls.config_directory, prefix, stamp)
    if tls.is_readable(keyfile):
        tls.fail(messages.KEY_EXISTS.format(keyfile))
    if tls.is_readable(certfile):
        tls.fail(messages.CERT_EXISTS.format(certfile))
    try:
        if chain is not None:
            copy_chain_key(tls, chain, keyfile)
        elif oldkey:
            copy_key(tls, algorithm, oldkey, keyfile)
        else:
            create_key(tls, algorithm, bits, keyfile)
    except Failed:
        tls.runner.discard(keyfile)
        raise
    return keyfile, certfile


def init_random_source(tls, randsource):
    """The tls_random_source to set: -r's, main.cf's, or /dev/urandom."""
    source = randsource or tls.postconf.get("-x", "tls_random_source")
    if not source:
        if not os.access("/dev/urandom", os.R_OK):
            tls.fail(messages.NO_RANDOM_SOURCE)
        source = "dev:/dev/urandom"
    return source


def all_default(tls, settings):
    # Don't be too clever by half: a setting is at its default when unset or empty.
    return not any(tls.postconf.read("-n", settings).values())


def cache_db_type(tls):
    """lmdb, else btree, else None: a read-write map type for session caches."""
    types = tls.postconf.lines("-m")
    for preferred in ("lmdb", "btree"):
        if preferred in types:
            return preferred
    return None


def edit_main_cf(tls, settings, info, then_log):
    """The one ``postconf -e``; then log the lines then_log on the info
    block, started before (see Logger.start_block)."""
    if tls.postconf.edit(settings):
        tls.fail(messages.POSTCONF_EDIT_FAILED.format(tls.config_directory))
    # main.cf names the new files now: whatever comes (a signal, an error
    # while logging), they stay.
    tls.runner.finishing()
    info.finish(then_log)


def deploy_server_cert(tls, certfile, keyfile, info, then_log, enable=False, random_source=""):
    """Check that key and certificate match, then set them in main.cf;
    enable: with the settings that enable TLS in the SMTP server."""
    key_pem, key_type = checked_key(tls, keyfile)
    if not tls.is_file(certfile):  # ours: upstream says only that the digest failed
        tls.fail(messages.NOT_A_FILE.format(certfile))
    cert_digest = cert_pubkey_digest(tls, certfile)
    if not cert_digest:
        tls.fail(messages.CERT_DIGEST_FAILED)
    key_digest = pubkey_digest(tls, keyfile)
    if not key_digest:
        tls.fail(messages.KEY_DIGEST_FAILED)
    if cert_digest != key_digest:
        tls.fail(messages.CERT_KEY_MISMATCH.format(certfile, keyfile))
    if tls.chain_file:  # ours: into a chain file, for smtpd_tls_chain_files
        from postfix_tls import chain_deploy

        settings, notes = chain_deploy.deploy(tls, certfile, keyfile, key_pem, key_type)
        then_log = notes + list(then_log)
    else:
        settings = ["%s = %s" % (key_type.key_param, keyfile),
                    "%s = %s" % (key_type.cert_param, certfile)]
    if enable:
        settings += ["smtpd_tls_security_level = may",
                     "smtpd_tls_received_header = yes",
                     "smtpd_tls_loglevel = 1"]
    if random_source:
        settings.append("tls_random_source = " + random_source)
    # All in one shot, since postconf delays modifying "hot" main.cf files.
    edit_main_cf(tls, settings, info, then_log)


def check_material(tls, *paths):
    """Fail on a FIFO, a device, a directory or a huge file (material.py);
    what is missing is for the checks that follow (a dry run's planned files)."""
    from postfix_tls.core import material

    for path in paths:
        try:
            material.check(path)
        except material.NotMaterial as error:
            tls.fail(messages.NOT_MATERIAL.format(problem=error))
        except OSError:
            pass


def resolve_hostnames(tls, hostnames):
    """The certificate's names: an empty or missing first one is $myhostname."""
    names = [set_fqdn(tls, hostnames[0] if hostnames else "")] + list(hostnames[1:])
    for name in names:
        if not validate.hostname(name):
            tls.fail(messages.BAD_HOSTNAME.format(validate.shown(name)))
    return names


def new_server_cert(tls, algorithm, bits, oldkey, hostnames, info, enable=False,
                    random_source="", chain=None):
    """A new certificate, with a new or copied key (oldkey's, or chain's: a
    chain file's); enable: deployed, and TLS enabled in the SMTP server
    (enable-server)."""
    names = resolve_hostnames(tls, hostnames)
    keyfile, certfile = ensure_key(tls, algorithm, bits, oldkey, chain)
    create_cert(tls, algorithm, keyfile, certfile, names)
    if enable:
        lines = messages.server_deployed(tls.hints, enabled=True)
    else:
        lines = messages.created(certfile, keyfile, tls.hints)
    lines += messages.csr_hint(certfile, keyfile, enable, tls.hints)
    lines += messages.tlsa_hint(keyfile, enable, tls.hints)
    if not (oldkey or chain):
        lines += messages.dane_dns_hint(enable)
    if enable:
        deploy_server_cert(tls, certfile, keyfile, info, lines, enable=True,
                           random_source=random_source)
    else:
        info.finish(lines)
