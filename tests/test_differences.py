"""Each deliberate difference from upstream (README.rst, "Differences from
upstream"), numbered as there.  Where upstream can be run, both sides are
asserted, so that the test fails if the difference disappears or changes.
"""

import os
import signal
import subprocess
import time

import pytest

from support import (
    POSTFIX_PATH,
    UPSTREAM,
    openssl_wrapper,
    ours_argv,
    path_with,
    postfix_environment,
    run_on_pty,
    snapshot,
)

pytestmark = pytest.mark.postfix


def both(args, env_for, make_config, main_cf=(), files=()):
    """[(status, transcript, directory, before, after)] for upstream, then ours."""
    results = []
    for argv in ([UPSTREAM] + list(args), ours_argv(args)):
        directory = make_config(main_cf, files)
        before = snapshot(directory)
        status, transcript = run_on_pty([a.replace("$DIR", directory) for a in argv],
                                        env_for(directory))
        results.append((status, transcript.replace(directory, "$CONFIG"), directory, before,
                        snapshot(directory)))
    return results


def fake_command_directory(tmp_path, postconf_script=None, postlog=True):
    """A command_directory with Postfix's programs, postconf maybe replaced."""
    directory = tmp_path / "sbin"
    directory.mkdir()
    for name in os.listdir("/usr/sbin"):
        if name.startswith("post") and (postlog or name != "postlog"):
            os.symlink(os.path.join("/usr/sbin", name), str(directory / name))
    if postconf_script is not None:
        os.unlink(str(directory / "postconf"))
        (directory / "postconf").write_text(postconf_script)
        (directory / "postconf").chmod(0o755)
    return str(directory)


FAILING_EDIT = """#!/bin/sh
case "$1" in -e) echo "postconf: fatal: simulated failure" >&2; exit 1;; esac
exec /usr/sbin/postconf "$@"
"""


# 1. Standalone mode

def test_1_standalone_mode_runs_where_upstream_refuses(make_config):
    directory = make_config(["smtpd_use_tls = yes"])
    env = {"PATH": POSTFIX_PATH, "LANG": "C"}
    upstream = subprocess.run([UPSTREAM, "all-default-server"], env=env,
                              stderr=subprocess.PIPE, universal_newlines=True)
    assert upstream.returncode == 1
    assert "This script must be run by the postfix command." in upstream.stderr
    ours = subprocess.run(ours_argv(["-c", directory, "all-default-server"]), env=env)
    assert ours.returncode == 1  # a setting is not at its default: upstream's meaning
    ours = subprocess.run(ours_argv(["-c", directory, "all-default-client"]), env=env)
    assert ours.returncode == 0


def test_1_standalone_mode_reports_a_missing_configuration_directory(tmp_path):
    env = {"PATH": POSTFIX_PATH, "LANG": "C"}
    status, transcript = run_on_pty(ours_argv(["-c", str(tmp_path / "nope"),
                                               "all-default-client"]), env)
    assert status == 1
    assert "fatal: no Postfix configuration directory %s!" % (tmp_path / "nope") in transcript


# 2. Our own options

def test_2_our_options_are_an_unknown_subcommand_upstream(make_config):
    upstream, ours = both(["--dry-run", "all-default-client"], postfix_environment, make_config)
    assert upstream[0] == 1 and "unknown tls command: '--dry-run'" in upstream[1]
    assert ours[0] == 0


def test_2_output_server_tlsa_s_is_ours_and_a_usage_error_upstream(make_config, tmp_path):
    """-S NAME: the records of the keys tls_server_sni_maps gives NAME."""
    work = str(tmp_path)
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-keyout",
                    work + "/shop.key", "-subj", "/CN=shop.example.org", "-days", "30",
                    "-out", work + "/shop.crt"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with open(work + "/shop.pem", "w") as stream:
        for name in ("shop.key", "shop.crt"):
            with open(os.path.join(work, name)) as part:
                stream.write(part.read())
    with open(work + "/sni", "w") as stream:
        stream.write("shop.example.org %s/shop.pem\n" % work)
    upstream, ours = both(["output-server-tlsa", "-S", "shop.example.org"],
                          postfix_environment, make_config,
                          main_cf=["tls_server_sni_maps = texthash:%s/sni" % work])
    assert upstream[0] == 1 and "usage: postfix tls output-server-tlsa" in upstream[1]
    assert ours[0] == 0, ours[1]
    digest = subprocess.run(
        "openssl pkey -in %s/shop.key -pubout -outform DER | openssl dgst -sha256 -r" % work,
        shell=True, stdout=subprocess.PIPE, universal_newlines=True).stdout.split()[0]
    assert "_25._tcp.shop.example.org. IN TLSA 3 1 1 " + digest in ours[1]


