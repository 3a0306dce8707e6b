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
import shlex
import shutil
import signal
import subprocess
import threading
import time

import pytest
from test_acme import key_digest, presented, self_signed
from test_acme_interrupts import killed_at

from support import POSTFIX_PATH, ours_argv
from support.acmeservers import Certbot, Dehydrated, Pebble
from support.dnsservers import KnotPrimary, KnotSecondary, Resolver, require_knot
from support.liveservers import ScratchPostfix, scratch_base

pytestmark = [pytest.mark.postfix, pytest.mark.root]

PRIMARY, SECONDARY, RESOLVER, ADDRESS = "127.0.0.22", "127.0.0.23", "127.0.0.24", "127.0.0.25"
HOSTNAME = "mail.example.com"
OWNER = "_25._tcp.%s." % HOSTNAME
TTL = 3  # the TLSA RRset's: the waits are one or two of these
# Another host's record in the same RRset (a backup MX sharing the name):
# no key of this host ever had it, so no run may remove it.
OTHER = "3 1 1 " + "ef" * 32


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
        self.primary.start(records=["_25._tcp.mail %d IN TLSA %s" % (TTL, OTHER)])
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

    def run(self, *args, options=(), publish=True, key=None):
        """deploy-acme-cert as a hook or a timer runs it: (status, stdout,
        stderr); key: another TSIG key file than the zone's."""
        argv = ["deploy-acme-cert", "-h", HOSTNAME, "-p", "25", "-n", RESOLVER, "-s", ADDRESS,
                "-t", "20"]
        if publish:
            argv += ["-K", key or self.primary.key_file, "-L", str(TTL)]
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
    require_knot()
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

    def __init__(self, resolver):
        threading.Thread.__init__(self, daemon=True)
        self.resolver = resolver
        self.results = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            records, validated = self.resolver.tlsa(OWNER)
            digest, verified = presented_here(records) if records else (None, False)
            self.results.append((time.time(), records, validated, digest, verified))
            self.done.wait(1)

    def failures(self):
        return [result for result in self.results if not (result[2] and result[4])]


def presented_here(records=()):
    """(SPKI digest of the key the server presents on port 25, DANE verified
    with records), as Postfix's SMTP client verifies: DANE-EE records need
    no name check."""
    return presented(25, records, address=ADDRESS, hostname=HOSTNAME, name_checks=False)


