"""Real ACME for the deploy hook's tests, on loopback only: Debian's pebble
(Let's Encrypt's test CA) on 127.0.0.1, with an HTTPS certificate made
here, and Debian's certbot, dehydrated, lego and acme.sh (Debian 14's
package: make acme-sh) as its clients, each in directories of its own.
pebble is told to find every challenge valid (PEBBLE_VA_ALWAYS_VALID=1):
the clients write their http-01 files into a webroot nobody serves.
Stopped by the fixture that started it.
"""

import json
import os
import socket
import subprocess
import time

from . import free_port, openssl_in

DIRECTORY_PATH = "/dir"


class Pebble(object):
    """pebble on 127.0.0.1 at free ports; ca_file: what clients trust its
    HTTPS with (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, LEGO_CA_CERTIFICATES)."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        openssl = openssl_in(directory)
        with open(os.path.join(directory, "ext.cnf"), "w") as stream:
            stream.write("[v3_ca]\nbasicConstraints = critical,CA:true\n"
                         "keyUsage = critical,keyCertSign,cRLSign\n"
                         "[v3_leaf]\nbasicConstraints = CA:false\n"
                         "subjectAltName = IP:127.0.0.1,DNS:localhost\n")
        openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-subj", "/CN=pebble test HTTPS CA", "-days", "2", "-config", "ext.cnf",
                "-extensions", "v3_ca", "-out", "ca.pem")
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
                "-subj", "/CN=localhost", "-out", "https.csr")
        openssl("x509", "-req", "-in", "https.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-extensions",
                "v3_leaf", "-out", "cert.pem")
        self.ca_file = os.path.join(directory, "ca.pem")
        self.port = free_port()
        self.management_port = free_port()
        self.url = "https://127.0.0.1:%d%s" % (self.port, DIRECTORY_PATH)
        self.process = None

    def start(self):
        config = os.path.join(self.directory, "pebble-config.json")
        with open(config, "w") as stream:
            json.dump({"pebble": {
                "listenAddress": "127.0.0.1:%d" % self.port,
                "managementListenAddress": "127.0.0.1:%d" % self.management_port,
                "certificate": os.path.join(self.directory, "cert.pem"),
                "privateKey": os.path.join(self.directory, "key.pem"),
                "httpPort": free_port(), "tlsPort": free_port(),
                "ocspResponderURL": "", "externalAccountBindingRequired": False}}, stream)
        env = dict(os.environ, PEBBLE_VA_ALWAYS_VALID="1", PEBBLE_VA_NOSLEEP="1",
                   PEBBLE_WFE_NONCEREJECT="0")
        self.log = open(os.path.join(self.directory, "pebble.log"), "w")
        self.process = subprocess.Popen(["pebble", "-config", config], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("pebble exited: %s" % self.logged())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pebble did not listen: %s" % self.logged())

    def logged(self):
        with open(os.path.join(self.directory, "pebble.log")) as stream:
            return stream.read()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def client_env(self, path):
        """The environment a client runs in: pebble's HTTPS trusted; PATH
        with postfix-tls first (the hook's command)."""
        return dict(os.environ, PATH=path, REQUESTS_CA_BUNDLE=self.ca_file,
                    CURL_CA_BUNDLE=self.ca_file, LEGO_CA_CERTIFICATES=self.ca_file)


def run(argv, env, cwd=None):
    return subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300)


class Certbot(object):
    """certbot with its configuration, work and log directories here."""

    def __init__(self, directory, pebble, env):
        self.directory = directory
        self.pebble = pebble
        self.env = env
        self.webroot = os.path.join(directory, "webroot")
        os.makedirs(self.webroot, exist_ok=True)

    def _common(self):
        return ["--non-interactive", "--server", self.pebble.url,
                "--config-dir", os.path.join(self.directory, "config"),
                "--work-dir", os.path.join(self.directory, "work"),
                "--logs-dir", os.path.join(self.directory, "logs")]

    def lineage(self, name):
        return os.path.join(self.directory, "config", "live", name)

    def certonly(self, name, domain, key_type, hook):
        return run(["certbot", "certonly"] + self._common() + [
            "--agree-tos", "--register-unsafely-without-email", "--webroot",
            "-w", self.webroot, "-d", domain, "--cert-name", name, "--key-type", key_type,
            "--deploy-hook", hook], self.env)

    def renew(self, name, *flags):
        return run(["certbot", "renew"] + self._common() + [
            "--cert-name", name, "--force-renewal", "--no-random-sleep-on-renew"]
            + list(flags), self.env)


