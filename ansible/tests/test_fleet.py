"""make test-ansible: ansible-playbook managing a fleet through the
collection's module.  Its hosts:

- mx1, mx2, mx3: scratch Postfix configurations on this machine, each an
  inventory host with ansible_connection=local and its own config_directory,
  run with the postfix-tls command of this checkout;
- the Debian release roots of make test-hosts (POSTFIX_TLS_ANSIBLE_ROOTS:
  Debian 11, 13 and 14), through community.general's chroot connection, with
  the release's python3 and Postfix and the .deb of make deb installed
  there: its postfix-tls on PATH, as on a real host.

Sequence: check mode (changed reported, every directory byte-identical),
real run (changed), status and all-default-server (verdicts are data, not
failures), second real run (unchanged), and a failure on one host (a bad
host name) that leaves the others done and itself untouched.

Needs root (chroot, mounts) and the roots, which make test-ansible builds.
"""

import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from test_hosts import READY, WORK, Root  # noqa: E402  (the roots as test-hosts uses them)

OURS = os.path.join(REPO, "ansible")
COLLECTIONS = os.pathsep.join([OURS, os.path.join(sys.prefix, "collections")])  # and
# community.general, which make test-ansible unpacks into the virtualenv
ROOTS = os.environ.get("POSTFIX_TLS_HOSTS_ROOTS", "/var/tmp/postfix-tls-hosts")
RELEASES = tuple(os.environ.get("POSTFIX_TLS_ANSIBLE_ROOTS", "bullseye trixie forky").split())
FLEET_DIRECTORY = "/etc/postfix-fleet"  # the scratch configuration inside each root
# The interpreter of the module on mx3: an old one with the oldest ansible-core.
MX3_PYTHON = os.environ.get("POSTFIX_TLS_ANSIBLE_MX3_PYTHON") or sys.executable
PLAYBOOK = os.path.join(OURS, "ansible_collections", "postfix_tls", "tls", "playbooks",
                        "enable-tls.yml")
POSTFIX_TLS = os.path.join(REPO, ".venv", "bin", "postfix-tls")
LOCAL_HOSTS = ("mx1", "mx2", "mx3")
HOSTS = LOCAL_HOSTS + RELEASES

NEW_KEY = """---
- hosts: mail
  gather_facts: false
  tasks:
    - postfix_tls.tls.postfix_tls:
        command: new-server-key
        hostnames: ["{{ names[inventory_hostname] }}"]
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable | default(['postfix-tls']) }}"
"""

# The DANE gate, where nothing answers: no resolver on port 1, no server on
# 127.0.0.9.  It must fail, with the problems in msg (in the roots, with the
# release's own dnspython, which the .deb recommends: 2.0.0 on Debian 11).
GATE = """---
- hosts: mail
  gather_facts: false
  tasks:
    - name: check-server-tlsa
      postfix_tls.tls.postfix_tls:
        command: check-server-tlsa
        ports: [25]
        tlsa_hostname: "{{ postfix_tls_hostname }}"
        nameserver: "127.0.0.1:1"
        address: 127.0.0.9
        timeout: 5
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable | default(['postfix-tls']) }}"
      ignore_errors: true
"""

HEALTH = """---
- hosts: mail
  gather_facts: false
  tasks:
    - name: facts
      ansible.builtin.setup:
        gather_subset: [min]
    - name: status
      postfix_tls.tls.postfix_tls:
        command: status
        warning_days: 30
        critical_days: 7
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable | default(['postfix-tls']) }}"
    - name: rollover
      postfix_tls.tls.postfix_tls:
        command: output-server-tlsa-rollover
        ports: [25, 465]
        tlsa_hostname: "{{ postfix_tls_hostname }}"
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable | default(['postfix-tls']) }}"
    - name: all-default-server
      postfix_tls.tls.postfix_tls:
        command: all-default-server
        config_directory: "{{ config_directory }}"
        executable: "{{ postfix_tls_executable | default(['postfix-tls']) }}"
"""


