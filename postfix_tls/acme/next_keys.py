"""Keys an ACME client made ahead of the renewal that will use them: the
next key of a DANE rollover with no wait.

acme.sh (``--always-force-new-domain-key``) keeps the key of its next
renewal in ``Le_Next_Domain_Key``; dehydrated (``PRIVATE_KEY_ROLLOVER=yes``)
in ``privkey.roll.pem`` beside the key it hands over.  Its record can be
published now, a renewal ahead: when that renewal comes, the record has
long been everywhere and deploy-acme-cert deploys the key at once.

Each run of the client's hook announces its next key in
``acme-ALGORITHM.next`` (the client and the key's path, no key material:
the key stays in the client's file, which the client replaces at each
renewal), or removes the announcement when the client made none for the
algorithm it renewed.  output-server-tlsa-rollover, check-server-tlsa and
deploy-acme-cert -K read the key from that path when they run: what the
client holds then, so never a key it has since used or thrown away.
"""

import os

from postfix_tls.core import messages
from postfix_tls.core.keys import ACME_NEXT_FILE, pubkey_digest, read_key

ACME_SH = "acme.sh"
DEHYDRATED = "dehydrated"
DEHYDRATED_ROLLOVER_KEY = "privkey.roll.pem"  # beside dehydrated's privkey.pem
HEADER = ("# deploy-acme-cert: the key {client} made for its next renewal; its TLSA"
          " record may be published now (output-server-tlsa-rollover).\n")


class NextKey(object):
    """A key a client made ahead: who made it, where, its algorithm and the
    SHA-256 of its public key (its "3 1 1" record)."""

    def __init__(self, client, path, algorithm="", digest=""):
        self.client = client
        self.path = path
        self.algorithm = algorithm
        self.digest = digest


def announcement_path(tls, algorithm):
    return os.path.join(tls.config_directory, ACME_NEXT_FILE.format(algorithm))


def announce(tls, source, renewed):
    """Write each next key the client named (source.next_keys) into its
    algorithm's announcement; remove the announcement of each algorithm
    in renewed that the client made no next key for.  Not put back by a
    failed run's undo: what the client holds does not depend on this run."""
    announced = []
    for client, path in source.next_keys:
        path = os.path.abspath(path)  # acme.sh runs its hook in another directory
        if "\n" in path or "\r" in path:  # the announcement is one line
            tls.log.warn([messages.NEXT_KEY_BAD_PATH.format(client=client, path=repr(path))])
            continue
        key = _read(tls, client, path)
        if key is None:
            continue  # acme.sh empties the file once it used its key
        text = HEADER.format(client=client) + "%s %s\n" % (client, path)
        _write(tls, announcement_path(tls, key.algorithm), text.encode("utf-8"))
        announced.append(key.algorithm)
    for algorithm in renewed:
        if algorithm not in announced:
            tls.runner.remove_file(announcement_path(tls, algorithm))


def _write(tls, path, data):
    if _text(path) == data:
        return  # unchanged: nothing to trace
    try:
        tls.runner.replace_file(path, data, 0o644, undo=False)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))


def read(tls, algorithm):
    """The NextKey announced for algorithm, or None: none announced, or the
    client's file holds no key of algorithm any more (warned)."""
    path = announcement_path(tls, algorithm)
    if not os.path.lexists(path):
        return None
    text = _text(path)
    if text is None:
        tls.log.warn([messages.NEXT_KEY_BAD_ANNOUNCEMENT.format(path=path)])
        return None
    lines = text.decode("utf-8", "replace").splitlines()
    entries = [line.split(" ", 1) for line in lines if line and not line.startswith("#")]
    if len(entries) != 1 or len(entries[0]) != 2:
        tls.log.warn([messages.NEXT_KEY_BAD_ANNOUNCEMENT.format(path=path)])
        return None
    client, keyfile = entries[0]
    key = _read(tls, client, keyfile)
    if key is None or key.algorithm != algorithm:
        tls.log.warn([messages.NEXT_KEY_GONE.format(path=path, client=client, keyfile=keyfile)])
        return None
    return key


def _text(path, largest=4096):
    """The bytes of the regular file path (a symlink to one too), or None:
    a FIFO would block the run and a device never end; an announcement
    is one line."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as stream:
            return stream.read(largest + 1)
    except OSError:
        return None


def _read(tls, client, path):
    """The NextKey in the client's file, or None."""
    key = read_key(tls, path)
    if key is None:
        return None
    digest = pubkey_digest(tls, path)
    if not digest:
        return None
    return NextKey(client, path, key[1].algorithm, digest)


def from_acme_sh(env):
    """[(client, path)]: acme.sh's Le_Next_Domain_Key, when it is set."""
    path = env.get("Le_Next_Domain_Key", "")
    return [(ACME_SH, path)] if path else []


def from_dehydrated(keyfile):
    """[(client, path)]: privkey.roll.pem beside dehydrated's key, if any."""
    path = os.path.join(os.path.dirname(keyfile), DEHYDRATED_ROLLOVER_KEY)
    return [(DEHYDRATED, path)] if keyfile and os.path.isfile(path) else []
