"""make install-dropin / uninstall-dropin (python -m postfix_tls.packaging.dropin)."""

import os
import subprocess
import sys

import pytest

from postfix_tls import __version__
from postfix_tls.packaging import dropin

from support import UPSTREAM, write_main_cf

ORIGINAL = "#!/bin/sh\necho upstream\n"


def read(path):
    with open(path) as stream:
        return stream.read()


@pytest.fixture
def daemon_directory(tmp_path):
    directory = tmp_path / "daemon"
    directory.mkdir()
    script = directory / "postfix-tls-script"
    script.write_text(ORIGINAL)
    script.chmod(0o750)
    return str(directory)


def test_install_keeps_the_original_once_with_its_mode(daemon_directory):
    target = os.path.join(daemon_directory, "postfix-tls-script")
    kept = target + ".upstream"
    dropin.install(daemon_directory, python="/opt/venv/bin/python")
    assert read(kept) == ORIGINAL
    assert os.stat(kept).st_mode & 0o7777 == 0o750
    assert read(target).startswith("#!/opt/venv/bin/python\n" + dropin.MARK)
    assert os.stat(target).st_mode & 0o7777 == 0o750
    dropin.install(daemon_directory, python="/other/python")  # again: the kept copy stays
    assert read(kept) == ORIGINAL
    assert read(target).startswith("#!/other/python\n")


def test_an_existing_kept_copy_is_never_overwritten(daemon_directory):
    kept = os.path.join(daemon_directory, "postfix-tls-script.upstream")
    with open(kept, "w") as stream:
        stream.write("the first original\n")
    said = dropin.install(daemon_directory, python=sys.executable)
    assert "left as it is" in said
    assert read(kept) == "the first original\n"


def test_uninstall_restores_the_original(daemon_directory):
    target = os.path.join(daemon_directory, "postfix-tls-script")
    dropin.install(daemon_directory, python=sys.executable)
    dropin.uninstall(daemon_directory)
    assert read(target) == ORIGINAL
    assert os.stat(target).st_mode & 0o7777 == 0o750
    assert not os.path.exists(target + ".upstream")


def test_uninstall_refuses_a_script_that_is_not_ours(daemon_directory):
    with pytest.raises(dropin.DropinError):
        dropin.uninstall(daemon_directory)
    assert read(os.path.join(daemon_directory, "postfix-tls-script")) == ORIGINAL


def test_install_where_the_script_is_missing(tmp_path):
    directory = str(tmp_path)
    dropin.install(directory, python=sys.executable)
    target = os.path.join(directory, "postfix-tls-script")
    assert os.stat(target).st_mode & 0o7777 == 0o755
    assert not os.path.exists(target + ".upstream")
    assert "removed" in dropin.uninstall(directory)
    assert not os.path.exists(target)


def test_command_line_reports_errors(tmp_path):
    result = subprocess.run([sys.executable, "-m", "postfix_tls.packaging.dropin", "install",
                             str(tmp_path / "missing")], stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 1 and "no such directory" in result.stderr


@pytest.mark.postfix
@pytest.mark.root
def test_postfix_tls_through_postfix_reaches_the_dropin(tmp_path, make_config):
    """For real: postfix(1) with a scratch daemon_directory runs our script."""
    daemon = tmp_path / "libexec"
    daemon.mkdir()
    for name in os.listdir(os.path.dirname(UPSTREAM)):
        if name != "postfix-tls-script":
            os.symlink(os.path.join(os.path.dirname(UPSTREAM), name), str(daemon / name))
    (daemon / "postfix-tls-script").write_text(read(UPSTREAM))
    (daemon / "postfix-tls-script").chmod(0o755)
    config = make_config(["daemon_directory = %s" % daemon])

    def postfix_tls(*args):
        result = subprocess.run(["postfix", "-c", config, "tls"] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True)
        return result.returncode, result.stdout

    assert postfix_tls("--version")[0] == 1  # upstream: an unknown subcommand
    subprocess.run([sys.executable, "-m", "postfix_tls.packaging.dropin", "install", str(daemon)],
                   check=True)
    assert postfix_tls("--version") == (0, "postfix-tls %s\n" % __version__)
    assert postfix_tls("all-default-client")[0] == 0
    write_main_cf(config, ["compatibility_level = 3.6", "daemon_directory = %s" % daemon,
                           "smtp_tls_security_level = may"])
    assert postfix_tls("all-default-client")[0] == 1
    subprocess.run([sys.executable, "-m", "postfix_tls.packaging.dropin", "uninstall", str(daemon)],
                   check=True)
    assert read(str(daemon / "postfix-tls-script")) == read(UPSTREAM)
    assert postfix_tls("--version")[0] == 1


def test_make_install_into_a_virtualenv(tmp_path):
    """make install VIRTUALENV=...: the package, the command, the manual page."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    venv, man = tmp_path / "venv", tmp_path / "man"
    result = subprocess.run(["make", "-C", repo, "install", "VIRTUALENV=%s" % venv,
                             "PYTHON3=%s" % sys.executable, "MANPAGE_DIRECTORY=%s" % man],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    assert result.returncode == 0, result.stdout
    version = subprocess.run([str(venv / "bin" / "postfix-tls"), "--version"],
                             stdout=subprocess.PIPE, universal_newlines=True)
    assert version.stdout == "postfix-tls %s\n" % __version__
    assert (man / "man1" / "postfix-tls-python.1").is_file()
    assert not (man / "man1" / "postfix-tls.1").exists()