def snapshot(directory):
    state = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, "rb") as stream:
            state[name] = (os.stat(path).st_mode, stream.read())
    return state


def scratch_configuration(directory, master_cf):
    """demo/main.cf (no TLS yet, fine for Postfix 3.5 and later) and master.cf."""
    os.makedirs(directory)
    shutil.copy(os.path.join(REPO, "demo", "main.cf"), os.path.join(directory, "main.cf"))
    shutil.copy(master_cf, directory)
    past = time.time() - 60  # Postfix programs pause while main.cf is new
    os.utime(os.path.join(directory, "main.cf"), (past, past))


@pytest.fixture
def roots():
    """The release roots, mounted as make test-hosts does, each with the .deb
    installed and a scratch configuration; afterwards, neither is left."""
    assert os.geteuid() == 0, "the chroot hosts need root: run make test-ansible as root"
    debs = sorted(glob.glob(os.path.join(REPO, "dist", "postfix-tls_*_all.deb")))
    assert debs, "no .deb in dist/: make test-ansible makes it (make deb)"
    with contextlib.ExitStack() as stack:
        found = {}
        for release in RELEASES:
            root = Root(release, ROOTS)
            assert os.path.exists(root.host("/" + READY)), \
                "no %s root in %s: make test-ansible builds it" % (release, ROOTS)
            stack.enter_context(root.mounted())
            stack.callback(_clear, root)
            _clear(root)
            os.makedirs(root.host(WORK))
            shutil.copy(debs[-1], root.host(WORK))
            root.run("apt-get", "install", "-y", "-q", WORK + "/" + os.path.basename(debs[-1]))
            # Its Recommends too, as apt installs them: the release's own dnspython.
            root.run("dpkg-query", "-W", "python3-dnspython")
            scratch_configuration(root.host(FLEET_DIRECTORY),
                                  root.host("/etc/postfix/master.cf"))
            found[release] = root
        yield found


def _clear(root):
    root.purge("postfix-tls")
    for path in (FLEET_DIRECTORY, WORK):
        shutil.rmtree(root.host(path), ignore_errors=True)


@pytest.fixture
def fleet(tmp_path, roots):
    """The scratch configurations and the roots, and an inventory naming them."""
    directories, lines = {}, []
    for host in LOCAL_HOSTS:
        directories[host] = str(tmp_path / host)
        scratch_configuration(directories[host], "/etc/postfix/master.cf")
        lines.append("%s ansible_connection=local ansible_python_interpreter=%s "
                     "config_directory=%s postfix_tls_executable='[\"%s\"]'"
                     % (host, MX3_PYTHON if host == "mx3" else sys.executable,
                        directories[host], POSTFIX_TLS))
    for release, root in roots.items():
        directories[release] = root.host(FLEET_DIRECTORY)
        lines.append("%s ansible_connection=community.general.chroot ansible_host=%s "
                     "ansible_python_interpreter=/usr/bin/python3 config_directory=%s"
                     % (release, root.path, FLEET_DIRECTORY))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[mail]\n" + "".join(
        "%s postfix_tls_hostname=%s.example.com\n" % (line, line.split()[0])
        for line in lines))
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


def failures(report):
    """What failed, per task and host: the message of a failed assertion."""
    return [(entry["task"]["name"], host, result.get("msg"))
            for play in report["plays"] for entry in play["tasks"]
            for host, result in entry["hosts"].items() if result.get("failed")]


def task(report, name):
    for play in report["plays"]:
        for entry in play["tasks"]:
            if entry["task"]["name"] == name:
                return entry["hosts"]
    raise KeyError(name)


ENABLE = "Enable TLS in the SMTP server (a new ECDSA key, when nothing is set yet)"


