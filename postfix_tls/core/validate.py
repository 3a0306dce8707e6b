"""Checks of the values that end up in openssl's input or in main.cf.

Upstream interpolates host names into the openssl configuration text and
into ``-subj /CN=...``: a newline, ``/`` or ``=`` there would add
configuration or subject fields.  These checks are ours (see README.rst,
"Differences from upstream").  Plain string tests, not ``re``: importing
``re`` would cost more start-up time than every check here.
"""

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_LABEL_CHARACTERS = _ALNUM | frozenset("-")
_CURVE_CHARACTERS = _ALNUM | frozenset("_.-")


def _is_bad_character(character):
    # Control characters, and the bytes that were not UTF-8 (surrogateescape).
    code = ord(character)
    return code < 0x20 or code == 0x7F or 0xDC80 <= code <= 0xDCFF


def _label(label):
    return (0 < len(label) <= 63 and label[0] in _ALNUM and label[-1] in _ALNUM
            and all(character in _LABEL_CHARACTERS for character in label))


def hostname(name, wildcard=True):
    """A DNS host name: labels of 1 to 63 letters, digits and inner hyphens,
    253 characters in all; with wildcard, "*." may lead."""
    if wildcard and name.startswith("*."):
        name = name[2:]
    return 0 < len(name) <= 253 and all(_label(label) for label in name.split("."))


def digits(text):
    """Decimal digits, ASCII only (str.isdigit also takes other scripts')."""
    return bool(text) and all(character in "0123456789" for character in text)


def port(text):
    """A TCP or UDP port, 1 to 65535, in ASCII digits."""
    return digits(text) and 0 < int(text) < 65536


def rsa_bits(bits):
    """A positive number of bits; openssl applies its own limits."""
    return digits(bits) and int(bits) > 0


def curve(name):
    return (0 < len(name) <= 64 and name[0] in _ALNUM
            and all(character in _CURVE_CHARACTERS for character in name))


def random_source(source):
    """dev:/path/to/device or egd:/path/to/socket, no spaces or control characters."""
    return (source[:5] in ("dev:/", "egd:/")
            and not any(ord(character) <= 0x20 or ord(character) == 0x7F
                        for character in source))


def first_bad_argument(args):
    """The first argument that is not text (undecodable bytes, control characters)."""
    for arg in args:
        if any(_is_bad_character(character) for character in arg):
            return arg
    return None


_SHELL_SAFE = _ALNUM | frozenset("@%+=:,./-_")


def quote(word):
    """word as one sh word, as shlex.quote gives it (shlex imports re: ~4 ms)."""
    if word and all(character in _SHELL_SAFE for character in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def shown(value):
    """value as it can be printed: control characters and bad bytes escaped."""
    return "".join(repr(character)[1:-1] if _is_bad_character(character) else character
                   for character in value)


def utf8(text):
    """text that encodes as UTF-8: a byte a file name had that is not UTF-8
    (os.fsdecode keeps it as a lone surrogate) written \\xff, as Python
    writes a byte.  Metrics, plugin lines and JSON must be valid UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no byte gave
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