# 3. Host names

BAD_HOSTNAMES = ["bad/name.example", "a=b.example", "two words", "new\nline",
                 "-leading.example", "trailing-.example", "a..b", "x" * 64 + ".example",
                 "*.*.example", "dot.", "é.example", "under_score.example"]


def files_made(result):
    """The files a run made: in its snapshot after, not before."""
    return sorted(name for name in result[4] if name not in result[3])


def certificate_names(directory, name):
    return subprocess.run(["openssl", "x509", "-in", os.path.join(directory, name), "-noout",
                           "-ext", "subjectAltName"], stdout=subprocess.PIPE,
                          universal_newlines=True).stdout


@pytest.mark.parametrize("hostname", BAD_HOSTNAMES[:3])
def test_3_upstream_writes_any_hostname_into_the_certificate(hostname, make_config):
    upstream, ours = both(["new-server-key", "mail.example.com", hostname],
                          postfix_environment, make_config)
    assert upstream[0] == 0 and "self-signed certificate created" in upstream[1]
    certificate = [name for name in files_made(upstream) if name.startswith("cert-")]
    assert len(files_made(upstream)) == 2 and len(certificate) == 1
    assert "DNS:" + hostname in certificate_names(upstream[2], certificate[0])
    assert ours[0] == 1 and "fatal: invalid hostname: %s" % hostname in ours[1]
    assert ours[3] == ours[4]


def test_3_upstream_fails_late_on_a_newline_in_a_hostname(make_config):
    upstream, ours = both(["new-server-key", "mail.example.com", "new\nline"],
                          postfix_environment, make_config)
    # The newline ends up in openssl's configuration text.
    assert upstream[0] == 1 and 'Error on line 14 of config file "/dev/stdin"' in upstream[1]
    assert "fatal: error generating self-signed SSL certificate" in upstream[1]
    assert ours[0] == 1 and "fatal: invalid argument: new\\nline" in ours[1]
    assert "openssl" not in ours[1]
    assert ours[3] == ours[4]


@pytest.mark.parametrize("subcommand", ["enable-server", "new-server-key", "new-server-cert",
                                        "output-server-csr"])
@pytest.mark.parametrize("hostname", BAD_HOSTNAMES)
def test_3_bad_hostnames_are_fatal_and_nothing_is_made(subcommand, hostname, make_config,
                                                       keys):
    directory = make_config(["smtpd_tls_key_file = $DIR/key.pem"], [("key.pem", keys["rsa.key"])])
    before = snapshot(directory)
    status, transcript = run_on_pty(ours_argv([subcommand, "mail.example.com", hostname]),
                                    postfix_environment(directory))
    assert status == 1
    assert "fatal: invalid hostname: " in transcript or (
        "\n" in hostname and "fatal: invalid argument: " in transcript)
    assert snapshot(directory) == before


def test_3_a_newline_in_a_hostname_is_shown_escaped(make_config):
    directory = make_config()
    status, transcript = run_on_pty(ours_argv(["new-server-key", "a\nb.example"]),
                                    postfix_environment(directory))
    assert status == 1
    assert "fatal: invalid argument: a\\nb.example" in transcript


@pytest.mark.parametrize("hostname", ["mail.example.com", "*.example.com", "xn--bcher-kva.example",
                                      "a-b.c", "x" * 63 + ".example", "localhost"])
def test_3_good_hostnames_pass(hostname, make_config):
    directory = make_config()
    status, transcript = run_on_pty(ours_argv(["new-server-key", "mail.example.com", hostname]),
                                    postfix_environment(directory))
    assert status == 0, transcript


def test_3_tlsa_hostname_may_not_be_a_wildcard(make_config, keys):
    directory = make_config(files=[("key.pem", keys["rsa.key"])])
    status, transcript = run_on_pty(ours_argv(["output-server-tlsa", "-h", "*.example.com",
                                               "key.pem"]), postfix_environment(directory))
    assert status == 1 and "invalid hostname: *.example.com" in transcript


# 4. Option values

