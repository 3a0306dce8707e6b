"""deploy-acme-cert (ours) sent SIGTERM as each of its steps starts: what
Postfix loads is the old pair or the new, never a temporary file.  Each
parameter runs the hook some 25 times, and each interrupted run ends with
postlog -p fatal's second of sleep: so apart from test_acme.py, with a
site of its own (a scratch Postfix started by postfix(1) on 127.0.0.15,
the zone's nameservers on 127.0.0.16 and .17, no pebble: the material is
self-signed), so that make test's workers run it beside test_acme's
clients.  Needs root, Postfix, unbound and dnspython; CI installs them.
"""

import os
import signal
import subprocess
import time

import pytest
from test_acme import Site, key_digest, self_signed, served_everywhere, spki

from support import POSTFIX_PATH
from support.liveservers import scratch_base

pytestmark = [pytest.mark.postfix, pytest.mark.root]

# test_acme's site is on .10 to .12, test_acme_offline's idle Postfix on .14.
ADDRESS = "127.0.0.15"
AUTHORITIES = (("ns1", "127.0.0.16"), ("ns2", "127.0.0.17"))


@pytest.fixture(scope="module")
def site():
    with scratch_base("postfix-tls-acme-killed.") as base:
        site = Site(base, ADDRESS, AUTHORITIES, pebble=False)
        try:
            yield site
        finally:
            site.stop()


def loaded_pair(site):
    """(key digest, leaf digest) of the RSA key and certificate main.cf names."""
    values = dict(line.split(" = ", 1) for line in site.postfix.postconf(
        "-x", "smtpd_tls_key_file", "smtpd_tls_cert_file").splitlines())
    with open(values["smtpd_tls_key_file"], "rb") as stream:
        key = spki(stream.read(), "pkey")
    with open(values["smtpd_tls_cert_file"], "rb") as stream:
        leaf = spki(stream.read())
    return key, leaf


def _is_step(line):
    """--trace's line for a command starting, a file changed, or a DNS
    update sent (test_publish_rollover's)."""
    return line.startswith("+ ") and not line.startswith("+ export ") or line.startswith(
        ("# replace ", "# remove ", "# update "))


def run_killed(site, material, step):
    """The hook with --trace, sent SIGTERM as its step-th step starts (0:
    never); (status, steps, stderr)."""
    argv = site.hook_argv(*material)
    argv.insert(argv.index("deploy-acme-cert"), "--trace")
    return killed_at(argv, step)


def killed_at(argv, step):
    """argv (a run with --trace), sent SIGTERM as its step-th step starts
    (0: never); (status, steps, stderr)."""
    process = subprocess.Popen(argv, env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               universal_newlines=True)
    steps, lines = 0, []
    for line in process.stderr:
        lines.append(line)
        if _is_step(line):
            steps += 1
            if steps == step:
                process.send_signal(signal.SIGTERM)
    return process.wait(timeout=120), steps, "".join(lines)


@pytest.mark.parametrize("first", [False, True], ids=["acme-file-in-place", "first-deployment"])
def test_interrupted_at_any_step_postfix_loads_the_old_files_or_the_new(site, first):
    """SIGTERM as each command starts and after each file change: what
    Postfix loads is the old pair or the new, and never a temporary file.
    acme-file-in-place: acme-rsa.pem replaced, main.cf untouched;
    first-deployment: main.cf named the administrator's own files, and is
    edited after acme-rsa.pem is written (and put back before it goes)."""
    site.reset()
    work = os.path.join(site.base, "killed-%s" % first)
    os.makedirs(work)
    old, new = self_signed(work, "old"), self_signed(work, "new")
    old_digest, new_digest = key_digest(old[0]), key_digest(new[0])
    ours = os.path.join(site.config, "acme-rsa.pem")

    def back_to_old():
        if first:
            site.postfix.write_main_cf(["smtpd_tls_key_file = " + old[0],
                                        "smtpd_tls_cert_file = " + old[1]])
            if os.path.exists(ours):
                os.unlink(ours)
            assert site.postfix.postfix("reload").returncode == 0
        else:
            assert site.run(*old)[0] == 0

    back_to_old()
    status, steps, err = run_killed(site, new, 0)
    assert status == 0, err
    assert steps > 20, err
    back_to_old()
    outcomes = []
    for step in range(1, steps + 1):
        status, _, err = run_killed(site, new, step)
        try:
            pair = loaded_pair(site)
        except OSError as error:  # main.cf names a file that is gone
            pytest.fail("step %d: %s\n%s" % (step, error, err))
        assert pair in ((old_digest, old_digest), (new_digest, new_digest)), (step, err)
        assert not [name for name in os.listdir(site.config) if name.startswith(".")], step
        assert site.postfix.postfix("check").returncode == 0
        outcomes.append(status)
        if status == -signal.SIGTERM:  # before the handler, while it only reads
            assert pair[0] == old_digest, (step, err)
        elif status:
            assert "interrupted by signal SIGTERM" in err, (step, err)
            # Put back; unless the signal came once the new pair was served,
            # as the mail log was told (the trace lags behind the steps).
            committed = "-p info" in err
            assert pair[0] == old_digest or committed, (step, err)
            if first and not committed:
                assert not os.path.exists(ours), step  # main.cf back, then the file gone
        else:
            assert pair[0] == new_digest, (step, err)  # the signal came after the last step
        if pair[0] == new_digest or os.path.exists(ours) != (not first):
            back_to_old()
    assert outcomes.count(1) >= steps - 3, outcomes
    deadline = time.time() + 20
    while not served_everywhere(old_digest, address=site.address) and time.time() < deadline:
        time.sleep(0.5)
    assert served_everywhere(old_digest, address=site.address)
