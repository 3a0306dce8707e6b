"""make test-ansible: two hosts behind one MX name publish their keys' TLSA
records into one RRset through the collection's module, at the same time
(forks: both updates race), and neither loses the other's records: each
update requires the RRset as it read it, and a host whose prerequisite
fails reads again and adds its records to what the other wrote.

Then the same two hosts roll over twice through deploy-acme-cert -K (the
hook, then the timer's runs; their Postfix instances do not run, so no
reload and no live check): at every point the RRset holds each host's
deployed key's record, and each old record is retired.

The hosts: scratch configurations on this machine (ansible_connection=
local), each with a deployed key and a next one; the zone's primary: Knot
on 127.0.0.26 (tests/support/dnsservers.py), accepting TSIG-signed
updates of TLSA records.  Needs root (port 53), knot and knot-dnsutils.
"""

import os
import subprocess
import sys
import time

import pytest
from test_fleet import POSTFIX_TLS, REPO, playbook, scratch_configuration

sys.path.insert(0, os.path.join(REPO, "tests"))
from support.dnsservers import KnotPrimary, require_knot  # noqa: E402

PRIMARY = "127.0.0.26"
HOSTNAME = "mail.example.com"
OWNER = "_25._tcp.%s." % HOSTNAME
HOSTS = ("mx1", "mx2")

ROLL = """---
- hosts: mail
  gather_facts: false
  tasks:
    - name: new-server-key
      postfix_tls.tls.postfix_tls:
        command: new-server-key
        algorithm: rsa
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable }}"
    - name: publish-server-tlsa
      postfix_tls.tls.postfix_tls:
        command: publish-server-tlsa
        tlsa_hostname: %(hostname)s
        ports: [25]
        nameserver: %(primary)s
        primary: %(primary)s
        tsig_key_file: "%(key_file)s"
        ttl: 60
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable }}"
      register: published
"""


@pytest.fixture
def zone(tmp_path):
    require_knot()
    primary = KnotPrimary(str(tmp_path), PRIMARY)
    primary.start()
    try:
        yield primary
    finally:
        primary.stop()


def digests(directory):
    """The SPKI SHA-256 of every key file in directory (deployed and next)."""
    found = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".pem") and ("key" in name):
            der = subprocess.run(["openssl", "pkey", "-in", os.path.join(directory, name),
                                  "-pubout", "-outform", "DER"], stdout=subprocess.PIPE,
                                 check=True).stdout
            found.append(subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der,
                                        stdout=subprocess.PIPE,
                                        check=True).stdout.decode().split()[0])
    return found


def test_two_hosts_of_one_name_publish_at_once_and_keep_each_other_s_records(tmp_path, zone):
    directories, lines = {}, []
    for host in HOSTS:
        directories[host] = str(tmp_path / host)
        scratch_configuration(directories[host], "/etc/postfix/master.cf")
        subprocess.run([POSTFIX_TLS, "-c", directories[host], "enable-server", "-a", "rsa"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines.append("%s ansible_connection=local ansible_python_interpreter=%s "
                     "config_directory=%s postfix_tls_executable='[\"%s\"]'\n"
                     % (host, sys.executable, directories[host], POSTFIX_TLS))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[mail]\n" + "".join(lines))
    roll = tmp_path / "roll.yml"
    roll.write_text(ROLL % {"hostname": HOSTNAME, "primary": PRIMARY,
                            "key_file": zone.key_file})
    wanted = set()
    for _ in range(3):  # three rounds: each adds a next key per host
        status, report = playbook(str(inventory), "--forks", "2", playbook_file=str(roll))
        assert status == 0, report
        for host in HOSTS:
            wanted |= set("3 1 1 " + digest for digest in digests(directories[host]))
        records, ttl = zone.tlsa(OWNER)
        # Every key of both hosts (deployed, and each round's next key) is there.
        assert wanted <= set(records), (sorted(wanted - set(records)), report)
    hosts = [entry["hosts"] for play in report["plays"] for entry in play["tasks"]
             if entry["task"]["name"] == "publish-server-tlsa"][0]
    for host in HOSTS:
        updates = hosts[host]["dns_updates"]
        assert updates and all(update["key"].rstrip(".") == "mx-update" for update in updates)
        assert hosts[host]["changed"]


ACME = """---
- hosts: mail
  gather_facts: false
  tasks:
    - name: deploy-acme-cert
      postfix_tls.tls.postfix_tls:
        command: deploy-acme-cert
        keyfile: %(keyfile)s
        certfile: %(certfile)s
        tlsa_hostname: %(hostname)s
        ports: [25]
        nameserver: %(primary)s
        primary: %(primary)s
        tsig_key_file: "%(key_file)s"
        ttl: 2
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable }}"
"""


def self_signed(directory, name):
    keyfile, certfile = (os.path.join(directory, name + suffix) for suffix in (".key", ".crt"))
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-keyout",
                    keyfile, "-subj", "/CN=" + HOSTNAME, "-addext",
                    "subjectAltName=DNS:" + HOSTNAME, "-days", "10", "-out", certfile],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return keyfile, certfile


def key_record(path):
    """The "3 1 1" record of the (first) key in path."""
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    return "3 1 1 " + subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der,
                                     stdout=subprocess.PIPE,
                                     check=True).stdout.decode().split()[0]


def deployed(directory):
    """The record of the key Postfix would load (acme-rsa.pem), or None."""
    path = os.path.join(directory, "acme-rsa.pem")
    return key_record(path) if os.path.exists(path) else None


def test_two_hosts_of_one_name_roll_over_with_deploy_acme_cert_at_once(tmp_path, zone):
    """Two renewals each (hook runs, then timer runs, both hosts at once):
    each key is published, deployed and its predecessor retired, and at
    every point the RRset holds the record of each host's deployed key."""
    directories, lines = {}, []
    for host in HOSTS:
        directories[host] = str(tmp_path / host)
        scratch_configuration(directories[host], "/etc/postfix/master.cf")
        lines.append("%s ansible_connection=local ansible_python_interpreter=%s "
                     "config_directory=%s postfix_tls_executable='[\"%s\"]'\n"
                     % (host, sys.executable, directories[host], POSTFIX_TLS))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[mail]\n" + "".join(lines))
    values = {"hostname": HOSTNAME, "primary": PRIMARY, "key_file": zone.key_file}
    hook, timer = tmp_path / "hook.yml", tmp_path / "timer.yml"
    hook.write_text(ACME % dict(values, keyfile='"{{ config_directory }}/../{{ '
                                "inventory_hostname }}-new.key\"",
                                certfile='"{{ config_directory }}/../{{ '
                                "inventory_hostname }}-new.crt\""))
    timer.write_text(ACME % dict(values, keyfile="null", certfile="null"))
    previous = {}
    for _ in range(2):
        keys = dict((host, key_record(self_signed(str(tmp_path), "%s-new" % host)[0]))
                    for host in HOSTS)
        status, report = playbook(str(inventory), "--forks", "2", playbook_file=str(hook))
        assert status == 0, report
        records = set(zone.tlsa(OWNER)[0])
        assert set(keys.values()) <= records
        deadline = time.time() + 120
        while time.time() < deadline:
            status, report = playbook(str(inventory), "--forks", "2", playbook_file=str(timer))
            assert status == 0, report
            records = set(zone.tlsa(OWNER)[0])
            serving = [deployed(directories[host]) for host in HOSTS]
            assert set(record for record in serving if record) <= records, (serving, records)
            if serving == [keys[host] for host in HOSTS] and records == set(keys.values()):
                break
            time.sleep(1)
        assert records == set(keys.values()), (records, keys, previous)
        previous = keys
