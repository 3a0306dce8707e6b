"""deploy-acme-cert (ours) on a scratch Postfix that is never started
(no pebble, no live server): signals during the DNS step, staged keys
that cannot be deployed, certificates about to expire, dehydrated's
arguments.  Apart from test_acme.py so that they run beside its live
servers (make test's workers); the instance's address, 127.0.0.14, is
one nothing listens on.  Needs root and Postfix; CI installs them.
"""

import os
import signal
import socket
import subprocess
import time

import pytest
from test_acme import self_signed, snapshot

from support import POSTFIX_PATH, no_dnspython, old_dnspython, openssl_in, ours_argv
from support.liveservers import HOSTNAME, ScratchPostfix, scratch_base

pytestmark = [pytest.mark.postfix, pytest.mark.root]

ADDRESS = "127.0.0.14"  # never started: test_acme's Postfix is on .10


@pytest.fixture
def idle():
    """A scratch Postfix configuration (its own queue and data directories),
    never started: deploy-acme-cert says it is not running, and deploys."""
    with scratch_base("postfix-tls-acme-idle.") as base:
        yield ScratchPostfix(base, ADDRESS)


def idle_run(idle, *args, options=()):
    """deploy-acme-cert on the idle instance: (status, stdout, stderr)."""
    result = subprocess.run(ours_argv(["-c", idle.config] + list(options) + [
        "deploy-acme-cert", "-s", ADDRESS] + list(args)), env={"PATH": POSTFIX_PATH},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


SILENT_NAMESERVER = "127.0.0.13"  # the zone's are .11 and .12


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_dns_step_ends_the_run_at_once_and_deploys_nothing(idle, signum):
    """The resolver (-n) never answers; the signal comes once it has been
    asked.  dnspython catches Exception around each query: the interrupt
    must not be one, or the run goes on, stages or deploys, and exits 0."""
    work = os.path.join(idle.base, "work")
    os.makedirs(work)
    material = self_signed(work, "new")
    before = snapshot(idle.config)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((SILENT_NAMESERVER, 0))
        silent.settimeout(60)
        argv = ours_argv(["-c", idle.config, "deploy-acme-cert", "-s", ADDRESS, "-n",
                          "%s:%d" % silent.getsockname()] + list(material))
        # SIGINT as from a terminal: a test run started in the background
        # (sh without job control) would pass SIGINT on ignored.
        process = subprocess.Popen(argv, env={"PATH": POSTFIX_PATH}, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   universal_newlines=True, preexec_fn=lambda: signal.signal(
                                       signal.SIGINT, signal.SIG_DFL))
        try:
            silent.recvfrom(4096)  # the first TLSA query: the DNS step has begun
            sent = time.time()
            process.send_signal(signum)
            out, err = process.communicate(timeout=60)
            seconds = time.time() - sent
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 1, out + err
    assert "interrupted by signal %s" % signal.Signals(signum).name in err
    # postlog -p fatal sleeps a second by design; the rest is the run ending,
    # which a loaded machine (make test's workers) stretches: 3 s was seen.
    # A run that went on would take the resolver's 10 s lifetime.
    assert seconds < 6, seconds
    assert snapshot(idle.config) == before


@pytest.mark.parametrize("standin, said", [
    (no_dnspython, "deploy-acme-cert needs dnspython to check the TLSA records of a new key:"
     " apt-get install python3-dnspython: nothing deployed"),
    (old_dnspython, "deploy-acme-cert needs dnspython 2.0 or later to check the TLSA records"
     " of a new key, not 1.16.0: pip install 'dnspython>=2.0' (Debian 11 and later:"
     " python3-dnspython): nothing deployed")], ids=["none", "1.16"])
def test_a_new_key_without_dnspython_2_is_refused_in_words(idle, tmp_path, standin, said):
    """Its gate needs dnspython 2.0 (Resolver.resolve()), as check-server-tlsa
    does; before, Debian 10's 1.16 gave a traceback."""
    work = os.path.join(idle.base, "work")
    os.makedirs(work)
    material = self_signed(work, "new")
    before = snapshot(idle.config)
    result = subprocess.run(ours_argv(["-c", idle.config, "deploy-acme-cert", "-s", ADDRESS]
                                      + list(material)),
                            env={"PATH": POSTFIX_PATH, "PYTHONPATH": standin(str(tmp_path))},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert snapshot(idle.config) == before


# ----- a staged key concerns its own algorithm only

def dated(directory, name, start, end, algorithm="ecdsa", key=None):
    """(keyfile, certfile): a self-signed certificate valid from start to end
    (openssl ca's YYYYmmddHHMMSSZ), of a new key or of key."""
    run = openssl_in(directory)
    with open(os.path.join(directory, name + ".cnf"), "w") as stream:
        stream.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s.index\nnew_certs_dir = .\n"
                     "serial = %s.serial\ndefault_md = sha256\npolicy = p\n"
                     "copy_extensions = copy\n[p]\ncommonName = supplied\n" % (name, name))
    open(os.path.join(directory, name + ".index"), "w").close()
    with open(os.path.join(directory, name + ".serial"), "w") as stream:
        stream.write("01\n")
    new_key = (["-key", key] if key else ["-nodes", "-keyout", name + ".key", "-newkey"] + (
        ["rsa:2048"] if algorithm == "rsa" else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]))
    run("req", "-new", *new_key, "-subj", "/CN=" + HOSTNAME, "-addext",
        "subjectAltName=DNS:" + HOSTNAME, "-out", name + ".csr")
    run("ca", "-batch", "-config", name + ".cnf", "-selfsign", "-keyfile", key or name + ".key",
        "-in", name + ".csr", "-out", name + ".crt", "-notext", "-startdate", start,
        "-enddate", end)
    return key or os.path.join(directory, name + ".key"), os.path.join(directory, name + ".crt")


