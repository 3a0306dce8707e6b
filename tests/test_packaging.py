"""make deb and make pyz: what they build, and the .pyz's drop-in.

The releases themselves (install, upgrade, remove, purge on Debian 11 and
13) are checked by ``make test-hosts`` (scripts/test_hosts.py).
"""

import os
import shutil
import subprocess
import sys

import pytest

from postfix_tls import __version__
from postfix_tls.packaging import dropin

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))

import make_dist  # noqa: E402
import test_hosts  # noqa: E402

ORIGINAL = b"#!/bin/sh\necho upstream\n"


def run(*argv, **kwargs):
    return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs)


@pytest.fixture(scope="module")
def pyz(tmp_path_factory):
    return make_dist.build_pyz(str(tmp_path_factory.mktemp("dist")))


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    return make_dist.build_deb(str(tmp_path_factory.mktemp("dist")))


def test_pyz_runs_on_the_standard_library_alone(pyz, tmp_path):
    # -I: no site-packages, no PYTHONPATH, no current directory.
    result = run(sys.executable, "-I", pyz, "--version", cwd=str(tmp_path))
    assert result.returncode == 0 and result.stdout == "postfix-tls %s\n" % __version__
    result = run(sys.executable, "-I", pyz, "--help")
    assert result.returncode == 0 and "--install-dropin" in result.stdout


def test_pyz_dropin_needs_nothing_of_the_pyz_once_installed(pyz, tmp_path):
    daemon = tmp_path / "daemon"
    daemon.mkdir()
    (daemon / "postfix-tls-script").write_bytes(ORIGINAL)
    (daemon / "postfix-tls-script").chmod(0o750)
    copy = tmp_path / "copy.pyz"
    copy.write_bytes(open(pyz, "rb").read())
    result = run(sys.executable, str(copy), "--install-dropin", str(daemon))
    assert result.returncode == 0, result.stdout
    assert "kept the original" in result.stdout
    copy.unlink()
    script = daemon / "postfix-tls-script"
    assert dropin.is_ours(str(script))
    assert os.stat(str(script)).st_mode & 0o7777 == 0o750
    env = dict(os.environ, daemon_directory=str(daemon))
    result = run(str(script), "--version", env=env, cwd="/")
    assert result.stdout == "postfix-tls %s\n" % __version__
    copy.write_bytes(open(pyz, "rb").read())
    result = run(sys.executable, str(copy), "--uninstall-dropin", str(daemon))
    assert result.returncode == 0 and "restored" in result.stdout
    assert script.read_bytes() == ORIGINAL
    assert os.stat(str(script)).st_mode & 0o7777 == 0o750
    assert not (daemon / "postfix-tls-script.upstream").exists()


