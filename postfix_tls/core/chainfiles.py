"""smtpd_tls_chain_files (Postfix 3.4 and later), read as Postfix reads it.

The files, concatenated in the order given, are one sequence of PEM
objects: key1, cert1, [chain1], key2, cert2, [chain2], ...  Each key is
followed by its certificate (the server's) and optionally the issuers that
complete its chain; there is at most one key per algorithm (RSA, ECDSA of
any curve, Ed25519, Ed448).  When the parameter is set, Postfix ignores
smtpd_tls_{,ec,d}{cert,key}_file.

Parsed here in Python, without openssl: the PEM labels say what each
object is, and a PKCS#8 key's algorithm is the OID at its start.  Nothing
of a key but its algorithm leaves this module's records; the key itself is
read again, by openssl, only where a digest is needed.
"""

import base64
import binascii

from postfix_tls.core import material, messages

# The type comments name typing's List, Optional and Tuple, unimported:
# typing would cost start-up time.

_BEGIN = "-----BEGIN "
_BOM = "\ufeff"  # U+FEFF, as material.read_text decodes a UTF-8 byte-order mark
_END = "-----END "
KEY_LABELS = {
    "RSA PRIVATE KEY": "rsa",
    "EC PRIVATE KEY": "ecdsa",
    "PRIVATE KEY": None,  # PKCS#8: the algorithm is in the key
    "ENCRYPTED PRIVATE KEY": "encrypted",
}
_CERTIFICATE_LABELS = ("CERTIFICATE", "TRUSTED CERTIFICATE")
# PKCS#8 AlgorithmIdentifier OIDs, DER-encoded (tag, length, value).
_OIDS = (
    (bytes.fromhex("06092a864886f70d010101"), "rsa"),  # rsaEncryption
    (bytes.fromhex("06072a8648ce3d0201"), "ecdsa"),  # id-ecPublicKey
    (bytes.fromhex("06032b6570"), "ed25519"),
    (bytes.fromhex("06032b6571"), "ed448"),
)


class ChainFileError(Exception):
    """A chain file Postfix would not load; the text names file and position."""


class PemObject(object):
    def __init__(self, label, text, path, position):
        self.label = label
        self.text = text  # the whole "-----BEGIN ...-----END ...-----\n"
        self.path = path
        self.position = position  # 1-based, in its file


class Chain(object):
    """One key of the chain files, with its certificate and issuers.

    key_text is the key's PEM text, for openssl's stdin only (never traced
    or shown); certificates are PEM texts, the server's first.
    """

    def __init__(self, algorithm, key, certificates, first_in_file=True):
        self.algorithm = algorithm
        self.first_in_file = first_in_file  # no other key before it in its file
        self.key_path = key.path
        self.key_position = key.position
        self.key_text = key.text
        self.certificates = [certificate.text for certificate in certificates]
        self.cert_path = certificates[0].path
        self.cert_position = certificates[0].position

    @property
    def where(self):
        """Where its key is, as messages name it: "FILE, object N"."""
        return "%s, object %d" % (self.key_path, self.key_position)


def is_key_or_certificate(item):
    # type: (PemObject) -> bool
    return item.label in KEY_LABELS or item.label in _CERTIFICATE_LABELS


def split_names(value):
    # type: (str) -> List[str]
    """The file names of smtpd_tls_chain_files, split as Postfix splits a
    list (CHARS_COMMA_SP: comma, space, tab, CR, LF), and nowhere else:
    str.split() would also split at a vertical tab or a no-break space."""
    for separator in ", \t\r":
        value = value.replace(separator, "\n")
    return [name for name in value.split("\n") if name]


def pem_objects(text, path):
    # type: (str, str) -> List[PemObject]
    """The PEM objects of one file's text, in order."""
    objects = []
    lines = text.splitlines(True)
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line.lstrip(_BOM).startswith(_BEGIN) and line.startswith(_BOM):
            # An editor's UTF-8 byte-order mark: OpenSSL's PEM reader skips
            # lines until one starts with "-----BEGIN " (OpenSSL 3 first
            # drops a mark on the first line it reads), and with it the
            # object: what is left would seem another key or certificate.
            raise ChainFileError(messages.PEM_BYTE_ORDER_MARK.format(
                path=path, position=len(objects) + 1, label=line.lstrip(_BOM)[len(_BEGIN):-5]))
        if line.startswith(_BEGIN) and line.endswith("-----"):
            label = line[len(_BEGIN):-5]
            end = _END + label + "-----"
            for stop in range(index + 1, len(lines)):
                if lines[stop].strip() == end:
                    break
            else:
                raise ChainFileError(messages.CHAIN_UNTERMINATED.format(
                    path=path, position=len(objects) + 1, label=label))
            body = "".join(part.strip() + "\n" for part in lines[index:stop + 1])
            objects.append(PemObject(label, body, path, len(objects) + 1))
            index = stop
        index += 1
    return objects


