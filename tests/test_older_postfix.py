"""Standalone mode on Postfix 2.10, 2.11 and 3.4, as those releases answer.

Each release is a stand-in (tests/support/older_release.py) that runs this
machine's real postconf and postlog but answers what the release lacks as
tests/reference/older-postfix.txt recorded it: unknown parameters, no
``postconf -T`` before 3.1, its mail_version, defaults and map types.  The
same sequence of every subcommand runs on each release and on this
machine's real Postfix; each step must end and speak as it does on the
real one, and no call may ask a release for what it does not know.
"""

import os
import re
import subprocess
import time

import pytest

from support import (
    LOCK_FILE,
    MYHOSTNAME,
    POSTCONF,
    POSTFIX_PATH,
    normalise,
    older_release,
    ours_argv,
)

pytestmark = pytest.mark.postfix

HEX = re.compile(r"\b[0-9a-f]{64}\b")

# (arguments after -c DIR, exit status); {ECKEY}/{ECCERT}: new-server-key's files.
SEQUENCE = (
    (["all-default-client"], 0),
    (["all-default-server"], 0),
    (["enable-client"], 0),
    (["enable-server"], 0),
    (["all-default-client"], 1),
    (["all-default-server"], 1),
    (["new-server-key", "-a", "ecdsa"], 0),
    (["deploy-server-cert", "{ECCERT}", "{ECKEY}"], 0),
    (["output-server-csr"], 0),
    (["output-server-csr", "-k", "ecdsa"], 0),
    (["output-server-tlsa"], 0),
    (["output-server-tlsa", "-p", "25,465,587"], 0),
    (["output-server-tlsa-rollover"], 0),
    (["new-server-cert"], 0),
    (["new-server-key", "-a", "ecdsa", "-b", "notacurve"], 1),
    (["status"], 0),
    (["--json", "status"], 0),
)


def scratch(make_config, tmp_path, release):
    """A configuration whose command_directory is release's (None: the real one)."""
    if release is None:
        sbin, path = "/usr/sbin", POSTFIX_PATH
    else:
        sbin = older_release.install(str(tmp_path / ("sbin-" + release)), release)
        path = sbin + ":" + POSTFIX_PATH
    directory = make_config(["command_directory = " + sbin],
                            name="config-%s" % (release or "real"))
    return directory, sbin, {"PATH": path, "LANG": "C"}


def normalised(text, directory, sbin):
    return HEX.sub("HEX", normalise(text.replace(sbin, "$SBIN"), directory))


