"""What deploy-acme-cert's steps hand each other: the material, what
Postfix loads now, and each algorithm's deployment; and the names of its
files in the configuration directory."""

import os

from postfix_tls.core import chainfiles
from postfix_tls.core.keys import ACME_STAGED_FILE

UNCHANGED, DEPLOY, STAGE = "unchanged", "deploy", "stage"  # a deployment's action

# -e: a certificate that expires within this many days is refused (an
# ACME client renews about 30 days ahead: one this close means renewals
# have been failing, and deploying it only postpones the outage a little);
# -e 0 deploys whatever has not expired, with a warning within these days.
MARGIN_DAYS = 7
DAY = 86400
VERIFY_SECONDS = 30  # -t: how long the live server has to present the new key

CERT_PARAMETERS = {"rsa": "smtpd_tls_cert_file", "ecdsa": "smtpd_tls_eccert_file"}
# In the configuration directory: what Postfix loads (legacy parameters),
# a key waiting for its TLSA record, and when a run first saw each TLSA
# record served by every nameserver ("owner record seconds" lines).
DEPLOYED_FILE = "acme-{}.pem"
STAGED_FILE = ACME_STAGED_FILE
SEEN_FILE = "acme-tlsa.seen"


class Material(object):
    """A key and its certificate chain (leaf first), checked."""

    def __init__(self, source, keyfile, chainfile, key_pem, algorithm, digest, certificates,
                 issuer_digests, not_after, names=()):
        self.source = source
        self.keyfile = keyfile
        self.chainfile = chainfile
        self.key_pem = key_pem
        self.algorithm = algorithm
        self.digest = digest  # SHA-256 of the public key: its "3 1 1" record
        self.certificates = certificates
        self.issuer_digests = issuer_digests  # the chain's keys: "2 1 1" records
        self.not_after = not_after
        self.names = list(names)  # the leaf's DNS names (its CN when it has none)

    @property
    def text(self):
        """Key, then chain: what Postfix reads from one file."""
        return self.key_pem.decode("ascii") + "".join(self.certificates)


class Loaded(object):
    """What Postfix loads now for an algorithm (nothing: all empty)."""

    def __init__(self, keyfile="", certfile="", key_text="", certificates=(), digest=""):
        self.keyfile = keyfile
        self.certfile = certfile
        self.key_text = key_text
        self.certificates = list(certificates)
        self.digest = digest  # its key's SPKI digest, when asked for

    def from_client(self, material_files):
        """Whether these are the client's own files (certbot's live/ links,
        say): then they are no sign of a deployment, the client has replaced
        them already."""
        return any(_same_file(path, own) for path in (self.keyfile, self.certfile)
                   for own in material_files)


class Deployment(object):
    """One algorithm's new material, and what this run does with it."""

    def __init__(self, material, loaded, path, chain_file):
        self.material = material
        self.loaded = loaded
        self.path = path  # the file Postfix will load it from
        self.chain_file = chain_file  # path is one of smtpd_tls_chain_files
        self.action = DEPLOY
        self.why = ""
        self.reasons = []  # why it is staged, one line each
        self.publish = []  # records to publish before it is deployed
        self.published = False  # -K: its record was published by this run
        self.live = []  # (address, port, dane_verified)

    @property
    def algorithm(self):
        return self.material.algorithm

    @property
    def key_changed(self):
        return self.loaded.digest != self.material.digest


def config_file(tls, template, algorithm):
    return os.path.join(tls.config_directory, template.format(algorithm))


def pem_certificates(path):
    return [item.text for item in chainfiles.file_objects(path)
            if item.label == "CERTIFICATE"]


def private_key(path):
    """The first private key's PEM object in path, or None."""
    for item in chainfiles.file_objects(path):
        if item.label.endswith("PRIVATE KEY") and item.label != "ENCRYPTED PRIVATE KEY":
            return item
    return None


def _same_file(one, other):
    return bool(one and other) and os.path.realpath(one) == os.path.realpath(other)
