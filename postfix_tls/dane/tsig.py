"""TSIG key files, as the tools that make them write them.

``tsig-keygen NAME`` (BIND; ``nsupdate -k`` reads it)::

    key "NAME" {
        algorithm hmac-sha256;
        secret "BASE64";
    };

``keymgr -t NAME`` (Knot) writes a comment line for ``knsupdate -y`` and a
YAML block for knot.conf::

    # hmac-sha256:NAME:BASE64
    key:
      - id: NAME
        algorithm: hmac-sha256
        secret: BASE64

and ``ALGORITHM:NAME:SECRET`` alone (``knsupdate -y``'s form) is read too.
knsupdate reads only that last form, so this is parsed here rather than
handed to a tool.  The secret is never shown: not in messages, not in a
trace (see publish.py).
"""

import base64
import binascii
import re

from postfix_tls.core import messages

# What RFC 8945 and the servers (BIND, Knot, PowerDNS) agree on; hmac-md5
# is left out on purpose (RFC 8945: MUST NOT be used for new keys).
ALGORITHMS = ("hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512")

_BIND_KEY = re.compile(
    r'key\s+"?(?P<name>[^"\s{]+)"?\s*\{(?P<body>[^}]*)\}\s*;', re.IGNORECASE)
_BIND_FIELD = re.compile(r'(?P<field>algorithm|secret)\s+"?(?P<value>[^";\s]+)"?\s*;',
                         re.IGNORECASE)
_COLON_FORM = re.compile(r"^\s*#?\s*(?P<algorithm>hmac-[a-z0-9]+):(?P<name>[^:\s]+):"
                         r"(?P<secret>[A-Za-z0-9+/=]+)\s*$", re.IGNORECASE | re.MULTILINE)
_YAML_FIELD = re.compile(r"^\s*-?\s*(?P<field>id|algorithm|secret)\s*:\s*(?P<value>\S+)\s*$")


class TsigKeyError(Exception):
    """The key file cannot be used; the text says why (never the secret)."""


class TsigKey(object):
    """A TSIG key: its name (a domain name), algorithm and secret (base64)."""

    def __init__(self, name, algorithm, secret):
        self.name = name.rstrip(".") + "."
        self.algorithm = algorithm.lower()
        self.secret = secret

    def __repr__(self):
        return "TsigKey(%r, %r, <secret not shown>)" % (self.name, self.algorithm)


def parse(text, path):
    """The one TsigKey text holds; TsigKeyError when it holds none or several
    (in whatever forms: keymgr's comment and YAML block for one key count
    once)."""
    found = []
    for match in _BIND_KEY.finditer(text):
        fields = dict((field.group("field").lower(), field.group("value"))
                      for field in _BIND_FIELD.finditer(match.group("body")))
        found.append((match.group("name"), fields.get("algorithm", ""),
                      fields.get("secret", "")))
    found += [(match.group("name"), match.group("algorithm"), match.group("secret"))
              for match in _COLON_FORM.finditer(text)]
    found += _yaml_keys(text)
    keys = sorted(set((name.rstrip(".").lower(), algorithm.lower(), secret)
                      for name, algorithm, secret in found))
    if not keys:
        raise TsigKeyError(messages.TSIG_NO_KEY.format(path=path))
    if len(keys) > 1:
        raise TsigKeyError(messages.TSIG_SEVERAL_KEYS.format(
            path=path, names=", ".join(sorted(set(key[0] or "?" for key in keys)))))
    found = [key for key in found if (key[0].rstrip(".").lower(), key[1].lower(), key[2])
             == keys[0]]
    name, algorithm, secret = found[0]
    if not name:
        raise TsigKeyError(messages.TSIG_NO_KEY.format(path=path))
    if algorithm.lower() not in ALGORITHMS:
        raise TsigKeyError(messages.TSIG_BAD_ALGORITHM.format(
            path=path, algorithm=algorithm or "none", algorithms=", ".join(ALGORITHMS)))
    try:
        if not base64.b64decode(secret.encode("ascii"), validate=True):
            raise ValueError(secret)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise TsigKeyError(messages.TSIG_BAD_SECRET.format(path=path, name=name))
    return TsigKey(name, algorithm, secret)


def _yaml_keys(text):
    """[(id, algorithm, secret)] of knot.conf's "key:" section: each "- id:"
    starts a key, whose fields are the lines that follow it; the section
    ends at the next line that is not indented."""
    keys, current, in_keys = [], None, False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            in_keys = line.rstrip() == "key:"
            current = None
            continue
        if not in_keys:
            continue
        match = _YAML_FIELD.match(line)
        if not match:
            continue
        field, value = match.group("field"), match.group("value")
        if field == "id" or current is None:
            current = {"id": "", "algorithm": "", "secret": ""}
            keys.append(current)
        current[field] = value
    return [(key["id"], key["algorithm"], key["secret"]) for key in keys]


def read(path):
    """The TsigKey in the file at path (a regular file of at most 64 KiB)."""
    from postfix_tls.core import material

    try:
        text = material.read_text(path)
    except material.NotMaterial as error:
        raise TsigKeyError(str(error))
    except OSError as error:
        raise TsigKeyError(messages.TSIG_UNREADABLE.format(path=path, error=error.strerror))
    return parse(text, path)
