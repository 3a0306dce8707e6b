"""What Postfix loads now for each algorithm, recognised from the files'
texts, and where deploy-acme-cert's new material goes."""

import os

from postfix_tls import chain_deploy
from postfix_tls.acme.facts import (
    CERT_PARAMETERS,
    DEPLOYED_FILE,
    UNCHANGED,
    Deployment,
    Loaded,
    Material,
    config_file,
    pem_certificates,
    private_key,
)
from postfix_tls.core import chainfiles, messages
from postfix_tls.core.keys import (
    CHAIN_FILES,
    chain_key_digest,
    pubkey_digest,
    set_keyfile,
)


def loaded(tls, algorithm, chains, setting, digest=True):
    """What Postfix loads for algorithm: its entry of the chain files; the
    legacy files when no chain file is set (Postfix ignores them otherwise);
    else nothing.  digest: with its key's SPKI digest (openssl)."""
    chain = chains.get(algorithm)
    if chain:
        return Loaded(chain.key_path, chain.key_path, chain.key_text, chain.certificates,
                      chain_key_digest(tls, chain) if digest else "")
    if setting.names:
        return Loaded()
    certfile = tls.postconf.get("-nx", CERT_PARAMETERS[algorithm])
    keyfile = set_keyfile(tls, algorithm) or certfile
    if not (os.path.isfile(certfile) and os.path.isfile(keyfile)):
        return Loaded(keyfile, certfile)
    key = private_key(keyfile)
    return Loaded(keyfile, certfile, key.text if key else "", pem_certificates(certfile),
                  pubkey_digest(tls, keyfile) if digest else "")






def already_loaded(tls, source, keyfile, chainfile, chains, setting):
    """An unchanged Deployment when Postfix loads this very key and chain,
    from files of its own (not the client's), else None.  Read in Python,
    without openssl: what Postfix loads was checked when it was deployed,
    and a client's every no-change run (a timer's) stays cheap."""
    key, certificates = private_key(keyfile), pem_certificates(chainfile)
    if key is None or not certificates:
        return None
    algorithm = chainfiles.key_algorithm(key)
    if algorithm not in CERT_PARAMETERS:
        return None
    now = loaded(tls, algorithm, chains, setting, digest=False)
    if now.from_client((keyfile, chainfile)) or _normal([now.key_text]) != _normal(
            [key.text]) or _normal(now.certificates) != _normal(certificates):
        return None
    material = Material(source, keyfile, chainfile, key.text.encode("ascii"), algorithm, "",
                        certificates, [], None)
    deployment = Deployment(material, now, now.certfile, chain_file=algorithm in chains)
    deployment.action = UNCHANGED
    return deployment




def plan(tls, material, chains, setting):
    """Where material goes, and whether it is already what Postfix loads."""
    algorithm = material.algorithm
    now = loaded(tls, algorithm, chains, setting)
    if setting.names or tls.chain_file:
        if not tls.postconf.knows(CHAIN_FILES):
            tls.fail(messages.CHAIN_FILE_NEEDS_3_4.format(
                version=tls.postconf.release.mail_version or "before 3.4"))
        if tls.chain_file and not chains.get(algorithm):
            named = chain_deploy.named_elsewhere(tls, tls.chain_file)
            if named:
                tls.fail(messages.CHAIN_FILE_NAMED_ELSEWHERE.format(path=tls.chain_file,
                                                                    parameter=named))
        chain = chains.get(algorithm)
        # A named file that is missing is the first to write into: Postfix
        # loads nothing until it exists.
        path = chain.key_path if chain else (tls.chain_file or (
            setting.missing + setting.names)[0])
        deployment = Deployment(material, now, path, chain_file=True)
    else:
        deployment = Deployment(material, now, config_file(tls, DEPLOYED_FILE, algorithm),
                                chain_file=False)
    from_client = now.from_client((material.keyfile, material.chainfile))
    if (not deployment.key_changed and _normal(now.certificates) == _normal(
            material.certificates) and not from_client and material.source != "staged"):
        deployment.action = UNCHANGED
    elif not deployment.key_changed:
        deployment.why = messages.ACME_SAME_KEY
    return deployment


def _normal(certificates):
    return ["".join(certificate.split()) for certificate in certificates]