def run_sequence(directory, sbin, env):
    """[(argv, status, stdout, stderr)] of SEQUENCE, and main.cf afterwards."""
    results, names = [], {}
    for args, _ in SEQUENCE:
        if args[0] == "new-server-cert":
            time.sleep(1.1)  # a key named for this second exists already
        args = [arg.format(**names) for arg in args]
        result = subprocess.run(ours_argv(["-c", directory] + args), env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        results.append((args, result.returncode, result.stdout, result.stderr))
        if args[:3] == ["new-server-key", "-a", "ecdsa"] and not names:
            for prefix, name in (("eckey-", "ECKEY"), ("eccert-", "ECCERT")):
                made = sorted(n for n in os.listdir(directory) if n.startswith(prefix))
                names[name] = made[0] if made else "(not made)"
    main_cf = subprocess.run([POSTCONF, "-c", directory, "-n"], stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
    return results, main_cf


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The sequence on this machine's real Postfix, once."""
    from support import write_main_cf

    tmp_path = tmp_path_factory.mktemp("real")
    directory = str(tmp_path / "config")
    os.mkdir(directory)
    if os.path.exists("/etc/postfix/master.cf"):
        subprocess.run(["cp", "/etc/postfix/master.cf", directory], check=True)
    write_main_cf(directory, ["compatibility_level = 3.6", "myhostname = " + MYHOSTNAME,
                              "command_directory = /usr/sbin"])
    return directory, run_sequence(directory, "/usr/sbin", {"PATH": POSTFIX_PATH,
                                                             "LANG": "C"})


@pytest.mark.parametrize("release", older_release.RELEASES)
def test_every_subcommand_speaks_as_on_the_real_postfix(release, real, make_config, tmp_path):
    directory, sbin, env = scratch(make_config, tmp_path, release)
    results, main_cf = run_sequence(directory, sbin, env)
    real_directory, (real_results, real_main_cf) = real
    assert older_release.unknown_calls(sbin) == []
    for (args, status, out, err), (_, real_status, real_out, real_err), (_, expected) in zip(
            results, real_results, SEQUENCE):
        shown = " ".join(args)
        assert (status, real_status) == (expected, expected), (shown, err, real_err)
        assert "unknown parameter" not in err and "invalid option" not in err, (shown, err)
        ours, theirs = normalised(err, directory, sbin), normalised(real_err, real_directory,
                                                                    "/usr/sbin")
        assert ours == theirs, shown
        if args[0] == "output-server-csr":
            assert out.startswith("-----BEGIN CERTIFICATE REQUEST-----"), shown
        elif args[0] in ("output-server-tlsa", "output-server-tlsa-rollover"):
            assert normalised(out, directory, sbin) == normalised(
                real_out, real_directory, "/usr/sbin"), shown
            assert "IN TLSA 3 1 1" in out
    status_text = results[-2][2]
    assumed = [line for line in status_text.splitlines() if line.startswith("assumed: ")]
    if older_release.version_tuple(release) < (3, 1):
        # What postconf cannot tell is said, not guessed silently.
        assert assumed == ["assumed: Postfix %s was built with TLS, supporting rsa and ecdsa:"
                           " its postconf cannot say (postconf -T is new in Postfix 3.1); if"
                           " it was, \"ldd /usr/lib/postfix/sbin/smtpd\" names libssl"
                           % release]
    else:
        assert assumed == []
    assert [line.split(":")[0] for line in status_text.splitlines()[1:]
            if not line.startswith("assumed: ")] == [
        line.split(":")[0] for line in real_results[-2][2].splitlines()[1:]]
    # main.cf holds the same parameters (values name each run's files).
    assert sorted(line.split(" =")[0] for line in main_cf.splitlines()) == sorted(
        line.split(" =")[0] for line in real_main_cf.splitlines())
    assert "smtp_tls_session_cache_database = btree:/var/lib/postfix/smtp_scache" in main_cf


def test_the_stand_ins_answer_as_recorded(tmp_path, make_config):
    # The stand-ins themselves, against the recording: what ours relies on.
    for release in older_release.RELEASES:
        directory, sbin, env = scratch(make_config, tmp_path, release)
        env = dict(env, MAIL_CONFIG=directory)
        recording = older_release.Recording(release)
        for command in ("-x openssl_path", "-T public-key-algorithms", "-d mail_version",
                        "-x smtpd_tls_chain_files", "-m"):
            result = subprocess.run([os.path.join(sbin, "postconf")] + command.split(),
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    universal_newlines=True)
            out, err, status = recording.answer(command)
            if command == "-T public-key-algorithms" and release == "3.4.29":
                continue  # the real postconf's algorithms
            assert (result.stdout.splitlines(), result.returncode) == (out, status), command
            assert result.stderr.replace(os.path.join(sbin, "postconf"), "/usr/sbin/postconf"
                                         ).splitlines() == err, command


def test_the_releases_parameters_are_what_release_py_says(tmp_path):
    # release.py names the parameters newer than 2.10 that ours reads:
    # every other name ours asks postconf for is in each release's postconf -d.
    from postfix_tls.core import release

    asked = set()
    package = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "postfix_tls")
    for parent, _, names in os.walk(package):
        for name in names:
            if name.endswith(".py"):
                with open(os.path.join(parent, name)) as stream:
                    asked.update(re.findall(
                        r'"((?:smtpd?|tls|openssl|mail|command|daemon|data|config|syslog|my)'
                        r'_[a-z_]+)"', stream.read()))
    assert {"openssl_path", "smtpd_tls_chain_files", "smtpd_tls_eccert_file"} <= asked
    for version in older_release.RELEASES:
        known = set(older_release.Recording(version).defaults)
        lacking = set(name for name in asked if name not in known)
        expected = set(name for name, since in release.PARAMETERS_SINCE.items()
                       if older_release.version_tuple(version) < since)
        assert lacking == expected, version


@pytest.mark.parametrize("release", older_release.RELEASES)
def test_sni_before_3_4_is_refused_naming_the_release(release, make_config, tmp_path):
    """deploy-acme-cert -m sni and remove-sni-name (issue 30, item 6)."""
    directory, sbin, env = scratch(make_config, tmp_path, release)
    before = sorted(os.listdir(directory))
    for args in (["deploy-acme-cert", "-m", "sni", "key.pem", "chain.pem"],
                 ["remove-sni-name", "example.org"]):
        result = subprocess.run(ours_argv(["-c", directory] + args), env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        refusal = "tls_server_sni_maps is new in Postfix 3.4, and this is Postfix %s" % release
        assert result.returncode == 1, result.stderr
        if older_release.version_tuple(release) < (3, 4):
            assert refusal in result.stderr
        else:
            assert refusal not in result.stderr
            assert "tls_server_sni_maps is not set" in result.stderr, result.stderr
    assert older_release.unknown_calls(sbin) == []
    # Nothing but the lock file (made by the first run that locks, never written).
    assert sorted(set(os.listdir(directory)) - set([LOCK_FILE])) == before
