"""Real servers for the DANE tests, on loopback addresses only: a scratch
Postfix instance that postfix(1) starts (smtpd on 127.0.0.2, ports 25,
465 and 587), and unbound serving a local zone on 127.0.0.1 at a high
port.  Each is stopped by the fixture that started it.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

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


UNBOUND_CONFIG = """server:
    interface: 127.0.0.1
    port: {port}
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{directory}"
    pidfile: "{directory}/unbound.pid"
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    module-config: "iterator"
    local-zone: "{zone}." static
{records}
remote-control:
    control-enable: no
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalZone(object):
    """unbound, serving ZONE's records from local-data on 127.0.0.1:port."""

    def __init__(self, base):
        self.directory = tempfile.mkdtemp(dir=base, prefix="unbound.")
        searchable(self.directory)
        self.port = free_port()
        self.process = None

    @property
    def nameserver(self):
        return "127.0.0.1:%d" % self.port

    def serve(self, records, ttl=300):
        """(Re)start unbound with these records: (owner, type, data)."""
        self.stop()
        lines = ['    local-data: "%s %d IN %s %s"' % (owner, ttl, kind, data)
                 for owner, kind, data in records]
        config = os.path.join(self.directory, "unbound.conf")
        with open(config, "w") as stream:
            stream.write(UNBOUND_CONFIG.format(port=self.port, directory=self.directory,
                                               zone=ZONE, records="\n".join(lines)))
        self.process = subprocess.Popen(["unbound", "-d", "-c", config],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("unbound exited: %s" % self.process.returncode)
            if self._answers():
                return
            time.sleep(0.1)
        raise RuntimeError("unbound did not answer on %s" % self.nameserver)

    def _answers(self):
        import dns.message
        import dns.query
        query = dns.message.make_query(ZONE + ".", "SOA")
        try:
            dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
            return True
        except Exception:
            return False

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
