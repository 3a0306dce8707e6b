"""Keys made ahead (issue 31): acme.sh (--always-force-new-domain-key, its
Le_Next_Domain_Key) and dehydrated (PRIVATE_KEY_ROLLOVER=yes, its
privkey.roll.pem) make the key of their next renewal at each renewal.
deploy-acme-cert -K, as their hook, publishes that key's record at once,
and timer runs note when every nameserver serves it; so the renewal that
takes the key deploys it with no wait, publishes the record of the key
made for the renewal after, and the old key's record is retired one TTL
later.  acme.sh has the ECDSA key and dehydrated the RSA key of one
Postfix: each algorithm's rollover leaves the other's alone.

A site of its own on loopback: Knot as the signing primary on
127.0.0.60, a Knot secondary on .61 (NOTIFY, IXFR), unbound validating on
.62, a scratch Postfix started by postfix(1) on .63, pebble on 127.0.0.1.
Needs root, knot, unbound, Postfix, dnspython, pebble, dehydrated and
acme.sh (Debian 14's package: make acme-sh).
"""

import json
import os
import shlex
import shutil
import subprocess
import time

import pytest
from test_acme import SIGALGS, key_digest, presented, spki
from test_integration import run, standalone_env

from support import LOCK_FILE, MYHOSTNAME, POSTFIX_PATH, ours_argv, snapshot
from support.acmeservers import AcmeSh, Dehydrated, Pebble
from support.dnsservers import KnotPrimary, KnotSecondary, Resolver, require_knot
from support.liveservers import ScratchPostfix, scratch_base

pytestmark = [pytest.mark.postfix, pytest.mark.root]

PRIMARY, SECONDARY, RESOLVER, ADDRESS = "127.0.0.60", "127.0.0.61", "127.0.0.62", "127.0.0.63"
HOSTNAME = "mail.example.com"
OWNER = "_25._tcp.%s." % HOSTNAME
TTL = 3
OTHER = "3 1 1 " + "ef" * 32  # another host's record: DANE is in use, keys are gated
SNI_NAME = "sni.example.com"  # a lineage of its own, deployed into tls_server_sni_maps
SNI_OWNER = "_25._tcp.%s." % SNI_NAME
EXIT_STAGED = 75


