"""Knot DNS as a zone's primary that accepts TSIG-signed updates of TLSA
records (Debian's knot), on a loopback address of the test's, for the
publishing tests.  Started with knotd -d, stopped with knotc stop."""

import os
import shutil
import subprocess
import time

ZONE = "example.com."
HOSTNAME = "mail.example.com"


def require_knot():
    """Fail the test (never skip it) where knot's programs are missing."""
    import pytest

    missing = [name for name in ("knotd", "knotc", "keymgr")
               if not shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")]
    if missing:
        pytest.fail("needs %s: apt-get install knot knot-dnsutils" % ", ".join(missing))


class KnotPrimary(object):
    """ZONE on address port 53, with a TSIG key (written by keymgr -t as
    key_file) allowed to update TLSA records only."""

    def __init__(self, base, address, key_name="mx-update", secondaries=(), signed=False,
                 hosts=("mail",)):
        self.base = base
        self.hosts = list(hosts)  # whose TLSA records the key may update
        self.address = address
        self.secondaries = list(secondaries)  # addresses NOTIFY goes to, that may transfer
        self.signed = signed  # Knot signs the zone (its own keys; trust_anchor() gives the DS)
        self.directory = os.path.join(base, "knot-" + address)
        for sub in ("run", "db", "zones"):
            os.makedirs(os.path.join(self.directory, sub), exist_ok=True)
        self.key_file = os.path.join(self.directory, key_name + ".key")
        with open(self.key_file, "w") as stream:
            stream.write(subprocess.run(["keymgr", "-t", key_name, "hmac-sha256"],
                                        stdout=subprocess.PIPE, check=True,
                                        universal_newlines=True).stdout)
        self.config = os.path.join(self.directory, "knot.conf")
        self.process = None

    def write_zone(self, records=(), serial=1):
        """The zone file: SOA, NS, the mail host's address, and records."""
        # ns1 is this primary, ns2, ns3... its secondaries: each an NS.
        lines = ["$ORIGIN %s" % ZONE, "$TTL 60",
                 "@ SOA ns1 hostmaster %d 60 60 3600 5" % serial, "@ NS ns1",
                 "ns1 A %s" % self.address, "mail A 127.0.0.1"]
        for number, address in enumerate(self.secondaries, 2):
            lines += ["@ NS ns%d" % number, "ns%d A %s" % (number, address)]
        lines += list(records)
        with open(os.path.join(self.directory, "zones", "example.com.zone"), "w") as stream:
            stream.write("\n".join(lines) + "\n")

    def start(self, records=()):
        self.write_zone(records)
        with open(self.key_file) as stream:
            key_yaml = "".join(line for line in stream if not line.startswith("#"))
        with open(self.config, "w") as stream:
            stream.write(
                "server:\n    rundir: \"%(d)s/run\"\n    listen: %(a)s@53\n"
                "%(key)s"
                "%(remotes)s"
                # README's ACL: TLSA records of the mail host's names only.
                "acl:\n  - id: tlsa_update\n    key: %(name)s\n    action: update\n"
                "    update-type: [TLSA]\n    update-owner: name\n"
                "    update-owner-match: equal\n"
                "    update-owner-name: [%(owners)s]\n"
                "  - id: transfer\n    address: [%(transfer)s]\n    action: transfer\n"
                "database:\n    storage: \"%(d)s/db\"\n"
                "template:\n  - id: default\n    storage: \"%(d)s/zones\"\n"
                "    zonefile-sync: -1\n    zonefile-load: difference-no-serial\n"
                "    journal-content: all\n"
                "zone:\n  - domain: %(zone)s\n    file: example.com.zone\n"
                "    acl: [tlsa_update, transfer]\n%(notify)s%(signing)s"
                "log:\n  - target: \"%(d)s/knot.log\"\n    any: info\n"
                % {"d": self.directory, "a": self.address, "key": key_yaml,
                   "owners": ", ".join("_%d._tcp.%s" % (port, host) for host in self.hosts
                                       for port in (25, 465, 587)),
                   "name": os.path.basename(self.key_file)[:-len(".key")], "zone": ZONE,
                   # NOTIFY between loopback addresses leaves from 127.0.0.1
                   # unless "via" says otherwise.
                   "remotes": "remote:\n" + "".join(
                       "  - id: secondary%d\n    address: %s@53\n    via: %s\n"
                       % (index, address, self.address)
                       for index, address in enumerate(self.secondaries))
                   if self.secondaries else "",
                   "transfer": ", ".join(self.secondaries or ["127.0.0.255"]),
                   "signing": "    dnssec-signing: on\n" if self.signed else "",
                   "notify": "    notify: [%s]\n" % ", ".join(
                       "secondary%d" % index for index in range(len(self.secondaries)))
                   if self.secondaries else ""})
        subprocess.run(["knotd", "-c", self.config, "-d"], check=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.serial() is not None:
                return
            time.sleep(0.1)
        raise RuntimeError("knotd did not start: %s" % self.log())

    def trust_anchor(self):
        """The DS records of the zone's key-signing key (signed=True)."""
        return subprocess.run(["keymgr", "-c", self.config, ZONE, "ds"], stdout=subprocess.PIPE,
                              check=True, universal_newlines=True).stdout

    def serial(self):
        result = subprocess.run(["kdig", "@" + self.address, ZONE, "SOA", "+short",
                                 "+time=1", "+retry=0"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, universal_newlines=True)
        words = result.stdout.split()
        return int(words[2]) if len(words) >= 3 and words[2].isdigit() else None

    def tlsa(self, owner):
        """(sorted records, ttl) of owner's TLSA RRset as the primary serves it."""
        result = subprocess.run(["kdig", "@" + self.address, owner, "TLSA", "+noall",
                                 "+answer", "+time=2", "+retry=0"],
                                stdout=subprocess.PIPE, universal_newlines=True)
        records, ttl = [], None
        for line in result.stdout.splitlines():
            words = line.split()
            if len(words) >= 8 and words[3] == "TLSA":
                ttl = int(words[1])
                records.append("%s %s %s %s" % (words[4], words[5], words[6],
                                                "".join(words[7:]).lower()))
        return sorted(records), ttl

    def log(self):
        try:
            with open(os.path.join(self.directory, "knot.log")) as stream:
                return stream.read()
        except OSError:
            return ""

    def stop(self):
        subprocess.run(["knotc", "-c", self.config, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


class KnotSecondary(object):
    """A secondary of ZONE on address, fed by primary (NOTIFY, then IXFR or
    AXFR); stop() and start() hold it back and let it catch up."""

    def __init__(self, base, address, primary):
        self.address = address
        self.primary = primary
        self.directory = os.path.join(base, "knot-" + address)
        for sub in ("run", "db", "zones"):
            os.makedirs(os.path.join(self.directory, sub), exist_ok=True)
        self.config = os.path.join(self.directory, "knot.conf")
        with open(self.config, "w") as stream:
            stream.write(
                "server:\n    rundir: \"%(d)s/run\"\n    listen: %(a)s@53\n"
                "remote:\n  - id: primary\n    address: %(p)s@53\n    via: %(a)s\n"
                "acl:\n  - id: notify\n    address: %(p)s\n    action: notify\n"
                "database:\n    storage: \"%(d)s/db\"\n"
                "template:\n  - id: default\n    storage: \"%(d)s/zones\"\n"
                "    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: all\n"
                "zone:\n  - domain: %(zone)s\n    master: primary\n    acl: notify\n"
                "log:\n  - target: \"%(d)s/knot.log\"\n    any: info\n"
                % {"d": self.directory, "a": address, "p": primary.address, "zone": ZONE})

    def start(self):
        subprocess.run(["knotd", "-c", self.config, "-d"], check=True)

    def serial(self):
        return KnotPrimary.serial(self)

    def tlsa(self, owner):
        return KnotPrimary.tlsa(self, owner)

    def wait_for_serial(self, serial, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if (self.serial() or 0) >= serial:
                return True
            time.sleep(0.2)
        return False

    def stop(self):
        subprocess.run(["knotc", "-c", self.config, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


class Resolver(object):
    """unbound on address port 53 as a DANE sender's validating resolver:
    asks the primary for ZONE (a stub zone) and validates its answers
    with the zone's DS as trust anchor (AD when they check out)."""

    def __init__(self, base, address, primary):
        from support.liveservers import RESOLVER_CONFIG

        self.address = address
        self.primary = primary
        self.directory = os.path.join(base, "unbound-" + address)
        os.makedirs(self.directory, exist_ok=True)
        self.config = os.path.join(self.directory, "unbound.conf")
        self.template = RESOLVER_CONFIG
        self.process = None

    @property
    def nameserver(self):
        return self.address

    def start(self):
        anchor = ""
        if self.primary.signed:
            path = os.path.join(self.directory, "anchor.ds")
            with open(path, "w") as stream:
                stream.write(self.primary.trust_anchor())
            anchor = '    trust-anchor-file: "%s"\n' % path
        with open(self.config, "w") as stream:
            stream.write(self.template.format(
                name="resolver", address=self.address, port=53, directory=self.directory,
                zone=ZONE.rstrip("."), anchor=anchor, primary=self.primary.address))
        self.process = subprocess.Popen(["unbound", "-d", "-c", self.config],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("unbound exited: %s" % self.process.returncode)
            result = subprocess.run(["kdig", "@" + self.address, ZONE, "SOA", "+short",
                                     "+time=1", "+retry=0"], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, universal_newlines=True)
            if result.stdout.strip():
                return
            time.sleep(0.1)
        raise RuntimeError("unbound did not answer on %s" % self.address)

    def tlsa(self, owner):
        """(sorted records, AD flag) as the resolver answers now."""
        result = subprocess.run(["kdig", "@" + self.address, owner, "TLSA", "+dnssec",
                                 "+time=2", "+retry=0"], stdout=subprocess.PIPE,
                                universal_newlines=True)
        records = []
        for line in result.stdout.splitlines():
            words = line.split()
            if len(words) >= 8 and words[3] == "TLSA" and not line.startswith(";"):
                records.append("%s %s %s %s" % (words[4], words[5], words[6],
                                                "".join(words[7:]).lower()))
        flags = [line for line in result.stdout.splitlines() if ";; Flags:" in line]
        return sorted(records), bool(flags) and " ad" in flags[0]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
