"""Upstream's nine subcommands, each reading like its namesake in
postfix-tls-script: options first, then the script's shell functions
(functions.py) in the script's order."""

import os
import sys

from postfix_tls.core import messages, openssl, validate
from postfix_tls.core.keys import (
    KEY_FILE_PARAMETERS,
    chain_key_digest,
    check_key,
    deployed_chains,
    pubkey_digest,
    set_fqdn,
    set_keyfile,
)
from postfix_tls.upstream.functions import (
    CLIENT_SETTINGS,
    EC_CURVE,
    RSA_BITS,
    SERVER_TLS_SETTINGS,
    all_default,
    cache_db_type,
    check_material,
    deploy_server_cert,
    edit_main_cf,
    init_random_source,
    new_server_cert,
    resolve_hostnames,
)


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
        check_material(tls, keyfile, certfile)
        from postfix_tls import chain_deploy

        chain_deploy.certificates(tls, certfile)  # its own words, before openssl's digest
    if not tls.is_file(keyfile):  # ours: upstream says "no private key found in file"
        tls.fail(messages.NOT_A_FILE.format(keyfile))
    with tls.log.start_block("info") as info:
        deploy_server_cert(tls, certfile, keyfile, info, messages.server_deployed(tls.hints))
    return 0


def _chain_csr_key(tls, option):
    """Ours: where chain files are set, the Chain of -k's algorithm (or of
    the first supported one); None where they are not set."""
    if option and option not in KEY_FILE_PARAMETERS:
        return None
    chains = dict((chain.algorithm, chain) for chain in deployed_chains(tls))
    if not chains:
        return None
    for algorithm in [option] if option else tls.setup.algorithms():
        chain = chains.get(algorithm)
        if chain is not None:
            return chain
    tls.fail(messages.NO_USABLE_KEYFILE)


def output_server_csr(tls, options, operands):
    chain = _chain_csr_key(tls, options.get("k", ""))
    if chain is not None and not chain.first_in_file:
        # openssl req -key reads a file's first key only: this one is
        # given on a pipe of its own (stdin is the configuration's).
        from postfix_tls.core.keypipe import KeyPipeError

        names = resolve_hostnames(tls, operands)
        command = openssl.csr(tls.openssl, chain.key_path, names, tls.setup.stdin_path,
                              key_text=chain.key_text)
        try:
            return tls.runner.run(command).returncode and 1
        except KeyPipeError as error:
            tls.fail(messages.KEY_PIPE_FAILED.format(where=chain.where, why=error))
    if chain is not None:
        keyfile = chain.key_path
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


def _served_chains(tls, sni_name):
    if not sni_name:
        return deployed_chains(tls)
    from postfix_tls.sni import keys as sni_keys

    return sni_keys.chains(tls, sni_name)


def output_server_tlsa(tls, options, operands):
    from postfix_tls.core.tlsa import tlsa_ports, tlsa_record  # loaded for this one alone

    sni_name = options.get("S", "")  # ours: the keys the SNI table gives this name
    hostname = set_fqdn(tls, options.get("h", "") or sni_name)
    if not validate.hostname(hostname, wildcard=False):
        tls.fail(messages.BAD_HOSTNAME.format(validate.shown(hostname)))
    ports = tlsa_ports(tls, options.get("p", "25"))  # -p is ours
    records = []
    # Ours: where chain files are set, their keys are what Postfix loads.
    for chain in [] if operands else _served_chains(tls, sni_name):
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
        from postfix_tls.core import render

        render.tlsa_records(records)
    return 0


def all_default_client(tls, options, operands):
    return 0 if all_default(tls, CLIENT_SETTINGS) else 1


def all_default_server(tls, options, operands):
    return 0 if all_default(tls, SERVER_TLS_SETTINGS) else 1
