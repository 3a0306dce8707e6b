"""Where deploy-acme-cert's material comes from: certbot's
RENEWED_LINEAGE, lego's LEGO_CERT_* variables, acme.sh's CERT_KEY_PATH and
CERT_FULLCHAIN_PATH (its --reloadcmd), dehydrated's hook calls, two
operands, or nothing (a timer's run: what is staged).  And the key the
client made for its next renewal, where it makes one (acme/next_keys.py)."""

import os

from postfix_tls.acme import next_keys
from postfix_tls.core import messages, validate

# dehydrated's hook calls: deploy_cert DOMAIN KEYFILE CERTFILE FULLCHAINFILE
# CHAINFILE TIMESTAMP deploys; unchanged_cert (every run that renews
# nothing) deploys what is staged; every other call is ignored, as
# dehydrated asks of its hooks.
DEHYDRATED_DEPLOY = "deploy_cert"
DEHYDRATED_UNCHANGED = "unchanged_cert"


class Source(object):
    """Where the material comes from: the client, [(keyfile, chainfile)],
    and [(client, keyfile)] of the keys it made for its next renewal;
    lineage_chain: the chain of the lineage a call with no material is
    about (dehydrated's unchanged_cert), whose names say whether its next
    key is the default certificate's or an SNI name's."""

    def __init__(self, name, pairs=(), dehydrated=False, next_keys=(), lineage_chain=""):
        self.name = name
        self.pairs = list(pairs)
        self.dehydrated = dehydrated
        self.next_keys = list(next_keys)
        self.lineage_chain = lineage_chain


def _dehydrated_call(name):
    """dehydrated's hook calls are named like deploy_cert, startup_hook."""
    return "_" in name and name.replace("_", "").isalpha() and name.islower()


def find_source(tls, operands):
    """The client's material; None for a dehydrated call to ignore."""
    given = [_in_config_directory(tls, path) for path in operands]
    if len(given) == 2 and all(os.path.isfile(path) for path in given):
        return Source("given", [tuple(given)])
    if operands and _dehydrated_call(operands[0]):
        if operands[0] == DEHYDRATED_DEPLOY:
            if len(operands) < 5:  # a hook that drops arguments: say so, not "done"
                tls.fail(messages.ACME_DEHYDRATED_ARGUMENTS.format(
                    " ".join(validate.shown(operand) for operand in operands)))
            return Source("dehydrated", [(operands[2], operands[4])], dehydrated=True,
                          next_keys=next_keys.from_dehydrated(operands[2]))
        if operands[0] == DEHYDRATED_UNCHANGED:  # what is staged, if anything
            keyfile = operands[2] if len(operands) > 2 else ""
            chainfile = operands[4] if len(operands) > 4 else ""
            return Source("dehydrated", dehydrated=True,
                          next_keys=next_keys.from_dehydrated(keyfile),
                          lineage_chain=chainfile)
        return None
    if len(operands) == 2:
        return Source("given", [tuple(given)])  # check_material says which is missing
    if operands:
        tls.fail(messages.ACME_USAGE_SOURCE)
    env = os.environ
    if env.get("RENEWED_LINEAGE"):
        lineage = env["RENEWED_LINEAGE"]
        return _client_files(tls, "certbot", "RENEWED_LINEAGE",
                             os.path.join(lineage, "privkey.pem"),
                             os.path.join(lineage, "fullchain.pem"))
    if env.get("LEGO_CERT_PATH") or env.get("LEGO_CERT_KEY_PATH"):
        return _client_files(tls, "lego", "LEGO_CERT_PATH and LEGO_CERT_KEY_PATH",
                             env.get("LEGO_CERT_KEY_PATH", ""), env.get("LEGO_CERT_PATH", ""))
    if env.get("CERT_KEY_PATH") or env.get("CERT_FULLCHAIN_PATH"):
        source = _client_files(tls, next_keys.ACME_SH, "CERT_KEY_PATH and CERT_FULLCHAIN_PATH",
                               env.get("CERT_KEY_PATH", ""), env.get("CERT_FULLCHAIN_PATH", ""))
        source.next_keys = next_keys.from_acme_sh(env)
        return source
    return Source("staged")  # a timer's run: what is staged, if anything


def _client_files(tls, name, variable, keyfile, chainfile):
    for path in (keyfile, chainfile):
        if not os.path.isfile(path):
            tls.fail(messages.ACME_LINEAGE_MISSING.format(source=name, path=path or '""',
                                                          variable=variable))
    return Source(name, [(keyfile, chainfile)])


def _in_config_directory(tls, path):
    return path if path.startswith("/") else os.path.join(tls.config_directory, path)