@pytest.mark.parametrize("args, ours_message, upstream_status, upstream_says, upstream_sets", [
    (["new-server-key", "-b", "abc"], "invalid RSA key size: abc",
     1, "fatal: error generating new rsa abc private key", []),
    (["new-server-key", "-b", "0"], "invalid RSA key size: 0",
     1, "fatal: error generating new rsa 0 private key", []),
    (["new-server-key", "-a", "ecdsa", "-b", "bad curve"], "invalid EC curve name: bad curve",
     1, "fatal: error generating new ecdsa bad curve private key", []),
    # upstream writes a random source that Postfix cannot use
    (["enable-client", "-r", "/dev/urandom"], "invalid random source: /dev/urandom",
     0, "Enabled opportunistic TLS in the Postfix SMTP client.",
     ["tls_random_source = /dev/urandom"]),
    # postconf refuses it, and upstream still exits 0
    (["enable-client", "-r", "dev:/dev/urandom\nrelayhost = evil"],
     "invalid argument: dev:/dev/urandom\\nrelayhost = evil",
     0, "postconf: fatal: -e, -X, or -# accepts no multi-line input", []),
])
def test_4_option_values_are_checked(args, ours_message, upstream_status, upstream_says,
                                     upstream_sets, make_config):
    upstream, ours = both(args, postfix_environment, make_config)
    assert upstream[0] == upstream_status and upstream_says in upstream[1]
    assert files_made(upstream) == []
    main_cf = [upstream[n]["main.cf"][1].decode().splitlines() for n in (3, 4)]
    added = [line for line in main_cf[1] if line not in main_cf[0]]
    assert all(line in added for line in upstream_sets) and (added == []) == (upstream_sets == [])
    assert ours[0] == 1 and "fatal: " + ours_message in ours[1]
    assert ours[3] == ours[4]  # nothing made, main.cf unchanged


# 5. A failing postconf -e

def test_5_failing_postconf_e_is_an_error_and_removes_what_was_made(make_config, tmp_path):
    command_directory = fake_command_directory(tmp_path, FAILING_EDIT)

    def env(directory):
        return postfix_environment(directory, {"command_directory": command_directory})

    upstream, ours = both(["enable-client"], env, make_config)
    assert upstream[0] == 0  # upstream: the pipeline's status is postlog's
    assert ours[0] == 1
    assert "fatal: error updating $CONFIG/main.cf: postconf -e failed" in ours[1]
    upstream, ours = both(["enable-server"], env, make_config)
    assert upstream[0] == 1 and ours[0] == 1
    assert len(upstream[4]) == len(upstream[3]) + 2  # upstream keeps key and certificate
    assert ours[4] == ours[3]  # ours removes them; main.cf unchanged
    assert "postconf -e failed" in ours[1] and "postconf -e failed" not in upstream[1]


# 6. A failing digest in output-server-tlsa

def test_6_failing_tlsa_digest_is_reported(make_config, keys, tmp_path):
    env = wrapped_openssl(tmp_path, 'for a; do [ "$a" = -pubout ] && exit 1; done')
    upstream, ours = both(["output-server-tlsa", "key.pem"], env, make_config,
                          files=[("key.pem", keys["rsa.key"])])
    assert upstream[0] == 1 and ours[0] == 1
    assert "fatal" not in upstream[1]
    assert "fatal: error computing public key digest" in ours[1]


# 7. Exclusive key files (see also test_safety.py)

def test_7_an_existing_key_file_is_never_overwritten_or_removed(monkeypatch, fp, tmp_path):
    from postfix_tls.core import context, messages
    from postfix_tls.upstream import functions as upstream_functions

    from support.fakehost import FakeHost

    monkeypatch.setattr(upstream_functions.time, "strftime", lambda fmt, when: "20261124-101500")
    host = FakeHost(fp, str(tmp_path), monkeypatch)
    keyfile = os.path.join(host.config_directory, "key-20261124-101500.pem")
    # Another run made the key after our check: the claim fails, the file stays.
    monkeypatch.setattr(context.Tls, "is_readable", lambda self, path: False)
    with open(keyfile, "w") as stream:
        stream.write("theirs\n")
    expected = host.startup(x_reads={"myhostname": "mail.example.com"})
    expected.append(host.log("info"))
    expected.append(host.log("fatal", messages.KEY_EXISTS.format(keyfile)))
    assert host.run("new-server-key") == 1
    assert host.calls() == expected
    with open(keyfile) as stream:
        assert stream.read() == "theirs\n"


# An openssl on PATH that notes, before genrsa runs, whether its -out file
# exists already (and with which mode).
GENRSA_WITNESS = """\
if [ "$1" = genrsa ]; then
    previous=
    for arg; do
        if [ "$previous" = -out ]; then
            if [ -e "$arg" ]; then echo "exists $(stat -c %%a "$arg")"; else echo absent; fi >> %s
        fi
        previous=$arg
    done
fi"""


def wrapped_openssl(tmp_path, script):
    """An environment factory whose openssl runs script first."""
    directory = openssl_wrapper(tmp_path / "bin", script)
    return lambda config: postfix_environment(config, {"PATH": path_with(directory)})


def test_7_key_files_are_created_before_openssl_writes_them(make_config, tmp_path):
    log = tmp_path / "witness.log"
    env = wrapped_openssl(tmp_path, GENRSA_WITNESS % log)
    upstream, ours = both(["new-server-key"], env, make_config)  # upstream runs first
    assert upstream[0] == 0 and ours[0] == 0
    witnessed = log.read_text().splitlines()
    # Upstream checks -r, then lets openssl create the file; ours has made
    # it, exclusively and mode 0600, before openssl runs.
    assert witnessed == ["absent", "exists 600"]


