"""Keys, certificates and names as upstream's helpers resolve them.

Which key file an algorithm's name or a path means, the private key in a
file (and its type), and the SHA-256 digests of public keys that the TLSA
records and the key/certificate match are made of.  Upstream's nine, the
TLSA subcommands and status all use these.
"""

import collections
import os
import sys

from postfix_tls.core import messages, openssl

KEY_FILE_PARAMETERS = {"rsa": "smtpd_tls_key_file", "ecdsa": "smtpd_tls_eckey_file"}
# Postfix 3.4+: when set, the keys and chains Postfix loads (the above are ignored).
CHAIN_FILES = "smtpd_tls_chain_files"
SNI_MAPS = "tls_server_sni_maps"  # 3.4+: chain files per SNI name (core/sni.py)

# deploy-acme-cert's key and chain waiting for their TLSA record, in the
# configuration directory: the next key of output-server-tlsa-rollover too.
ACME_STAGED_FILE = "acme-{}.staged.pem"
# Where an ACME client keeps the key of its next renewal, made ahead
# (acme/next_keys.py): the rollover's next key too.
ACME_NEXT_FILE = "acme-{}.next"
# The same for a lineage deployed into tls_server_sni_maps (sni/deploy.py):
# its key and chain, staged, and made ahead.
SNI_FILE = "acme-sni-{label}-{algorithm}.pem"
SNI_STAGED_FILE = "acme-sni-{label}-{algorithm}.staged.pem"
SNI_NEXT_FILE = "acme-sni-{label}-{algorithm}.next"


def sni_label(path, template, algorithm):
    """The LABEL in the name of path, one of the SNI templates above for
    algorithm; None when its name has another form."""
    prefix, _, suffix = template.format(label="\n", algorithm=algorithm).partition("\n")
    base = os.path.basename(path)
    if not (base.startswith(prefix) and base.endswith(suffix)):
        return None
    return base[len(prefix):-len(suffix)]


def sni_files(directory, template, algorithm):
    """[(path, LABEL)] of the files in directory named by an SNI template
    for algorithm, in name order: any LABEL (the callers judge it)."""
    import glob  # only in the runs that look for them

    pattern = os.path.join(glob.escape(directory), template.format(label="*",
                                                                   algorithm=algorithm))
    return [(path, sni_label(path, template, algorithm)) for path in sorted(glob.glob(pattern))]


KeyType = collections.namedtuple("KeyType", "command algorithm key_param cert_param")


def set_fqdn(tls, hostname):
    """hostname, or else $myhostname (read from a file when it is a path)."""
    if hostname:
        return hostname
    fqdn = tls.postconf.get("-x", "myhostname")
    if fqdn.startswith("/"):
        try:
            with open(fqdn, "rb") as stream:
                fqdn = stream.read().decode("utf-8", "surrogateescape").rstrip("\n")
        except OSError as error:
            sys.stderr.write("postfix-tls: %s: %s\n" % (fqdn, error.strerror))
            return ""
    return fqdn


def set_keyfile(tls, name):
    """The key file that name means: an algorithm's configured key or a path."""
    if name in KEY_FILE_PARAMETERS:
        supported = name in tls.setup.algorithms()
        keyfile = tls.postconf.get("-nx", KEY_FILE_PARAMETERS[name]) if supported else ""
    elif name in ("", "none") or name.startswith("/"):
        keyfile = name
    else:
        # User-specified key pathnames are relative to the configuration directory.
        keyfile = tls.config_directory + "/" + name
    return "" if keyfile == "none" else keyfile


def read_key(tls, keyfile):
    """(key PEM, KeyType) of the private key in keyfile, or None."""
    if not tls.is_file(keyfile):
        return None
    for row in openssl.KEY_TYPES:
        result = tls.runner.run(openssl.read_key(tls.openssl, row[0], keyfile))
        # "| grep ." : the non-empty lines, and success when there are any.
        lines = [line for line in result.stdout.split(b"\n") if line]
        if lines:
            return b"\n".join(lines) + b"\n", KeyType(*row)
    return None


def checked_key(tls, keyfile, ours=False):
    """(key PEM, KeyType) of keyfile's private key; fails when there is none.
    ours: for a subcommand of ours (with --chain-file too), which says why
    openssl found no RSA or ECDSA key where it can tell, not upstream's words."""
    key = read_key(tls, keyfile)
    if key is None:
        if openssl.is_encrypted(keyfile):  # ours: say why, before upstream's message
            tls.log.warn([messages.KEY_ENCRYPTED.format(keyfile)])
        if ours or tls.chain_file:
            why = _no_key_found(keyfile)
            if why:
                tls.fail(why)
        tls.fail(messages.NO_PRIVATE_KEY.format(keyfile))
    return key


