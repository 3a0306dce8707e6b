"""DANE (ours): records for every port, the rollover's RRset, and
check-server-tlsa against real servers: a Postfix instance started by
postfix(1) on 127.0.0.2 (ports 25, 465, 587) with RSA and ECDSA keys
deployed by postfix-tls, unbound serving the zone on 127.0.0.1, and the
real openssl as the client.  Needs root, Postfix, unbound and dnspython;
CI installs them (make test).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from support import POSTFIX_PATH, free_port, no_dnspython, old_dnspython, ours_argv
from support.liveservers import (
    AUTHORITIES,
    HOSTNAME,
    PORTS,
    POSTFIX_ADDRESS,
    ZONE,
    LocalZone,
    ScratchPostfix,
    scratch_base,
)

pytestmark = [pytest.mark.postfix, pytest.mark.root]

CHECK = ["-p", "25,465,587", "-s", POSTFIX_ADDRESS]


def postfix_tls(config, *args, path=POSTFIX_PATH):
    result = subprocess.run(ours_argv(["-c", config] + list(args)),
                            env={"PATH": path, "LANG": "C"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


def newest(config, prefix):
    return sorted(name for name in os.listdir(config) if name.startswith(prefix))[-1]


def deploy_new_key(config, algorithm):
    """new-server-key, then deploy-server-cert: as an administrator would."""
    status, out, err = postfix_tls(config, "new-server-key", "-a", algorithm, HOSTNAME)
    assert status == 0, err
    key = newest(config, "key-" if algorithm == "rsa" else "eckey-")
    status, out, err = postfix_tls(config, "deploy-server-cert",
                                   key.replace("key-", "cert-"), key)
    assert status == 0, err
    time.sleep(1.1)  # the next key gets another time stamp
    return os.path.join(config, key)


def rollover_records(config, ports="25,465,587"):
    """{(port, key file): "3 1 1 HEX"} from the rollover's JSON."""
    status, out, err = postfix_tls(config, "--json", "output-server-tlsa-rollover", "-p", ports)
    assert status == 0, err
    return dict(((record["port"], record["key_file"]), "3 1 1 " + record["data"])
                for record in json.loads(out)["records"])


class Host(object):
    """The scratch instance and its zone, with what is deployed and staged."""

    def __init__(self, base, address=POSTFIX_ADDRESS, authorities=AUTHORITIES):
        self.address = address
        self.postfix = ScratchPostfix(base, address)
        self.zone = LocalZone(base, authorities)
        self.config = self.postfix.config
        self.rsa = deploy_new_key(self.config, "rsa")
        self.ecdsa = deploy_new_key(self.config, "ecdsa")
        status, out, err = postfix_tls(self.config, "new-server-key", "-a", "rsa", HOSTNAME)
        assert status == 0, err
        self.next_rsa = os.path.join(self.config, newest(self.config, "key-"))
        self.postfix.start()

    def records(self):
        return rollover_records(self.config)

    def publish(self, records, dnssec=""):
        self.zone.serve([("_%d._tcp.%s." % (port, HOSTNAME), "TLSA", data)
                         for port, data in records], dnssec=dnssec)

    def check(self, *args):
        return postfix_tls(self.config, "check-server-tlsa", "-n", self.zone.nameserver,
                           "-p", "25,465,587", "-s", self.address, *args)

    def stop(self):
        self.zone.stop()
        self.postfix.stop()


@pytest.fixture(scope="module")
def host():
    with scratch_base("postfix-tls-dane.") as base:
        host = Host(base)
        try:
            yield host
        finally:
            host.stop()


def everything(host, keys=None):
    keys = keys or (host.rsa, host.ecdsa, host.next_rsa)
    return [(port, data) for (port, keyfile), data in host.records().items() if keyfile in keys]


