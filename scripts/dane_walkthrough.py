"""Prints README.rst's DANE walkthrough: a key rollover run on the DANE
tests' real servers (tests/support/liveservers.py: a scratch Postfix instance on
127.0.0.2, the zone signed and served by two nameservers, unbound as the
validating resolver), with the configuration directory shown as
/etc/postfix.  Needs what make test needs, as root:

    .venv/bin/python scripts/dane_walkthrough.py
"""

import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from test_dane import deploy_new_key, newest, postfix_tls, rollover_records  # noqa: E402

from support.liveservers import HOSTNAME, POSTFIX_ADDRESS, LocalZone, ScratchPostfix  # noqa: E402


def main():
    base = tempfile.mkdtemp(prefix="postfix-tls-walkthrough.")
    os.chmod(base, 0o755)
    postfix, zone = ScratchPostfix(base, POSTFIX_ADDRESS), LocalZone(base)
    config = postfix.config

    def show(*args):
        status, out, err = postfix_tls(config, *args)
        words = ["postfix-tls", "-c", config] + list(args)
        text = "$ %s\n%s%s(exit %d)\n" % (" ".join(words), err, out, status)
        print(text.replace(config, "/etc/postfix").replace(zone.nameserver, "127.0.0.1:PORT"))

    def publish(*keys):
        zone.serve([("_%d._tcp.%s." % (port, HOSTNAME), "TLSA", data)
                    for (port, keyfile), data in rollover_records(config, "25,465").items()
                    if keyfile in keys], dnssec="signed")

    check = ("check-server-tlsa", "-p", "25,465", "-n", zone.nameserver, "-s", POSTFIX_ADDRESS)
    try:
        rsa, ecdsa = deploy_new_key(config, "rsa"), deploy_new_key(config, "ecdsa")
        postfix.start()
        publish(rsa, ecdsa)
        show(*check)
        show("new-server-key", "-a", "rsa", HOSTNAME)
        next_rsa = os.path.join(config, newest(config, "key-"))
        show("output-server-tlsa-rollover", "-p", "25,465")
        show(*check)
        publish(rsa, ecdsa, next_rsa)
        show(*check)
        show("deploy-server-cert", next_rsa.replace("key-", "cert-"), next_rsa)
        postfix.restart()
        show(*check)
        publish(ecdsa, next_rsa)
        show(*check)
    finally:
        zone.stop()
        postfix.stop()


if __name__ == "__main__":
    main()
