"""deploy-acme-cert (ours) as the deploy hook of real ACME clients: Debian's
certbot, dehydrated and lego against Debian's pebble on 127.0.0.1, a
Postfix instance started by postfix(1) on 127.0.0.10 (ports 25, 465,
587), the zone's nameservers on 127.0.0.11 and 127.0.0.12 with unbound as
the resolver; every step asserted on the live server with openssl
s_client.  The tests of a client run in order: each starts from what the
one before left.  Needs root, Postfix, unbound, dnspython, pebble and the
clients; CI installs them (make test).
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import time

import pytest

from support import LOCK_FILE, OPENSSL, POSTFIX_PATH, openssl_in, ours_argv
from support.acmeservers import Certbot, Dehydrated, Lego, Pebble
from support.liveservers import HOSTNAME, PORTS, LocalZone, ScratchPostfix, scratch_base

pytestmark = [pytest.mark.postfix, pytest.mark.root]

# A wait the gate lets a staged key in after, with the zone's 1 s TTL: the
# first sighting is kept in whole seconds, rounded up, so up to 2 s.
TTL_WAIT = 2.1
ADDRESS = "127.0.0.10"  # the DANE tests use .1 to .8, the chain files' .9
AUTHORITIES = (("ns1", "127.0.0.11"), ("ns2", "127.0.0.12"))
EXIT_STAGED = 75


def openssl(*args, stdin=None):
    return subprocess.run([OPENSSL] + list(args), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, check=True).stdout


def spki(pem, kind="x509"):
    """SHA-256 of the public key of a certificate or (kind "pkey") key, in hex."""
    public = openssl(kind, "-pubout" if kind == "pkey" else "-pubkey", "-noout"
                     if kind == "x509" else "-outform", *(["PEM"] if kind == "pkey" else []),
                     stdin=pem)
    der = openssl("pkey", "-pubin", "-outform", "DER", stdin=public)
    return openssl("dgst", "-sha256", "-r", stdin=der).split()[0].decode()


def key_digest(path):
    with open(path, "rb") as stream:
        return spki(stream.read(), "pkey")


SIGALGS = {"rsa": "rsa_pss_rsae_sha256:rsa_pkcs1_sha256", "ecdsa": "ecdsa_secp256r1_sha256"}


def presented(port, records=(), algorithm="rsa", address=ADDRESS, hostname=HOSTNAME,
              name_checks=True):
    """(SPKI digest of the certificate address:port presents, DANE verified);
    name_checks=False: DANE-EE records need no name check, as Postfix's
    SMTP client verifies them."""
    argv = ["timeout", "20", OPENSSL, "s_client", "-connect", "%s:%d" % (address, port),
            "-sigalgs", SIGALGS[algorithm]]
    if port != 465:
        argv += ["-starttls", "smtp"]
    if records:
        argv += ["-dane_tlsa_domain", hostname]
        if not name_checks:
            argv.append("-dane_ee_no_namechecks")
        for record in records:
            argv += ["-dane_tlsa_rrdata", record]
    output = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT).stdout.decode("utf-8", "replace")
    begin = output.find("-----BEGIN CERTIFICATE-----")
    if begin < 0:
        return None, False
    end = output.index("-----END CERTIFICATE-----", begin) + len("-----END CERTIFICATE-----")
    verified = "Verification: OK" in output and (
        "matched EE certificate" in output or "matched TA certificate" in output)
    return spki(output[begin:end].encode() + b"\n"), verified


def served_everywhere(digest, records=(), algorithm="rsa", address=ADDRESS):
    """Whether every port presents digest's key (and DANE verifies, with records)."""
    return all(presented(port, records, algorithm, address) == (digest, bool(records))
               for port in PORTS)


def snapshot(config, lock=False):
    """{name: (bytes, mode, mtime)} of the configuration directory; the lock
    file (made by the first run that locks, never written) only if asked."""
    found = {}
    for name in sorted(os.listdir(config)):
        if name == LOCK_FILE and not lock:
            continue
        path = os.path.join(config, name)
        info = os.stat(path)
        with open(path, "rb") as stream:
            found[name] = (stream.read(), info.st_mode & 0o7777, info.st_mtime)
    return found


