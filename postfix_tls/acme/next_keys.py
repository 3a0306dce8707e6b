"""Keys an ACME client made ahead of the renewal that will use them: the
next key of a DANE rollover with no wait.

acme.sh (``--always-force-new-domain-key``) keeps the key of its next
renewal in ``Le_Next_Domain_Key``; dehydrated (``PRIVATE_KEY_ROLLOVER=yes``)
in ``privkey.roll.pem`` beside the key it hands over.  Its record can be
published now, a renewal ahead: when that renewal comes, the record has
long been everywhere and deploy-acme-cert deploys the key at once.

Each run of the client's hook announces its next key in
``acme-ALGORITHM.next`` (``acme-sni-LABEL-ALGORITHM.next`` for a lineage
deployed into tls_server_sni_maps; the client and the key's path, no key material:
the key stays in the client's file, which the client replaces at each
renewal), or removes the announcement when the client made none for the
algorithm it renewed.  output-server-tlsa-rollover, check-server-tlsa and
deploy-acme-cert -K read the key from that path when they run: what the
client holds then, so never a key it has since used or thrown away.
"""

import os

from postfix_tls.core import messages
from postfix_tls.core.keys import ACME_NEXT_FILE, SNI_NEXT_FILE, pubkey_digest, read_key

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


def announcement_path(tls, algorithm, label=""):
    """label: an SNI lineage's (sni/deploy.py), "" for the default one."""
    name = SNI_NEXT_FILE.format(label=label, algorithm=algorithm) if label else (
        ACME_NEXT_FILE.format(algorithm))
    return os.path.join(tls.config_directory, name)


def announce(tls, source, renewed, label=""):
    """Write each next key the client named (source.next_keys) into its
    algorithm's announcement (the SNI lineage label's, when given); remove
    the announcement of each algorithm in renewed that the client made no
    next key for.  Lines for the run's output.  Never a failure: an
    announcement only spares a renewal one TTL's wait, and the renewal
    this run deploys must not wait on it (warned instead).  Not put back
    by a failed run's undo: what the client holds does not depend on this
    run."""
    notes, announced = [], []
    for client, keyfile in source.next_keys:
        key, why = _usable(tls, client, keyfile)
        if key is None:
            if why:  # "": acme.sh emptied the file once it used its key
                tls.log.warn([messages.NEXT_KEY_NOT_ANNOUNCED.format(
                    client=client, keyfile=_shown(keyfile), reason=why)])
            continue
        path = announcement_path(tls, key.algorithm, label)
        data = (HEADER.format(client=client) + "%s %s\n" % (client, keyfile)).encode(
            "utf-8", "surrogateescape")
        _warn_if_another_lineage(tls, path, keyfile)
        if _text(path) != data:
            try:
                tls.runner.replace_file(path, data, 0o644, undo=False)
            except OSError as error:
                tls.log.warn([messages.NEXT_KEY_NOT_WRITTEN.format(path=path, error=error)])
                continue
        # Said each time: the path stays, the key in it is new at each renewal.
        notes.append(messages.NEXT_KEY_ANNOUNCED.format(algorithm=key.algorithm, client=client,
                                                        keyfile=keyfile, path=path)
                     + (messages.NEXT_KEY_DRY_RUN if tls.runner.dry_run else ""))
        announced.append(key.algorithm)
    for algorithm in renewed:
        path = announcement_path(tls, algorithm, label)
        if algorithm in announced or not os.path.lexists(path):
            continue
        try:
            tls.runner.remove_file(path)
        except OSError as error:  # a directory, say
            tls.log.warn([messages.NEXT_KEY_NOT_WRITTEN.format(path=path, error=error)])
            continue
        notes.append(messages.NEXT_KEY_WITHDRAWN.format(algorithm=algorithm, path=path)
                     + (messages.NEXT_KEY_DRY_RUN if tls.runner.dry_run else ""))
    return notes


