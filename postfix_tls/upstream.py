"""Upstream's nine subcommands, one function per shell function of
postfix-tls-script, and the helpers it names.

Each reads like its namesake in the script; the shell glue is Python,
every external command goes through the runner, every message through the
logger.  A failing step logs its fatal message and raises
:class:`~postfix_tls.context.Failed`.  subcommands.py declares them, with
what each reads ahead.
"""

import os
import sys
import time

from . import messages, openssl, validate
from .context import Failed
from .keys import (
    CHAIN_FILES,
    KEY_FILE_PARAMETERS,
    cert_pubkey_digest,
    chain_key_digest,
    check_key,
    checked_key,
    deployed_chains,
    pubkey_digest,
    read_key,
    set_fqdn,
    set_keyfile,
)
from .tlsa import tlsa_ports, tlsa_record

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


# ----- helpers, as upstream names them

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
        from . import chaindeploy

        settings, notes = chaindeploy.deploy(tls, certfile, keyfile, key_pem, key_type)
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


def _check_material(tls, *paths):
    """Fail on a FIFO, a device, a directory or a huge file (material.py);
    what is missing is for the checks that follow (a dry run's planned files)."""
    from . import material

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


# ----- the subcommands

def _key_options(tls, options, empty_message, unsupported_message):
    """(algorithm, bits) from -a and -b, with upstream's checks and defaults."""
    algorithm = options.get("a", tls.setup.default_algorithm)
    bits = options.get("b", "")
    if algorithm == "":
        tls.fail(empty_message)
    if algorithm not in tls.setup.algorithms():
        tls.fail(unsupported_message.format(algorithm))
    bits = bits or (RSA_BITS if algorithm == "rsa" else EC_CURVE)
    if algorithm == "rsa" and not validate.rsa_bits(bits):
        tls.fail(messages.BAD_RSA_BITS.format(validate.shown(bits)))
    if algorithm == "ecdsa" and not validate.curve(bits):
        tls.fail(messages.BAD_CURVE.format(validate.shown(bits)))
    if algorithm == "ecdsa" and tls.runner.dry_run and bits != EC_CURVE:
        # The real run learns at "ecparam -genkey" that openssl has no such
        # curve; a dry run asks openssl the same question without a key
        # (for secp256r1 the start-up checks asked already).
        result = tls.runner.run(openssl.curve_check(tls.openssl, bits))
        if result.returncode:
            tls.log.warn([messages.UNKNOWN_CURVE.format(bits)])
            tls.fail(messages.KEY_GENERATION_FAILED.format(algorithm, bits))
    return algorithm, bits


def _random_source_option(tls, options):
    randsource = options.get("r", "")
    if randsource and not validate.random_source(randsource):
        tls.fail(messages.BAD_RANDOM_SOURCE.format(validate.shown(randsource)))
    return init_random_source(tls, randsource)


def enable_client(tls, options, operands):
    with tls.log.start_block("info") as info:
        return _enable_client(tls, options, info)


def _enable_client(tls, options, info):
    random_source = _random_source_option(tls, options)
    if not all_default(tls, CLIENT_SETTINGS):
        info.finish(messages.enable_client_suggestion(cache_db_type(tls)))
        return 0
    settings = ["smtp_tls_security_level = may", "smtp_tls_loglevel = 1"]
    dbtype = cache_db_type(tls)
    if dbtype:
        settings.append("smtp_tls_session_cache_database = %s:%s/smtp_scache"
                        % (dbtype, tls.data_directory))
    if random_source:
        settings.append("tls_random_source = " + random_source)
    edit_main_cf(tls, settings, info, then_log=messages.client_deployed(tls.hints))
    return 0


def enable_server(tls, options, operands):
    algorithm, bits = _key_options(tls, options, messages.EMPTY_ALGORITHM,
                                   messages.UNSUPPORTED_PRIVATE)
    random_source = _random_source_option(tls, options)
    with tls.log.start_block("info") as info:
        if all_default(tls, SERVER_TLS_SETTINGS):
            new_server_cert(tls, algorithm, bits, "", operands, info, enable=True,
                            random_source=random_source)
        else:
            info.finish(messages.enable_server_suggestion(tls.hints))
    return 0


def new_server_key(tls, options, operands):
    algorithm, bits = _key_options(tls, options, messages.EMPTY_ALGORITHM,
                                   messages.UNSUPPORTED_PUBLIC)
    with tls.log.start_block("info") as info:
        new_server_cert(tls, algorithm, bits, "", operands, info)
    return 0


def new_server_cert_command(tls, options, operands):
    algorithm, bits = _key_options(tls, options, messages.EMPTY_ALGORITHM_CERT,
                                   messages.UNSUPPORTED_PRIVATE)
    # Ours: where chain files are set, the key Postfix loads is theirs.
    chain = dict((chain.algorithm, chain) for chain in deployed_chains(tls)).get(algorithm)
    keyfile = "" if chain else set_keyfile(tls, algorithm)
    if keyfile and not tls.is_file(keyfile):
        tls.log.warn([messages.KEY_FILE_NOT_FOUND.format(keyfile)])
        keyfile = ""
    # Try to re-use (copy) the existing key.
    with tls.log.start_block("info") as info:
        new_server_cert(tls, algorithm, bits, keyfile, operands, info, chain=chain)
    return 0


