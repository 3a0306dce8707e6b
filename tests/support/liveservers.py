"""Real servers for the DANE tests, on loopback addresses only: a scratch
Postfix instance that postfix(1) starts (smtpd on 127.0.0.2, ports 25,
465 and 587), and a zone's DNS: its two nameservers (unbound, on port 53
of 127.0.0.4 and 127.0.0.6), unsigned or signed by ldns-signzone, and
unbound as the resolver on 127.0.0.1 at a high port, validating the
signed zone against a trust anchor.  Each is stopped by the fixture that
started it.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

from . import free_port

POSTFIX_ADDRESS = "127.0.0.2"
PORTS = (25, 465, 587)
HOSTNAME = "mail.example.test"
ZONE = "example.test"

MASTER_SERVICES = """\
{address}:25 inet n - n - - smtpd
{address}:465 inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
{address}:587 inet n - n - - smtpd
"""


@contextlib.contextmanager
def scratch_base(prefix):
    """A directory for live servers, searchable by the postfix user, removed
    afterwards.  Not under pytest's basetemp: pytest makes that 0700 again
    whenever a session starts, and the postfix user could no longer reach it."""
    base = tempfile.mkdtemp(prefix=prefix)
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def searchable(path):
    """Every directory from path up must be searchable by the postfix user."""
    while path not in ("/", ""):
        mode = os.stat(path).st_mode
        if not mode & 0o001:
            os.chmod(path, (mode & 0o7777) | 0o011)
        path = os.path.dirname(path)


def wait_for_port(address, port, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return True
        except OSError:
            if time.time() >= deadline:
                return False
            time.sleep(0.1)


class ScratchPostfix(object):
    """A Postfix instance of its own: configuration, queue and data
    directories under one temporary directory; chroot off; logging to a file."""

    def __init__(self, base, address=POSTFIX_ADDRESS):
        self.base = base
        self.address = address
        self.config = os.path.join(base, "etc")
        self.queue = os.path.join(base, "spool")
        self.data = os.path.join(base, "data")
        self.log = os.path.join(base, "maillog")
        for directory in (self.config, self.queue, self.data):
            os.mkdir(directory)
        shutil.chown(self.data, "postfix", "postfix")
        searchable(self.data)
        with open("/etc/postfix/master.cf") as stream:
            master = [line for line in stream.read().splitlines(True)
                      if not line.startswith("smtp      inet")]
        with open(os.path.join(self.config, "master.cf"), "w") as stream:
            stream.write("".join(master) + MASTER_SERVICES.format(address=address))
        self.write_main_cf([])
        self.postconf("-F", "*/*/chroot = n")

    def write_main_cf(self, extra):
        lines = [
            "compatibility_level = 3.6",
            "myhostname = " + HOSTNAME,
            "mydestination =",
            "inet_interfaces = loopback-only",
            "inet_protocols = ipv4",
            "queue_directory = " + self.queue,
            "data_directory = " + self.data,
            "maillog_file = " + self.log,
            "maillog_file_prefixes = " + self.base,
            "smtpd_tls_security_level = may",
        ] + list(extra)
        path = os.path.join(self.config, "main.cf")
        with open(path, "w") as stream:
            stream.write("".join(line + "\n" for line in lines))
        past = time.time() - 60  # Postfix programs pause while main.cf is new
        os.utime(path, (past, past))

    def postconf(self, *args):
        return subprocess.run(["postconf", "-c", self.config] + list(args), check=True,
                              stdout=subprocess.PIPE, universal_newlines=True).stdout

    def postfix(self, *args):
        return subprocess.run(["postfix", "-c", self.config] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)

    def start(self):
        busy = [port for port in PORTS if wait_for_port(self.address, port, timeout=0)]
        if busy:
            raise RuntimeError("%s: ports %s are taken already" % (self.address, busy))
        result = self.postfix("start")
        if result.returncode or not all(wait_for_port(self.address, port)
                                        for port in PORTS):
            raise RuntimeError("postfix -c %s start failed: %s\n%s" % (
                self.config, result.stdout, self.maillog()))

    def restart(self):
        """Stop and start: every smtpd then has the new keys (after a reload,
        an idle smtpd may still answer once with the old ones)."""
        past = time.time() - 60
        os.utime(os.path.join(self.config, "main.cf"), (past, past))
        self.stop()
        self.start()

    def stop(self):
        self.postfix("stop")
        deadline = time.time() + 20
        while time.time() < deadline and wait_for_port(self.address, 25, timeout=0.2):
            time.sleep(0.2)

    def maillog(self):
        try:
            with open(self.log) as stream:
                return stream.read()
        except OSError:
            return ""


# Every unbound here: one address and port, in the foreground, no syslog,
# no chroot; "test." is one of unbound's built-in empty zones otherwise.
UNBOUND_SERVER = """server:
    interface: {address}
    port: {port}
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{directory}"
    pidfile: "{directory}/{name}.pid"
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    local-zone: "test." nodefault
"""

# The zone's nameservers: unbound answering authoritatively from a zone file.
AUTHORITY_CONFIG = UNBOUND_SERVER + """    module-config: "iterator"
auth-zone:
    name: "{zone}."
    zonefile: "{zonefile}"
    for-downstream: yes
    for-upstream: no
remote-control:
    control-enable: no