def stamp(seconds_from_now):
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + seconds_from_now))


def joined(*paths):
    text = ""
    for path in paths:
        with open(path) as stream:
            text += stream.read()
    return text


def renewal_setup(idle):
    """The administrator's RSA pair loaded (legacy parameters), and its
    renewal: the same key, a new certificate (no DNS step)."""
    work = os.path.join(idle.base, "work")
    os.makedirs(work, exist_ok=True)
    keyfile, certfile = self_signed(work, "admin")
    idle.write_main_cf(["smtpd_tls_key_file = " + keyfile, "smtpd_tls_cert_file = " + certfile])
    renewed = dated(work, "renewed", stamp(-60), stamp(60 * 86400), key=keyfile)
    return work, renewed


def write_staged(idle, text, algorithm="ecdsa"):
    path = os.path.join(idle.config, "acme-%s.staged.pem" % algorithm)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
        stream.write(text)
    return path


def test_an_expired_staged_key_is_removed_and_the_other_algorithm_deployed(idle):
    work, renewed = renewal_setup(idle)
    staged = write_staged(idle, joined(*dated(work, "expired", "20200101000000Z",
                                              "20200201000000Z")))
    status, out, err = idle_run(idle, *renewed)
    assert status == 0, err
    assert "rsa: deployed into %s/acme-rsa.pem (the key is the one deployed)" % idle.config \
        in out
    assert "warning: ecdsa: the key staged in %s is removed, not deployed: certificate 1 in" \
        " %s (CN=%s) expired on 2020-02-01" % (staged, staged, HOSTNAME) in err
    assert not [name for name in os.listdir(idle.config) if ".staged." in name]


def corrupt_staged(work, kind):
    """The text of a staged file that can no longer be deployed, by kind."""
    if kind == "garbage":
        return "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"
    if kind == "no-key":
        return joined(self_signed(work, "nokey", "ecdsa")[1])
    if kind == "mismatch":
        return joined(self_signed(work, "one", "ecdsa")[0], self_signed(work, "two", "ecdsa")[1])
    if kind == "rsa-key":
        return joined(*self_signed(work, "rsa-in-ecdsa", "rsa"))
    assert kind == "not-yet-valid"
    return joined(*dated(work, "future", stamp(86400), stamp(90 * 86400)))