def read(tls, algorithm, label=""):
    """The NextKey announced for algorithm (of the SNI lineage label), or
    None: none announced, or the client's file holds no key of algorithm
    any more (warned)."""
    path = announcement_path(tls, algorithm, label)
    if not os.path.lexists(path):
        return None
    entry = _entry(path)
    if entry is None:
        tls.log.warn([messages.NEXT_KEY_BAD_ANNOUNCEMENT.format(path=path)])
        return None
    client, keyfile = entry
    key, why = _usable(tls, client, keyfile)
    if key is not None and key.algorithm != algorithm:
        key, why = None, messages.NEXT_KEY_OTHER_ALGORITHM.format(found=key.algorithm)
    if key is None:
        tls.log.warn([messages.NEXT_KEY_GONE.format(path=path, client=client,
                                                    keyfile=_shown(keyfile),
                                                    reason=why or messages.NEXT_KEY_EMPTY)])
    return key


def _entry(path):
    """(client, keyfile) of the announcement path, or None."""
    text = _text(path)
    # One line; split at "\n" alone, as it was written (a name may hold
    # other characters str.splitlines() would split at).
    lines = text.decode("utf-8", "surrogateescape").split("\n") if text is not None else []
    entries = [line.split(" ", 1) for line in lines if line and not line.startswith("#")]
    if len(entries) != 1 or len(entries[0]) != 2:
        return None
    return entries[0][0], entries[0][1]


def _warn_if_another_lineage(tls, path, keyfile):
    """One announcement per algorithm, as one deployed key per algorithm:
    a next key of another file (another lineage, or another client) that
    is still there is replaced, and said, since its renewal will then
    wait one TTL, and the two lineages replace each other's certificate
    at each renewal."""
    entry = _entry(path) if os.path.lexists(path) else None
    if entry is None or entry[1] == keyfile or not os.path.isfile(entry[1]):
        return
    text = _text(entry[1], LARGEST_KEY)
    if text and text.strip():  # emptied: the other client used its key
        tls.log.warn([messages.NEXT_KEY_REPLACED.format(
            path=path, client=entry[0], keyfile=_shown(entry[1]), new=_shown(keyfile))])


LARGEST_KEY = 64 * 1024  # bytes: an RSA key of 16384 bits is under 13 KiB


def _text(path, largest=4096):
    """The bytes of the regular file path (a symlink to one too), or None:
    a FIFO would block the run and a device never end."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as stream:
            return stream.read(largest + 1)
    except OSError:
        return None


def _usable(tls, client, keyfile):
    """(NextKey, "") for the client's file, or (None, why not); why ""
    for an empty file (the client used the key).  What Python can tell
    first: openssl would read a FIFO for ever, and a large file of
    anything for minutes."""
    if not os.path.isabs(keyfile):  # the hook's directory is not this run's
        return None, messages.NEXT_KEY_RELATIVE
    if any(ord(character) < 32 or ord(character) == 127 for character in keyfile) or len(
            keyfile.splitlines()) != 1:
        return None, messages.NEXT_KEY_CONTROL_CHARACTER
    if not os.path.lexists(keyfile):
        return None, messages.NEXT_KEY_MISSING
    if not os.path.isfile(keyfile):
        return None, messages.NEXT_KEY_NOT_A_FILE
    text = _text(keyfile, LARGEST_KEY)
    if text is None:
        return None, messages.NEXT_KEY_UNREADABLE
    if not text.strip():
        return None, ""
    if len(text) > LARGEST_KEY:
        return None, messages.NEXT_KEY_TOO_LARGE.format(largest=LARGEST_KEY)
    if b"ENCRYPTED" in text:
        return None, messages.NEXT_KEY_ENCRYPTED
    if b"PRIVATE KEY-----" not in text:
        return None, messages.NEXT_KEY_NO_KEY
    key = read_key(tls, keyfile)
    digest = pubkey_digest(tls, keyfile) if key else ""
    if not digest:
        return None, messages.NEXT_KEY_NO_KEY
    return NextKey(client, keyfile, key[1].algorithm, digest), ""


def _shown(keyfile):
    return repr(keyfile) if keyfile != keyfile.strip() or any(
        ord(character) < 32 or ord(character) == 127 for character in keyfile) else keyfile


def from_acme_sh(env):
    """[(client, path)]: acme.sh's Le_Next_Domain_Key, when it is set."""
    path = env.get("Le_Next_Domain_Key", "")
    return [(ACME_SH, path)] if path else []


def from_dehydrated(keyfile):
    """[(client, path)]: privkey.roll.pem beside dehydrated's key, if any."""
    path = os.path.join(os.path.dirname(keyfile), DEHYDRATED_ROLLOVER_KEY)
    return [(DEHYDRATED, path)] if keyfile and os.path.lexists(path) else []
