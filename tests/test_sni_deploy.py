"""deploy-acme-cert into tls_server_sni_maps and remove-sni-name (issue 30,
items 2 to 4 and 6): a scratch Postfix started by postfix(1) on 127.0.0.35
(ports 25, 465, 587) with a default certificate for its myhostname and an
SNI table; the zone's nameservers on 127.0.0.36 and .37 (unbound), the
resolver on 127.0.0.1.  Every step is asserted on the live server with
openssl s_client -servername, per name and port; certbot against pebble
issues one lineage per domain.  The tests run in order, each from what the
one before left."""

import json
import os
import subprocess
import threading
import time

import pytest
from test_acme import (
    EXIT_STAGED,
    TTL_WAIT,
    Site,
    key_digest,
    openssl,
    self_signed,
    snapshot,
    spki,
)
from test_acme_interrupts import killed_at

from support import OPENSSL, POSTFIX_PATH, ours_argv
from support.acmeservers import Certbot
from support.liveservers import HOSTNAME, PORTS, scratch_base

pytestmark = [pytest.mark.postfix, pytest.mark.root]

ADDRESS = "127.0.0.35"
AUTHORITIES = (("ns1", "127.0.0.36"), ("ns2", "127.0.0.37"))
SHOP = ["shop.example.test", "www.shop.example.test"]
CUSTOMERS = ["*.cust.example.test", "cust.example.test"]
PAIR = ["pair.example.test"]
SIGALGS = {"rsa": "rsa_pss_rsae_sha256:rsa_pkcs1_sha256", "ecdsa": "ecdsa_secp256r1_sha256"}
OUTSIDE = "nowhere.example.test"


def presented(name, port, algorithm="rsa", records=()):
    """(SPKI digest of what ADDRESS:port presents to SNI name, DANE verified);
    name None: no SNI at all."""
    argv = ["timeout", "20", OPENSSL, "s_client", "-connect", "%s:%d" % (ADDRESS, port),
            "-sigalgs", SIGALGS[algorithm]]
    if port != 465:
        argv += ["-starttls", "smtp"]
    argv += ["-servername", name] if name else ["-noservername"]
    if records:
        argv += ["-dane_tlsa_domain", name, "-dane_ee_no_namechecks"]
        for record in records:
            argv += ["-dane_tlsa_rrdata", record]
    output = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT).stdout.decode("utf-8", "replace")
    begin = output.find("-----BEGIN CERTIFICATE-----")
    if begin < 0:
        return None, False
    end = output.index("-----END CERTIFICATE-----", begin) + len("-----END CERTIFICATE-----")
    return spki(output[begin:end].encode() + b"\n"), "Verification: OK" in output


def served(name, digest, algorithm="rsa"):
    return all(presented(name, port, algorithm)[0] == digest for port in PORTS)


class SniSite(Site):
    def __init__(self, base):
        Site.__init__(self, base, address=ADDRESS, authorities=AUTHORITIES)
        self.table = os.path.join(self.config, "sni_maps")

    def set_table(self, table_type, path=None):
        """main.cf with the default certificate (kept) and the table."""
        self.table = path or self.table
        self.postfix.postconf("-e", "tls_server_sni_maps = %s:%s" % (table_type, self.table))
        past = time.time() - 60
        os.utime(os.path.join(self.config, "main.cf"), (past, past))
        assert self.postfix.postfix("reload").returncode == 0

    def table_lines(self):
        with open(self.table) as stream:
            return stream.read().splitlines()

    def status(self):
        result = subprocess.run(ours_argv(["-c", self.config, "--json", "status"]),
                                env={"PATH": POSTFIX_PATH}, stdout=subprocess.PIPE,
                                universal_newlines=True)
        return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def site():
    with scratch_base("postfix-tls-sni.") as base:
        site = SniSite(base)
        try:
            yield site
        finally:
            site.stop()


@pytest.fixture(scope="module")
def certbot(site):
    return Certbot(os.path.join(site.base, "certbot"), site.pebble, site.env)