def test_the_resolvers_port_is_no_port_a_client_may_hold():
    """The test resolver's port lies below the kernel's ephemeral range:
    a port handed out by bind(0) was, in one CI run, a client connection's
    local port by the time unbound bound it, and unbound exited 1."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as stream:
        ephemeral = int(stream.read().split()[0])
    ports = [free_port() for _ in range(50)]
    assert all(port < ephemeral for port in ports), ports


# ----- records for every port

def test_output_server_tlsa_gives_a_record_per_port(host):
    status, out, err = postfix_tls(host.config, "output-server-tlsa", "-p", "25,465,587")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "; " + host.rsa and lines[4] == "; " + host.ecdsa
    owners = [line.split()[0] for line in lines if " IN TLSA 3 1 1 " in line]
    assert owners == ["_%d._tcp.%s." % (port, HOSTNAME) for port in PORTS] * 2


def test_output_server_tlsa_json_says_which_key_is_deployed(host):
    status, out, err = postfix_tls(host.config, "--json", "output-server-tlsa", "-p", "465",
                                   host.next_rsa, "ecdsa")
    assert status == 0, err
    records = json.loads(out)
    assert [(record["key_file"], record["algorithm"], record["deployed"], record["port"])
            for record in records] == [(host.next_rsa, "rsa", False, 465),
                                       (host.ecdsa, "ecdsa", True, 465)]
    assert set(records[0]) == {"owner", "host", "port", "usage", "selector", "matching_type",
                               "data", "key_file", "algorithm", "deployed"}


def test_records_agree_with_gnutls_danetool(host):
    """An independent computation of the "3 1 1" data of the deployed RSA key."""
    certificate = host.rsa.replace("key-", "cert-")
    danetool = subprocess.run(["danetool", "--tlsa-rr", "--load-certificate", certificate,
                               "--host", HOSTNAME, "--port", "587"],
                              stdout=subprocess.PIPE, universal_newlines=True).stdout
    status, out, err = postfix_tls(host.config, "output-server-tlsa", "-p", "587", host.rsa)
    ours = out.splitlines()[1].split()
    assert danetool.split() == ours[:3] + ["(", "03", "01", "01", ours[-1], ")"]


def test_bad_ports_are_refused(host):
    status, out, err = postfix_tls(host.config, "output-server-tlsa", "-p", "25,smtp")
    assert status == 1
    assert "invalid -p value: 25,smtp: expected ports, comma-separated" in err


# ----- the rollover

def test_rollover_shows_deployed_and_next_keys_and_the_rrset(host):
    status, out, err = postfix_tls(host.config, "output-server-tlsa-rollover", "-p", "25,465")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[:4] == [
        "; rsa: deployed " + host.rsa,
        "; rsa: next " + host.next_rsa,
        "; ecdsa: deployed " + host.ecdsa,
        "; ecdsa: no next key yet: postfix-tls -c %s new-server-key -a ecdsa" % host.config,
    ]
    records = [line for line in lines if " IN TLSA 3 1 1 " in line]
    assert len(records) == 6 and len(set(line.split()[-1] for line in records)) == 3


# ----- check-server-tlsa

def test_check_passes_when_dns_and_server_agree_and_the_next_key_is_published(host):
    host.publish(everything(host))
    status, out, err = host.check()
    assert status == 0, out + err
    assert out.splitlines()[0].startswith("OK: DNS and the live server match")
    live = [line for line in out.splitlines() if line.startswith("live ")]
    assert len(live) == 6  # three ports, two algorithms
    assert all("DANE verification: OK" in line for line in live)
    assert "live %s port 465 ecdsa: presents %s;" % (POSTFIX_ADDRESS, host.ecdsa) in out
    assert "live %s port 587 rsa: presents %s;" % (POSTFIX_ADDRESS, host.rsa) in out
    assert "the next keys are published (TTL 300 s)" in out


def test_check_json(host):
    host.publish(everything(host))
    status, out, err = postfix_tls(host.config, "--json", "check-server-tlsa", "-n",
                                   host.zone.nameserver, *CHECK)
    document = json.loads(out)
    assert status == 0 and document["ok"] is True and document["problems"] == []
    assert [entry["validated"] for entry in document["dns"]] == [False] * 3  # no DNSSEC here
    assert all(live["dane_verified"] for live in document["live"])


def test_check_reports_a_validated_answer_from_a_signed_zone(host):
    host.publish(everything(host), dnssec="signed")
    status, out, err = postfix_tls(host.config, "--json", "check-server-tlsa", "-n",
                                   host.zone.nameserver, *CHECK)
    document = json.loads(out)
    assert status == 0 and document["problems"] == [], out + err
    assert [entry["validated"] for entry in document["dns"]] == [True] * 3
    assert not any("not DNSSEC-validated" in note for note in document["notes"])
    status, out, err = host.check()
    assert status == 0
    for port in (25, 465, 587):
        owner = "_%d._tcp.%s." % (port, HOSTNAME)
        assert "dns %s: 3 record(s), TTL " % owner in out
        assert out.count("dns %s: 3 record(s), TTL " % owner) == 1
        assert re.search(r"dns %s: 3 record\(s\), TTL (300|29\d), DNSSEC-validated: yes\n"
                         % re.escape(owner), out)
        for server, address in AUTHORITIES:
            assert "dns %s at %s.%s. (%s): the same 3 record(s), TTL 300\n" % (
                owner, server, ZONE, address) in out
        # The wait is the zone's TTL, not what the resolver's cache has left.
        assert "note: %s: the next keys are published (TTL 300 s)" % owner in out


def test_check_fails_while_a_nameserver_serves_an_older_rrset(host):
    # ns2 missed the update that added the next key's records.
    current = everything(host, keys=(host.rsa, host.ecdsa))
    host.zone.serve([("_%d._tcp.%s." % (port, HOSTNAME), "TLSA", data)
                     for port, data in everything(host)],
                    lagging=[("_%d._tcp.%s." % (port, HOSTNAME), "TLSA", data)
                             for port, data in current])
    status, out, err = host.check()
    assert status == 1
    problems = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert problems == [
        "nameserver ns2.%s. (127.0.0.6) serves another _%d._tcp.%s. TLSA RRset (2 record(s):"
        " 1 missing, 0 extra): every nameserver must serve the same before a key is deployed"
        " (zone transfer, serial?)" % (ZONE, port, HOSTNAME) for port in (25, 465, 587)]
    assert "at ns2.%s. (127.0.0.6): ANOTHER RRSET, 2 record(s), TTL 300" % ZONE in out


def test_check_fails_on_a_bogus_answer(host):
    # Signed, but the resolver's trust anchor is another key: it answers
    # SERVFAIL, as DANE senders' resolvers would; they then defer mail.
    host.publish(everything(host), dnssec="bogus")
    status, out, err = host.check()
    assert status == 1
    problems = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert len(problems) == 3
    assert all(problem.startswith("DNS lookup of _") for problem in problems), problems


def test_check_follows_a_cname_to_the_nameservers_of_its_target(host):
    # One RRset for every port, as RFC 7671 allows: _465 and _587 are CNAMEs.
    owner = "_25._tcp.%s." % HOSTNAME
    host.zone.serve([(owner, "TLSA", data) for port, data in everything(host) if port == 25]
                    + [("_%d._tcp.%s." % (port, HOSTNAME), "CNAME", owner)
                       for port in (465, 587)])
    status, out, err = host.check()
    assert status == 0, out
    for port in (465, 587):
        assert "dns _%d._tcp.%s. at ns2.%s. (127.0.0.6): the same 3 record(s), TTL 300\n" % (
            port, HOSTNAME, ZONE) in out


def test_check_notes_a_nameserver_it_cannot_ask(host):
    host.publish(everything(host))
    host.zone.stop_nameserver(1)  # ns2; the resolver asks ns1
    status, out, err = postfix_tls(host.config, "check-server-tlsa", "-n", host.zone.nameserver,
                                   "-p", "25", "-s", host.address)
    assert status == 0, out  # what cannot be seen from here is not a failure
    assert "note: _25._tcp.%s.: nameserver ns2.%s. (127.0.0.6) could not be asked: " % (
        HOSTNAME, ZONE) in out
    assert "dns _25._tcp.%s. at ns1.%s. (127.0.0.4): the same 3 record(s), TTL 300\n" % (
        HOSTNAME, ZONE) in out


def test_check_notes_nameservers_it_cannot_find(host):
    host.zone.serve([("_%d._tcp.%s." % (port, HOSTNAME), "TLSA", data)
                     for port, data in everything(host)], addresses=False)
    status, out, err = host.check()
    assert status == 0, out
    assert "note: _25._tcp.%s.: the zone's nameservers were not found (no address for " \
        "ns1.%s., ns2.%s.): only the resolver's answer was checked\n" % (HOSTNAME, ZONE, ZONE) \
        in out
    assert " at ns1." not in out


def test_check_fails_until_the_next_key_is_published(host):
    host.publish(everything(host, keys=(host.rsa, host.ecdsa)))
    status, out, err = host.check()
    assert status == 1
    problems = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert len(problems) == 3
    assert problems[0].startswith("publish _25._tcp.%s. IN TLSA 3 1 1 " % HOSTNAME)
    assert problems[0].endswith("for the next key %s, and wait for the old RRset's TTL to "
                                "pass, before deploying it" % host.next_rsa)


def test_check_fails_on_a_wrong_record(host):
    records = everything(host)
    rsa = host.records()[(25, host.rsa)]
    records = [(port, data) for port, data in records if not (port == 25 and data == rsa)]
    wrong = "3 1 1 " + "00" * 32
    host.publish(records + [(25, wrong)])
    status, out, err = host.check()
    assert status == 1
    assert "publish _25._tcp.%s. IN TLSA %s for the deployed key %s" % (
        HOSTNAME, rsa, host.rsa) in out
    assert "remove stale _25._tcp.%s. IN TLSA %s" % (HOSTNAME, wrong) in out
    assert "%s port 25 (rsa): openssl's DANE verification failed" % POSTFIX_ADDRESS in out
    assert "live %s port 465 rsa: presents %s; DANE verification: OK" % (
        POSTFIX_ADDRESS, host.rsa) in out


def test_check_fails_when_a_port_has_no_records(host):
    host.publish([(port, data) for port, data in everything(host) if port != 587])
    status, out, err = host.check()
    assert status == 1
    assert out.count("publish _587._tcp.%s." % HOSTNAME) == 3  # two deployed, one next


def test_check_traces_its_openssl_commands_and_runs_in_a_dry_run(host):
    host.publish(everything(host))
    status, out, err = postfix_tls(host.config, "--dry-run", "--trace", "check-server-tlsa",
                                   "-n", host.zone.nameserver, "-p", "465", "-s",
                                   POSTFIX_ADDRESS)
    assert status == 0, out + err
    assert "+ timeout 30 openssl s_client -connect %s:465 -sigalgs " % POSTFIX_ADDRESS in err
    assert "-dane_ee_no_namechecks -dane_tlsa_domain %s -dane_tlsa_rrdata '3 1 1 " % (
        HOSTNAME) in err
    assert "+ openssl x509 -pubkey -noout 2>/dev/null <<'EOF' | openssl pkey" in err
    assert "(dry run: not run)" not in err


def test_check_without_dnspython_says_what_to_install(host, tmp_path):
    result = subprocess.run(ours_argv(["-c", host.config, "check-server-tlsa"]),
                            env={"PATH": POSTFIX_PATH,
                                 "PYTHONPATH": no_dnspython(str(tmp_path))},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 1
    assert "check-server-tlsa needs dnspython: apt-get install python3-dnspython" in \
        result.stderr


def test_check_with_dnspython_before_2_0_says_what_to_install(host, tmp_path):
    result = subprocess.run(ours_argv(["-c", host.config, "check-server-tlsa"]),
                            env={"PATH": POSTFIX_PATH,
                                 "PYTHONPATH": old_dnspython(str(tmp_path))},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 1
    assert "fatal: check-server-tlsa needs dnspython 2.0 or later, not 1.16.0: pip install " \
        "'dnspython>=2.0' (Debian 11 and later: python3-dnspython)" in result.stderr


@pytest.mark.parametrize("standin, said", [
    (no_dnspython, "publishing TLSA records needs dnspython: apt-get install python3-dnspython"
     " (or pip install dnspython): nothing changed"),
    (old_dnspython, "publishing TLSA records needs dnspython 2.0 or later, not 1.16.0: pip"
     " install 'dnspython>=2.0' (Debian 11 and later: python3-dnspython): nothing changed")],
    ids=["none", "1.16"])
def test_publish_without_dnspython_2_says_what_to_install(host, tmp_path, standin, said):
    """As check-server-tlsa (before: 1.16 gave a traceback, and no
    dnspython was said to be check-server-tlsa's need)."""
    keyfile = str(tmp_path / "tsig.key")
    with open(keyfile, "w") as stream:
        stream.write("hmac-sha256:mx-update:%s\n" % ("QUJD" * 11))
    result = subprocess.run(ours_argv(["-c", host.config, "publish-server-tlsa", "-K", keyfile,
                                       "-n", host.zone.nameserver]),
                            env={"PATH": POSTFIX_PATH, "PYTHONPATH": standin(str(tmp_path))},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_check_fails_on_a_key_deployed_before_its_record_was_published():
    """The classic DANE outage, reproduced: the next key deployed and
    reloaded while DNS still has only the old key's records."""
    # Not under pytest's basetemp: the postfix user must reach it, and pytest
    # makes its base 0700 again whenever a session starts.
    base = tempfile.mkdtemp(prefix="postfix-tls-dane.")
    os.chmod(base, 0o755)
    # The module's instance has 127.0.0.2, its nameservers 127.0.0.4 and .6.
    host = Host(base, address="127.0.0.3",
                authorities=(("ns1", "127.0.0.7"), ("ns2", "127.0.0.8")))
    try:
        host.publish(everything(host, keys=(host.rsa, host.ecdsa)))
        old_record = host.records()[(25, host.rsa)]
        new_key = host.next_rsa
        status, out, err = postfix_tls(host.config, "deploy-server-cert",
                                       new_key.replace("key-", "cert-"), new_key)
        assert status == 0, err
        host.postfix.restart()
        status, out, err = host.check()
        assert status == 1
        assert "live 127.0.0.3 port 25 rsa: presents %s; DANE verification: no matching " \
               "DANE TLSA records" % new_key in out
        assert "publish _25._tcp.%s. IN TLSA 3 1 1 " % HOSTNAME in out
        assert "for the deployed key %s" % new_key in out
        assert "remove stale _25._tcp.%s. IN TLSA %s" % (HOSTNAME, old_record) in out
        assert "127.0.0.3 port 25 (rsa): openssl's DANE verification failed (no matching " \
               "DANE TLSA records)" in out
    finally:
        host.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_rollover_with_k_names_the_next_key(host):
    status, out, err = postfix_tls(host.config, "--json", "output-server-tlsa-rollover",
                                   "-k", host.next_rsa)
    assert status == 0, err
    keys = json.loads(out)["keys"]
    assert [(key["algorithm"], key["role"], key["keyfile"]) for key in keys] == [
        ("rsa", "deployed", host.rsa), ("ecdsa", "deployed", host.ecdsa),
        ("rsa", "staged", host.next_rsa)]


SILENT_ADDRESS = "127.0.0.5"


def test_check_gives_up_on_a_server_that_says_nothing(host):
    # A peer that accepts the connection (the kernel does, from the backlog)
    # and never greets: s_client would wait for ever without timeout(1).
    with socket.socket() as silent:
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind((SILENT_ADDRESS, 25))
        silent.listen(8)
        status, out, err = postfix_tls(host.config, "--trace", "check-server-tlsa", "-n",
                                       host.zone.nameserver, "-p", "25", "-s", SILENT_ADDRESS,
                                       "-t", "2")
    assert status == 1
    line = "  no TLS from %s port 25: no answer within 2 s (-t 2)\n" % SILENT_ADDRESS
    assert out.count(line) == 2  # once per deployed algorithm (ECDSA, RSA)
    assert "+ timeout 2 openssl s_client -connect %s:25 -starttls smtp " % SILENT_ADDRESS in err


@pytest.mark.parametrize("seconds", ["0", "3601", "2s", "\u0662"])
def test_check_refuses_a_bad_t(host, seconds):
    status, out, err = host.check("-t", seconds)
    assert status == 1 and out == ""
    assert "fatal: invalid -t value: %s: expected seconds, 1 to 3600" % seconds in err


# OpenSSL 1.0.2 (CentOS 7): its s_client has no -dane_tlsa_domain.
OLD_OPENSSL = """#!/bin/sh
case "$1 $*" in
version*) echo "OpenSSL 1.0.2k-fips  26 Jan 2017"; exit 0;;
*" -dane_tlsa_domain "*) echo "$*" >> %(log)s; echo "unknown option -dane_tlsa_domain" >&2
    echo "usage: s_client args" >&2; exit 1;;
esac
exec %(openssl)s "$@"
"""


def test_check_with_openssl_before_1_1_0_checks_dns_and_says_what_is_missing(host, tmp_path):
    host.publish(everything(host))
    bin_directory, rejected = tmp_path / "bin", tmp_path / "rejected.log"
    bin_directory.mkdir()
    wrapper = bin_directory / "openssl"
    wrapper.write_text(OLD_OPENSSL % {"log": rejected, "openssl": shutil.which("openssl")})
    wrapper.chmod(0o755)
    status, out, err = postfix_tls(host.config, "check-server-tlsa", "-n", host.zone.nameserver,
                                   *CHECK, path="%s:%s" % (bin_directory, POSTFIX_PATH))
    assert status == 1, out + err
    assert not rejected.exists()  # never asked for what it lacks
    lines = out.splitlines()
    assert lines[:2] == ["1 problem(s):", "  the live server's DANE verification was not run:"
                         " openssl is OpenSSL 1.0.2k-fips  26 Jan 2017, and s_client"
                         " -dane_tlsa_domain needs OpenSSL 1.1.0 or later (put a newer openssl"
                         " first on PATH, or set openssl_path on Postfix 3.1+); the DNS records"
                         " and the presented keys were checked"]
    # The DNS half ran, and the live server still shows which key it presents.
    assert sum(line.startswith("dns _") and "3 record(s)" in line for line in lines) >= 3
    assert "live %s port 465 ecdsa: presents %s; DANE verification: not run" % (
        POSTFIX_ADDRESS, host.ecdsa) in lines
    assert len([line for line in lines if line.startswith("live ")]) == 6


def sha512_record(keyfile):
    """The "3 1 2" record of keyfile's key: SHA-512 of its DER public key."""
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha512", "-r"], input=der,
                            stdout=subprocess.PIPE, check=True).stdout.split()[0].decode()
    return "3 1 2 " + digest


def test_check_accepts_3_1_2_records_and_leaves_2_1_2_alone(host):
    """SHA-512 of the key ("3 1 2") is as valid as SHA-256 ("3 1 1"): port 25
    has only those; a "2 1 2" (an issuer's, which keys cannot tell) is not stale."""
    records = [(port, sha512_record(keyfile) if port == 25 else data)
               for port, data, keyfile in ((port, data, keyfile) for (port, keyfile), data
                                           in host.records().items())
               if keyfile in (host.rsa, host.ecdsa, host.next_rsa)]
    host.publish(records + [(25, "2 1 2 " + "ab" * 64)])
    status, out, err = host.check()
    assert status == 0, out + err
    assert "live %s port 25 rsa: presents %s; DANE verification: OK" % (
        POSTFIX_ADDRESS, host.rsa) in out
    assert "live %s port 25 ecdsa: presents %s; DANE verification: OK" % (
        POSTFIX_ADDRESS, host.ecdsa) in out
    # A "3 1 2" of no known key is stale, as a "3 1 1" is.
    wrong = "3 1 2 " + "00" * 64
    host.publish(records + [(25, wrong)])
    status, out, err = host.check()
    assert status == 1
    assert "remove stale _25._tcp.%s. IN TLSA %s" % (HOSTNAME, wrong) in out


def test_check_passes_a_certificate_that_does_not_name_the_host(host):
    """RFC 7672 3.1.1: with DANE-EE(3) records an SMTP client checks no
    names (Postfix's does not), so neither does the check: here the MX
    host mx2 is served mail's certificate (before: openssl's default name
    check said "hostname mismatch" and the check failed)."""
    other = "mx2." + ZONE
    records = [(port, data) for port, data in everything(host)]
    host.zone.serve([("_%d._tcp.%s." % (port, other), "TLSA", data)
                     for port, data in records])
    status, out, err = host.check("-h", other)
    assert status == 0, out + err
    live = [line for line in out.splitlines() if line.startswith("live ")]
    assert len(live) == 6 and all("DANE verification: OK" in line for line in live), out
    # A record of no key served still fails: names are all that is skipped.
    host.zone.serve([("_%d._tcp.%s." % (port, other), "TLSA", "3 1 1 " + "00" * 32)
                     for port in PORTS])
    status, out, err = host.check("-h", other)
    assert status == 1, out + err