class Site(object):
    """pebble, the scratch Postfix, the zone: what the clients deploy to.
    address and authorities: the Postfix's and the nameservers' (another
    module's site runs at the same time on others); pebble=False: none."""

    def __init__(self, base, address=ADDRESS, authorities=AUTHORITIES, pebble=True):
        self.base = base
        self.address = address
        self.postfix = ScratchPostfix(base, address)
        self.config = self.postfix.config
        self.zone = LocalZone(base, authorities)
        self.pebble = Pebble(os.path.join(base, "pebble")) if pebble else None
        self.env = self.pebble.client_env(POSTFIX_PATH) if pebble else None
        try:
            self.zone.serve([], ttl=1)
            if self.pebble:
                self.pebble.start()
            self.postfix.start()
        except BaseException:
            self.stop()
            raise

    def hook_argv(self, *args, options=()):
        return ours_argv(["-c", self.config] + list(options) + [
            "deploy-acme-cert", "-s", self.address, "-p", "25,465,587", "-n", self.zone.nameserver,
            "-t", "20"] + list(args))

    def hook(self, *args):
        """The hook's command line, as a client's configuration gives it."""
        return " ".join(shlex.quote(arg) for arg in self.hook_argv(*args))

    def run(self, *args, env=None, options=()):
        """The hook run by hand (or a timer): (status, stdout, stderr)."""
        result = subprocess.run(self.hook_argv(*args, options=options),
                                env=env or {"PATH": POSTFIX_PATH},
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
        return result.returncode, result.stdout, result.stderr

    def publish(self, digests, ttl=1):
        self.zone.serve([("_%d._tcp.%s." % (port, HOSTNAME), "TLSA", "3 1 1 " + digest)
                         for port in PORTS for digest in digests], ttl=ttl)

    def reset(self):
        """Postfix as first started (no certificate), no TLSA records."""
        self.postfix.stop()
        for name in os.listdir(self.config):
            if name.startswith("acme-"):
                os.unlink(os.path.join(self.config, name))
        self.postfix.write_main_cf([])
        self.zone.serve([], ttl=1)
        self.postfix.start()

    def reloads(self):
        return self.postfix.maillog().count("reload -- version")

    def stop(self):
        if self.pebble:
            self.pebble.stop()
        self.zone.stop()
        self.postfix.stop()


@pytest.fixture(scope="module")
def site():
    for program in ("pebble", "certbot", "dehydrated", "lego"):
        if not shutil.which(program, path=POSTFIX_PATH):
            pytest.fail("needs %s: apt-get install pebble certbot dehydrated lego" % program)
    with scratch_base("postfix-tls-acme.") as base:
        site = Site(base)
        try:
            yield site
        finally:
            site.stop()


@pytest.fixture(scope="module")
def certbot(site):
    return Certbot(os.path.join(site.base, "certbot"), site.pebble, site.env)


def lineage_key(certbot, name="mail"):
    return key_digest(os.path.join(certbot.lineage(name), "privkey.pem"))


# ----- certbot, in order

def test_certbot_first_issuance_is_deployed_and_served(site, certbot):
    result = certbot.certonly("mail", HOSTNAME, "rsa", site.hook())
    assert result.returncode == 0, result.stdout
    digest = lineage_key(certbot)
    assert served_everywhere(digest)
    main_cf = site.postfix.postconf("-n", "smtpd_tls_cert_file", "smtpd_tls_key_file")
    ours = os.path.join(site.config, "acme-rsa.pem")
    assert main_cf == "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n" % (ours, ours)
    assert os.stat(ours).st_mode & 0o777 == 0o600


def test_certbot_renewal_with_the_same_key_is_deployed_with_no_dns_change(site, certbot):
    digest = lineage_key(certbot)
    site.publish([digest])
    with open(os.path.join(certbot.lineage("mail"), "cert.pem"), "rb") as stream:
        before = stream.read()
    reloads = site.reloads()
    result = certbot.renew("mail", "--reuse-key")
    assert result.returncode == 0, result.stdout
    with open(os.path.join(certbot.lineage("mail"), "cert.pem"), "rb") as stream:
        assert stream.read() != before  # a new certificate, for the same key
    assert lineage_key(certbot) == digest
    assert site.reloads() == reloads + 1
    assert served_everywhere(digest, ["3 1 1 " + digest])
    with open(os.path.join(site.config, "acme-rsa.pem"), "rb") as stream:
        assert openssl("x509", "-noout", "-serial", stdin=stream.read()) == openssl(
            "x509", "-noout", "-serial", "-in", os.path.join(certbot.lineage("mail"),
                                                            "cert.pem"))


def test_certbot_renewal_with_a_new_key_is_staged_while_only_the_old_record_is_published(
        site, certbot):
    old = lineage_key(certbot)
    before = snapshot(site.config)
    reloads = site.reloads()
    result = certbot.renew("mail", "--no-reuse-key")
    new = lineage_key(certbot)
    assert new != old
    # certbot says the hook failed, with its output: the records to publish.
    assert "3 1 1 " + new in result.stdout, result.stdout
    assert "staged in %s/acme-rsa.staged.pem" % site.config in result.stdout
    assert site.reloads() == reloads
    assert served_everywhere(old, ["3 1 1 " + old])
    after = snapshot(site.config)
    # Staged, and when the records were first seen everywhere (for a later run).
    assert set(after) - set(before) == {"acme-rsa.staged.pem", "acme-tlsa.seen"}
    assert after["acme-rsa.staged.pem"][1] == 0o600
    assert dict((name, after[name]) for name in before) == before
    # A timer's run says the same, with EXIT_STAGED.
    status, out, err = site.run()
    assert status == EXIT_STAGED, err
    assert "_25._tcp.%s. IN TLSA 3 1 1 %s" % (HOSTNAME, new) in out.splitlines()
    # The rollover's RRset has it as the next key, beside the deployed one.
    result = subprocess.run(ours_argv(["-c", site.config, "output-server-tlsa-rollover",
                                       "-p", "25"]), env={"PATH": POSTFIX_PATH},
                            stdout=subprocess.PIPE, universal_newlines=True)
    assert "; rsa: next %s/acme-rsa.staged.pem" % site.config in result.stdout
    assert {"_25._tcp.%s. IN TLSA 3 1 1 %s" % (HOSTNAME, digest) for digest in (old, new)} <= \
        set(result.stdout.splitlines())


def test_once_the_record_is_published_a_later_run_deploys_it(site, certbot):
    old, new = key_digest(os.path.join(site.config, "acme-rsa.pem")), lineage_key(certbot)
    site.publish([old, new], ttl=1)
    status, out, err = site.run()
    # Seen everywhere now: caches may hold the old RRset for a TTL more.
    assert status == EXIT_STAGED, err
    assert "caches may hold the old RRset for 1 s" in out
    assert served_everywhere(old, ["3 1 1 " + old, "3 1 1 " + new])
    time.sleep(TTL_WAIT)
    status, out, err = site.run()
    assert status == 0, err
    assert "rsa: deployed into %s/acme-rsa.pem" % site.config in out
    assert served_everywhere(new, ["3 1 1 " + old, "3 1 1 " + new])
    assert not [name for name in os.listdir(site.config) if ".staged." in name]


def test_the_same_certificate_again_changes_nothing_and_reloads_nothing(site, certbot):
    before = snapshot(site.config, lock=True)  # the lock file too: held, never written
    assert LOCK_FILE in before
    reloads = site.reloads()
    status, out, err = site.run(env={"PATH": POSTFIX_PATH,
                                     "RENEWED_LINEAGE": certbot.lineage("mail")})
    assert status == 0, err
    assert "rsa: unchanged" in out
    assert snapshot(site.config, lock=True) == before
    assert site.reloads() == reloads
    # --json, what the Ansible module reads.
    status, out, err = site.run(env={"PATH": POSTFIX_PATH,
                                     "RENEWED_LINEAGE": certbot.lineage("mail")},
                                options=["--json"])
    report = json.loads(out)
    assert (status, report["exit_status"], report["source"]) == (0, 0, "certbot")
    assert [(d["algorithm"], d["action"], d["path"]) for d in report["deployments"]] == [
        ("rsa", "unchanged", os.path.join(site.config, "acme-rsa.pem"))]
    assert (report["main_cf"], report["reloaded"]) == ([], None)


def test_a_wrong_key_or_a_bad_chain_is_refused_and_nothing_changes(site, certbot):
    lineage = certbot.lineage("mail")
    work = os.path.join(site.base, "bad")
    os.makedirs(work, exist_ok=True)
    wrong_key = os.path.join(work, "other.key")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", wrong_key)
    with open(os.path.join(lineage, "cert.pem")) as leaf, \
            open(os.path.join(lineage, "chain.pem")) as chain:
        reversed_chain = chain.read() + leaf.read()
    with open(os.path.join(work, "reversed.pem"), "w") as stream:
        stream.write(reversed_chain)
    digest = key_digest(os.path.join(site.config, "acme-rsa.pem"))
    before = snapshot(site.config)
    for key, chain, said in (
            (wrong_key, os.path.join(lineage, "fullchain.pem"), "does not match the key"),
            (os.path.join(lineage, "privkey.pem"), os.path.join(work, "reversed.pem"),
             "does not match the key"),
            (os.path.join(lineage, "privkey.pem"), os.path.join(lineage, "cert.pem") + "x",
             "no such file")):
        status, out, err = site.run(key, chain)
        assert status == 1, out
        assert said in err
        assert snapshot(site.config) == before
    assert served_everywhere(digest)


def test_a_2_1_1_record_seen_for_a_ttl_lets_a_new_key_in_at_once(site, certbot):
    """DANE-TA: the "2 1 1" record of pebble's intermediate matches every
    certificate it signs, whatever the key."""
    with open(os.path.join(certbot.lineage("mail"), "chain.pem"), "rb") as stream:
        issuer = "2 1 1 " + spki(stream.read())
    deployed = key_digest(os.path.join(site.config, "acme-rsa.pem"))
    site.zone.serve([("_%d._tcp.%s." % (port, HOSTNAME), "TLSA", data) for port in PORTS
                     for data in ("3 1 1 " + deployed, issuer)], ttl=1)
    # The first time the record is seen, caches may not have it yet.
    result = certbot.renew("mail", "--no-reuse-key")
    assert "caches may hold the old RRset for 1 s" in result.stdout, result.stdout
    time.sleep(TTL_WAIT)
    status, out, err = site.run()
    assert status == 0, err
    new = lineage_key(certbot)
    assert served_everywhere(new, [issuer])  # DANE-TA: openssl says "matched TA"
    # Seen a TTL ago: the next new key goes in at once, with no DNS change.
    result = certbot.renew("mail", "--no-reuse-key")
    assert result.returncode == 0, result.stdout
    assert lineage_key(certbot) != new
    assert "its TLSA record is served by every nameserver" in result.stdout
    assert served_everywhere(lineage_key(certbot), [issuer])


def signed_chain(directory, name):
    """(keyfile, chainfile, CA's SPKI digest): a leaf a scratch CA signed, and the CA."""
    run = openssl_in(directory)
    with open(os.path.join(directory, "ext.cnf"), "w") as stream:
        stream.write("[ca]\nbasicConstraints = critical,CA:true\n"
                     "keyUsage = critical,keyCertSign\n[leaf]\nbasicConstraints = CA:false\n"
                     "subjectAltName = DNS:%s\n" % HOSTNAME)
    run("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name + "-ca.key",
        "-subj", "/CN=Scratch CA", "-days", "30", "-config", "ext.cnf", "-extensions", "ca",
        "-out", name + "-ca.crt")
    run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-subj",
        "/CN=" + HOSTNAME, "-out", name + ".csr")
    run("x509", "-req", "-in", name + ".csr", "-CA", name + "-ca.crt", "-CAkey", name + "-ca.key",
        "-CAcreateserial", "-days", "20", "-extfile", "ext.cnf", "-extensions", "leaf",
        "-out", name + ".crt")
    chainfile = os.path.join(directory, name + ".chain")
    with open(chainfile, "w") as stream:
        for part in (name + ".crt", name + "-ca.crt"):
            with open(os.path.join(directory, part)) as source:
                stream.write(source.read())
    with open(os.path.join(directory, name + "-ca.crt"), "rb") as stream:
        return os.path.join(directory, name + ".key"), chainfile, spki(stream.read())