def test_pyz_dropin_from_a_virtualenv_names_no_virtualenv(pyz, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    daemon = tmp_path / "daemon"
    daemon.mkdir()
    result = run(str(venv / "bin" / "python"), pyz, "--install-dropin", str(daemon))
    assert result.returncode == 0, result.stdout
    first_line = (daemon / "postfix-tls-script").read_bytes().split(b"\n")[0]
    assert first_line == b"#!/usr/bin/env python3"


def test_builds_are_reproducible(pyz, deb, tmp_path):
    assert open(make_dist.build_pyz(str(tmp_path)), "rb").read() == open(pyz, "rb").read()
    assert open(make_dist.build_deb(str(tmp_path)), "rb").read() == open(deb, "rb").read()


def test_deb_holds_the_command_the_dropin_and_the_manual_page(deb):
    assert os.path.basename(deb) == "postfix-tls_%s_all.deb" % __version__
    listing = run("dpkg-deb", "-c", deb).stdout
    for path in ("./usr/bin/postfix-tls", "./usr/lib/postfix/sbin/postfix-tls-script",
                 "./usr/share/man/man1/postfix-tls-python.1.gz",
                 "./usr/lib/python3/dist-packages/postfix_tls/cli.py"):
        assert " " + path + "\n" in listing
    assert "pyz.py" not in listing
    assert "root/root" in listing and "/home" not in listing
    depends = run("dpkg-deb", "-f", deb, "Depends").stdout.strip()
    assert depends == "python3 (>= 3.6), postfix (>= 3.1), openssl"
    assert run("dpkg-deb", "-f", deb, "Recommends").stdout.strip() == "python3-dnspython (>= 2.0)"


def test_deb_maintainer_scripts_divert_and_restore(deb, tmp_path):
    run("dpkg-deb", "-e", deb, str(tmp_path / "control"))
    for name in ("preinst", "postinst", "prerm", "postrm"):
        path = str(tmp_path / "control" / name)
        assert run("sh", "-n", path).returncode == 0
    preinst = (tmp_path / "control" / "preinst").read_text()
    postrm = (tmp_path / "control" / "postrm").read_text()
    assert "--rename --divert \"$SCRIPT.distrib\" --add \"$SCRIPT\"" in preinst
    assert "--rename --divert \"$SCRIPT.distrib\" --remove \"$SCRIPT\"" in postrm
    # purge follows remove: only remove (or an aborted install) restores.
    assert "remove|abort-install|disappear)" in postrm and "purge" not in postrm.split(
        "case")[1].split("esac")[0].replace("purge\" runs", "")


def test_apt_mirror_is_read_from_deb822_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://archive.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://archive.example/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n")
    (tmp_path / "sources.list.d" / "other.sources").write_text(
        "Types: deb\nURIs: https://vendor.example/node_20.x\nSuites: nodistro\n")
    assert test_hosts.apt_mirror(str(tmp_path)) == "http://archive.example/debian"


def test_apt_mirror_is_read_from_one_line_sources(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example/debian stretch main\n"
        "deb [arch=amd64] http://mirror.example/debian bullseye main\n")
    assert test_hosts.apt_mirror(str(tmp_path)) == "http://mirror.example/debian"


def test_no_apt_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(test_hosts.CheckFailed, match="no Debian archive"):
        test_hosts.apt_mirror(str(tmp_path))


def test_deb_ships_the_timer_disabled_and_its_options_as_a_conffile(deb, tmp_path):
    """postfix-tls-acme.service and .timer (issue 31): installed, not
    enabled (no maintainer script enables or starts them); disabled again
    on remove; /etc/default/postfix-tls-acme a conffile, not in md5sums.
    make test-hosts runs systemd-analyze verify on them in each root."""
    listing = run("dpkg-deb", "-c", deb).stdout
    for path in ("./usr/lib/systemd/system/postfix-tls-acme.service",
                 "./usr/lib/systemd/system/postfix-tls-acme.timer",
                 "./etc/default/postfix-tls-acme"):
        assert " " + path + "\n" in listing
    control = tmp_path / "control"
    run("dpkg-deb", "-e", deb, str(control))
    assert (control / "conffiles").read_text() == "/etc/default/postfix-tls-acme\n"
    assert "etc/default" not in (control / "md5sums").read_text()
    preinst = (control / "preinst").read_text()
    assert "systemctl" not in preinst and "deb-systemd" not in preinst
    # postinst, prerm and postrm: the tests after this one, by what they run.
    unpacked = tmp_path / "tree"
    run("dpkg-deb", "-x", deb, str(unpacked))
    service = (unpacked / "usr/lib/systemd/system/postfix-tls-acme.service").read_text()
    assert "ExecStart=/usr/bin/postfix-tls deploy-acme-cert $DEPLOY_ACME_CERT_OPTIONS" in service
    assert "SuccessExitStatus=75" in service
    assert "DEPLOY_ACME_CERT_OPTIONS=-p 25" in service


# ----- the timer's units and maintainer scripts, as the .deb ships them

TIMER = "postfix-tls-acme.timer"
UNITS = "usr/lib/systemd/system/"


@pytest.fixture(scope="module")
def unpacked(deb, tmp_path_factory):
    """The .deb's files and, under DEBIAN/, its control files."""
    root = tmp_path_factory.mktemp("unpacked")
    run("dpkg-deb", "-x", deb, str(root))
    run("dpkg-deb", "-e", deb, str(root / "DEBIAN"))
    return root


def service_settings(unpacked):
    """The [Service] section's settings of postfix-tls-acme.service, as
    (key, value) in order (a key may repeat)."""
    settings, section = [], None
    for line in (unpacked / UNITS / "postfix-tls-acme.service").read_text().splitlines():
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            settings.append(tuple(line.split("=", 1)))
    return settings


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_units_pass_systemd_analyze_verify(unpacked, tmp_path):
    """Not a word from systemd-analyze verify (an Environment= that it
    would split and ignore in part, too); /usr/bin/postfix-tls is not
    installed here: the service runs /bin/true instead."""
    for name in ("postfix-tls-acme.service", TIMER):
        text = (unpacked / UNITS / name).read_text()
        (tmp_path / name).write_text(text.replace("/usr/bin/postfix-tls ", "/bin/true "))
    result = run("systemd-analyze", "verify", "--man=no", str(tmp_path / TIMER),
                 str(tmp_path / "postfix-tls-acme.service"), cwd=str(tmp_path))
    assert (result.returncode, result.stdout) == (0, "")


def test_the_service_reads_acme_sh_s_home(unpacked):
    """acme.sh keeps a key made ahead under /root/.acme.sh, announced in
    acme-ALGORITHM.next: ProtectHome=true would hide it from the runs."""
    assert ("ProtectHome", "read-only") in service_settings(unpacked)
    assert ("ProtectHome", "true") not in service_settings(unpacked)


def test_a_hung_run_ends(unpacked):
    """A oneshot has no start timeout by default: a hung run would keep
    the unit active, and the timer would skip every later run."""
    assert ("TimeoutStartSec", "1h") in service_settings(unpacked)


def test_no_umask_the_command_overrides(unpacked):
    """The command sets its own umask (022, upstream's file modes) first:
    a UMask= would only mislead a reader."""
    assert not [key for key, _ in service_settings(unpacked) if key == "UMask"]


def test_the_default_options_are_the_unit_s_and_a_drop_in_can_change_them(unpacked):
    """EnvironmentFile= wins over Environment=: a default set in
    /etc/default/postfix-tls-acme would silently override a drop-in's
    Environment=.  The unit sets the default; the file only shows how."""
    settings = service_settings(unpacked)
    assert ("Environment", '"DEPLOY_ACME_CERT_OPTIONS=-p 25"') in settings
    assert settings.index(("EnvironmentFile", "-/etc/default/postfix-tls-acme")) > \
        settings.index(("Environment", '"DEPLOY_ACME_CERT_OPTIONS=-p 25"'))
    defaults = (unpacked / "etc/default/postfix-tls-acme").read_text().splitlines()
    assert not [line for line in defaults if line.strip() and not line.startswith("#")]
    assert '#DEPLOY_ACME_CERT_OPTIONS="-p 25,465,587 -K /etc/postfix/tlsa-update.key"' \
        in defaults
    assert (unpacked / "DEBIAN/conffiles").read_text() == "/etc/default/postfix-tls-acme\n"


class Host(object):
    """A maintainer script run against a scratch directory standing for
    /run, /etc and /var (the script's absolute names rewritten), with
    systemctl, deb-systemd-helper, py3compile, py3clean and dpkg-divert
    stubs that log their arguments; only rm, mv, find and grep are real."""

    PATHS = ("/run/systemd/system", "/etc/systemd/system", "/var/lib/systemd")

    def __init__(self, unpacked, root, systemd=True, helper=True):
        self.control, self.root, self.log = unpacked / "DEBIAN", root, root / "calls"
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        stubs = ["systemctl", "py3compile", "py3clean", "dpkg-divert"]
        stubs += ["deb-systemd-helper"] if helper else []
        for name in stubs:
            (self.bin / name).write_text('#!/bin/sh\necho "%s $*" >>%s\n' % (name, self.log))
            (self.bin / name).chmod(0o755)
        for name in ("rm", "mv", "find", "grep"):
            (self.bin / name).symlink_to(shutil.which(name))
        if systemd:
            self.path("/run/systemd/system").mkdir(parents=True)

    def path(self, name):
        return self.root / name.lstrip("/")

    def run(self, script, *args):
        text = (self.control / script).read_text()
        for name in self.PATHS:
            text = text.replace(name, str(self.path(name)))
        result = subprocess.run(["/bin/sh", "-c", text, script] + list(args),
                                env={"PATH": str(self.bin)}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True)
        assert result.returncode == 0, result.stdout
        calls = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.write_text("")
        return [call for call in calls if call.split()[0] in ("systemctl", "deb-systemd-helper")]

    def enable(self):
        """The link systemctl enable makes (the timer's WantedBy=)."""
        wants = self.path("/etc/systemd/system/timers.target.wants/" + TIMER)
        wants.parent.mkdir(parents=True, exist_ok=True)
        wants.symlink_to("/" + UNITS + TIMER)
        return wants


def test_install_and_upgrade_reload_systemd_and_enable_nothing(unpacked, tmp_path):
    host = Host(unpacked, tmp_path / "systemd")
    for args in (("configure",), ("configure", "0.0.1"), ("abort-upgrade", "0.0.2")):
        assert host.run("postinst", *args) == [
            "deb-systemd-helper update-state " + TIMER, "systemctl --system daemon-reload"]
    host = Host(unpacked, tmp_path / "chroot", systemd=False)
    assert host.run("postinst", "configure") == ["deb-systemd-helper update-state " + TIMER]


def test_remove_disables_the_timer_with_or_without_systemd(unpacked, tmp_path):
    host = Host(unpacked, tmp_path / "systemd")
    host.enable()
    assert host.run("prerm", "upgrade", "0.0.2") == []
    assert host.run("prerm", "remove") == ["systemctl disable --now " + TIMER]
    # No systemd running (a chroot): deb-systemd-helper removes the links
    # postinst recorded, and a link made before that goes too.
    host = Host(unpacked, tmp_path / "chroot", systemd=False)
    wants = host.enable()
    assert host.run("prerm", "remove") == ["deb-systemd-helper disable " + TIMER]
    assert not os.path.lexists(str(wants))
    host = Host(unpacked, tmp_path / "bare", systemd=False, helper=False)
    wants = host.enable()
    assert host.run("prerm", "remove") == [] and not os.path.lexists(str(wants))
    assert os.path.isdir(str(wants.parent))  # the administrator's other timers


def test_remove_reloads_systemd_and_purge_forgets_the_timer(unpacked, tmp_path):
    host = Host(unpacked, tmp_path / "systemd")
    stamp = host.path("/var/lib/systemd/timers/stamp-" + TIMER)
    stamp.parent.mkdir(parents=True)
    stamp.write_text("")
    other = stamp.parent / "stamp-apt-daily.timer"
    other.write_text("")
    assert host.run("postrm", "remove") == ["systemctl --system daemon-reload"]
    assert stamp.exists()  # a reinstall keeps the timer's schedule
    assert host.run("postrm", "purge") == ["deb-systemd-helper purge " + TIMER]
    assert not stamp.exists() and other.exists()
    host = Host(unpacked, tmp_path / "chroot", systemd=False, helper=False)
    assert host.run("postrm", "remove") == [] and host.run("postrm", "purge") == []
