"""Fixtures (scratch Postfix configurations, test keys) and the
differential suite's summary line; the helpers are in support/.

Integration and differential tests need Postfix (postconf, postlog) and
openssl; .ci/run installs them.  Without them these tests fail, they are
not skipped.
"""

import os
import shutil

import pytest

from support import MYHOSTNAME, UPSTREAM, needs_postfix, openssl_in, write_main_cf


@pytest.fixture
def make_config(tmp_path):
    """Factory: a scratch config directory with main.cf lines and files."""
    needs_postfix()
    counter = [0]

    def make(main_cf=(), files=(), name=None):
        counter[0] += 1
        directory = str(tmp_path / (name or "config%d" % counter[0]))
        os.mkdir(directory)
        if os.path.exists("/etc/postfix/master.cf"):
            shutil.copy("/etc/postfix/master.cf", directory)
        for target, source in files:
            shutil.copy(source, os.path.join(directory, target))
        lines = ["compatibility_level = 3.6", "myhostname = " + MYHOSTNAME]
        write_main_cf(directory, lines + [line.replace("$DIR", directory) for line in main_cf])
        return directory

    return make


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Test keys and certificates, made once with the real openssl."""
    needs_postfix()
    directory = str(tmp_path_factory.mktemp("keys"))

    openssl = openssl_in(directory)

    openssl("genrsa", "-out", "rsa.key", "2048")
    openssl("genrsa", "-out", "rsa2.key", "2048")
    openssl("ecparam", "-param_enc", "named_curve", "-genkey", "-out", "ec.key",
            "-name", "secp256r1")
    for name in ("rsa", "rsa2", "ec"):
        openssl("req", "-x509", "-new", "-key", name + ".key", "-subj", "/CN=" + MYHOSTNAME,
                "-days", "30", "-out", name + ".crt")
    openssl("genrsa", "-aes256", "-passout", "pass:secret", "-out", "encrypted.key", "2048")
    with open(os.path.join(directory, "garbage.pem"), "w") as stream:
        stream.write("this is not a key\n")
    return dict((name, os.path.join(directory, name)) for name in os.listdir(directory))


# With pytest-xdist (make test): each of these modules runs on one worker,
# in order, as its tests share live servers on loopback addresses of its
# own; every other test goes to whichever worker is free.  (Its
# xdist_group marks are not honoured with pytest 9.)
LIVE_SERVER_MODULES = ("test_acme.py", "test_acme_interrupts.py", "test_acme_next_keys.py",
                       "test_chain_files.py",
                       "test_dane.py", "test_publish.py", "test_publish_rollover.py",
                       "test_sni_deploy.py")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, when installed
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class LiveServerModules(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            return module if os.path.basename(module) in LIVE_SERVER_MODULES else nodeid

    return LiveServerModules(config, log)


# The differential scenarios' verdicts, counted from their reports: with
# pytest-xdist the tests run in workers, and only reports reach this process.
DIFFERENTIAL = {"identical": 0, "listed": 0, "failed": 0}


def pytest_runtest_logreport(report):
    verdicts = [value for name, value in report.user_properties if name == "differential"]
    if report.when == "call" and verdicts:
        if not report.passed:
            DIFFERENTIAL["failed"] += 1
        else:
            DIFFERENTIAL[verdicts[-1]] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    total = sum(DIFFERENTIAL.values())
    if total:
        terminalreporter.write_line(
            "differential: %d scenarios against %s: %d identical, %d identical but for "
            "differences listed in README.rst, %d different"
            % (total, UPSTREAM, DIFFERENTIAL["identical"], DIFFERENTIAL["listed"],
               DIFFERENTIAL["failed"]))