def _in_config_directory(tls, path):
    return path if path.startswith("/") else tls.config_directory + "/" + path


def deploy_server_cert_command(tls, options, operands):
    certfile, keyfile = (_in_config_directory(tls, path) for path in operands)
    if tls.chain_file:  # ours: openssl is given key and certificate files only
        _check_material(tls, keyfile, certfile)
        from . import chaindeploy

        chaindeploy.certificates(tls, certfile)  # its own words, before openssl's digest
    if not tls.is_file(keyfile):  # ours: upstream says "no private key found in file"
        tls.fail(messages.NOT_A_FILE.format(keyfile))
    with tls.log.start_block("info") as info:
        deploy_server_cert(tls, certfile, keyfile, info, messages.server_deployed(tls.hints))
    return 0


def _chain_csr_keyfile(tls, option):
    """Ours: where chain files are set, the file holding the key of -k's
    algorithm (or of the first supported one); "" where they are not set."""
    if option and option not in KEY_FILE_PARAMETERS:
        return ""
    chains = dict((chain.algorithm, chain) for chain in deployed_chains(tls))
    if not chains:
        return ""
    for algorithm in [option] if option else tls.setup.algorithms():
        chain = chains.get(algorithm)
        if chain is None:
            continue
        if not chain.first_in_file:
            # openssl req -key reads a file's first key only.
            tls.fail(messages.CHAIN_CSR_NOT_FIRST.format(
                algorithm=algorithm, where=chain.where))
        return chain.key_path
    tls.fail(messages.NO_USABLE_KEYFILE)


def output_server_csr(tls, options, operands):
    chain_keyfile = _chain_csr_keyfile(tls, options.get("k", ""))
    if chain_keyfile:
        keyfile = chain_keyfile
    elif options.get("k"):
        keyfile = set_keyfile(tls, options["k"])
        if options["k"] not in KEY_FILE_PARAMETERS and not tls.is_file(keyfile):
            # Ours: upstream says "No usable keyfile specified or configured".
            tls.fail(messages.NOT_A_FILE.format(keyfile))
    else:
        keyfile = ""
        for algorithm in tls.setup.algorithms():
            keyfile = set_keyfile(tls, algorithm)
            if keyfile:
                break
    if not tls.is_readable(keyfile):
        tls.fail(messages.NO_USABLE_KEYFILE)
    # Upstream maps the key file name once more, and $myhostname is the default.
    keyfile = set_keyfile(tls, keyfile)
    names = resolve_hostnames(tls, operands)
    if openssl.is_encrypted(keyfile) and not _stdin_is_a_terminal():
        # Ours: openssl would ask for the pass phrase on /dev/tty and wait.
        tls.fail(messages.KEY_ENCRYPTED_NO_TERMINAL.format(keyfile))
    command = openssl.csr(tls.openssl, keyfile, names, tls.setup.stdin_path)
    return tls.runner.run(command).returncode and 1


def _stdin_is_a_terminal():
    try:
        return os.isatty(0)
    except OSError:
        return False


def output_server_tlsa(tls, options, operands):
    hostname = set_fqdn(tls, options.get("h", ""))
    if not validate.hostname(hostname, wildcard=False):
        tls.fail(messages.BAD_HOSTNAME.format(validate.shown(hostname)))
    ports = tlsa_ports(tls, options.get("p", "25"))  # -p is ours
    records = []
    # Ours: where chain files are set, their keys are what Postfix loads.
    for chain in [] if operands else deployed_chains(tls):
        if not tls.json:
            sys.stdout.write("; %s (%s)\n" % (chain.where, chain.algorithm))
        digest = chain_key_digest(tls, chain)
        if not digest:
            tls.fail(messages.KEY_DIGEST_FAILED)
        for port in ports:
            records.append(tlsa_record(tls, hostname, port, digest, chain.key_path,
                                       chain.algorithm, deployed=True))
            if not tls.json:
                sys.stdout.write(messages.tlsa_record(hostname, digest, port) + "\n")
    for name in [] if records else operands or tls.setup.algorithms():
        keyfile = set_keyfile(tls, name)
        if not keyfile:
            continue
        if not tls.json:
            sys.stdout.write("; %s\n" % keyfile)
        key_type = check_key(tls, keyfile)
        digest = pubkey_digest(tls, keyfile)
        if not digest:
            tls.fail(messages.KEY_DIGEST_FAILED)
        for port in ports:
            records.append(tlsa_record(tls, hostname, port, digest, keyfile,
                                       key_type.algorithm))
            if not tls.json:
                sys.stdout.write(messages.tlsa_record(hostname, digest, port) + "\n")
    if not records:
        tls.fail(messages.NO_USABLE_KEYFILES)
    if tls.json:
        from . import render

        render.tlsa_records(records)
    return 0


def all_default_client(tls, options, operands):
    return 0 if all_default(tls, CLIENT_SETTINGS) else 1


def all_default_server(tls, options, operands):
    return 0 if all_default(tls, SERVER_TLS_SETTINGS) else 1