"""

# The resolver check-server-tlsa asks (-n): it asks ns1 for the zone and,
# with a trust anchor (the DS of the zone's key-signing key), validates the
# answers as a DANE sender's resolver does: AD when they check out, SERVFAIL
# when they do not (the anchor of another key: a bogus answer).
RESOLVER_CONFIG = UNBOUND_SERVER + """    module-config: "validator iterator"
    do-not-query-localhost: no
{anchor}stub-zone:
    name: "{zone}."
    stub-addr: {primary}@53
remote-control:
    control-enable: no
"""

# ns1 and ns2 of the zone, on port 53 of their own loopback addresses.
AUTHORITIES = (("ns1", "127.0.0.4"), ("ns2", "127.0.0.6"))


class LocalZone(object):
    """ZONE's nameservers ns1 and ns2 (unbound, authoritative, on port 53 of
    127.0.0.4 and 127.0.0.6), and unbound as a resolver on 127.0.0.1:port
    asking ns1, validating the zone when it is signed (ldns-signzone)."""

    def __init__(self, base, authorities=AUTHORITIES):
        self.directory = tempfile.mkdtemp(dir=base, prefix="unbound.")
        searchable(self.directory)
        self.port = free_port()
        self.authorities = authorities
        self.processes = []

    @property
    def nameserver(self):
        return "127.0.0.1:%d" % self.port

    def serve(self, records, ttl=300, dnssec="", lagging=None, addresses=True):
        """(Re)start the three with these records: (owner, type, data).
        dnssec: "" unsigned; "signed" (answers are validated: AD); "bogus"
        (signed, but the resolver's trust anchor is another key's: SERVFAIL).
        lagging: the records ns2 serves instead, as a secondary that missed
        the last update.  addresses=False: the zone does not give its
        nameservers' addresses (the resolver reaches ns1 all the same)."""
        self.stop()
        zones = {"ns1": self._zone_file("ns1", records, ttl, 2, addresses),
                 "ns2": self._zone_file("ns2", records if lagging is None else lagging, ttl,
                                        1 if lagging is not None else 2, addresses)}
        anchor = ""
        if dnssec:
            ksk, zsk = self._key("-k"), self._key()
            for name, path in zones.items():
                subprocess.run(["ldns-signzone", "-f", path + ".signed", path, ksk, zsk],
                               check=True)
                zones[name] = path + ".signed"
            anchor = '    trust-anchor-file: "%s.ds"\n' % (
                self._key("-k") if dnssec == "bogus" else ksk)
        for name, address in self.authorities:
            self._start(name, address, 53, AUTHORITY_CONFIG, zonefile=zones[name])
        self._start("resolver", "127.0.0.1", self.port, RESOLVER_CONFIG, anchor=anchor,
                    primary=self.authorities[0][1])

    def _zone_file(self, name, records, ttl, serial, addresses):
        path = os.path.join(self.directory, "%s.%s.zone" % (name, ZONE))
        with open(path, "w") as stream:
            stream.write("$ORIGIN %s.\n$TTL %d\n" % (ZONE, ttl))
            stream.write("@ IN SOA ns1 hostmaster %d 3600 600 86400 %d\n" % (serial, ttl))
            for server, address in self.authorities:
                stream.write("@ IN NS %s\n" % server)
                if addresses:
                    stream.write("%s IN A %s\n" % (server, address))
            for owner, kind, data in records:
                stream.write("%s %d IN %s %s\n" % (owner, ttl, kind, data))
        return path

    def _key(self, *flags):
        """A new ECDSA P-256 key pair for ZONE in the directory (ldns-keygen)."""
        name = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256"] + list(flags) + [ZONE],
                              cwd=self.directory, stdout=subprocess.PIPE, check=True,
                              universal_newlines=True).stdout.strip()
        return os.path.join(self.directory, name)

    def _start(self, name, address, port, template, **values):
        # unbound binds with SO_REUSEPORT: a second one on the same port
        # would share its queries, not fail.  A plain bind tells.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((address, port))
            except OSError:
                raise RuntimeError("%s port %d is taken already" % (address, port))
        config = os.path.join(self.directory, name + ".conf")
        with open(config, "w") as stream:
            stream.write(template.format(name=name, address=address, port=port,
                                         directory=self.directory, zone=ZONE, **values))
        log = os.path.join(self.directory, name + ".log")
        with open(log, "w") as stream:
            process = subprocess.Popen(["unbound", "-d", "-c", config],
                                       stdout=subprocess.DEVNULL, stderr=stream)
        self.processes.append(process)
        deadline = time.time() + 20
        while time.time() < deadline:
            if process.poll() is not None:
                with open(log) as stream:
                    said = stream.read().strip()
                raise RuntimeError("unbound (%s) exited: %s: %s"
                                   % (name, process.returncode, said[-400:]))
            if self._answers(address, port):
                return
            time.sleep(0.1)
        raise RuntimeError("unbound (%s) did not answer on %s port %d" % (name, address, port))

    @staticmethod
    def _answers(address, port):
        import dns.message
        import dns.query
        query = dns.message.make_query(ZONE + ".", "SOA")
        try:
            dns.query.udp(query, address, port=port, timeout=0.5)
            return True
        except Exception:
            return False

    def stop_nameserver(self, index):
        """Stop one nameserver (0: ns1, 1: ns2), as if it were unreachable."""
        self.processes[index].terminate()
        self.processes[index].wait(timeout=10)

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        self.processes = []
