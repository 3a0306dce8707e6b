"""Checks of the values that end up in openssl's input or in main.cf.

Upstream interpolates host names into the openssl configuration text and
into ``-subj /CN=...``: a newline, ``/`` or ``=`` there would add
configuration or subject fields.  These checks are ours (see README.rst,
"Differences from upstream").
"""

import re

_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
_CURVE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_RANDOM_SOURCE = re.compile(r"(dev|egd):/[^\x00-\x20\x7f]*\Z")
_BAD_CHARACTER = re.compile("[\x00-\x1f\x7f\udc80-\udcff]")


def hostname(name, wildcard=True):
    """A DNS host name: labels of 1 to 63 letters, digits and inner hyphens,
    253 characters in all; with wildcard, "*." may lead."""
    if wildcard and name.startswith("*."):
        name = name[2:]
    if not name or len(name) > 253:
        return False
    return all(_LABEL.match(label) for label in name.split("."))


def rsa_bits(bits):
    """A positive number of bits; openssl applies its own limits."""
    return _DIGITS.match(bits) is not None and int(bits) > 0


def curve(name):
    return _CURVE.match(name) is not None


def random_source(source):
    return _RANDOM_SOURCE.match(source) is not None


def first_bad_argument(args):
    """The first argument that is not text (undecodable bytes, control characters)."""
    for arg in args:
        if _BAD_CHARACTER.search(arg):
            return arg
    return None


def shown(value):
    """value as it can be printed: control characters and bad bytes escaped."""
    return _BAD_CHARACTER.sub(lambda match: repr(match.group())[1:-1], value)
