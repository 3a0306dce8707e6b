"""A DANE rollover with no person in the loop (issue 29): deploy-acme-cert -K
publishes a new key's record into a signed zone, waits for every
nameserver, the validating resolver and one TTL, deploys the key, and
retires the old record one TTL later; all the while a DANE client
(openssl s_client -dane_tlsa_rrdata, fed from what the resolver returns)
connects every second and must verify every time.

A site of its own on loopback: Knot as the primary on 127.0.0.22 (signing
the zone itself, TSIG-signed updates of TLSA records allowed), a Knot
secondary on .23 fed by NOTIFY and IXFR, unbound on .24 validating with the
zone's DS as trust anchor, a scratch Postfix started by postfix(1) on .25.
Needs root, knot, knot-dnsutils, unbound, Postfix and dnspython.
"""

import os
import re
import subprocess
import threading
import time

import pytest
from test_acme import OPENSSL, key_digest, self_signed, spki

from support import POSTFIX_PATH, ours_argv
from support.dnsservers import KnotPrimary, KnotSecondary, Resolver, knot_programs
from support.liveservers import ScratchPostfix, scratch_base

pytestmark = [pytest.mark.postfix, pytest.mark.root]

PRIMARY, SECONDARY, RESOLVER, ADDRESS = "127.0.0.22", "127.0.0.23", "127.0.0.24", "127.0.0.25"
HOSTNAME = "mail.example.com"
OWNER = "_25._tcp.%s." % HOSTNAME
TTL = 3  # the TLSA RRset's: the waits are one or two of these


class Lab(object):
    def __init__(self, base):
        self.base = base
        self.primary = KnotPrimary(base, PRIMARY, secondaries=[SECONDARY], signed=True)
        self.secondary = KnotSecondary(base, SECONDARY, self.primary)
        self.resolver = Resolver(base, RESOLVER, self.primary)
        self.postfix = ScratchPostfix(base, ADDRESS)
        self.config = self.postfix.config
        self.work = os.path.join(base, "work")
        os.makedirs(self.work)

    def start(self):
        self.primary.start()
        self.secondary.start()
        assert self.secondary.wait_for_serial(self.primary.serial() or 1, 20)
        self.resolver.start()
        self.postfix.start()

    def stop(self):
        for part in (self.postfix, self.resolver, self.secondary, self.primary):
            try:
                part.stop()
            except Exception:
                pass

    def run(self, *args, options=(), publish=True):
        """deploy-acme-cert as a hook or a timer runs it: (status, stdout, stderr)."""
        argv = ["deploy-acme-cert", "-h", HOSTNAME, "-p", "25", "-n", RESOLVER, "-s", ADDRESS,
                "-t", "20"]
        if publish:
            argv += ["-K", self.primary.key_file, "-L", str(TTL)]
        result = subprocess.run(ours_argv(["-c", self.config] + list(options) + argv
                                          + list(args)),
                                env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=120)
        return result.returncode, result.stdout, result.stderr

    def material(self, name):
        return self_signed(self.work, name, hostname=HOSTNAME)


@pytest.fixture(scope="module")
def lab():
    missing = knot_programs()
    if missing:
        pytest.fail("needs %s: apt-get install knot knot-dnsutils" % ", ".join(missing))
    with scratch_base("postfix-tls-rollover.") as base:
        lab = Lab(base)
        try:
            lab.start()
            yield lab
        finally:
            lab.stop()


class DaneClient(threading.Thread):
    """Every second: the RRset from the resolver, then a DANE-verified
    STARTTLS connection with it; each (time, records, verified) kept."""

    def __init__(self):
        threading.Thread.__init__(self, daemon=True)
        self.results = []
        self.done = threading.Event()

    def run(self):
        resolver = Resolver.__new__(Resolver)
        resolver.address = RESOLVER
        while not self.done.is_set():
            records, validated = resolver.tlsa(OWNER)
            digest, verified = presented(records) if records else (None, False)
            self.results.append((time.time(), records, validated, digest, verified))
            self.done.wait(1)

    def failures(self):
        return [result for result in self.results if not (result[2] and result[4])]


