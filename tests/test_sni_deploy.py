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
import time

import pytest
from test_acme import (
    EXIT_STAGED,
    TTL_WAIT,
    Site,
    key_digest,
    self_signed,
    snapshot,
    spki,
)

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

    def set_table(self, table_type):
        """main.cf with the default certificate (kept) and the table."""
        self.postfix.postconf("-e", "tls_server_sni_maps = %s:%s" % (table_type, self.table))
        past = time.time() - 60
        os.utime(os.path.join(self.config, "main.cf"), (past, past))
        assert self.postfix.postfix("reload").returncode == 0

    def sni_hook(self, *args, options=()):
        return self.hook(*args)

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


def test_a_renewal_of_one_domain_keeps_the_others_served(site, certbot):
    before = dict((name, presented(name, 25)[0]) for name in CUSTOMERS[1:] + PAIR)
    result = certbot.renew("shop", "--reuse-key")
    assert result.returncode == 0, result.stdout
    shop = key_digest(os.path.join(certbot.lineage("shop"), "privkey.pem"))
    assert served(SHOP[0], shop)
    result = certbot.renew("shop", "--no-reuse-key")  # a new key
    assert result.returncode == 0, result.stdout
    renewed = key_digest(os.path.join(certbot.lineage("shop"), "privkey.pem"))
    assert renewed != shop and served(SHOP[0], renewed) and served(SHOP[1], renewed)
    for name, digest in before.items():
        assert served(name, digest)
    assert served(OUTSIDE, site.default)


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