# Certificate generation that never ends: time to send a signal.
SLOW_REQ = 'if [ "$1" = req ]; then touch %s; exec sleep 60; fi'


def test_8_an_interrupted_run_leaves_nothing_where_upstream_keeps_the_key(make_config,
                                                                          tmp_path):
    started = tmp_path / "req-started"
    env = wrapped_openssl(tmp_path, SLOW_REQ % started)
    left = []
    for argv in ([UPSTREAM], ours_argv([])):
        directory = make_config()
        before = snapshot(directory)
        process = subprocess.Popen(argv + ["new-server-key"], env=env(directory),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.time() + 30
            while not started.exists() and time.time() < deadline:
                time.sleep(0.05)
            assert started.exists(), "openssl req never started"
            process.send_signal(signal.SIGTERM)
            status = process.wait(timeout=30)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the sleeping openssl stand-in
            except ProcessLookupError:  # ours ended it already
                pass
            if started.exists():
                started.unlink()
        assert status != 0
        left.append(sorted(name for name in snapshot(directory) if name not in before))
    upstream, ours = left
    assert len(upstream) == 1 and upstream[0].startswith("key-")  # the key stays
    assert ours == []


# 12. Missing files named on the command line

@pytest.mark.parametrize("args, upstream_message, ours_message", [
    (["deploy-server-cert", "nocert.pem", "key.pem"],
     "fatal: error computing certificate public key digest",
     "fatal: no such file, or not a regular file: $CONFIG/nocert.pem"),
    (["deploy-server-cert", "cert.pem", "nokey.pem"],
     "fatal: no private key found in file: $CONFIG/nokey.pem",
     "fatal: no such file, or not a regular file: $CONFIG/nokey.pem"),
    (["output-server-csr", "-k", "nokey.pem"],
     "fatal: No usable keyfile specified or configured",
     "fatal: no such file, or not a regular file: $CONFIG/nokey.pem"),
])
def test_12_missing_files_are_named(args, upstream_message, ours_message, make_config, keys):
    upstream, ours = both(args, postfix_environment, make_config,
                          files=[("key.pem", keys["rsa.key"]), ("cert.pem", keys["rsa.crt"])])
    assert upstream[0] == 1 and upstream_message in upstream[1]
    assert ours[0] == 1 and ours_message in ours[1]
    assert ours[3] == ours[4]


# 9. Messages without postlog

def test_9_messages_reach_stderr_without_postlog(make_config, tmp_path):
    command_directory = fake_command_directory(tmp_path, postlog=False)

    def env(directory):
        return postfix_environment(directory, {"command_directory": command_directory})

    upstream, ours = both(["bogus"], env, make_config)
    assert upstream[0] == 1 and ours[0] == 1
    assert "unknown tls command" not in upstream[1]
    assert "postfix/postfix-tls-script: error: unknown tls command: 'bogus'" in ours[1]
    assert "postfix/postfix-tls-script: fatal: usage: postfix tls enable-client" in ours[1]


# 10 and 11. Fewer processes: batched reads, no shell glue

GLUE = ("od", "tr", "grep", "egrep", "expr", "cat", "date", "rm", "postconf")


def test_10_11_fewer_postconf_processes_and_no_shell_glue(make_config, tmp_path):
    wrapper = tmp_path / "glue"
    wrapper.mkdir()
    log = tmp_path / "glue.log"
    for name in GLUE:
        real = subprocess.run(["sh", "-c", "command -v " + name], stdout=subprocess.PIPE,
                              universal_newlines=True).stdout.strip() or "/usr/sbin/" + name
        (wrapper / name).write_text('#!/bin/sh\necho %s >> %s\nexec %s "$@"\n'
                                    % (name, log, real))
        (wrapper / name).chmod(0o755)
    counts = []
    for argv in ([UPSTREAM], ours_argv([])):
        log.write_text("")
        directory = make_config()
        env = postfix_environment(directory, {"command_directory": str(wrapper),
                                              "PATH": path_with(wrapper)})
        (wrapper / "postlog").exists() or os.symlink("/usr/sbin/postlog", str(wrapper / "postlog"))
        status, _ = run_on_pty(argv + ["new-server-key"], env)
        assert status == 0
        counts.append(log.read_text().split())
    upstream, ours = counts
    assert set(ours) == {"postconf"}
    assert {"od", "tr", "egrep", "expr", "date"} <= set(upstream)
    assert ours.count("postconf") < upstream.count("postconf")