def test_nameservers_serving_different_matching_records_wait_from_now(site):
    """ns1 serves the new key's "3 1 1", ns2 its CA's "2 1 1": each matches,
    but no record is served by both, so none has been seen anywhere yet."""
    work = os.path.join(site.base, "mixed")
    os.makedirs(work, exist_ok=True)
    keyfile, chainfile, ca = signed_chain(work, "mixed")
    owners = ["_%d._tcp.%s." % (port, HOSTNAME) for port in PORTS]
    site.zone.serve([(owner, "TLSA", "3 1 1 " + key_digest(keyfile)) for owner in owners],
                    ttl=1, lagging=[(owner, "TLSA", "2 1 1 " + ca) for owner in owners])
    status, out, err = site.run(keyfile, chainfile)
    assert status == EXIT_STAGED, err
    assert "caches may hold the old RRset for 1 s" in out
    os.unlink(os.path.join(site.config, "acme-rsa.staged.pem"))


# ----- dehydrated, in order: its hook is a function in its configuration

@pytest.fixture(scope="module")
def dehydrated(site):
    site.reset()
    client = Dehydrated(os.path.join(site.base, "dehydrated"), site.pebble, site.env,
                        HOSTNAME, site.hook())
    result = client.register()
    assert result.returncode == 0, result.stdout
    return client


