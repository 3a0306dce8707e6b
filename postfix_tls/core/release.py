"""What a Postfix release knows, of what this project asks postconf(1).

A postconf asked for a parameter its release lacks warns on stderr
("warning: NAME: unknown parameter"), prints nothing and exits 0; one
asked for an option it lacks (``-T`` before 3.1) prints its usage and
exits 1 (tests/reference/older-postfix.txt, recorded from 2.10.10, 2.11.11
and 3.4.29).  So each is asked only of a release that has it: the release
is known from ``mail_version``, read in a postconf process made anyway
(standalone mode's read of the directories, postfix mode's of
openssl_path: postfix(1) runs us only from 3.1 on, which says no more).

Of the parameters this project reads, only those below are newer than
Postfix 2.10 (compared with each release's ``postconf -d`` in
tests/reference/postconf-d; tests/test_older_postfix.py checks it).
"""

from postfix_tls.core import validate

# The first release that has each parameter.
PARAMETERS_SINCE = {
    "openssl_path": (3, 1),
    "smtpd_tls_chain_files": (3, 4),
    "tls_server_sni_maps": (3, 4),
}
POSTCONF_T = (3, 1)  # postconf -T public-key-algorithms, -T compile-version
POSTFIX_TLS = (3, 1)  # "postfix tls": postfix(1) runs the script from 3.1 on
# Before 3.1 nothing says whether TLS was compiled in: postconf -d knows
# the TLS parameters either way.  These say what such a release would
# support if it was (smtpd_tls_cert_file is new in 2.2, the ECDSA
# parameters in 2.6).
TLS_SINCE = (2, 2)
ECDSA_SINCE = (2, 6)

# An unknown openssl_path means what Postfix 3.1 gave it as default.
DEFAULT_OPENSSL = "openssl"


def parse_version(text):
    # type: (str) -> Optional[Tuple[int, ...]]
    """(3, 4, 29) from "3.4.29"; a snapshot's "3.10-20250101" is (3, 10); None if not a version."""
    numbers = []
    for word in text.strip().split("-", 1)[0].split("."):
        if not validate.digits(word):
            break
        numbers.append(int(word))
    return tuple(numbers) or None


class Release(object):
    """A Postfix release: its mail_version when known, else the oldest it can be."""

    def __init__(self, mail_version="", at_least=(0,)):
        self.mail_version = mail_version
        self.version = parse_version(mail_version)
        self.at_least = self.version or at_least

    def has(self, since):
        # type: (Tuple[int, ...]) -> Optional[bool]
        """True or False; None when only mail_version can tell."""
        if self.at_least >= since:
            return True
        if self.version is not None:
            return False
        return None

    def knows(self, parameter):
        return self.has(PARAMETERS_SINCE.get(parameter, (0,)))

    def assumed_algorithms(self):
        """Before 3.1: what the release supports if built with TLS (None: no TLS at all)."""
        if self.has(TLS_SINCE) is False:
            return None
        return ["rsa"] + (["ecdsa"] if self.has(ECDSA_SINCE) is not False else [])