def key_algorithm(key):
    # type: (PemObject) -> Optional[str]
    """rsa, ecdsa, ed25519, ed448 (or "encrypted", or None: not known)."""
    if _proc_type_encrypted(key):
        return "encrypted"
    algorithm = KEY_LABELS[key.label]
    if algorithm is not None:
        return algorithm
    body = "".join(line for line in key.text.splitlines()[1:-1])
    try:
        der = base64.b64decode(body)
    except (binascii.Error, ValueError):
        return None
    # PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, ... }:
    # the algorithm's OID comes within the first few dozen bytes.
    head = der[:32]
    for oid, name in _OIDS:
        if oid in head:
            return name
    return None


def _proc_type_encrypted(key):
    # type: (PemObject) -> bool
    """A traditional key's encryption is in its RFC 1421 headers, not its
    label ("Proc-Type: 4,ENCRYPTED", then DEK-Info, before a blank line),
    where OpenSSL's PEM reader looks for it."""
    for line in key.text.splitlines()[1:]:
        if not line or ":" not in line:
            return False  # the headers end; base64 has no colon
        name, _, value = line.partition(":")
        if name == "Proc-Type" and "ENCRYPTED" in value:
            return True
    return False


def parse(files):
    # type: (List[Tuple[str, str]]) -> List[Chain]
    """[Chain] of [(path, text)], concatenated in order; ChainFileError
    for what Postfix would refuse."""
    objects = []
    for path, text in files:
        found = pem_objects(text, path)
        if not found:
            raise ChainFileError(messages.CHAIN_EMPTY.format(path=path))
        objects += found
    chains = []
    key, certificates = None, []
    for item in objects:
        if item.label in KEY_LABELS:
            if key is not None and not certificates:
                raise ChainFileError(messages.CHAIN_KEY_WITHOUT_CERT.format(
                    path=key.path, position=key.position))
            if key is not None:
                chains.append((key, certificates))
            key, certificates = item, []
        elif item.label in _CERTIFICATE_LABELS:
            if key is None:
                raise ChainFileError(messages.CHAIN_CERT_BEFORE_KEY.format(
                    path=item.path, position=item.position))
            certificates.append(item)
        else:
            raise ChainFileError(messages.CHAIN_UNKNOWN_OBJECT.format(
                path=item.path, position=item.position, label=item.label))
    if key is None:
        raise ChainFileError(messages.CHAIN_NO_KEY.format(
            path=", ".join(path for path, _ in files)))
    if not certificates:
        raise ChainFileError(messages.CHAIN_KEY_WITHOUT_CERT.format(
            path=key.path, position=key.position))
    chains.append((key, certificates))
    result, seen, files_with_a_key = [], {}, set()
    for key, certificates in chains:
        algorithm = key_algorithm(key)
        if algorithm == "encrypted":
            raise ChainFileError(messages.CHAIN_KEY_ENCRYPTED.format(
                path=key.path, position=key.position))
        if algorithm is None:
            raise ChainFileError(messages.CHAIN_KEY_UNKNOWN.format(
                path=key.path, position=key.position))
        if algorithm in seen:
            raise ChainFileError(messages.CHAIN_TWO_KEYS.format(
                algorithm=algorithm, first=seen[algorithm].where,
                path=key.path, position=key.position))
        chain = Chain(algorithm, key, certificates, key.path not in files_with_a_key)
        files_with_a_key.add(key.path)
        seen[algorithm] = chain
        result.append(chain)
    return result


def file_objects(path):
    # type: (str) -> List[PemObject]
    """The PEM objects of the file at path; none when it cannot be read or
    parsed (a certificate file given, a client's file: not a chain file;
    a FIFO or device: see material.py)."""
    try:
        return read_objects(path)
    except (OSError, ChainFileError):
        return []


def read_objects(path):
    # type: (str) -> List[PemObject]
    """The PEM objects of the file at path; OSError (material.NotMaterial:
    a FIFO, a device, a huge file) or ChainFileError saying why not."""
    return pem_objects(material.read_text(path), path)


def read(paths):
    # type: (List[str]) -> List[Chain]
    """[Chain] of the files smtpd_tls_chain_files names; ChainFileError
    for a file that cannot be read or that Postfix would refuse, or for
    none at all (a value of only commas: set, so Postfix ignores the legacy
    parameters, yet naming nothing)."""
    if not paths:
        raise ChainFileError(messages.CHAIN_NAMES_NOTHING)
    files = []
    for path in paths:
        try:
            files.append((path, material.read_text(path)))
        except OSError as error:
            raise ChainFileError(messages.CHAIN_UNREADABLE.format(
                path=path, error=error.strerror))
    return parse(files)