def dehydrated_key(client):
    return key_digest(os.path.join(client.certdir(), "privkey.pem"))


def test_dehydrated_first_issuance_is_deployed_and_served(site, dehydrated):
    result = dehydrated.cron()
    assert result.returncode == 0, result.stdout
    assert "rsa: deployed into %s/acme-rsa.pem" % site.config in result.stdout
    assert served_everywhere(dehydrated_key(dehydrated))


def test_dehydrated_new_key_is_staged_and_dehydrated_goes_on(site, dehydrated):
    old = dehydrated_key(dehydrated)
    site.publish([old])
    reloads = site.reloads()
    result = dehydrated.cron(force=True)  # PRIVATE_KEY_RENEW=yes: a new key
    new = dehydrated_key(dehydrated)
    assert new != old
    # dehydrated stops at a failing hook: staged is 0 for it, and said.
    assert result.returncode == 0, result.stdout
    assert "rsa: staged in" in result.stdout
    assert "_587._tcp.%s. IN TLSA 3 1 1 %s" % (HOSTNAME, new) in result.stdout
    assert site.reloads() == reloads
    assert served_everywhere(old, ["3 1 1 " + old])


def test_dehydrated_next_run_deploys_the_staged_key_once_published(site, dehydrated):
    old, new = key_digest(os.path.join(site.config, "acme-rsa.pem")), dehydrated_key(dehydrated)
    site.publish([old, new], ttl=1)
    result = dehydrated.cron()  # nothing to renew: its unchanged_cert call
    assert result.returncode == 0, result.stdout
    assert "caches may hold the old RRset" in result.stdout
    time.sleep(TTL_WAIT)
    result = dehydrated.cron()
    assert result.returncode == 0, result.stdout
    assert "rsa: deployed into %s/acme-rsa.pem" % site.config in result.stdout
    assert served_everywhere(new, ["3 1 1 " + old, "3 1 1 " + new])