def certonly(site, certbot, name, names, key_type="rsa"):
    """A lineage of names (a wildcard's through a DNS challenge pebble
    always takes); the hook deploys it."""
    result = subprocess.run(
        ["certbot", "certonly"] + certbot._common() + [
            "--agree-tos", "--register-unsafely-without-email", "--manual",
            "--preferred-challenges", "dns", "--manual-auth-hook", "true",
            "--cert-name", name, "--key-type", key_type, "--deploy-hook", site.hook()]
        + [argument for found in names for argument in ("-d", found)],
        env=certbot.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stdout
    return key_digest(os.path.join(certbot.lineage(name), "privkey.pem"))


# ----- certbot: three domains, one wildcard, one RSA and ECDSA pair

def test_a_default_certificate_and_an_sni_table(site, certbot):
    default = certonly(site, certbot, "mail", [HOSTNAME])
    assert served(HOSTNAME, default)
    site.set_table("hash")
    site.default = default


def test_a_lineage_of_other_names_goes_into_the_table(site, certbot):
    reloads = site.reloads()
    shop = certonly(site, certbot, "shop", SHOP)
    assert site.reloads() == reloads + 1
    for name in SHOP:
        assert served(name, shop)
    assert served(OUTSIDE, site.default) and served(None, site.default)
    assert served(HOSTNAME, site.default)
    path = os.path.join(site.config, "acme-sni-shop.example.test-rsa.pem")
    assert site.table_lines() == ["shop.example.test " + path,
                                  "www.shop.example.test " + path]
    assert os.stat(path).st_mode & 0o777 == 0o600
    code, document = site.status()
    assert code == 0, document["problems"]
    assert [(found["name"], found["stale"]) for found in document["sni"]] == [
        ("shop.example.test", False), ("www.shop.example.test", False)]


def test_a_wildcard_lineage_is_its_parent_key(site, certbot):
    with open(site.table, "a") as stream:
        stream.write("# the customers\n")
    customers = certonly(site, certbot, "cust", CUSTOMERS)
    for name in ("a.cust.example.test", "b.cust.example.test", "cust.example.test"):
        assert served(name, customers)
    path = os.path.join(site.config, "acme-sni-wildcard.cust.example.test-rsa.pem")
    assert site.table_lines()[2:] == ["# the customers", ".cust.example.test " + path,
                                      "cust.example.test " + path]


def test_an_rsa_and_an_ecdsa_lineage_share_the_entry(site, certbot):
    rsa = certonly(site, certbot, "pair", PAIR)
    ecdsa = certonly(site, certbot, "pair-ecdsa", PAIR, "ecdsa")
    assert served(PAIR[0], rsa) and served(PAIR[0], ecdsa, "ecdsa")
    files = [os.path.join(site.config, "acme-sni-pair.example.test-%s.pem" % algorithm)
             for algorithm in ("rsa", "ecdsa")]
    assert "pair.example.test %s" % ", ".join(files) in site.table_lines()


class Watcher(threading.Thread):
    """A client asking for each of names every half second, on port 587,
    until stopped: what it was presented, per name."""

    def __init__(self, names):
        threading.Thread.__init__(self, daemon=True)
        self.names = names
        self.seen = dict((name, []) for name in names)
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for name in self.names:
                self.seen[name].append(presented(name, 587)[0])
            self.done.wait(0.5)

    def stop(self):
        self.done.set()
        self.join(timeout=60)


def test_a_renewal_of_one_domain_keeps_the_others_served(site, certbot):
    before = dict((name, presented(name, 25)[0]) for name in CUSTOMERS[1:] + PAIR)
    watcher = Watcher(sorted(before))
    watcher.start()
    try:
        renew_shop_twice(site, certbot)
    finally:
        watcher.stop()
    for name, digest in before.items():
        assert len(watcher.seen[name]) > 3 and set(watcher.seen[name]) == set([digest]), name
        assert served(name, digest)
    assert served(OUTSIDE, site.default)


def renew_shop_twice(site, certbot):
    result = certbot.renew("shop", "--reuse-key")
    assert result.returncode == 0, result.stdout
    shop = key_digest(os.path.join(certbot.lineage("shop"), "privkey.pem"))
    assert served(SHOP[0], shop)
    result = certbot.renew("shop", "--no-reuse-key")  # a new key
    assert result.returncode == 0, result.stdout
    renewed = key_digest(os.path.join(certbot.lineage("shop"), "privkey.pem"))
    assert renewed != shop and served(SHOP[0], renewed) and served(SHOP[1], renewed)


def test_the_same_certificate_again_changes_nothing_and_reloads_nothing(site, certbot):
    before, reloads = snapshot(site.config), site.reloads()
    result = subprocess.run(site.hook_argv(), env=dict(
        certbot.env, RENEWED_LINEAGE=certbot.lineage("shop")), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr
    assert "unchanged: the SNI table already serves this key" in result.stdout
    assert snapshot(site.config) == before and site.reloads() == reloads


def test_a_stale_table_is_found_by_status_and_built_again_by_the_next_run(site, certbot):
    """A file changed behind the table's back (a hand-copied renewal):
    status says so; the next run of the hook rebuilds it and reloads."""
    path = os.path.join(site.config, "acme-sni-shop.example.test-rsa.pem")
    with open(path) as stream:
        text = stream.read()
    work = os.path.join(site.base, "stale")
    os.makedirs(work)
    other = self_signed(work, "other", hostname=SHOP[0])
    with open(path, "w") as stream:
        for part in other:
            with open(part) as source:
                stream.write(source.read())
    code, document = site.status()
    assert code == 2 and [found["name"] for found in document["sni"] if found["stale"]] == SHOP
    reloads = site.reloads()
    result = subprocess.run(site.hook_argv(), env=dict(
        certbot.env, RENEWED_LINEAGE=certbot.lineage("shop")), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr
    with open(path) as stream:
        assert stream.read() == text
    assert site.reloads() == reloads + 1
    assert site.status()[0] == 0


# ----- the DANE gate, per name

def test_a_name_with_tlsa_records_gets_a_new_key_only_once_published(site, certbot):
    shop = key_digest(os.path.join(certbot.lineage("shop"), "privkey.pem"))
    site.zone.serve([("_%d._tcp.%s." % (port, SHOP[0]), "TLSA", "3 1 1 " + shop)
                     for port in PORTS], ttl=1)
    before = snapshot(site.config)
    result = certbot.renew("shop", "--no-reuse-key")
    assert result.returncode == 0, result.stdout  # certbot goes on; the hook said 75
    new = key_digest(os.path.join(certbot.lineage("shop"), "privkey.pem"))
    assert served(SHOP[0], shop) and not served(SHOP[0], new)
    staged = os.path.join(site.config, "acme-sni-shop.example.test-rsa.staged.pem")
    assert os.stat(staged).st_mode & 0o777 == 0o600
    after = snapshot(site.config)
    assert sorted(set(after) - set(before)) == ["acme-sni-shop.example.test-rsa.staged.pem",
                                               "acme-tlsa.seen"]
    site.zone.serve([("_%d._tcp.%s." % (port, SHOP[0]), "TLSA", "3 1 1 " + digest)
                     for port in PORTS for digest in (shop, new)], ttl=1)
    status, out, err = site.run()  # the timer's run: first sighting
    assert status == EXIT_STAGED, out + err
    time.sleep(TTL_WAIT)
    status, out, err = site.run()
    assert status == 0, out + err
    assert served(SHOP[0], new) and served(SHOP[1], new)
    assert not os.path.exists(staged)
    assert presented(SHOP[0], 25, records=["3 1 1 " + new]) == (new, True)
    site.zone.serve([], ttl=1)


# ----- the live check, and the undo

def test_a_name_not_served_the_new_key_gets_the_old_files_back(site):
    work = os.path.join(site.base, "live")
    os.makedirs(work)
    new = self_signed(work, "new", hostname=SHOP[0])
    before, reloads = snapshot(site.config), site.reloads()
    with open(site.table + ".db", "rb") as stream:
        built = stream.read()
    argv = [arg if arg != "25,465,587" else "25,2525" for arg in site.hook_argv(
        "-m", "sni", *new)]
    argv[argv.index("-t") + 1] = "3"
    result = subprocess.run(argv, env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    assert result.returncode == 1, result.stdout
    assert "port 2525 does not serve the new rsa certificate to shop.example.test" in (
        result.stderr)
    assert "the old files are back and Postfix was reloaded again" in result.stderr
    after = snapshot(site.config)
    assert dict((name, after[name][:2]) for name in after) == dict(
        (name, before[name][:2]) for name in before)
    with open(site.table + ".db", "rb") as stream:
        assert stream.read() == built
    assert site.reloads() == reloads + 2


# ----- taking a name out

def test_remove_sni_name_takes_the_wildcard_out_and_its_files(site):
    path = os.path.join(site.config, "acme-sni-wildcard.cust.example.test-rsa.pem")
    result = subprocess.run(ours_argv(["-c", site.config, "remove-sni-name", "-s", ADDRESS,
                                       "-p", "25,465,587", "-t", "20", "*.cust.example.test",
                                       "cust.example.test"]),
                            env={"PATH": POSTFIX_PATH}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr
    assert not any("cust.example.test" in line for line in site.table_lines())
    assert "# the customers" in site.table_lines()
    assert not os.path.exists(path)
    assert served("a.cust.example.test", site.default)
    assert served(SHOP[0], key_digest(os.path.join(
        site.base, "certbot", "config", "live", "shop", "privkey.pem")))


def signed(directory, name, names, algorithm="rsa"):
    """(keyfile, certfile): a key and a self-signed certificate for names."""
    keyfile, certfile = (os.path.join(directory, name + suffix) for suffix in (".key", ".crt"))
    new_key = (["-newkey", "rsa:2048"] if algorithm == "rsa" else
               ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
    openssl("req", "-x509", "-nodes", *new_key, "-keyout", keyfile, "-subj", "/CN=" + names[0],
            "-addext", "subjectAltName=" + ",".join("DNS:" + found for found in names),
            "-days", "90", "-out", certfile)
    return keyfile, certfile


def ours(site, *args):
    result = subprocess.run(ours_argv(["-c", site.config] + list(args)),
                            env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


# ----- the keys of an SNI name: its TLSA records, checked live (item 5)

def test_output_and_check_server_tlsa_take_an_sni_names_keys(site, certbot):
    shop = key_digest(os.path.join(certbot.lineage("shop"), "privkey.pem"))
    status, out, err = ours(site, "output-server-tlsa", "-S", SHOP[0], "-p", "25,587")
    assert status == 0, err
    assert "_25._tcp.shop.example.test. IN TLSA 3 1 1 %s" % shop in out
    assert "_587._tcp.shop.example.test. IN TLSA 3 1 1 %s" % shop in out
    assert site.default not in out
    site.zone.serve([("_25._tcp.%s." % SHOP[0], "TLSA", "3 1 1 " + shop)], ttl=1)
    try:
        status, out, err = ours(site, "check-server-tlsa", "-S", SHOP[0], "-s", ADDRESS,
                                "-n", site.zone.nameserver)
        assert status == 0, out + err
        # The default certificate's keys do not match the name's records.
        status, out, err = ours(site, "check-server-tlsa", "-h", SHOP[0], "-s", ADDRESS,
                                "-n", site.zone.nameserver)
        assert status == 1, out + err
    finally:
        site.zone.serve([], ttl=1)
    status, out, err = ours(site, "output-server-tlsa", "-S", "nowhere.example.org")
    assert status == 1 and "no table of tls_server_sni_maps" in err


# ----- refusals change nothing

def test_refusals_change_nothing(site):
    work = os.path.join(site.base, "refusals")
    os.makedirs(work)
    both = signed(work, "mixed-rsa", ["mixed.example.test"])
    ecdsa = signed(work, "mixed-ecdsa", ["mixed.example.test"], "ecdsa")
    mixed = os.path.join(work, "mixed.pem")
    with open(mixed, "w") as stream:
        for path in both + ecdsa:
            with open(path) as part:
                stream.write(part.read())
    with open(site.table, "a") as stream:
        stream.write("mixed.example.test %s\n" % mixed)
    subprocess.run(["postmap", "-c", site.config, "-F", "hash:" + site.table], check=True)
    os.chmod(site.table + ".db", 0o600)
    new = signed(work, "new", ["mixed.example.test"])
    tsig = os.path.join(work, "tsig.key")
    with open(tsig, "w") as stream:
        stream.write("hmac-sha256:tlsa-update:%s\n" % ("QUJD" * 11))
    before = snapshot(site.config)
    for options, said in ((["-m", "bogus"], "invalid -m value: bogus"),
                          # Its advice: -S, the keys the table gives NAME (before:
                          # -h NAME, which publishes the default certificate's).
                          (["-K", tsig], "goes into the SNI table: nothing changed; deploy it"
                           " without -K (a name with TLSA records gets its key staged until"
                           " they match), then publish each name's records with"
                           " publish-server-tlsa -S NAME -K FILE"),
                          ([], "holds the rsa key and the ecdsa key(s)")):
        argv = site.hook_argv(*(options + list(new)))
        result = subprocess.run(argv, env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True)
        assert result.returncode == 1 and said in result.stderr, result.stderr
        assert snapshot(site.config) == before
    with open(site.table) as stream:
        kept = [line for line in stream if not line.startswith("mixed.")]
    with open(site.table, "w") as stream:
        stream.writelines(kept)
    subprocess.run(["postmap", "-c", site.config, "-F", "hash:" + site.table], check=True)


def test_a_dry_run_changes_nothing_and_shows_each_step(site):
    work = os.path.join(site.base, "dry")
    os.makedirs(work)
    new = signed(work, "dry", ["dry.example.test"])
    before, reloads = snapshot(site.config), site.reloads()
    status, out, err = ours(site, "--dry-run", "--trace", "deploy-acme-cert", "-s", ADDRESS,
                            "-n", site.zone.nameserver, *new)
    assert status == 0, err
    assert snapshot(site.config) == before and site.reloads() == reloads
    path = os.path.join(site.config, "acme-sni-dry.example.test-rsa.pem")
    assert "# replace %s (mode 0600) (dry run: not done)" % path in err
    assert "# replace %s (mode 0644) (dry run: not done)" % site.table in err
    assert "postmap -c %s -F hash:%s" % (site.config, site.table) in err
    assert "dry run: nothing was written" in out


# ----- SIGTERM at every step: the old set or the new, never a mix

def test_interrupted_at_each_step_a_name_gets_the_old_key_or_the_new(site):
    work = os.path.join(site.base, "killed")
    os.makedirs(work)
    name = "kill.example.test"
    old, new = signed(work, "old", [name]), signed(work, "new", [name])
    old_digest, new_digest = key_digest(old[0]), key_digest(new[0])
    assert site.run(*old)[0] == 0
    step, finished = 1, False
    while not finished:
        status, steps, err = killed_at(site.hook_argv(*new, options=("--trace",)), step)
        finished = steps < step
        got = presented(name, 25)[0]
        assert got in (old_digest, new_digest), (step, err)
        assert [found for found in os.listdir(site.config) if found.startswith(".")] == []
        code, document = site.status()
        entry = [found for found in document["sni"] if found["name"] == name]
        assert entry and not entry[0]["stale"], (step, err)
        if status == 0:
            assert got == new_digest or not finished, (step, err)
        else:
            assert got == old_digest, (step, err)
        assert site.run(*old)[0] == 0  # back to the old key for the next step
        assert served(name, old_digest)
        step += 1
    assert step > 10


# ----- each table type (Debian 14 defaults to cdb)

@pytest.mark.parametrize("table_type", ["cdb", "texthash", "btree"])
def test_each_table_type_is_deployed_served_and_taken_out(site, table_type):
    work = os.path.join(site.base, "type-" + table_type)
    os.makedirs(work)
    name = "%s.example.test" % table_type
    pair = signed(work, "pair", [name])
    path = os.path.join(site.config, "sni-%s" % table_type)
    first = site.table
    site.set_table(table_type, path)
    try:
        status, out, err = site.run(*pair)
        assert status == 0, out + err
        assert served(name, key_digest(pair[0]))
        assert served(OUTSIDE, site.default)
        assert ("postmap -F" in out) == (table_type != "texthash")
        for built in [path + ".cdb"] if table_type == "cdb" else [
                path + ".db"] if table_type == "btree" else []:
            assert os.stat(built).st_mode & 0o777 == 0o600
        status, out, err = ours(site, "remove-sni-name", "-s", ADDRESS, "-p", "25,465,587",
                                name)
        assert status == 0, err
        assert served(name, site.default)
        assert not os.path.exists(os.path.join(site.config, "acme-sni-%s-rsa.pem" % name))
    finally:
        site.set_table("hash", first)


# ----- what a break-it round found (each failed on the code before its fix)

def test_a_name_the_lineage_drops_is_taken_out_not_left_uncovered(site):
    work = os.path.join(site.base, "drop")
    os.makedirs(work)
    first = signed(work, "first", ["drop.example.test", "a.drop.example.test"])
    second = signed(work, "second", ["drop.example.test", "b.drop.example.test"])
    assert site.run(*first)[0] == 0
    status, out, err = site.run(*second)
    assert status == 0, out + err
    assert "a.drop.example.test taken out: no longer a name of this certificate" in out
    assert not any(line.startswith("a.drop.") for line in site.table_lines())
    assert served("b.drop.example.test", key_digest(second[0]))
    assert served("a.drop.example.test", site.default)


def test_an_entry_with_key_and_certificate_in_files_of_their_own_is_replaced_whole(site):
    work = os.path.join(site.base, "split")
    os.makedirs(work)
    key, cert = signed(work, "admin", ["split.example.test"])
    with open(site.table, "a") as stream:
        stream.write("split.example.test %s, %s\n" % (key, cert))
    subprocess.run(["postmap", "-c", site.config, "-F", "hash:" + site.table], check=True)
    new = signed(work, "new", ["split.example.test"])
    status, out, err = site.run(*new)
    assert status == 0, out + err
    ours_file = os.path.join(site.config, "acme-sni-split.example.test-rsa.pem")
    assert "split.example.test " + ours_file in site.table_lines()
    assert os.path.exists(key) and os.path.exists(cert)  # the administrator's: kept
    output = subprocess.run(["timeout", "20", OPENSSL, "s_client", "-connect",
                             ADDRESS + ":465", "-servername", "split.example.test",
                             "-showcerts"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT).stdout.decode()
    assert output.count("-----BEGIN CERTIFICATE-----") == 1  # no old leaf as a chain


def test_an_entry_postmap_would_skip_refuses_the_deploy_and_changes_nothing(site):
    """postmap -F skips an entry whose file is gone (a warning, exit 0):
    that name would silently get the default certificate."""
    work = os.path.join(site.base, "skipped")
    os.makedirs(work)
    gone = signed(work, "gone", ["gone.example.test"])
    with open(os.path.join(work, "gone.pem"), "w") as stream:
        for path in gone:
            with open(path) as part:
                stream.write(part.read())
    with open(site.table, "a") as stream:
        stream.write("gone.example.test %s/gone.pem\n" % work)
    subprocess.run(["postmap", "-c", site.config, "-F", "hash:" + site.table], check=True)
    os.unlink(os.path.join(work, "gone.pem"))
    new = signed(work, "new", ["fresh.example.test"])
    before, reloads = snapshot(site.config), site.reloads()
    status, out, err = site.run(*new)
    assert status == 1, out + err
    assert "the built table lacks gone.example.test" in err
    after = snapshot(site.config)  # put back: the same bytes and modes, renamed in
    assert dict((name, after[name][:2]) for name in after) == dict(
        (name, before[name][:2]) for name in before)
    assert site.reloads() == reloads
    status, out, err = ours(site, "remove-sni-name", "-s", ADDRESS, "gone.example.test")
    assert status == 0, err
    assert site.run(*new)[0] == 0


def test_a_duplicate_key_goes_with_the_name(site):
    work = os.path.join(site.base, "duplicate")
    os.makedirs(work)
    new = signed(work, "new", ["dup.example.test"])
    assert site.run(*new)[0] == 0
    admin = signed(work, "admin", ["dup.example.test"])
    with open(site.table, "a") as stream:
        stream.write("DUP.example.test %s, %s\n" % (admin[0], admin[1]))
    status, out, err = ours(site, "remove-sni-name", "-s", ADDRESS, "dup.example.test")
    assert status == 0, err
    assert not any(line.lower().startswith("dup.") for line in site.table_lines())
    assert served("dup.example.test", site.default)


def test_a_certificate_with_a_cn_only_goes_into_the_table(site):
    work = os.path.join(site.base, "cn")
    os.makedirs(work)
    keyfile, certfile = (os.path.join(work, "cn" + suffix) for suffix in (".key", ".crt"))
    openssl("req", "-x509", "-nodes", "-newkey", "rsa:2048", "-keyout", keyfile, "-subj",
            "/CN=cn.example.test", "-days", "30", "-out", certfile)
    status, out, err = site.run(keyfile, certfile)
    assert status == 0, out + err
    assert served("cn.example.test", key_digest(keyfile))


def test_a_file_a_regexp_table_lists_is_kept_by_remove_sni_name(site):
    work = os.path.join(site.base, "regexp")
    os.makedirs(work)
    new = signed(work, "new", ["re.example.test"])
    assert site.run(*new)[0] == 0
    ours_file = os.path.join(site.config, "acme-sni-re.example.test-rsa.pem")
    regexp = os.path.join(site.config, "sni.regexp")
    with open(regexp, "w") as stream:
        stream.write("/^z\\.example\\.test$/ %s\n" % ours_file)
    first = site.table
    site.set_table("hash", first)
    site.postfix.postconf("-e", "tls_server_sni_maps = regexp:%s, hash:%s" % (regexp, first))
    try:
        status, out, err = ours(site, "remove-sni-name", "-s", ADDRESS, "re.example.test")
        assert status == 0, err
        assert os.path.exists(ours_file)
        assert "is kept: no entry read here lists it any more, but regexp:" in out
    finally:
        site.set_table("hash", first)


def test_a_symlinked_source_is_written_through(site):
    work = os.path.join(site.base, "symlink")
    os.makedirs(work)
    managed = os.path.join(work, "managed-sni")
    link = os.path.join(site.config, "sni-linked")
    with open(managed, "w") as stream:
        stream.write("# kept by configuration management\n")
    os.symlink(managed, link)
    first = site.table
    site.set_table("hash", link)
    try:
        new = signed(work, "new", ["link.example.test"])
        status, out, err = site.run(*new)
        assert status == 0, out + err
        assert os.path.islink(link)
        with open(managed) as stream:
            assert stream.read().startswith("# kept by configuration management\nlink.")
        assert served("link.example.test", key_digest(new[0]))
    finally:
        site.set_table("hash", first)


# ----- a second break-it round

def test_json_of_an_sni_deploy_is_a_document(site):
    work = os.path.join(site.base, "json")
    os.makedirs(work)
    new = signed(work, "new", ["json.example.test"])
    status, out, err = site.run(*new, options=("--json",))
    assert status == 0, out + err
    document = json.loads(out)
    assert document["exit_status"] == 0 and document["deployments"] == []
    (deployed,) = document["sni"]
    assert deployed["names"] == ["json.example.test"] and deployed["action"] == "deploy"
    assert sorted((live["port"], live["name"]) for live in deployed["live"]) == [
        (25, "json.example.test"), (465, "json.example.test"), (587, "json.example.test")]


def test_removing_a_name_removes_the_key_staged_for_it(site):
    work = os.path.join(site.base, "staged-removed")
    os.makedirs(work)
    name = "st.example.test"
    old, new = signed(work, "old", [name]), signed(work, "new", [name])
    assert site.run(*old)[0] == 0
    site.zone.serve([("_%d._tcp.%s." % (port, name), "TLSA", "3 1 1 " + key_digest(old[0]))
                     for port in PORTS], ttl=1)
    try:
        assert site.run(*new)[0] == EXIT_STAGED
        staged = os.path.join(site.config, "acme-sni-st.example.test-rsa.staged.pem")
        assert os.path.exists(staged)
        status, out, err = ours(site, "remove-sni-name", "-s", ADDRESS, name)
        assert status == 0, err
        assert not os.path.exists(staged)
        site.zone.serve([("_%d._tcp.%s." % (port, name), "TLSA", "3 1 1 " + digest)
                         for port in PORTS for digest in (key_digest(old[0]),
                                                          key_digest(new[0]))], ttl=1)
        site.run()
        time.sleep(TTL_WAIT)
        site.run()
        assert not any(line.startswith(name) for line in site.table_lines())
    finally:
        site.zone.serve([], ttl=1)


def test_a_dropped_name_in_a_second_table_goes_too(site):
    work = os.path.join(site.base, "second")
    os.makedirs(work)
    first_table = site.table
    second = os.path.join(site.config, "sni-second")
    both = signed(work, "both", ["p2.example.test", "q2.example.test"])
    assert site.run(*both)[0] == 0
    ours_file = os.path.join(site.config, "acme-sni-p2.example.test-rsa.pem")
    # q2's line moves to a second table, as an administrator may have it.
    lines = site.table_lines()
    with open(first_table, "w") as stream:
        stream.writelines(line + "\n" for line in lines if not line.startswith("q2."))
    with open(second, "w") as stream:
        stream.write("q2.example.test %s\n" % ours_file)
    for path in (first_table, second):
        subprocess.run(["postmap", "-c", site.config, "-F", "hash:" + path], check=True)
    site.postfix.postconf("-e", "tls_server_sni_maps = hash:%s, hash:%s" % (first_table,
                                                                            second))
    past = time.time() - 60
    os.utime(os.path.join(site.config, "main.cf"), (past, past))
    assert site.postfix.postfix("reload").returncode == 0
    try:
        only = signed(work, "only", ["p2.example.test"])
        status, out, err = site.run(*only)
        assert status == 0, out + err
        with open(second) as stream:
            assert stream.read() == ""
        assert served("q2.example.test", site.default)
        assert served("p2.example.test", key_digest(only[0]))
    finally:
        site.set_table("hash", first_table)


def test_s_refuses_a_stale_table_and_lists_a_staged_algorithm_it_does_not_serve(site):
    work = os.path.join(site.base, "s-option")
    os.makedirs(work)
    name = "s.example.test"
    rsa = signed(work, "rsa", [name])
    assert site.run(*rsa)[0] == 0
    site.zone.serve([("_25._tcp.%s." % name, "TLSA", "3 1 1 " + key_digest(rsa[0]))], ttl=1)
    try:
        ecdsa = signed(work, "ecdsa", [name], "ecdsa")
        assert site.run(*ecdsa)[0] == EXIT_STAGED
        status, out, err = ours(site, "--json", "output-server-tlsa-rollover", "-S", name)
        assert status == 0, err
        json.loads(out)
        assert key_digest(ecdsa[0]) in out and key_digest(rsa[0]) in out, out
    finally:
        site.zone.serve([], ttl=1)
    path = os.path.join(site.config, "acme-sni-s.example.test-rsa.pem")
    other = signed(work, "other", [name])
    with open(path, "w") as stream:
        for part in other:
            with open(part) as source:
                stream.write(source.read())
    status, out, err = ours(site, "output-server-tlsa", "-S", name)
    assert status == 1 and "serves other keys than its files hold" in err, err
    os.unlink(os.path.join(site.config, "acme-sni-s.example.test-ecdsa.staged.pem"))
    assert site.run(*rsa)[0] == 0  # in step again


def table_exists(site):
    if not os.path.exists(site.table):  # a test run alone (-k): an empty table
        open(site.table, "w").close()
        subprocess.run(["postmap", "-c", site.config, "-F", "hash:" + site.table], check=True)


def stage_by_hand(site, work, name, names, label, algorithm="rsa", file_algorithm=None):
    """(path, key digest): a new key and certificate for names, written as
    deploy-acme-cert stages lineage label's (file_algorithm: the file
    named for another algorithm than its key's)."""
    keyfile, certfile = signed(work, name, names, algorithm)
    path = os.path.join(site.config, "acme-sni-%s-%s.staged.pem" % (
        label, file_algorithm or algorithm))
    with open(path, "w") as stream:
        for part in (keyfile, certfile):
            with open(part) as source:
                stream.write(source.read())
    return path, key_digest(keyfile)


def test_a_first_issuance_staged_for_records_is_listed_and_deployed_once_published(site):
    """A name in no table yet, with records for the default certificate
    (which Postfix serves it until then): its first lineage is staged, and
    -S NAME takes the default certificate's keys as deployed and the
    staged key as the next one, so its records can be published before
    the name goes into the table (before: "no table ... has" the name)."""
    work = os.path.join(site.base, "first")
    os.makedirs(work)
    name = "first.example.test"
    table_exists(site)
    site.zone.serve([("_25._tcp.%s." % name, "TLSA", "3 1 1 " + site.default)], ttl=1)
    try:
        rsa = signed(work, "rsa", [name])
        new = key_digest(rsa[0])
        status, out, err = site.run(*rsa)
        assert status == EXIT_STAGED, out + err
        assert served(name, site.default)
        assert os.path.exists(os.path.join(site.config, "acme-sni-%s-rsa.staged.pem" % name))
        status, out, err = ours(site, "--json", "output-server-tlsa-rollover", "-S", name,
                                "-p", "25")
        assert status == 0, err
        assert "in no table of tls_server_sni_maps yet" in err, err
        keys = [(key["algorithm"], key["role"], key["digest"])
                for key in json.loads(out)["keys"]]
        assert ("rsa", "deployed", site.default) in keys and ("rsa", "staged", new) in keys
        status, out, err = ours(site, "check-server-tlsa", "-S", name, "-s", ADDRESS,
                                "-p", "25", "-n", site.zone.nameserver)
        # The default certificate matches its records; the next key's is missing.
        assert status == 1, out + err
        assert "presents %s; DANE verification: OK" % os.path.join(
            site.config, "acme-rsa.pem") in out, out
        assert "publish _25._tcp.%s. IN TLSA 3 1 1 %s for the next key" % (name, new) in out
        site.zone.serve([("_25._tcp.%s." % name, "TLSA", "3 1 1 " + digest)
                         for digest in (site.default, new)], ttl=1)
        status, out, err = site.run()  # the timer's run: first sighting
        assert status == EXIT_STAGED, out + err
        time.sleep(TTL_WAIT)
        status, out, err = site.run()
        assert status == 0, out + err
        assert served(name, new)
        status, out, err = ours(site, "output-server-tlsa", "-S", name, "-p", "25")
        assert status == 0 and new in out and site.default not in out, out + err
        assert "in no table" not in err, err
    finally:
        site.zone.serve([], ttl=1)
    status, out, err = ours(site, "remove-sni-name", "-s", ADDRESS, name)
    assert status == 0, out + err
    status, out, err = ours(site, "output-server-tlsa", "-S", name)
    assert status == 1 and "no table of tls_server_sni_maps" in err, err


def test_s_lists_every_key_that_may_serve_a_name_next(site):
    """From a break-it round, each shown failing before: -S NAME's next keys
    are those of every lineage that may serve NAME next, as Postfix looks it
    up, and only keys deploy-acme-cert would deploy."""
    work = os.path.join(site.base, "nexts")
    os.makedirs(work)
    table_exists(site)

    def stage(name, names, label, algorithm="rsa", file_algorithm=None):
        return stage_by_hand(site, work, name, names, label, algorithm, file_algorithm)

    def rollover(name):
        status, out, err = ours(site, "--json", "output-server-tlsa-rollover", "-S", name,
                                "-p", "25")
        assert status == 0, err
        return [(key["role"], key["keyfile"]) for key in json.loads(out)["keys"]], err

    staged = []
    try:
        # A name on the default certificate until its lineage goes in: the
        # default certificate's next key may be deployed first (before: only
        # the lineage's was listed, and its records called complete).
        default_next, _ = stage("default-next", [HOSTNAME], "unused")
        os.rename(default_next, os.path.join(site.config, "acme-rsa.staged.pem"))
        staged.append(os.path.join(site.config, "acme-rsa.staged.pem"))
        waiting, _ = stage("waiting", ["waiting.example.test"], "waiting.example.test")
        staged.append(waiting)
        keys, err = rollover("waiting.example.test")
        assert ("staged", staged[0]) in keys and ("staged", waiting) in keys, keys
        # Two lineages staged: the name's own, not a wildcard's (before: the
        # first by file name, "wildcard." before "zz.").
        exact, _ = stage("zz", ["zz.sub.example.test"], "zz.sub.example.test")
        wildcard, _ = stage("wild", ["*.sub.example.test"], "wildcard.sub.example.test")
        staged += [exact, wildcard]
        keys, _ = rollover("zz.sub.example.test")
        assert ("staged", exact) in keys and ("staged", wildcard) not in keys, keys
        keys, _ = rollover("other.sub.example.test")
        assert ("staged", wildcard) in keys and ("staged", exact) not in keys, keys
        # A name in the table by an administrator's own files, with a lineage
        # staged for it (before: "no next key yet").
        hand = signed(work, "hand", ["hand.example.test"])
        with open(site.table, "a") as stream:
            stream.write("hand.example.test %s %s\n" % hand)
        subprocess.run(["postmap", "-c", site.config, "-F", "hash:" + site.table], check=True)
        renewal, _ = stage("hand-new", ["hand.example.test"], "hand.example.test")
        staged.append(renewal)
        keys, _ = rollover("hand.example.test")
        assert keys[0] == ("deployed", hand[0]) and ("staged", renewal) in keys, keys
        # A staged key deploy-acme-cert would set aside is no next key, and
        # no reason to take the name as waiting (before: listed as next).
        wrong, _ = stage("wrong", ["wrong.example.test"], "wrong.example.test", "ecdsa", "rsa")
        staged.append(wrong)
        status, out, err = ours(site, "output-server-tlsa-rollover", "-S", "wrong.example.test")
        assert status == 1 and "is not taken as the next key" in err, err
        assert "no table of tls_server_sni_maps" in err, err
    finally:
        for path in staged:
            if os.path.exists(path):
                os.unlink(path)
        lines = [line for line in site.table_lines() if not line.startswith("hand.")]
        with open(site.table, "w") as stream:
            stream.write("".join(line + "\n" for line in lines))
        subprocess.run(["postmap", "-c", site.config, "-F", "hash:" + site.table], check=True)


def test_a_new_default_key_waits_for_the_records_of_names_it_still_serves(site):
    """A name whose first lineage is staged (in no table yet) gets the
    default certificate meanwhile: a new default key goes in only once the
    name's records match it too (from a break-it round; before: the gate
    asked the host's records only, and DANE broke for the name)."""
    work = os.path.join(site.base, "await")
    os.makedirs(work)
    table_exists(site)
    name = "await.example.test"
    site.zone.serve([("_25._tcp.%s." % name, "TLSA", "3 1 1 " + site.default)], ttl=1)
    staged = [os.path.join(site.config, "acme-sni-%s-rsa.staged.pem" % name),
              os.path.join(site.config, "acme-rsa.staged.pem")]
    try:
        assert site.run(*signed(work, "await", [name]))[0] == EXIT_STAGED
        default = signed(work, "mail", [HOSTNAME])
        status, out, err = site.run(*default)
        assert status == EXIT_STAGED, out + err
        assert "_25._tcp.%s. IN TLSA 3 1 1 %s" % (name, key_digest(default[0])) in out + err
        assert "the default certificate also serves %s, whose records match it" % name in out, out
        assert served(name, site.default) and served(HOSTNAME, site.default)
        assert os.path.exists(staged[1])
        # Records that are another's (DANE fails for the name already) hold
        # nothing up (before: the default's key waited for them for ever).
        site.zone.serve([("_25._tcp.%s." % name, "TLSA", "3 1 1 " + "00" * 32)], ttl=1)
        status, out, err = site.run(options=["--dry-run"])
        assert "rsa: deployed into %s" % os.path.join(site.config, "acme-rsa.pem") in out, out
        assert "also serves" not in out, out + err
        # Nor does a lineage staged with a key its run sets aside (another
        # algorithm's here), though its records match.
        refused = "refused.example.test"
        staged.append(stage_by_hand(site, work, "refused", [refused], refused, "ecdsa", "rsa")[0])
        site.zone.serve([("_25._tcp.%s." % found, "TLSA", "3 1 1 " + site.default)
                         for found in (name, refused)], ttl=1)
        status, out, err = site.run(options=["--dry-run"])
        assert status == EXIT_STAGED and "also serves %s," % name in out, out + err
        # A lineage given up: remove-sni-name drops its staged key, though
        # no table has its name (before: it stayed, and held the default's).
        status, out, err = ours(site, "remove-sni-name", "-s", ADDRESS, name)
        assert status == 0, out + err
        assert "%s: in no SNI table: no line to take out" % name in out, out
        assert not os.path.exists(staged[0]) and "removed %s" % staged[0] in out, out
        status, out, err = site.run(options=["--dry-run"])
        assert status == 0 and "also serves" not in out, out + err
    finally:
        site.zone.serve([], ttl=1)
        for path in staged:
            if os.path.exists(path):
                os.unlink(path)