def test_fleet_check_then_run_then_run_again_then_one_failure(fleet, roots, tmp_path):
    inventory, directories = fleet
    before = dict((host, snapshot(path)) for host, path in directories.items())

    # Check mode: the plan says "changed", nothing changes anywhere.
    status, report = playbook(inventory, "--check", "--diff")
    assert status == 0, failures(report)
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
    assert status == 0, failures(report)
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

    # Verdicts are data: status says WARNING (the certificates name the
    # hosts, not main.cf's myhostname), all-default-server says no; neither
    # fails a task (Ansible fails any result with a non-zero rc).
    health = tmp_path / "health.yml"
    health.write_text(HEALTH)
    status, report = playbook(inventory, playbook_file=str(health))
    assert status == 0, failures(report)
    pythons = dict((host, "%(major)d.%(minor)d" % facts["ansible_facts"]["ansible_python"]
                        ["version"]) for host, facts in task(report, "facts").items())
    assert pythons["mx3"] == _version_of(MX3_PYTHON)
    assert pythons["mx1"] == "%d.%d" % sys.version_info[:2]
    for release, root in roots.items():  # the release's own python3
        assert pythons[release] == root.run("/usr/bin/python3", *VERSION).strip()
    for host in HOSTS:
        verdict = task(report, "status")[host]
        assert not verdict.get("failed") and "rc" not in verdict
        assert verdict["status"]["verdict"] == "WARNING", verdict["status"]
        assert verdict["status"]["exit_status"] == 1
        [problem] = [problem["text"] for problem in verdict["status"]["problems"]]
        assert problem.startswith("ecdsa certificate %s/eccert-" % FLEET_DIRECTORY
                                  if host in RELEASES else "ecdsa certificate /")
        assert problem.endswith(" does not name myhostname mail.example.com "
                                "(it names %s.example.com)" % host)
        rollover = task(report, "rollover")[host]
        [key] = rollover["rollover"]["keys"]
        assert (key["algorithm"], key["role"]) == ("ecdsa", "deployed")
        assert key["keyfile"].startswith(
            (FLEET_DIRECTORY if host in RELEASES else directories[host]) + "/eckey-")
        assert [(record["owner"], record["role"], record["data"])
                for record in rollover["rollover"]["records"]] == [
            ("_%d._tcp.%s.example.com." % (port, host), "deployed", key["digest"])
            for port in (25, 465)]
        assert rollover["changed"] is False
        default = task(report, "all-default-server")[host]
        assert default["all_default"] is False and not default.get("failed")
        assert snapshot(directories[host]) == after_first[host]

    # The DANE gate fails the task, with the problems it found.
    gate = tmp_path / "gate.yml"
    gate.write_text(GATE)
    status, report = playbook(inventory, playbook_file=str(gate))
    assert status == 0  # ignore_errors
    for host, checked in task(report, "check-server-tlsa").items():
        assert checked["failed"] is True and checked["changed"] is False
        assert checked["msg"].startswith(  # one DNS problem, one live (ECDSA only)
            "2 problem(s): DNS lookup of _25._tcp.%s.example.com. TLSA failed: " % host)
        assert checked["msg"].endswith("; no TLS from 127.0.0.9 port 25: no TLS handshake "
                                       "with 127.0.0.9 port 25")
        assert checked["dane_check"]["ok"] is False
        assert snapshot(directories[host]) == after_first[host]

    # A second run: enable-server sees TLS configured and changes nothing.
    status, report = playbook(inventory)
    assert status == 0, failures(report)
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
    for host in HOSTS:
        if host == "mx2":
            continue
        assert results[host]["changed"] is True and not results[host].get("failed")
        assert len(os.listdir(directories[host])) == len(after_first[host]) + 2


VERSION = ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]


def _version_of(python):
    return subprocess.check_output([python] + VERSION, universal_newlines=True).strip()


def _bad_name_for(tmp_path, bad_host):
    """Extra vars giving one host an invalid name (a host var would win over
    -e otherwise: so the play reads it per host from this map)."""
    path = tmp_path / "names.json"
    names = dict((host, "%s.example.com" % host) for host in HOSTS)
    names[bad_host] = "bad/name.example.com"
    path.write_text(json.dumps({"names": names}))
    return path
