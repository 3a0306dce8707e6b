"""TLSA records as data: the ports of -p, and one "3 1 1" record (ours:
output-server-tlsa -p and --json, the rollover and the check)."""

import collections

from postfix_tls.core import messages, validate
from postfix_tls.core.keys import set_keyfile


def tlsa_ports(tls, text):
    """The ports of -p PORT[,PORT...] (ours), in the order given."""
    ports = []
    for word in text.split(","):
        if not validate.port(word):
            tls.fail(messages.BAD_PORTS.format(validate.shown(text)))
        if int(word) not in ports:
            ports.append(int(word))
    return ports


class TlsaRecord(object):
    """A "3 1 1" record for one port and key, and whether that key is deployed."""

    def __init__(self, hostname, port, digest, keyfile, algorithm, deployed, role=None):
        self.hostname = hostname
        self.port = port
        self.digest = digest
        self.keyfile = keyfile
        self.algorithm = algorithm
        self.deployed = deployed
        self.role = role  # the rollover's "deployed" or "staged"

    @property
    def owner(self):
        return "_%d._tcp.%s." % (self.port, self.hostname)

    def to_json(self):
        document = collections.OrderedDict((
            ("owner", self.owner),
            ("host", self.hostname),
            ("port", self.port),
            ("usage", 3),
            ("selector", 1),
            ("matching_type", 1),
            ("data", self.digest),
            ("key_file", self.keyfile),
            ("algorithm", self.algorithm),
            ("deployed", self.deployed),
        ))
        if self.role is not None:
            document["role"] = self.role
        return document


def tlsa_record(tls, hostname, port, digest, keyfile, algorithm, role=None, deployed=None):
    """deployed: None to compare keyfile with main.cf's key for algorithm."""
    if deployed is None:
        deployed = keyfile == set_keyfile(tls, algorithm)
    return TlsaRecord(hostname, port, digest, keyfile, algorithm, deployed, role)


class Served(object):
    """The TLSA RRset at an owner as one of the zone's nameservers serves it."""

    def __init__(self, name, address, records=(), ttl=None, error=None, signed=False):
        self.name = name
        self.address = address
        self.records = list(records)  # "3 1 1 HEX", sorted
        self.ttl = ttl
        self.error = error  # why it could not be asked, or None
        self.signed = signed  # its answer came with an RRSIG
        self.same = None  # judged: whether it serves the resolver's RRset

    def to_json(self):
        document = collections.OrderedDict((
            ("name", self.name), ("address", self.address), ("records", self.records),
            ("ttl", self.ttl), ("error", self.error)))
        if self.same is not None:
            document["same"] = self.same
        return document


class Lookup(object):
    """The TLSA RRset at an owner through the resolver, then as each of
    the zone's nameservers serves it; judged by check-server-tlsa."""

    def __init__(self, owner, records=(), ttl=None, validated=False, error=None,
                 canonical_name=None):
        self.owner = owner
        self.records = list(records)  # "3 1 1 HEX", sorted
        self.ttl = ttl
        self.validated = validated  # the resolver's AD flag
        self.error = error  # why the resolver gave no answer, or None
        self.canonical_name = canonical_name or owner  # behind a CNAME, the target
        self.nameservers = []  # Served, one per nameserver address
        self.stale = None  # judged: "3 1 1" records of no known key
        self.zone_ttl = None  # judged: the longest TTL the nameservers give
        self.judged = False

    def to_json(self):
        document = collections.OrderedDict((
            ("owner", self.owner), ("records", self.records), ("ttl", self.ttl),
            ("validated", self.validated), ("error", self.error),
            ("canonical_name", self.canonical_name),
            ("nameservers", [served.to_json() for served in self.nameservers])))
        if self.judged:
            document["stale"] = self.stale
            document["zone_ttl"] = self.zone_ttl
        return document