# The algorithms of keys Postfix can load (from chain files) but "postfix
# tls" neither makes nor deploys, as messages name them.
_NOT_DEPLOYED = {"ed25519": "Ed25519", "ed448": "Ed448"}


def _no_key_found(keyfile):
    """Why openssl read no RSA or ECDSA key from keyfile, when the file
    says: an Ed25519 or Ed448 key, a byte-order mark; else ""."""
    from postfix_tls.core import chainfiles

    try:
        objects = chainfiles.read_objects(keyfile)
    except chainfiles.ChainFileError as error:
        return str(error)
    except OSError:
        return ""
    for item in objects:
        if item.label.endswith("PRIVATE KEY"):
            name = _NOT_DEPLOYED.get(chainfiles.key_algorithm(item) or "")
            return messages.KEY_NOT_DEPLOYED.format(keyfile=keyfile, algorithm=name) \
                if name else ""
    return ""


def check_key(tls, keyfile):
    """The KeyType of keyfile's private key; fails when there is none."""
    return checked_key(tls, keyfile)[1]


def _digest(tls, path, pipeline):
    if not tls.is_file(path):
        return ""
    for key_type in openssl.DIGEST_TYPES:
        digest = openssl.hex_digest(tls.runner.run(*pipeline(tls.openssl, key_type, path)).stdout)
        if digest:
            return digest
    return ""


def pubkey_digest(tls, keyfile):
    return _digest(tls, keyfile, openssl.key_digest_pipeline)


def cert_pubkey_digest(tls, certfile):
    return _digest(tls, certfile, openssl.cert_digest_pipeline)


def deployed_chains(tls):
    """The keys and chains of smtpd_tls_chain_files ([] where it is unset, or
    before Postfix 3.4); fails naming the file and object Postfix would refuse."""
    if not tls.postconf.knows(CHAIN_FILES):
        return []
    value = tls.postconf.get("-nx", CHAIN_FILES)
    if not value.strip():
        return []
    from postfix_tls.core import chainfiles  # only where chain files are set (base64)

    try:
        return chainfiles.read(chainfiles.split_names(value))
    except chainfiles.ChainFileError as error:
        tls.fail(str(error))


def chain_key_digest(tls, chain):
    """SHA-256 of the public key of a chain's private key."""
    return key_text_digest(tls, chain.key_text)


def key_text_digest(tls, key_text, hash_name="sha256"):
    """SHA-256 (or hash_name) of the public key of a private key given as PEM
    text (it goes to openssl on stdin, and is never traced)."""
    return openssl.hex_digest(tls.runner.run(*openssl.pem_key_digest(
        tls.openssl, key_text, hash_name)).stdout)


def certificate_digest(tls, certificate, hash_name="sha256"):
    """SHA-256 (or hash_name) of the public key of a certificate given as PEM
    text: a chain file's, a client's, or what a live server presented."""
    return openssl.hex_digest(tls.runner.run(*openssl.presented_key_digest(
        tls.openssl, certificate, hash_name)).stdout)


def key_file_digest(tls, keyfile, hash_name):
    """hash_name of the public key of keyfile's private key ("" if none)."""
    return openssl.hex_digest(tls.runner.run(*openssl.key_file_digest(
        tls.openssl, keyfile, hash_name)).stdout)


def in_order(tls, certificates):
    """Whether each certificate (PEM text) is signed by the next, the order
    Postfix sends them in (openssl verify -partial_chain, on copies in a
    private temporary directory: certificates are public)."""
    if len(certificates) < 2:
        return True
    import shutil
    import tempfile

    directory = tempfile.mkdtemp(prefix="postfix-tls-chain.")
    try:
        paths = []
        for number, certificate in enumerate(certificates):
            paths.append(os.path.join(directory, "%d.pem" % number))
            with open(paths[-1], "wb") as stream:  # whatever the locale
                stream.write(certificate.encode("ascii", "replace"))
        return all(tls.runner.run(openssl.signed_by(tls.openssl, paths[number],
                                                    paths[number + 1])).returncode == 0
                   for number in range(len(paths) - 1))
    finally:
        shutil.rmtree(directory)
