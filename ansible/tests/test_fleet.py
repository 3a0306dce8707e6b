"""make test-ansible: ansible-playbook managing a fleet of scratch Postfix
configurations on this machine, each an inventory host with
ansible_connection=local and its own config_directory, through the
collection's module and the postfix-tls command of this checkout.

Sequence: check mode (changed reported, every directory byte-identical),
real run (changed), second real run (unchanged), and a failure on one host
(a bad host name) that leaves the others done and itself untouched.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS = os.path.join(REPO, "ansible")
PLAYBOOK = os.path.join(COLLECTIONS, "ansible_collections", "postfix_tls", "tls", "playbooks",
                        "enable-tls.yml")
POSTFIX_TLS = os.path.join(REPO, ".venv", "bin", "postfix-tls")
HOSTS = ("mx1", "mx2", "mx3")

NEW_KEY = """---
- hosts: mail
  gather_facts: false
  tasks:
    - postfix_tls.tls.postfix_tls:
        command: new-server-key
        hostnames: ["{{ names[inventory_hostname] }}"]
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable }}"
"""


def snapshot(directory):
    state = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, "rb") as stream:
            state[name] = (os.stat(path).st_mode, stream.read())
    return state


@pytest.fixture
def fleet(tmp_path):
    """Three scratch configurations and an inventory naming them."""
    directories = {}
    for host in HOSTS:
        directory = tmp_path / host
        directory.mkdir()
        shutil.copy(os.path.join(REPO, "demo", "main.cf"), str(directory / "main.cf"))
        if os.path.exists("/etc/postfix/master.cf"):
            shutil.copy("/etc/postfix/master.cf", str(directory))
        past = time.time() - 60  # Postfix programs pause while main.cf is new
        os.utime(str(directory / "main.cf"), (past, past))
        directories[host] = str(directory)
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[mail]\n" + "".join(
        "%s ansible_connection=local ansible_python_interpreter=%s config_directory=%s "
        "postfix_tls_hostname=%s.example.com\n" % (host, sys.executable, directories[host], host)
        for host in HOSTS) + "\n[mail:vars]\npostfix_tls_executable=[\"%s\"]\n" % POSTFIX_TLS)
    return str(inventory), directories


def playbook(inventory, *args, playbook_file=PLAYBOOK):
    """ansible-playbook with the json callback: (exit status, its report)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback"),
               ANSIBLE_STDOUT_CALLBACK="json_report", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    result = subprocess.run([ansible_playbook, "-i", inventory, playbook_file] + list(args),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=600)
    assert result.stdout.strip().startswith("{"), result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


def task(report, name):
    for play in report["plays"]:
        for entry in play["tasks"]:
            if entry["task"]["name"] == name:
                return entry["hosts"]
    raise KeyError(name)


ENABLE = "Enable TLS in the SMTP server (a new ECDSA key, when nothing is set yet)"


def test_fleet_check_then_run_then_run_again_then_one_failure(fleet, tmp_path):
    inventory, directories = fleet
    before = dict((host, snapshot(path)) for host, path in directories.items())

    # Check mode: the plan says "changed", nothing changes anywhere.
    status, report = playbook(inventory, "--check", "--diff")
    assert status == 0
    enabled = task(report, ENABLE)
    for host in HOSTS:
        assert enabled[host]["changed"] is True
        assert any(setting.startswith("smtpd_tls_eckey_file = ")
                   for setting in enabled[host]["settings"])
        assert all(record["dry_run"] or "argv" not in record or record["returncode"] is not None
                   for record in enabled[host]["commands"])
        assert "smtpd_tls_security_level = may" in enabled[host]["diff"]["after"]
        assert snapshot(directories[host]) == before[host]
    assert all(stats["changed"] == 1 for stats in report["stats"].values())

    # The real run changes every host, and returns what ran and the records.
    status, report = playbook(inventory)
    assert status == 0
    enabled = task(report, ENABLE)
    tlsa = task(report, "TLSA records for every SMTP port")
    for host in HOSTS:
        assert enabled[host]["changed"] is True
        created = [os.path.basename(path) for path in enabled[host]["created"]]
        assert sorted(name.split("-")[0] for name in created) == ["eccert", "eckey"]
        assert sorted(created) == sorted(set(os.listdir(directories[host])) -
                                         set(before[host]))
        assert any(record.get("argv", [None, None])[1:2] == ["-e"]
                   for record in enabled[host]["commands"])
        assert [record["port"] for record in tlsa[host]["tlsa"]] == [25, 465, 587]
        assert tlsa[host]["tlsa"][0]["owner"] == "_25._tcp.%s.example.com." % host
        assert tlsa[host]["tlsa"][0]["deployed"] is True
        assert tlsa[host]["changed"] is False
    after_first = dict((host, snapshot(path)) for host, path in directories.items())

    # A second run: enable-server sees TLS configured and changes nothing.
    status, report = playbook(inventory)
    assert status == 0
    enabled = task(report, ENABLE)
    for host in HOSTS:
        assert enabled[host]["changed"] is False
        assert "Non-default SMTP server TLS settings detected" in " ".join(
            enabled[host]["messages"])
        assert snapshot(directories[host]) == after_first[host]
    assert all(stats["changed"] == 0 for stats in report["stats"].values())

    # One host with a bad name: it fails, untouched; the others are done.
    new_key = tmp_path / "new-key.yml"
    new_key.write_text(NEW_KEY)
    status, report = playbook(inventory, "-e", "@" + str(_bad_name_for(tmp_path, "mx2")),
                              playbook_file=str(new_key))
    assert status == 2  # a host failed
    results = report["plays"][0]["tasks"][0]["hosts"]
    assert results["mx2"]["failed"] is True
    assert results["mx2"]["msg"].startswith("invalid hostname: bad/name.example.com")
    assert snapshot(directories["mx2"]) == after_first["mx2"]
    for host in ("mx1", "mx3"):
        assert results[host]["changed"] is True and not results[host].get("failed")
        assert len(os.listdir(directories[host])) == len(after_first[host]) + 2


def _bad_name_for(tmp_path, bad_host):
    """Extra vars giving one host an invalid name (a host var would win over
    -e otherwise: so the play reads it per host from this map)."""
    path = tmp_path / "names.json"
    names = dict((host, "%s.example.com" % host) for host in HOSTS)
    names[bad_host] = "bad/name.example.com"
    path.write_text(json.dumps({"names": names}))
    return path