def test_dehydrated_calls_that_are_not_ours_do_nothing(site):
    before = snapshot(site.config)
    for call in (["this_hookscript_is_broken__dehydrated_is_working_fine__please_ignore_unknown_"
                  "hooks_in_your_script"], ["startup_hook"], ["deploy_challenge", HOSTNAME,
                                                              "token", "value"]):
        status, out, err = site.run(*call)
        assert (status, out) == (0, ""), err
    assert snapshot(site.config) == before


def test_operands_naming_files_are_the_material_whatever_their_names(site):
    """Files named like dehydrated's calls are still files; one path is refused."""
    deployed = os.path.join(site.config, "acme-rsa.pem")
    with open(deployed) as stream:
        text = stream.read()
    split = text.index("-----BEGIN CERTIFICATE-----")
    for name, part in (("new_key", text[:split]), ("new_chain", text[split:])):
        with open(os.path.join(site.config, name), "w") as stream:
            stream.write(part)
    try:
        status, out, err = site.run("new_key", "new_chain")
        assert status == 0, err
        assert "rsa: unchanged" in out
        status, out, err = site.run(os.path.join(site.config, "new_key"))
        assert status == 1
        assert "deploy-acme-cert takes keyfile fullchainfile" in err
    finally:
        for name in ("new_key", "new_chain"):
            os.unlink(os.path.join(site.config, name))


# ----- lego

@pytest.fixture(scope="module")
def lego(site):
    site.reset()
    return Lego(os.path.join(site.base, "lego"), site.pebble, site.env, HOSTNAME)


def test_lego_run_and_renew_with_the_same_key_are_deployed(site, lego):
    result = lego.run(site.hook())
    assert result.returncode == 0, result.stdout
    keyfile = os.path.join(lego.directory, "certificates", HOSTNAME + ".key")
    digest = key_digest(keyfile)
    assert served_everywhere(digest)
    site.publish([digest])
    reloads = site.reloads()
    result = lego.renew(site.hook(), "--reuse-key")
    assert result.returncode == 0, result.stdout
    assert key_digest(keyfile) == digest
    assert "lego: key %s" % keyfile in result.stdout
    assert site.reloads() == reloads + 1
    assert served_everywhere(digest, ["3 1 1 " + digest])


# ----- smtpd_tls_chain_files, two algorithms (certbot: a lineage each)