class Dehydrated(object):
    """dehydrated with its base directory and configuration here; its HOOK
    is a shell function in that configuration (dehydrated sources it)."""

    def __init__(self, directory, pebble, env, domain, hook, key_renew=True, rollover=False):
        self.directory = directory
        self.env = env
        self.domain = domain
        os.makedirs(os.path.join(directory, "wellknown"), exist_ok=True)
        with open(os.path.join(directory, "domains.txt"), "w") as stream:
            stream.write(domain + "\n")
        self.config = os.path.join(directory, "config")
        with open(self.config, "w") as stream:
            stream.write(
                'CA="%s"\nBASEDIR="%s"\nWELLKNOWN="%s/wellknown"\nCHALLENGETYPE="http-01"\n'
                'KEY_ALGO=rsa\nPRIVATE_KEY_RENEW="%s"\nPRIVATE_KEY_ROLLOVER="%s"\n'
                'postfix_tls_hook() { %s "$@"; }\nHOOK=postfix_tls_hook\n' % (
                    pebble.url, directory, directory, "yes" if key_renew else "no",
                    "yes" if rollover else "no", hook))

    def certdir(self):
        return os.path.join(self.directory, "certs", self.domain)

    def register(self):
        return run(["dehydrated", "-f", self.config, "--register", "--accept-terms"], self.env)

    def cron(self, force=False):
        return run(["dehydrated", "-f", self.config, "-c"] + (["-x"] if force else []),
                   self.env)


class Lego(object):
    """lego with its --path here."""

    def __init__(self, directory, pebble, env, domain):
        self.directory = directory
        self.env = env
        self.webroot = os.path.join(directory, "webroot")
        os.makedirs(self.webroot, exist_ok=True)
        self.common = ["lego", "--server", pebble.url, "--accept-tos", "--email",
                       "postmaster@example.test", "--domains", domain, "--http",
                       "--http.webroot", self.webroot, "--path", directory,
                       "--key-type", "rsa2048"]

    def run(self, hook):
        return run(self.common + ["run", "--run-hook", hook], self.env)

    def renew(self, hook, *flags):
        return run(self.common + ["renew", "--days", "10000", "--no-random-sleep",
                                  "--renew-hook", hook]
                   + list(flags), self.env)


class AcmeSh(object):
    """acme.sh with its home, configuration and certificates here; its
    default key (ec-256), a key made ahead for each next renewal
    (--always-force-new-domain-key) and the hook as its --reloadcmd."""

    def __init__(self, directory, pebble, env, domain):
        self.directory = directory
        self.env = env
        self.domain = domain
        self.webroot = os.path.join(directory, "webroot")
        os.makedirs(self.webroot, exist_ok=True)
        self.common = ["acme.sh", "--home", directory, "--config-home", directory,
                       "--cert-home", os.path.join(directory, "certs"), "--server", pebble.url,
                       "--ca-bundle", pebble.ca_file, "--log", os.path.join(directory, "log")]

    def certdir(self):
        return os.path.join(self.directory, "certs", self.domain + "_ecc")

    def keyfile(self):
        return os.path.join(self.certdir(), self.domain + ".key")

    def next_keyfile(self):
        return self.keyfile() + ".next"

    def issue(self, hook):
        return run(self.common + ["--issue", "-d", self.domain, "-w", self.webroot,
                                  "--always-force-new-domain-key", "--reloadcmd", hook],
                   self.env)

    def renew(self):
        return run(self.common + ["--renew", "-d", self.domain, "--force"], self.env)