@pytest.mark.parametrize("kind", ["garbage", "no-key", "mismatch", "rsa-key", "not-yet-valid"])
def test_a_corrupt_staged_key_is_moved_aside_and_the_other_algorithm_deployed(idle, kind):
    work, renewed = renewal_setup(idle)
    text = corrupt_staged(work, kind)
    staged = write_staged(idle, text)
    status, out, err = idle_run(idle, *renewed)
    assert status == 0, err
    assert "rsa: deployed into %s/acme-rsa.pem" % idle.config in out
    aside = [name for name in os.listdir(idle.config) if ".staged." in name]
    assert len(aside) == 1 and aside[0].startswith("acme-ecdsa.staged.pem.corrupt-"), aside
    path = os.path.join(idle.config, aside[0])
    assert "warning: ecdsa: the key staged in %s cannot be deployed, and was moved aside to" \
        " %s (look at it, then remove it): " % (staged, path) in err
    with open(path) as stream:
        assert stream.read() == text  # never lost
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_dry_run_only_says_it_would_move_a_corrupt_staged_key_aside(idle):
    work, renewed = renewal_setup(idle)
    staged = write_staged(idle, corrupt_staged(work, "mismatch"))
    before = snapshot(idle.config)
    status, out, err = idle_run(idle, *renewed, options=["--dry-run", "--trace"])
    assert status == 0, err
    assert "+ mv %s %s.corrupt-" % (staged, staged) in err
    assert "# (dry run: not run)" in err
    assert snapshot(idle.config) == before


@pytest.mark.parametrize("kind", ["garbage", "expired"])
def test_rollover_and_check_go_on_with_a_staged_key_that_cannot_be_deployed(idle, kind):
    work, renewed = renewal_setup(idle)
    text = corrupt_staged(work, "garbage") if kind == "garbage" else joined(*dated(
        work, "expired", "20200101000000Z", "20200201000000Z"))
    staged = write_staged(idle, text)
    argv = ["-c", idle.config, "output-server-tlsa-rollover"]
    result = subprocess.run(ours_argv(argv), env={"PATH": POSTFIX_PATH},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "; rsa: deployed %s" % os.path.join(work, "admin.key") in result.stdout
    assert "; ecdsa: next" not in result.stdout
    assert "warning: ecdsa: the key staged in %s is not taken as the next key: " % staged \
        in result.stderr
    # Nothing answers at 127.0.0.13: DNS and the live server are problems, reported.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind((SILENT_NAMESERVER, 0))
        port = closed.getsockname()[1]
    argv = ["-c", idle.config, "check-server-tlsa", "-n", "%s:%d" % (SILENT_NAMESERVER, port),
            "-s", SILENT_NAMESERVER, "-t", "2"]
    result = subprocess.run(ours_argv(argv), env={"PATH": POSTFIX_PATH},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert result.returncode == 1
    assert "fatal" not in result.stderr, result.stderr
    assert "problem(s):" in result.stdout
    assert "the key staged in %s is not taken as the next key" % staged in result.stderr
    with open(staged) as stream:
        assert stream.read() == text  # read-only: left for deploy-acme-cert


# ----- wrong words: a certificate about to expire, dehydrated's arguments

def test_a_certificate_expiring_within_the_margin_is_refused_unless_e_allows_it(idle):
    work, renewed = renewal_setup(idle)
    soon = dated(work, "soon", stamp(-60), stamp(2 * 86400), key=renewed[0])
    before = snapshot(idle.config)
    status, out, err = idle_run(idle, *soon)
    assert status == 1
    assert "certificate 1 in %s (CN=%s) expires on " % (soon[1], HOSTNAME) in err
    assert ", within 7 days: nothing deployed, the old certificate stays" in err
    assert snapshot(idle.config) == before
    status, out, err = idle_run(idle, "-e", "3", *soon)
    assert status == 1 and "within 3 days: nothing deployed" in err
    status, out, err = idle_run(idle, "-e", "7d", *soon)
    assert status == 1 and "fatal: invalid -e value: 7d: expected days, 0 to 3650" in err
    assert snapshot(idle.config) == before
    status, out, err = idle_run(idle, "-e", "1", *soon)
    assert status == 0, err
    assert "rsa: deployed into" in out
    assert "warning: certificate 1 in %s (CN=%s) expires on " % (soon[1], HOSTNAME) in err
    assert "within 7 days: deployed, as -e 1 allows" in err


@pytest.mark.parametrize("call", [["deploy_cert"], ["deploy_cert", HOSTNAME],
                                  ["deploy_cert", HOSTNAME, "/k.pem", "/c.pem"]])
def test_dehydrated_deploy_cert_with_too_few_arguments_fails(idle, call):
    status, out, err = idle_run(idle, *call)
    assert status == 1
    assert "fatal: dehydrated's deploy_cert call needs DOMAIN KEYFILE CERTFILE FULLCHAINFILE" \
        " (then CHAINFILE TIMESTAMP), not: %s: nothing deployed" % " ".join(call) in err


