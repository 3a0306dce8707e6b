"""What the live server presents to an SNI name, after a change of
tls_server_sni_maps: asked for with openssl s_client -servername."""

import time

from postfix_tls import chain_deploy
from postfix_tls.core import messages
from postfix_tls.dane.check import probe

# The name asked for to check a ".parent" entry (a wildcard's), and one
# that no table has: the default certificate must answer it.
CHECK_LABEL = "postfix-tls-check"
OUTSIDE_NAME = "postfix-tls-check.invalid"
RETRY_SECONDS = 0.5  # an smtpd started before the reload may answer once more


def check_name(name):
    """The SNI name that asks for name's entry (a wildcard's: a name under it)."""
    return CHECK_LABEL + name[1:] if name.startswith("*.") else name


def key_check_name(key):
    """The SNI name that asks for a table key's entry."""
    return CHECK_LABEL + key if key.startswith(".") else key


def default_served(tls, deadline, live, names, reload, said):
    """Each of names gets the default certificate's keys on every port:
    lines saying so; otherwise the old files back, reloaded, and fail."""
    from postfix_tls.acme.live import undo
    from postfix_tls.dane.check import SECONDS, Check

    lines = []
    for algorithm, digest in sorted(defaults(tls).items()):
        for name in names:
            check = Check(name, live.ports, "", seconds=min(live.seconds, SECONDS))
            for port in live.ports:
                error = until(tls, deadline, check, live.address, port, algorithm, [], name,
                              digest)
                if error:
                    tls.fail(messages.SNI_DEFAULT_LOST.format(
                        address=live.address, port=port, name=name, algorithm=algorithm,
                        reload=reload, error=error,
                        undone=undo(tls, messages.ACME_UNDONE_RELOADED)))
                lines.append(said.format(
                    address=live.address, port=port, name=name, algorithm=algorithm))
    return lines


def until(tls, deadline, check, address, port, algorithm, published, servername, digest):
    """"" once address:port presents digest to servername (DANE verified
    when published), else by the deadline what it did instead."""
    while True:
        verified, presented, error = probe(tls, check, address, port, algorithm, published,
                                           servername)
        if presented == digest and (verified or not published):
            return ""
        if time.time() >= deadline:
            if presented and presented != digest:
                return messages.ACME_LIVE_OTHER_KEY.format(digest=presented)
            if presented:
                return messages.ACME_LIVE_UNVERIFIED.format(error=error or "no match")
            return error or "no TLS handshake"
        time.sleep(RETRY_SECONDS)


def defaults(tls):
    """{algorithm: SPKI digest} of the default certificate's keys."""
    from postfix_tls.acme.loaded import loaded

    setting = chain_deploy.read_setting(tls)
    chains = dict((chain.algorithm, chain) for chain in setting.chains)
    found = {}
    for algorithm in tls.setup.algorithms():
        if algorithm not in ("rsa", "ecdsa"):
            continue
        digest = loaded(tls, algorithm, chains, setting).digest
        if digest:
            found[algorithm] = digest
    return found