class Lab(object):
    def __init__(self, base):
        self.base = base
        self.primary = KnotPrimary(base, PRIMARY, secondaries=[SECONDARY], signed=True,
                                   hosts=["mail", "sni"])
        self.secondary = KnotSecondary(base, SECONDARY, self.primary)
        self.resolver = Resolver(base, RESOLVER, self.primary)
        self.postfix = ScratchPostfix(base, ADDRESS)
        self.config = self.postfix.config
        self.pebble = Pebble(os.path.join(base, "pebble"))
        self.env = self.pebble.client_env(POSTFIX_PATH)

    def start(self):
        self.primary.start(records=["_25._tcp.mail %d IN TLSA %s" % (TTL, OTHER)])
        self.secondary.start()
        assert self.secondary.wait_for_serial(self.primary.serial() or 1, 20)
        self.resolver.start()
        self.pebble.start()
        self.postfix.start()

    def stop(self):
        for part in (self.postfix, self.pebble, self.resolver, self.secondary, self.primary):
            try:
                part.stop()
            except Exception:
                pass

    def argv(self, *args):
        return ours_argv(["-c", self.config, "deploy-acme-cert", "-h", HOSTNAME, "-p", "25",
                          "-n", RESOLVER, "-s", ADDRESS, "-t", "20", "-K",
                          self.primary.key_file, "-L", str(TTL)] + list(args))

    def hook(self):
        """The hook's command line, as the client's configuration has it."""
        return " ".join(shlex.quote(arg) for arg in self.argv())

    def run(self):
        """A timer's run: (status, output)."""
        result = subprocess.run(self.argv(), env={"PATH": POSTFIX_PATH},
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
        return result.returncode, result.stdout

    def rollover(self):
        result = subprocess.run(ours_argv(["-c", self.config, "output-server-tlsa-rollover",
                                           "-h", HOSTNAME, "-p", "25"]),
                                env={"PATH": POSTFIX_PATH}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        assert result.returncode == 0, result.stdout
        return result.stdout

    def zone(self):
        return sorted(self.primary.tlsa(OWNER)[0])


@pytest.fixture(scope="module")
def lab():
    require_knot()
    for program in ("pebble", "dehydrated", "acme.sh"):
        if not shutil.which(program, path=POSTFIX_PATH):
            pytest.fail("needs %s: make deps acme-sh" % program)
    with scratch_base("postfix-tls-nextkeys.") as base:
        lab = Lab(base)
        try:
            lab.start()
            yield lab
        finally:
            lab.stop()


def served(algorithm):
    """The SPKI digest the server presents on port 25 for algorithm."""
    return presented(25, algorithm=algorithm, address=ADDRESS, hostname=HOSTNAME)[0]


def timer_runs_until(lab, words, seconds=60):
    """Timer runs, one a second, until one says words: its output."""
    deadline = time.time() + seconds
    while True:
        status, out = lab.run()
        assert status in (0, EXIT_STAGED), out
        if words in out or time.time() > deadline:
            return out
        time.sleep(1)


def record(digest):
    return "3 1 1 " + digest


def published(digest):
    return "published %s %d IN TLSA %s" % (OWNER, TTL, record(digest))


def check_renewal_with_a_key_made_ahead(lab, algorithm, first, renew, keyfile, next_keyfile):
    """first(): the client's first issuance; renew(): a renewal with a new
    key (the one made ahead).  Both as the client runs its hook."""
    result = first()
    current, ahead = key_digest(keyfile()), key_digest(next_keyfile())
    # DANE is in use: the first key waits one TTL; its record and the
    # record of the key made ahead are published by the same update.
    assert published(current) in result.stdout and published(ahead) in result.stdout, (
        result.stdout)
    assert "made ahead by the ACME client for its next renewal %s" % next_keyfile() in (
        lab.rollover())
    out = timer_runs_until(lab, "%s: deployed" % algorithm)
    assert "%s: deployed" % algorithm in out
    assert served(algorithm) == current, out
    lab.run()  # a timer's run between renewals: the sightings are kept
    time.sleep(TTL + 1.1)

    result = renew()
    assert result.returncode == 0, result.stdout
    renewed, following = key_digest(keyfile()), key_digest(next_keyfile())
    assert renewed == ahead and following not in (current, ahead)
    # Deployed by the renewal's own run, with no wait; the next one published.
    assert "%s: deployed" % algorithm in result.stdout and "staged" not in result.stdout, (
        result.stdout)
    assert published(following) in result.stdout
    assert "%s: %s's next key %s announced in %s/acme-%s.next" % (
        algorithm, "acme.sh" if algorithm == "ecdsa" else "dehydrated", next_keyfile(),
        lab.config, algorithm) in result.stdout, result.stdout
    assert served(algorithm) == ahead
    assert set(map(record, (current, ahead, following))) <= set(lab.zone())
    out = timer_runs_until(lab, "retired")
    assert "retired %s IN TLSA %s" % (OWNER, record(current)) in out, out
    zone = lab.zone()
    assert record(current) not in zone and {record(ahead), record(following), OTHER} <= set(zone)
    return ahead


def test_acme_sh_next_key_is_published_ahead_and_its_renewal_deploys_at_once(lab):
    client = AcmeSh(os.path.join(lab.base, "acme.sh"), lab.pebble, lab.env, HOSTNAME)
    check_renewal_with_a_key_made_ahead(
        lab, "ecdsa", lambda: client.issue(lab.hook()), client.renew, client.keyfile,
        client.next_keyfile)
    with open(os.path.join(lab.config, "acme-ecdsa.next")) as stream:
        assert stream.read().endswith("\nacme.sh %s\n" % client.next_keyfile())


def test_dehydrated_roll_key_the_same_and_the_ecdsa_key_left_alone(lab):
    ecdsa = served("ecdsa")
    client = Dehydrated(os.path.join(lab.base, "dehydrated"), lab.pebble, lab.env, HOSTNAME,
                        lab.hook(), rollover=True)
    assert client.register().returncode == 0

    def keyfile():
        return os.path.join(client.certdir(), "privkey.pem")

    def roll_keyfile():
        return os.path.join(client.certdir(), "privkey.roll.pem")

    check_renewal_with_a_key_made_ahead(
        lab, "rsa", client.cron, lambda: client.cron(force=True), keyfile, roll_keyfile)
    assert served("ecdsa") == ecdsa
    rollover = lab.rollover()
    assert "; rsa: made ahead by the ACME client for its next renewal %s" % roll_keyfile() in (
        rollover)
    assert "; ecdsa: made ahead by the ACME client" in rollover, rollover


def test_a_client_run_without_a_key_made_ahead_withdraws_its_announcement(lab):
    """acme.sh without --always-force-new-domain-key: its next renewal takes
    a key nobody has seen, so no record is announced for it any more."""
    announcement = os.path.join(lab.config, "acme-ecdsa.next")
    assert os.path.exists(announcement)
    client = AcmeSh(os.path.join(lab.base, "acme.sh"), lab.pebble, lab.env, HOSTNAME)
    env = dict(lab.env, CERT_KEY_PATH=client.keyfile(),
               CERT_FULLCHAIN_PATH=os.path.join(client.certdir(), "fullchain.cer"))
    result = subprocess.run(lab.argv(), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stdout
    assert not os.path.exists(announcement)
    assert "; ecdsa: made ahead" not in lab.rollover()


def test_check_server_tlsa_notes_an_unpublished_key_made_ahead_not_a_problem(lab):
    ahead = os.path.join(lab.base, "ahead.key")
    subprocess.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-out", ahead],
                   check=True, stdout=subprocess.DEVNULL)
    announcement = os.path.join(lab.config, "acme-ecdsa.next")
    with open(announcement, "w") as stream:
        stream.write("acme.sh %s\n" % ahead)
    try:
        result = subprocess.run(ours_argv([
            "-c", lab.config, "--json", "check-server-tlsa", "-h", HOSTNAME, "-p", "25", "-n",
            RESOLVER, "-s", ADDRESS]), env={"PATH": POSTFIX_PATH}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    finally:
        os.unlink(announcement)
    document = json.loads(result.stdout)
    wanted = "publish %s IN TLSA 3 1 1 %s for the key the ACME client made" % (
        OWNER, key_digest(ahead))
    assert any(note.startswith(wanted) for note in document["notes"]), document
    assert not any(ahead in problem for problem in document["problems"]), document


def served_to(name, algorithm="rsa"):
    """The SPKI digest ADDRESS:25 presents to SNI name."""
    output = subprocess.run(
        ["timeout", "20", "openssl", "s_client", "-connect", ADDRESS + ":25", "-starttls",
         "smtp", "-servername", name, "-sigalgs", SIGALGS[algorithm]],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True).stdout
    begin = output.find("-----BEGIN CERTIFICATE-----")
    end = output.find("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return spki(output[begin:end].encode() + b"\n") if begin >= 0 else None


def seen(lab, owner, wanted):
    """Whether acme-tlsa.seen holds the first sighting of owner's record."""
    path = os.path.join(lab.config, "acme-tlsa.seen")
    if not os.path.exists(path):
        return False
    with open(path) as stream:
        return any(line.split()[:1] == [owner] and wanted in line for line in stream)


def test_an_sni_lineage_key_made_ahead_is_its_own_and_its_renewal_deploys_at_once(lab):
    """dehydrated's lineage of another name, deployed into tls_server_sni_maps
    (hook -m sni): its roll key is announced under the lineage's label, not
    as the default certificate's next key; publish-server-tlsa -S publishes
    its record with the deployed key's (DANE from then on: the gate is
    there), timer runs note when it is served everywhere, and the renewal
    that takes it deploys it at once."""
    table = os.path.join(lab.config, "sni_maps")
    open(table, "w").close()
    lab.postfix.postconf("-e", "tls_server_sni_maps = texthash:" + table)
    past = time.time() - 60
    os.utime(os.path.join(lab.config, "main.cf"), (past, past))
    assert lab.postfix.postfix("reload").returncode == 0
    default_announcement = os.path.join(lab.config, "acme-rsa.next")
    with open(default_announcement) as stream:
        default_next = stream.read()
    hook = " ".join(shlex.quote(arg) for arg in ours_argv([
        "-c", lab.config, "deploy-acme-cert", "-m", "sni", "-p", "25", "-n", RESOLVER, "-s",
        ADDRESS, "-t", "20"]))
    client = Dehydrated(os.path.join(lab.base, "dehydrated-sni"), lab.pebble, lab.env,
                        SNI_NAME, hook, rollover=True)
    assert client.register().returncode == 0
    keyfile = os.path.join(client.certdir(), "privkey.pem")
    roll = os.path.join(client.certdir(), "privkey.roll.pem")
    announcement = os.path.join(lab.config, "acme-sni-%s-rsa.next" % SNI_NAME)

    result = client.cron()  # the first issuance: no records yet, deployed at once
    current, ahead = key_digest(keyfile), key_digest(roll)
    assert "rsa: %s's next key %s announced in %s" % ("dehydrated", roll, announcement) in (
        result.stdout), result.stdout
    assert "rsa: %s: deployed into" % SNI_NAME in result.stdout, result.stdout
    assert served_to(SNI_NAME) == current
    with open(default_announcement) as stream:
        assert stream.read() == default_next  # the default certificate's is left alone
    rollover = subprocess.run(ours_argv([
        "-c", lab.config, "output-server-tlsa-rollover", "-S", SNI_NAME, "-p", "25"]),
        env={"PATH": POSTFIX_PATH}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=60).stdout
    assert "; rsa: made ahead by the ACME client for its next renewal %s" % roll in rollover, (
        rollover)
    publish = subprocess.run(ours_argv([
        "-c", lab.config, "publish-server-tlsa", "-S", SNI_NAME, "-p", "25", "-n", RESOLVER,
        "-K", lab.primary.key_file, "-L", str(TTL)]), env={"PATH": POSTFIX_PATH},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert publish.returncode == 0, publish.stdout
    assert sorted(lab.primary.tlsa(SNI_OWNER)[0]) == sorted([record(current), record(ahead)])
    # A timer's run between renewals notes when every nameserver serves them.
    deadline = time.time() + 30
    while True:
        status, out = lab.run()
        assert status == 0, out
        if seen(lab, SNI_OWNER, record(ahead)) or time.time() > deadline:
            break
        time.sleep(1)
    assert seen(lab, SNI_OWNER, record(ahead)), out
    # dehydrated's run that renews nothing (unchanged_cert): the roll key
    # stays the SNI lineage's, never the default certificate's.
    result = client.cron()
    assert result.returncode == 0 and key_digest(keyfile) == current, result.stdout
    with open(default_announcement) as stream:
        assert stream.read() == default_next
    time.sleep(TTL + 1.1)

    result = client.cron(force=True)  # the renewal: the key made ahead, at once
    assert result.returncode == 0, result.stdout
    assert key_digest(keyfile) == ahead and key_digest(roll) not in (current, ahead)
    assert "rsa: %s: deployed into" % SNI_NAME in result.stdout, result.stdout
    assert "staged" not in result.stdout, result.stdout
    assert served_to(SNI_NAME) == ahead
    with open(announcement) as stream:
        assert stream.read().endswith("\ndehydrated %s\n" % roll)
    with open(default_announcement) as stream:
        assert stream.read() == default_next


# ----- with no servers: what the rollover reads of an announcement

def rollover_of(directory):
    """(status, stdout, stderr); a run that blocks (on a FIFO) fails the test."""
    result = subprocess.run(ours_argv(["-c", directory, "output-server-tlsa-rollover", "-h",
                                       MYHOSTNAME]), env=standalone_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    return result.returncode, result.stdout, result.stderr


def test_the_rollover_reads_the_key_the_announcement_names_when_it_runs(make_config, keys):
    directory = make_config(["smtpd_tls_key_file = $DIR/key.pem",
                             "smtpd_tls_cert_file = $DIR/cert.pem"],
                            [("key.pem", keys["rsa.key"]), ("cert.pem", keys["rsa.crt"])])
    ahead = os.path.join(directory, "client", "next.key")
    os.mkdir(os.path.dirname(ahead))
    shutil.copy(keys["rsa2.key"], ahead)
    with open(os.path.join(directory, "acme-rsa.next"), "w") as stream:
        stream.write("# a comment\nacme.sh %s\n" % ahead)
    status, out, err = rollover_of(directory)
    assert status == 0 and err == "", err
    assert "; rsa: made ahead by the ACME client for its next renewal %s" % ahead in out
    assert "IN TLSA 3 1 1 %s" % key_digest(keys["rsa2.key"]) in out
    assert "; rsa: no next key yet" not in out
    # The client used it and threw it away (acme.sh empties the file).
    with open(ahead, "w") as stream:
        stream.write("\n")
    status, out, err = rollover_of(directory)
    assert status == 0 and "made ahead" not in out, out
    assert "acme.sh's next key %s is left out: the file is empty" % ahead in err, err
    assert "IN TLSA 3 1 1 %s" % key_digest(keys["rsa2.key"]) not in out
    # An ECDSA key named in the RSA announcement is not the RSA next key.
    shutil.copy(keys["ec.key"], ahead)
    status, out, err = rollover_of(directory)
    assert "made ahead" not in out and "is left out: now an ecdsa key" in err, (out, err)
    with open(os.path.join(directory, "acme-rsa.next"), "w") as stream:
        stream.write("nonsense\n")
    status, out, err = rollover_of(directory)
    assert status == 0 and "made ahead" not in out, out
    assert 'not a regular file of one line "CLIENT KEYFILE"' in err, err
    # A FIFO there is not read (it would block the run).
    os.unlink(os.path.join(directory, "acme-rsa.next"))
    os.mkfifo(os.path.join(directory, "acme-rsa.next"))
    status, out, err = rollover_of(directory)
    assert status == 0 and "made ahead" not in out, out
    assert 'not a regular file of one line "CLIENT KEYFILE"' in err, err


def test_acme_sh_variables_naming_a_missing_file_are_refused_before_anything(make_config):
    directory = make_config()
    before = snapshot(directory, but=[LOCK_FILE])
    status, out, err = run(["-c", directory, "deploy-acme-cert"], standalone_env(
        CERT_KEY_PATH="/nonexistent/mail.key", CERT_FULLCHAIN_PATH="/nonexistent/fullchain.cer",
        Le_Next_Domain_Key="/nonexistent/mail.key.next"))
    assert status == 1, (out, err)
    assert "acme.sh: /nonexistent/mail.key is missing" in err, err
    assert snapshot(directory, but=[LOCK_FILE]) == before


def lineage(keys, certdir, name=MYHOSTNAME, roll=None):
    """A dehydrated lineage's directory: privkey.pem, a fullchain.pem whose
    leaf names name, and privkey.roll.pem from keys[roll]."""
    os.makedirs(certdir, exist_ok=True)
    shutil.copy(keys["rsa.key"], os.path.join(certdir, "privkey.pem"))
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", keys["rsa.key"], "-subj",
                    "/CN=" + name, "-addext", "subjectAltName=DNS:" + name, "-days", "30",
                    "-out", os.path.join(certdir, "fullchain.pem")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if roll:
        shutil.copy(keys[roll], os.path.join(certdir, "privkey.roll.pem"))
    return certdir


def unchanged_cert(directory, certdir, *options):
    """dehydrated's call for a certificate it did not renew (certdir's
    privkey.pem named): (status, stdout, stderr, seconds)."""
    started = time.time()
    result = subprocess.run(ours_argv(["-c", directory, "deploy-acme-cert"] + list(options) + [
                                       "unchanged_cert",
                                       MYHOSTNAME, os.path.join(certdir, "privkey.pem"),
                                       os.path.join(certdir, "cert.pem"),
                                       os.path.join(certdir, "fullchain.pem"),
                                       os.path.join(certdir, "chain.pem")]),
                            env=standalone_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    return result.returncode, result.stdout, result.stderr, time.time() - started


@pytest.mark.parametrize("kind,reason", [
    ("empty", None), ("encrypted", "an encrypted key"), ("ed25519", "no RSA or ECDSA private"),
    ("directory", "not a regular file"), ("fifo", "not a regular file"),
    ("huge", "larger than any key"), ("garbage", "no RSA or ECDSA private")])
def test_a_roll_key_that_cannot_be_announced_is_said_quickly_and_nothing_else(
        make_config, keys, tmp_path, kind, reason):
    directory = make_config()
    certdir = lineage(keys, str(tmp_path / "certs"))
    roll = os.path.join(certdir, "privkey.roll.pem")
    if kind == "empty":
        open(roll, "w").close()
    elif kind == "encrypted":
        shutil.copy(keys["encrypted.key"], roll)
    elif kind == "ed25519":
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", roll], check=True)
    elif kind == "directory":
        os.mkdir(roll)
    elif kind == "fifo":
        os.mkfifo(roll)
    elif kind == "huge":  # openssl took minutes on a megabyte of this
        with open(roll, "wb") as stream:
            stream.write(b"\0" * (1 << 20))
    else:
        shutil.copy(keys["garbage.pem"], roll)
    status, out, err, seconds = unchanged_cert(directory, certdir)
    assert status == 0, (out, err)
    assert seconds < 10, seconds
    assert not os.path.exists(os.path.join(directory, "acme-rsa.next"))
    if reason is None:  # acme.sh and dehydrated empty or remove a used key: nothing to say
        assert "not announced" not in err, err
    else:
        assert "dehydrated's next key " in err and "is not announced: " + reason in err, err


def test_an_announcement_that_cannot_be_written_is_a_warning_not_a_failure(lab):
    """A directory where the announcement goes: the hook's run still does
    its work (here: nothing to deploy, the key unchanged)."""
    client = AcmeSh(os.path.join(lab.base, "acme.sh"), lab.pebble, lab.env, HOSTNAME)
    announcement = os.path.join(lab.config, "acme-ecdsa.next")
    os.mkdir(announcement)
    try:
        env = dict(lab.env, CERT_KEY_PATH=client.keyfile(), Le_Next_Domain_Key=client.keyfile(),
                   CERT_FULLCHAIN_PATH=os.path.join(client.certdir(), "fullchain.cer"))
        result = subprocess.run(lab.argv(), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    finally:
        os.rmdir(announcement)
    assert result.returncode == 0, result.stdout
    assert "%s: the next key is not announced" % announcement in result.stdout, result.stdout
    assert "ecdsa: unchanged" in result.stdout or "nothing changed" in result.stdout, (
        result.stdout)


@pytest.mark.parametrize("keyfile,reason", [
    ("keys/next.key", "a relative name"), ("/tmp/a\x1cb.key", "a control character"),
    ("/tmp/a\u2028b.key", "a control character")])
def test_names_the_announcement_could_not_hold_or_resolve_are_refused(keyfile, reason):
    from postfix_tls.acme import next_keys

    key, why = next_keys._usable(None, "acme.sh", keyfile)
    assert key is None and why.startswith(reason), why


def test_a_next_key_of_another_lineage_is_not_replaced_in_silence(make_config, keys, tmp_path):
    """One announcement per algorithm: a second lineage's hook run takes it
    over, and says whose next key it replaced (that renewal now waits one
    TTL, and the two lineages replace each other's certificate)."""
    directory = make_config()
    first = lineage(keys, str(tmp_path / "first"), roll="rsa.key")
    second = lineage(keys, str(tmp_path / "second"), roll="rsa2.key")
    status, out, err, _ = unchanged_cert(directory, first)
    assert status == 0 and "named" not in err, err
    status, out, err, _ = unchanged_cert(directory, first)  # the same lineage again: silent
    assert status == 0 and "named" not in err, err
    status, out, err, _ = unchanged_cert(directory, second)
    assert status == 0, (out, err)
    assert ("acme-rsa.next named dehydrated's next key %s/privkey.roll.pem, now %s/"
            "privkey.roll.pem: if both still renew" % (first, second)) in err, err
    with open(os.path.join(directory, "acme-rsa.next")) as stream:
        assert stream.read().endswith("dehydrated %s/privkey.roll.pem\n" % second)
    # The second lineage's key used (emptied by its client): taking the
    # announcement back is silent.
    open(os.path.join(second, "privkey.roll.pem"), "w").close()
    status, out, err, _ = unchanged_cert(directory, first)
    assert status == 0 and "named" not in err, err


def test_an_unchanged_call_announces_an_sni_lineage_key_under_its_label(
        make_config, keys, tmp_path):
    """dehydrated's unchanged_cert names the lineage's chain: its names say
    whose next key it is.  Before, an SNI lineage's roll key became the
    default certificate's next key (acme-rsa.next)."""
    directory = make_config(["tls_server_sni_maps = texthash:$DIR/sni_maps"])
    open(os.path.join(directory, "sni_maps"), "w").close()
    certdir = str(tmp_path / "certs")
    os.mkdir(certdir)
    shutil.copy(keys["rsa.key"], os.path.join(certdir, "privkey.pem"))
    shutil.copy(keys["rsa2.key"], os.path.join(certdir, "privkey.roll.pem"))
    chain = os.path.join(certdir, "fullchain.pem")

    def leaf(name):
        subprocess.run(["openssl", "req", "-x509", "-new", "-key", keys["rsa.key"], "-subj",
                        "/CN=" + name, "-addext", "subjectAltName=DNS:" + name, "-days", "30",
                        "-out", chain], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    default = os.path.join(directory, "acme-rsa.next")
    labelled = os.path.join(directory, "acme-sni-other.example.test-rsa.next")
    leaf("other.example.test")
    status, out, err, _ = unchanged_cert(directory, certdir)
    assert status == 0, (out, err)
    assert os.path.isfile(labelled) and not os.path.exists(default), (out, err)
    os.unlink(labelled)
    with open(chain, "w") as stream:  # a chain that says no names: announced nowhere
        stream.write("garbage\n")
    status, out, err, _ = unchanged_cert(directory, certdir)
    assert status == 0 and not os.path.exists(labelled) and not os.path.exists(default), err
    assert ("dehydrated's next key %s/privkey.roll.pem is not announced: its lineage's chain"
            " %s cannot be read, or names no host" % (certdir, chain)) in err, err
    leaf(MYHOSTNAME)  # the default certificate's lineage
    status, out, err, _ = unchanged_cert(directory, certdir)
    assert status == 0 and os.path.isfile(default) and not os.path.exists(labelled), err


def test_without_sni_maps_another_names_lineage_announces_nowhere(make_config, keys, tmp_path):
    """One dehydrated hook for every lineage, no tls_server_sni_maps: a
    lineage of www's names is not the default certificate's, so its roll
    key is not announced (before: it took acme-rsa.next over at each run,
    and -K would have published www's key for the mail host)."""
    directory = make_config()
    mail = lineage(keys, str(tmp_path / "mail"), roll="rsa.key")
    www = lineage(keys, str(tmp_path / "www"), name="www.example.test", roll="rsa2.key")
    announcement = os.path.join(directory, "acme-rsa.next")
    status, out, err, _ = unchanged_cert(directory, mail)
    assert status == 0 and os.path.isfile(announcement), (out, err)
    with open(announcement) as stream:
        before = stream.read()
    status, out, err, _ = unchanged_cert(directory, www)
    assert status == 0, (out, err)
    assert ("dehydrated's next key %s/privkey.roll.pem is not announced: its lineage's chain"
            " %s/fullchain.pem names www.example.test, not %s" % (www, www, MYHOSTNAME)) in err
    with open(announcement) as stream:
        assert stream.read() == before


def sni_config(make_config):
    directory = make_config(["tls_server_sni_maps = texthash:$DIR/sni_maps"])
    open(os.path.join(directory, "sni_maps"), "w").close()
    return directory


def test_the_watch_of_sni_keys_made_ahead_is_bounded(make_config, keys, tmp_path):
    """Three SNI lineages with keys made ahead, a resolver that does not
    answer: an unchanged_cert call watches its own lineage's names only,
    and a timer's run stops at the first lookup that fails (before: every
    name of every lineage, 10 s each, in every call, holding the lock a
    renewal's hook waits for).  Announcements whose label is no host name
    are not looked up."""
    directory = sni_config(make_config)
    certdirs = []
    for number in range(3):
        certdir = lineage(keys, str(tmp_path / ("l%d" % number)),
                          name="s%d.example.test" % number, roll="rsa2.key")
        status, out, err, _ = unchanged_cert(directory, certdir, "-n", "127.0.0.1:1")
        assert status == 0, (out, err)
        certdirs.append(certdir)
    for bogus in ("acme-sni--x-rsa.next", "acme-sni-foo bar-rsa.next"):
        shutil.copy(os.path.join(directory, "acme-sni-s0.example.test-rsa.next"),
                    os.path.join(directory, bogus))
    status, out, err, seconds = unchanged_cert(directory, certdirs[1], "-n", "127.0.0.99",
                                               "-p", "25")
    assert status == 0, (out, err)
    assert out.count("DNS lookup failed") == 1 and "_25._tcp.s1.example.test." in out, out
    assert seconds < 25, seconds
    started = time.time()
    result = subprocess.run(ours_argv(["-c", directory, "deploy-acme-cert", "-n", "127.0.0.99",
                                       "-p", "25"]), env=standalone_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("DNS lookup failed") == 1, result.stdout
    assert "_25._tcp.-x." not in result.stdout and "foo bar" not in result.stdout
    assert time.time() - started < 25


def test_an_sni_names_next_key_is_its_algorithms_lineages(make_config, keys, tmp_path):
    """A name whose RSA file is one lineage's and ECDSA file another's: the
    ECDSA key made ahead is the ECDSA lineage's (before: the first label's,
    and the rollover said "no next key yet")."""
    directory = sni_config(make_config)
    rsa = os.path.join(directory, "acme-sni-a.example.test-rsa.pem")
    ecdsa = os.path.join(directory, "acme-sni-mail2.example.test-ecdsa.pem")
    for path, key, cert in ((rsa, "rsa.key", "rsa.crt"), (ecdsa, "ec.key", "ec.crt")):
        with open(path, "w") as stream:  # the key alone (ec.key has its parameters too)
            stream.write(subprocess.run(["openssl", "pkey", "-in", keys[key]], check=True,
                                        stdout=subprocess.PIPE,
                                        universal_newlines=True).stdout)
            with open(keys[cert]) as source:
                stream.write(source.read())
    with open(os.path.join(directory, "sni_maps"), "w") as stream:
        stream.write("mail2.example.test %s %s\n" % (rsa, ecdsa))
    ahead = str(tmp_path / "ec-next.key")
    subprocess.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-out", ahead],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(directory, "acme-sni-mail2.example.test-ecdsa.next"), "w") as stream:
        stream.write("dehydrated %s\n" % ahead)
    result = subprocess.run(ours_argv(["-c", directory, "output-server-tlsa-rollover", "-S",
                                       "mail2.example.test"]), env=standalone_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=60)
    assert "; ecdsa: made ahead by the ACME client for its next renewal %s" % ahead in (
        result.stdout), result.stdout
    assert "3 1 1 %s" % key_digest(ahead) in result.stdout


def test_a_dry_run_says_the_announcement_is_not_written(make_config, keys, tmp_path):
    directory = make_config()
    certdir = lineage(keys, str(tmp_path / "mail"), roll="rsa2.key")
    result = subprocess.run(ours_argv([
        "-c", directory, "--dry-run", "deploy-acme-cert", "unchanged_cert", MYHOSTNAME,
        os.path.join(certdir, "privkey.pem"), os.path.join(certdir, "cert.pem"),
        os.path.join(certdir, "fullchain.pem"), os.path.join(certdir, "chain.pem")]),
        env=standalone_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stdout
    assert "announced in %s/acme-rsa.next" % directory in result.stdout, result.stdout
    assert "(dry run: not written)" in result.stdout, result.stdout
    assert not os.path.exists(os.path.join(directory, "acme-rsa.next"))