def self_signed(directory, name, algorithm="rsa", hostname=HOSTNAME):
    """(keyfile, certfile): a key and a self-signed certificate naming hostname."""
    keyfile, certfile = (os.path.join(directory, name + suffix) for suffix in (".key", ".crt"))
    new_key = (["-newkey", "rsa:2048"] if algorithm == "rsa" else
               ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
    openssl("req", "-x509", "-nodes", *new_key, "-keyout", keyfile, "-subj", "/CN=" + hostname,
            "-addext", "subjectAltName=DNS:" + hostname, "-days", "10", "-out", certfile)
    return keyfile, certfile


def test_certbot_lineages_per_algorithm_share_a_chain_file_each_kept(site, certbot):
    site.reset()
    work = os.path.join(site.base, "chains")
    os.makedirs(work, exist_ok=True)
    rsa_key, rsa_cert = self_signed(work, "first")
    chain_file = os.path.join(site.config, "chains.pem")
    with open(chain_file, "w") as stream:
        for path in (rsa_key, rsa_cert):
            with open(path) as part:
                stream.write(part.read())
    os.chmod(chain_file, 0o600)
    site.postfix.stop()
    site.postfix.write_main_cf(["smtpd_tls_chain_files = " + chain_file])
    site.postfix.start()
    with open(os.path.join(site.config, "main.cf"), "rb") as stream:
        main_cf = stream.read()
    result = certbot.certonly("mail-ecdsa", HOSTNAME, "ecdsa", site.hook())
    assert result.returncode == 0, result.stdout
    ecdsa = key_digest(os.path.join(certbot.lineage("mail-ecdsa"), "privkey.pem"))
    assert served_everywhere(ecdsa, algorithm="ecdsa")
    assert served_everywhere(key_digest(rsa_key))  # kept
    result = certbot.certonly("mail-rsa", HOSTNAME, "rsa", site.hook())
    assert result.returncode == 0, result.stdout
    rsa = key_digest(os.path.join(certbot.lineage("mail-rsa"), "privkey.pem"))
    assert served_everywhere(rsa)
    assert served_everywhere(ecdsa, algorithm="ecdsa")  # kept
    with open(os.path.join(site.config, "main.cf"), "rb") as stream:
        assert stream.read() == main_cf  # one file, renamed into place: main.cf untouched
    assert not [name for name in os.listdir(site.config) if name.startswith("acme-")]


# ----- the live server must serve it, or the old files come back

def test_a_live_server_that_does_not_serve_the_new_key_gets_the_old_files_back(site):
    site.reset()
    work = os.path.join(site.base, "live")
    os.makedirs(work, exist_ok=True)
    first = self_signed(work, "first")
    status, out, err = site.run(*first)
    assert status == 0, err
    before = snapshot(site.config)
    reloads = site.reloads()
    second = self_signed(work, "second")
    # Nothing listens on port 2525: the new certificate is never seen there.
    argv = [arg if arg != "25,465,587" else "25,2525" for arg in site.hook_argv(*second)]
    argv[argv.index("-t") + 1] = "3"
    result = subprocess.run(argv, env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    assert result.returncode == 1, result.stdout
    assert "port 2525 does not serve the new rsa certificate" in result.stderr
    assert "the old files are back and Postfix was reloaded again" in result.stderr
    after = snapshot(site.config)
    assert dict((name, after[name][:2]) for name in after) == dict(
        (name, before[name][:2]) for name in before)
    assert site.reloads() == reloads + 2
    deadline = time.time() + 20
    while not served_everywhere(key_digest(first[0])) and time.time() < deadline:
        time.sleep(0.5)
    assert served_everywhere(key_digest(first[0]))


def test_postfix_not_running_is_said_and_not_started(site):
    work = os.path.join(site.base, "stopped")
    os.makedirs(work, exist_ok=True)
    material = self_signed(work, "stopped")
    site.postfix.stop()
    try:
        status, out, err = site.run(*material)
        assert status == 0, err
        assert "Postfix is not running: not started" in out
        assert site.postfix.postfix("status").returncode != 0
        with open(os.path.join(site.config, "acme-rsa.pem"), "rb") as stream:
            assert spki(stream.read(), "pkey") == key_digest(material[0])
    finally:
        site.postfix.start()
    assert served_everywhere(key_digest(material[0]))


def test_dry_run_changes_nothing_and_says_what_it_would(site):
    work = os.path.join(site.base, "dry")
    os.makedirs(work, exist_ok=True)
    material = self_signed(work, "dry")
    before = snapshot(site.config)
    reloads = site.reloads()
    argv = site.hook_argv(*material)
    argv.insert(argv.index("deploy-acme-cert"), "--dry-run")
    argv.insert(argv.index("deploy-acme-cert"), "--trace")
    result = subprocess.run(argv, env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "# replace %s/acme-rsa.pem (mode 0600) (dry run: not done)" % site.config \
        in result.stderr
    assert "postfix -c %s reload" % site.config in result.stderr
    assert "dry run: nothing was written" in result.stdout
    assert snapshot(site.config) == before
    assert site.reloads() == reloads


# ----- a failing postconf, a full disk (interrupted at every step:
# test_acme_interrupts.py)

def test_a_failing_postconf_changes_nothing(site):
    """The first deployment edits main.cf; postconf -e fails (main.cf is a
    read-only mount): the new file goes again."""
    site.reset()
    work = os.path.join(site.base, "postconf-fails")
    os.makedirs(work)
    main_cf = os.path.join(site.config, "main.cf")
    subprocess.run(["mount", "--bind", main_cf, main_cf], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", main_cf], check=True)
        before = snapshot(site.config)
        status, out, err = site.run(*self_signed(work, "new"))
        assert status == 1
        assert "postconf -e failed" in err
        assert snapshot(site.config) == before
    finally:
        subprocess.run(["umount", main_cf], check=True)


def test_a_full_disk_changes_nothing(site):
    """The configuration directory on a small tmpfs, filled up."""
    site.reset()
    work = os.path.join(site.base, "full")
    os.makedirs(work)
    old, new = self_signed(work, "old"), self_signed(work, "new")
    assert site.run(*old)[0] == 0
    site.postfix.stop()
    saved = os.path.join(work, "etc")
    shutil.copytree(site.config, saved)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", site.config],
                   check=True)
    try:
        for name in os.listdir(saved):
            shutil.copy2(os.path.join(saved, name), site.config)
        site.postfix.start()
        fd = os.open(os.path.join(site.config, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        before = snapshot(site.config)
        status, out, err = site.run(*new)
        assert status == 1
        assert "No space left on device" in err
        assert snapshot(site.config) == before
        assert served_everywhere(key_digest(old[0]))
    finally:
        site.postfix.stop()
        subprocess.run(["umount", site.config], check=True)
        site.postfix.start()


UNDO_FAILS = {
    # postfix check fails after the new file was written; so does the undo's
    # postconf -X (main.cf keeps naming the new file).
    "postfix": 'case " $* " in *" check "*) echo "postfix: fatal: broken" >&2; exit 1;;'
               ' *" status "*) exit 1;; esac; exec /usr/sbin/postfix "$@"',
    "postconf": 'case " $* " in *" -X "*) exit 1;; esac; exec /usr/sbin/postconf "$@"',
    "postlog": 'exec /usr/sbin/postlog "$@"',
}


def wrapped_config(site, name, wrappers):
    """(config, work): a scratch configuration (its Postfix not running)
    whose command_directory holds wrappers {program: sh code} of Postfix's."""
    work = os.path.join(site.base, name)
    config, sbin = os.path.join(work, "etc"), os.path.join(work, "sbin")
    os.makedirs(config)
    os.makedirs(sbin)
    for program in ("postfix", "postconf", "postlog"):
        with open(os.path.join(sbin, program), "w") as stream:
            stream.write("#!/bin/sh\n%s\n" % wrappers.get(
                program, 'exec /usr/sbin/%s "$@"' % program))
        os.chmod(os.path.join(sbin, program), 0o755)
    for program in os.listdir("/usr/sbin"):  # postfix check runs postsuper and others
        if program.startswith("post") and not os.path.exists(os.path.join(sbin, program)):
            os.symlink(os.path.join("/usr/sbin", program), os.path.join(sbin, program))
    shutil.copy("/etc/postfix/master.cf", config)
    main_cf = os.path.join(config, "main.cf")
    with open(main_cf, "w") as stream:
        stream.write("compatibility_level = 3.6\nmyhostname = %s\ncommand_directory = %s\n"
                     % (HOSTNAME, sbin))
    os.utime(main_cf, (0, 0))
    return config, work


def wrapped_argv(site, config, *operands):
    return ours_argv(["-c", config, "deploy-acme-cert", "-s", ADDRESS, "-p", "25", "-n",
                      site.zone.nameserver, "-t", "5"] + list(operands))


def test_an_undo_that_fails_says_what_is_left_and_keeps_what_main_cf_names(site):
    """Before: the undo's failing postconf -X was not noticed, acme-rsa.pem
    was removed while main.cf named it, and the message said "the old
    files are back"."""
    config, work = wrapped_config(site, "undo-fails", UNDO_FAILS)
    result = subprocess.run(wrapped_argv(site, config, *self_signed(work, "new")),
                            env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120)
    assert result.returncode == 1
    err = result.stderr
    assert "the old files are back" not in err, err
    assert "the old state could not be fully restored" in err
    assert "main.cf could not be put back (postconf -X failed" in err
    assert "postconf -c %s -X smtpd_tls_cert_file smtpd_tls_key_file" % config in err
    deployed = os.path.join(config, "acme-rsa.pem")
    assert "%s is kept (main.cf may name it)" % deployed in err
    named = subprocess.run(["postconf", "-c", config, "-nh", "smtpd_tls_cert_file"],
                           stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    assert named == deployed and os.path.isfile(deployed)  # never a name of a missing file


# The last log line ("deployed into") waits, so that a signal comes then.
SLOW_LAST_LINE = {
    "postfix": 'case " $* " in *" status "*) exit 1;; esac; exec /usr/sbin/postfix "$@"',
    "postlog": 'text=$(cat); case "$text" in *"deployed into"*) touch "$0.last";'
               ' sleep 2;; esac; printf "%s\\n" "$text" | /usr/sbin/postlog "$@"',
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_last_log_line_is_no_failure_after_a_deployment(site, signum):
    """Before: "interrupted by signal ...", exit 1, after the deployment was
    made and verified (nothing was put back: it was no failure)."""
    config, work = wrapped_config(site, "last-line-%d" % signum, SLOW_LAST_LINE)
    marker = os.path.join(work, "sbin", "postlog.last")
    process = subprocess.Popen(wrapped_argv(site, config, *self_signed(work, "new")),
                               env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True)
    deadline = time.time() + 60
    while not os.path.exists(marker) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "interrupted" not in err
    assert os.path.isfile(os.path.join(config, "acme-rsa.pem"))


# ----- acme-tlsa.seen: times this host's clock cannot have written

def test_nonsense_and_future_times_in_the_seen_file_are_reset_not_trusted(site):
    site.reset()
    work = os.path.join(site.base, "seen")
    os.makedirs(work)
    first, second = self_signed(work, "first"), self_signed(work, "second")
    assert site.run(*first)[0] == 0
    old, new = key_digest(first[0]), key_digest(second[0])
    site.publish([old, new], ttl=1)
    owners = ["_%d._tcp.%s." % (port, HOSTNAME) for port in PORTS]
    long_ago = int(time.time()) - 3600
    lines = ["%s 3 1 1 %s %d" % (owner, old, long_ago) for owner in owners] + [
        "%s 3 1 1 %s 99999999999999999999" % (owners[0], new),  # a traceback before
        "%s 3 1 1 %s %d" % (owners[1], new, time.time() + 86400),  # clock skew: a day ahead
        "%s 3 1 1 %s 0" % (owners[2], new)]  # would let the key in at once
    path = os.path.join(site.config, "acme-tlsa.seen")
    with open(path, "w") as stream:
        stream.write("\n".join(lines) + "\n")
    started = int(time.time())
    status, out, err = site.run(*second)
    assert status == EXIT_STAGED, err
    assert "caches may hold the old RRset for 1 s" in out
    for number, seconds in ((4, "99999999999999999999"), (5, str(int(time.time() + 86400))[:5]),
                            (6, "0")):
        assert "warning: %s line %d: _" % (path, number) in err
        assert " first seen at second %s" % seconds in err
    assert "before 2000 or more than 300 s ahead of this host's clock: counted as first seen" \
        " now" in err
    with open(path) as stream:
        rewritten = dict((" ".join(line.split()[:5]), int(line.split()[5]))
                         for line in stream.read().splitlines())
    assert len(rewritten) == 6
    for owner in owners:
        assert rewritten["%s 3 1 1 %s" % (owner, old)] == long_ago  # the sane lines kept
        # now, rounded up to the second
        assert started <= rewritten["%s 3 1 1 %s" % (owner, new)] <= time.time() + 1
    # Lines that do not parse are dropped, the others kept: the TTL has passed.
    with open(path, "ab") as stream:
        stream.write(b"garbage\n\xff\xfe\n")
    time.sleep(TTL_WAIT)
    status, out, err = site.run()
    assert status == 0, err
    assert "rsa: deployed into" in out
    assert "%s line 7: not an \"owner record seconds\" line, dropped: garbage" % path in err
    assert "%s line 8: not an \"owner record seconds\" line, dropped: " % path in err
    assert served_everywhere(new, ["3 1 1 " + old, "3 1 1 " + new])


def test_a_3_1_2_record_lets_a_new_key_in_as_a_3_1_1_does(site):
    """SHA-512 of the new key ("3 1 2") matches it, as its SHA-256 does."""
    site.reset()
    work = os.path.join(site.base, "sha512")
    os.makedirs(work)
    first, second = self_signed(work, "first"), self_signed(work, "second")
    assert site.run(*first)[0] == 0
    old = key_digest(first[0])
    der = openssl("pkey", "-in", second[0], "-pubout", "-outform", "DER")
    record = "3 1 2 " + openssl("dgst", "-sha512", "-r", stdin=der).split()[0].decode()
    site.zone.serve([("_%d._tcp.%s." % (port, HOSTNAME), "TLSA", data) for port in PORTS
                     for data in ("3 1 1 " + old, record)], ttl=1)
    status, out, err = site.run(*second)
    assert status == EXIT_STAGED, err
    assert "caches may hold the old RRset for 1 s" in out  # matched: the TTL's wait
    time.sleep(TTL_WAIT)
    status, out, err = site.run()
    assert status == 0, err
    assert "its TLSA record is served by every nameserver" in out
    assert served_everywhere(key_digest(second[0]), [record])


def test_special_files_where_deploy_acme_cert_writes_are_named_never_read(site):
    """Found by the break-it review: a FIFO at acme-rsa.pem hung the run (in
    replace_file's read of the old file) while it held the lock; a directory
    at acme-rsa.staged.pem failed the run after the key was deployed
    (IsADirectoryError in the staged file's removal), exit 1; a FIFO there
    was removed without a word."""
    site.reset()  # no TLSA records: a new key is deployed at once
    config, work = wrapped_config(site, "special-files", {
        "postfix": 'case " $* " in *" status "*) exit 1;; esac; exec /usr/sbin/postfix "$@"'})
    deployed = os.path.join(config, "acme-rsa.pem")
    os.mkfifo(deployed)
    result = subprocess.run(wrapped_argv(site, config, *self_signed(work, "one")),
                            env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert result.returncode == 1
    assert "cannot create %s: it is not a regular file" % deployed in result.stderr
    os.unlink(deployed)
    staged = os.path.join(config, "acme-rsa.staged.pem")
    for make, kind in ((os.mkdir, "a directory"), (os.mkfifo, "a FIFO")):
        make(staged)
        result = subprocess.run(wrapped_argv(site, config, *self_signed(work, "two")),
                                env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "rsa: deployed into %s" % deployed in result.stdout
        assert "%s is left as it is (%s is %s" % (staged, staged, kind) in result.stderr
        assert os.path.lexists(staged)
        os.rmdir(staged) if kind == "a directory" else os.unlink(staged)