def wait_until(condition, seconds, step=1.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def timer_runs(lab, seconds):
    """Runs as a timer's, one a second, until one deploys: (when it
    started, status, stdout)."""
    deadline = time.time() + seconds
    while True:
        started = time.time()
        status, out, err = lab.run()
        if status != 75 or time.time() > deadline:
            return started, status, out + err
        time.sleep(1)


def test_a_new_key_rolls_over_with_no_person_and_every_connection_verifies(lab):
    old, new = lab.material("old"), lab.material("new")
    old_record, new_record = "3 1 1 " + key_digest(old[0]), "3 1 1 " + key_digest(new[0])
    # The first certificate: its record published, then deployed by a timer's run.
    status, out, err = lab.run(*old)
    assert status == 75, err + out
    assert "published %s %d IN TLSA %s" % (OWNER, TTL, old_record) in out, out
    assert "Postfix keeps serving" in out and presented_here()[0] is None
    assert timer_runs(lab, 60)[1] == 0
    assert presented_here()[0] == old_record.split()[3]
    result = subprocess.run(ours_argv([
        "-c", lab.config, "publish-server-tlsa", "-h", HOSTNAME, "-p", "25", "-n", RESOLVER,
        "-K", lab.primary.key_file]), env={"PATH": POSTFIX_PATH},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.stdout == "%s: every key's record is published already\n" % OWNER, (
        result.stdout)
    assert wait_until(lambda: lab.resolver.tlsa(OWNER) == (sorted([old_record, OTHER]), True),
                      20)
    client = DaneClient(lab.resolver)
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
        assert lab.primary.tlsa(OWNER) == (sorted([old_record, new_record, OTHER]), TTL)
        assert presented_here()[0] == old_record.split()[3]
        serial = re.search(r"zone serial (\d+)", out).group(1)
        assert int(serial) < lab.primary.serial()
        status, out, err = lab.run()  # a timer's run: still behind
        assert status == 75 and "ns2.example.com." in out, out
        subprocess.run(["knotc", "-c", lab.secondary.config, "zone-thaw", "example.com."],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["knotc", "-c", lab.secondary.config, "zone-refresh", "example.com."],
                       check=True, stdout=subprocess.DEVNULL)
        deployed, status, out = timer_runs(lab, 60)
        assert status == 0 and "deployed" in out, out
        assert deployed >= published + TTL  # never before one TTL
        assert presented_here()[0] == new_record.split()[3]
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
        assert lab.primary.tlsa(OWNER) == (sorted([new_record, OTHER]), TTL)
        assert lab.secondary.wait_for_serial(lab.primary.serial(), 20)
        assert lab.secondary.tlsa(OWNER) == (sorted([new_record, OTHER]), TTL)
        time.sleep(2 * TTL)  # the client sees the resolver drop the old record
    finally:
        client.done.set()
        client.join(60)
    assert len(client.results) >= 10
    assert client.failures() == [], client.results
    assert any(records == sorted([new_record, OTHER]) for _, records, _, _, _ in client.results)
    status, out, err = lab.run()
    assert status == 0 and "retired" not in out and "published" not in out, out


def wrong_key_file(lab, name, secret_from=None):
    """A tsig-keygen file: the lab's key under another name, or (name None)
    its name with another secret."""
    from postfix_tls.dane import tsig

    key = tsig.read(lab.primary.key_file)
    secret = "AAAA" + key.secret[4:] if name is None else key.secret
    path = os.path.join(lab.work, "%s.key" % (name or "wrong-secret"))
    with open(path, "w") as stream:
        stream.write('key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n'
                     % (name or key.name, key.algorithm, secret))
    return path


def test_a_wrong_key_or_a_dry_run_changes_nothing_and_the_next_run_goes_on(lab):
    """BADSIG, BADKEY: exit 1, the new key staged, the old one served, DNS as
    it was; a dry run sends nothing; then a run with the right key
    publishes the staged key's record."""
    deployed = presented_here()[0]
    before = lab.primary.tlsa(OWNER)
    renewal = lab.material("renewal")
    record = "3 1 1 " + key_digest(renewal[0])
    staged = os.path.join(lab.config, "acme-rsa.staged.pem")
    for name, said in ((None, "BADSIG"), ("someone-else", "BADKEY")):
        status, out, err = lab.run(*renewal, key=wrong_key_file(lab, name))
        assert status == 1, err + out
        assert said in out and "staged in %s" % staged in out, out
        assert os.path.isfile(staged)
        assert presented_here()[0] == deployed and lab.primary.tlsa(OWNER) == before
    # Not the primary: the resolver (no answer of the zone's own): exit 1, said.
    status, out, err = lab.run("-P", RESOLVER)
    assert status == 1 and "must be the zone's primary" in out + err, err + out
    status, out, err = lab.run(options=["--dry-run"])
    assert status == 75 and "(dry run: not sent)" in out, err + out
    assert "  require %s TLSA = {" % OWNER in out and "  add %s %d TLSA %s" % (
        OWNER, TTL, record) in out, out
    assert lab.primary.tlsa(OWNER) == before
    status, out, err = lab.run(options=["--trace"])
    assert status == 75 and "published %s %d IN TLSA %s" % (OWNER, TTL, record) in out, out
    from postfix_tls.dane import tsig
    assert tsig.read(lab.primary.key_file).secret not in err + out
    assert record in lab.primary.tlsa(OWNER)[0] and presented_here()[0] == deployed


def run_killed(lab, material, step):
    """The hook with --trace and -K, sent SIGTERM as its step-th step starts
    (0: never): (status, steps, stderr)."""
    return killed_at(ours_argv([
        "-c", lab.config, "--trace", "deploy-acme-cert", "-h", HOSTNAME, "-p", "25", "-n",
        RESOLVER, "-s", ADDRESS, "-t", "20", "-K", lab.primary.key_file] + list(material)),
        step)


def test_interrupted_at_each_step_dns_and_postfix_hold_the_old_state_or_the_new(lab):
    """SIGTERM as each step of the hook's run starts (it stages the key and
    publishes its record): Postfix serves the deployed key, DNS holds its
    record and the other host's, the staged key is the old staging or the
    new; then as each step of the timer's runs starts (the deploy, the
    retirement); and the runs after finish the rollover."""
    deployed = presented_here()[0]
    kept = sorted(["3 1 1 " + deployed, OTHER])
    third = lab.material("third")
    record = "3 1 1 " + key_digest(third[0])
    staged = os.path.join(lab.config, "acme-rsa.staged.pem")
    status, steps, err = run_killed(lab, third, 0)
    assert status == 75, err
    assert steps >= 10 and "# update example.com. at %s" % PRIMARY in err, err
    # The key is kept before its record goes out (a run killed while the
    # update is on its way must not lose it: the client hands it over once).
    assert 0 <= err.index("# replace %s" % staged) < err.index("# update example.com."), err
    outcomes = []
    for step in range(1, steps + 1):
        status, _, err = run_killed(lab, third, step)
        outcomes.append(status)
        assert status in (1, 75, -signal.SIGTERM), (step, err)
        records = lab.primary.tlsa(OWNER)[0]
        assert set(kept) <= set(records), (step, records, err)
        if record in records:  # published: the key it names is kept (staged)
            assert "3 1 1 " + key_digest(staged) == record, (step, err)
        assert presented_here()[0] == deployed, (step, err)
        assert not [name for name in os.listdir(lab.config) if name.startswith(".")], step
    assert outcomes.count(1) >= steps - 3, outcomes
    assert record in lab.primary.tlsa(OWNER)[0]
    # The timer's runs (the deploy, the retirement), each sent SIGTERM at
    # its step k, k = 1, 2, ... (a run with fewer steps ends by itself, and
    # k starts again): at every moment Postfix serves a key whose record
    # the primary serves, and the new key is served or staged.
    step, kills, deadline = 1, 0, time.time() + 240
    final = sorted([record, OTHER])
    while time.time() < deadline:
        status, steps, err = run_killed(lab, (), step)
        served = presented_here()[0]
        records = lab.primary.tlsa(OWNER)[0]
        assert "3 1 1 " + served in records, (step, served, records, err)
        assert served == record.split()[3] or os.path.isfile(staged) and (
            "3 1 1 " + key_digest(staged) == record), (step, err)
        assert not [name for name in os.listdir(lab.config) if name.startswith(".")], step
        if steps >= step:
            kills += 1
            step += 1
        else:
            assert status in (0, 75), err  # not killed: it ran to its end
            step = 1
            if served == record.split()[3] and records == final:
                break
            time.sleep(1)
    assert presented_here()[0] == record.split()[3] and kills >= 10, kills
    assert lab.primary.tlsa(OWNER) == (final, TTL)
    with open(os.path.join(lab.config, "acme-tlsa.published")) as stream:
        assert sorted(line.split()[4] for line in stream) == [record.split()[3]]


# ----- ACME clients against pebble, their hooks with -K: no step by a person

@pytest.fixture(scope="module")
def pebble(lab):
    for program in ("pebble", "certbot", "dehydrated"):
        if not shutil.which(program, path=POSTFIX_PATH):
            pytest.fail("needs %s: apt-get install pebble certbot dehydrated" % program)
    server = Pebble(os.path.join(lab.base, "pebble"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def hook_line(lab):
    return " ".join(shlex.quote(word) for word in ours_argv([
        "-c", lab.config, "deploy-acme-cert", "-h", HOSTNAME, "-p", "25", "-n", RESOLVER,
        "-s", ADDRESS, "-t", "20", "-K", lab.primary.key_file, "-L", str(TTL)]))


def rolled_over_to(lab, digest, seconds=60):
    """Timer runs until Postfix serves digest's key and the RRset holds only
    its record and the other host's: whether it came to that."""
    deadline = time.time() + seconds
    wanted = sorted(["3 1 1 " + digest, OTHER])
    while time.time() < deadline:
        status, out, err = lab.run()
        assert status in (0, 75), err + out
        if presented_here()[0] == digest and lab.primary.tlsa(OWNER)[0] == wanted:
            return True
        time.sleep(1)
    return False


def test_certbot_no_reuse_key_renewals_roll_over_by_themselves(lab, pebble):
    certbot = Certbot(os.path.join(lab.base, "certbot"), pebble,
                      pebble.client_env(POSTFIX_PATH))
    result = certbot.certonly("mail", HOSTNAME, "rsa", hook_line(lab))
    assert "rsa: staged in" in result.stdout and "published" in result.stdout, result.stdout
    first = key_digest(os.path.join(certbot.lineage("mail"), "privkey.pem"))
    assert rolled_over_to(lab, first)
    for _ in range(2):
        result = certbot.renew("mail", "--no-reuse-key")
        renewed = key_digest(os.path.join(certbot.lineage("mail"), "privkey.pem"))
        assert renewed != first
        assert "published %s %d IN TLSA 3 1 1 %s" % (OWNER, TTL, renewed) in result.stdout, (
            result.stdout)
        assert presented_here()[0] == first  # staged until DNS is ready
        assert rolled_over_to(lab, renewed)
        first = renewed


def test_dehydrated_new_keys_roll_over_by_themselves(lab, pebble):
    client = Dehydrated(os.path.join(lab.base, "dehydrated"), pebble,
                        pebble.client_env(POSTFIX_PATH), HOSTNAME, hook_line(lab))
    assert client.register().returncode == 0
    result = client.cron(force=True)
    assert result.returncode == 0 and "rsa: staged in" in result.stdout, result.stdout
    key = key_digest(os.path.join(client.certdir(), "privkey.pem"))
    # dehydrated's own runs are the timer: unchanged_cert deploys what is staged.
    deadline = time.time() + 60
    while presented_here()[0] != key and time.time() < deadline:
        assert client.cron().returncode == 0
        time.sleep(1)
    assert presented_here()[0] == key
    assert rolled_over_to(lab, key)


def test_ports_where_this_host_published_stay_in_step_whatever_the_case(lab):
    """Before: records this host published on 465 (publish-server-tlsa -p
    25,465) were left with the old key's record by a hook with -p 25, and
    Postfix served the new key there with no matching record; and owners
    in the registry were compared with their case, so -h MAIL.Example.com
    never retired what -h mail.example.com registered."""
    other_owner = "_465._tcp.%s." % HOSTNAME
    result = subprocess.run(ours_argv([
        "-c", lab.config, "publish-server-tlsa", "-h", HOSTNAME.upper(), "-p", "25,465", "-n",
        RESOLVER, "-K", lab.primary.key_file, "-L", str(TTL)]), env={"PATH": POSTFIX_PATH},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stdout
    deployed = presented_here()[0]
    assert lab.primary.tlsa(other_owner) == (["3 1 1 " + deployed], TTL)
    fourth = lab.material("fourth")
    record = "3 1 1 " + key_digest(fourth[0])
    status, out, err = lab.run(*fourth)  # -p 25 alone, as the hook was set up
    assert status == 75 and "ports 465 too" in out, err + out
    assert "published %s %d IN TLSA %s" % (other_owner, TTL, record) in out, out
    assert rolled_over_to(lab, record.split()[3])
    deadline = time.time() + 30
    while lab.primary.tlsa(other_owner)[0] != [record] and time.time() < deadline:
        assert lab.run()[0] == 0
        time.sleep(1)
    assert lab.primary.tlsa(other_owner) == ([record], TTL)  # the old one retired there too
    with open(os.path.join(lab.config, "acme-tlsa.published")) as stream:
        owners = set(line.split()[0] for line in stream)
    assert owners == {OWNER, other_owner}  # one case