def presented(records=()):
    """(SPKI digest of the key the server presents on port 25, DANE verified
    with records), as Postfix's SMTP client would verify: DANE-EE records
    need no name check."""
    argv = ["timeout", "20", OPENSSL, "s_client", "-connect", ADDRESS + ":25", "-starttls",
            "smtp", "-sigalgs", "rsa_pss_rsae_sha256:rsa_pkcs1_sha256"]
    if records:
        argv += ["-dane_tlsa_domain", HOSTNAME, "-dane_ee_no_namechecks"]
        for record in records:
            argv += ["-dane_tlsa_rrdata", record]
    output = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT).stdout.decode("utf-8", "replace")
    begin = output.find("-----BEGIN CERTIFICATE-----")
    if begin < 0:
        return None, False
    end = output.index("-----END CERTIFICATE-----", begin) + len("-----END CERTIFICATE-----")
    verified = "Verification: OK" in output and "matched EE certificate" in output
    return spki(output[begin:end].encode() + b"\n"), verified


def wait_until(condition, seconds, step=1.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def test_a_new_key_rolls_over_with_no_person_and_every_connection_verifies(lab):
    old, new = lab.material("old"), lab.material("new")
    old_record, new_record = "3 1 1 " + key_digest(old[0]), "3 1 1 " + key_digest(new[0])
    # The old key, deployed before DANE; then its record published (-L: a new RRset's TTL).
    status, out, err = lab.run(*old, publish=False)
    assert status == 0, err + out
    result = subprocess.run(ours_argv([
        "-c", lab.config, "publish-server-tlsa", "-h", HOSTNAME, "-p", "25", "-n", RESOLVER,
        "-K", lab.primary.key_file, "-L", str(TTL)]), env={"PATH": POSTFIX_PATH},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.stdout == "%s %d IN TLSA %s: published\n" % (OWNER, TTL, old_record), (
        result.stdout)
    assert wait_until(lambda: lab.resolver.tlsa(OWNER) == ([old_record], True), 20)
    client = DaneClient()
    client.start()
    try:
        # The secondary held back: the renewal's key stays staged, ns2 is named.
        subprocess.run(["knotc", "-c", lab.secondary.config, "zone-freeze", "example.com."],
                       check=True, stdout=subprocess.DEVNULL)
        status, out, err = lab.run(*new)
        published = time.time()
        assert status == 75, err + out
        assert "published %s %d IN TLSA %s" % (OWNER, TTL, new_record) in out
        assert "staged" in out and "ns2.example.com. (%s, zone serial" % SECONDARY in out, out
        assert lab.primary.tlsa(OWNER) == (sorted([old_record, new_record]), TTL)
        assert presented()[0] == old_record.split()[3]
        serial = re.search(r"zone serial (\d+)", out).group(1)
        assert int(serial) < lab.primary.serial()
        status, out, err = lab.run()  # a timer's run: still behind
        assert status == 75 and "ns2.example.com." in out, out
        subprocess.run(["knotc", "-c", lab.secondary.config, "zone-thaw", "example.com."],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["knotc", "-c", lab.secondary.config, "zone-refresh", "example.com."],
                       check=True, stdout=subprocess.DEVNULL)
        # Timer runs, one a second, until one deploys.
        runs = []
        while time.time() < published + 60:
            started = time.time()
            status, out, err = lab.run()
            runs.append((started, status, out))
            if status == 0:
                break
            assert status == 75, err + out
            time.sleep(1)
        assert runs[-1][1] == 0 and "deployed" in runs[-1][2], runs
        deployed = runs[-1][0]
        assert deployed >= published + TTL  # never before one TTL
        assert presented()[0] == new_record.split()[3]
        # Timer runs until the old record is retired, one TTL after the deploy at least.
        retired = None
        while time.time() < deployed + 60:
            status, out, err = lab.run()
            assert status == 0, err + out
            if "retired" in out:
                retired = time.time()
                break
            time.sleep(1)
        assert retired and retired >= deployed + TTL, out
        assert lab.primary.tlsa(OWNER) == ([new_record], TTL)
        assert lab.secondary.wait_for_serial(lab.primary.serial(), 20)
        assert lab.secondary.tlsa(OWNER) == ([new_record], TTL)
        time.sleep(2 * TTL)  # the client sees the resolver drop the old record
    finally:
        client.done.set()
        client.join(60)
    assert len(client.results) >= 10
    assert client.failures() == [], client.results
    assert any(records == [new_record] for _, records, _, _, _ in client.results)
    status, out, err = lab.run()
    assert status == 0 and "retired" not in out and "published" not in out, out
