"""make test-hosts: the .deb and the .pyz on real Debian releases.

    python scripts/test_hosts.py [--dist DIST] [--roots DIR] RELEASE...

For each release, a minimal root made by debootstrap (kept in DIR and
reused), with proc, dev, dev/pts and sys mounted while it is used:

1. the .deb installed with that release's apt; ``postfix tls --version``,
   run through postfix(1), reaches ours;
2. the differential suite run inside the root: ours (the installed drop-in)
   against that release's own script, at its diverted name;
3. systemd-analyze verify of the timer's units (installed disabled);
   deploy-acme-cert into tls_server_sni_maps of the release's default
   database type (cdb on Debian 14), read back with postmap -Fq and
   status, then remove-sni-name (Postfix does not run in the root);
4. ``apt-get install --reinstall postfix`` and an upgrade of postfix (its
   own .deb repacked with a higher version, installed with dpkg): ours is
   still what ``postfix tls`` runs, the original still beside it;
5. ``apt-get remove`` and ``apt-get purge``, and a purge straight from
   installed: the original is back each time, byte for byte;
6. the .pyz with the release's python3: ``output-server-tlsa`` on a scratch
   configuration equal to the original script's; ``--install-dropin``
   reaches ours through postfix(1) after the .pyz is gone, and
   ``--uninstall-dropin`` puts the original back.

Prints ``RELEASE: N scenarios identical, M listed differences, K other``
per release; exits 1 when any check failed.  Needs root, debootstrap and
the network path to the Debian archive this machine's apt uses.
"""

import argparse
import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import sys
import time

from plumbum import ProcessExecutionError, local

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = "/usr/lib/postfix/sbin/postfix-tls-script"
DIVERTED = SCRIPT + ".distrib"
# systemd: its systemd-analyze verifies the timer's units (forky's minbase
# has it already).
INCLUDE = "postfix,openssl,python3,ca-certificates,util-linux,python3-pytest,systemd"
# A release newer than this machine's debootstrap knows: the script of
# sid, which forky's archive layout follows.
DEBOOTSTRAP_SCRIPTS = {"forky": "/usr/share/debootstrap/scripts/sid"}
READY = ".postfix-tls-root"  # written once debootstrap has finished
WORK = "/tmp/postfix-tls"  # inside the root
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SUMMARY = re.compile(r"differential: (\d+) scenarios .*?: (\d+) identical, (\d+) identical "
                     r"but for differences listed in README.rst, (\d+) different")


class CheckFailed(Exception):
    pass


def apt_mirror(sources_dir="/etc/apt"):
    """The Debian archive URI this machine's apt uses (not security, not others)."""
    files = sorted(glob.glob(os.path.join(sources_dir, "sources.list.d", "*.sources")))
    files += [os.path.join(sources_dir, "sources.list")]
    files += sorted(glob.glob(os.path.join(sources_dir, "sources.list.d", "*.list")))
    for path in files:
        try:
            with open(path) as stream:
                text = stream.read()
        except OSError:
            continue
        for uri, suites in _entries(path, text):
            if "-security" not in suites and uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    raise CheckFailed("no Debian archive found in %s/sources.list{,.d}" % sources_dir)


def _entries(path, text):
    """(uri, suites) of each "deb" entry, one-line or deb822 format."""
    if path.endswith(".sources"):
        for stanza in text.split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines()
                          if ":" in line and not line.startswith(("#", " ")))
            fields = dict((name.strip(), value.strip()) for name, value in fields.items())
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled") != "no":
                for uri in fields.get("URIs", "").split():
                    yield uri, fields.get("Suites", "")
        return
    for line in text.splitlines():
        words = [word for word in line.split() if not word.startswith("[")]
        if len(words) >= 3 and words[0] == "deb":
            yield words[1], words[2]


def sha256(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


class Root(object):
    def __init__(self, release, directory):
        self.release = release
        self.path = os.path.join(directory, release)

    def host(self, path):
        """A path inside the root, as seen from outside."""
        return self.path + path

    def ensure(self, mirror):
        if os.path.exists(os.path.join(self.path, READY)):
            return "reused"
        building = self.path + ".tmp"
        shutil.rmtree(building, ignore_errors=True)
        started = time.time()
        script = DEBOOTSTRAP_SCRIPTS.get(self.release)
        local["debootstrap"]("--variant=minbase", "--include=" + INCLUDE, self.release,
                             building, mirror, *([script] if script else []))
        os.rename(building, self.path)
        with open(os.path.join(self.path, READY), "w") as stream:
            stream.write("debootstrap %s %s\n" % (self.release, mirror))
        return "built in %.0f s" % (time.time() - started)

    @contextlib.contextmanager
    def mounted(self):
        mounts = []
        try:
            # /sys with what is mounted under it (rbind: /sys/fs/cgroup, which
            # systemd-analyze needs), as a slave: an unmount here stays here.
            for kind, source, target in (("proc", "proc", "/proc"), ("bind", "/dev", "/dev"),
                                         ("bind", "/dev/pts", "/dev/pts"),
                                         ("rbind", "/sys", "/sys")):
                args = ["-t", "proc", "proc"] if kind == "proc" else ["--" + kind, source]
                local["mount"](*(args + [self.host(target)]))
                mounts.append(self.host(target))
                if kind == "rbind":
                    local["mount"]("--make-rslave", self.host(target))
            shutil.copy("/etc/resolv.conf", self.host("/etc/resolv.conf"))
            yield self
        finally:
            for target in reversed(mounts):
                local["umount"]("-l", target)

    def _command(self, argv, env):
        """argv inside the root, with a clean environment plus env."""
        clean = ["PATH=" + PATH, "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive",
                 "HOME=/root"] + ["%s=%s" % item for item in sorted(env.items())]
        return local["chroot"][self.path, "/usr/bin/env", "-i"][clean][argv]

    def run(self, *argv, **env):
        """Run argv inside the root; its stdout (a failure raises)."""
        return self._command(argv, env)()

    def call(self, *argv, **env):
        """(status, stdout, stderr) of argv inside the root."""
        return self._command(argv, env).run(retcode=None)

    def purge(self, package):
        """apt-get purge the package, if it is installed."""
        if self.call("dpkg", "-s", package)[0] == 0:
            self.run("apt-get", "purge", "-y", "-q", package)


def check(condition, what):
    if not condition:
        raise CheckFailed(what)
    print("  ok: " + what)
    sys.stdout.flush()


class HostTest(object):
    def __init__(self, root, deb, pyz):
        self.root = root
        self.deb = deb
        self.pyz = pyz
        self.original = None

    # ----- steps

    def reset(self):
        """Leave the root as debootstrap made it: no package of ours, no drop-in."""
        root = self.root
        root.purge("postfix-tls")
        kept = root.host(SCRIPT + ".upstream")
        if os.path.exists(kept):
            os.replace(kept, root.host(SCRIPT))
        shutil.rmtree(root.host(WORK), ignore_errors=True)
        os.makedirs(root.host(WORK))
        for path in (self.deb, self.pyz):
            shutil.copy(path, root.host(WORK))
        shutil.copytree(os.path.join(REPO, "tests"), root.host(WORK + "/tests"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(os.path.join(REPO, "README.rst"), root.host(WORK))  # differences listed
        # The original, as Debian's postfix package ships it (its md5sums).
        md5 = hashlib.md5(open(root.host(SCRIPT), "rb").read()).hexdigest()
        with open(root.host("/var/lib/dpkg/info/postfix.md5sums")) as stream:
            listed = [line.split()[0] for line in stream if line.split()[1] == SCRIPT[1:]]
        check(listed == [md5], "%s is Debian's original (md5sums)" % SCRIPT)
        self.original = sha256(root.host(SCRIPT))

    def postfix_tls_version(self):
        status, out, err = self.root.call("postfix", "tls", "--version")
        return out.strip() if status == 0 else "exit %d: %s" % (status, (out + err).strip())

    def install_deb(self):
        root = self.root
        deb = WORK + "/" + os.path.basename(self.deb)
        root.run("apt-get", "install", "-y", "-q", deb)
        depends = root.run("dpkg-query", "-W", "-f", "${Depends}", "postfix-tls").strip()
        print("  installed %s; Depends: %s" % (os.path.basename(self.deb), depends))
        self.expect_ours("after apt-get install ./%s" % os.path.basename(self.deb))

    def expect_ours(self, when):
        version = self.postfix_tls_version()
        check(version.startswith("postfix-tls "), "postfix tls --version: %s (%s)"
              % (version, when))
        check(sha256(self.root.host(DIVERTED)) == self.original,
              "original kept as %s, same sha256 (%s)" % (DIVERTED, when))

    def expect_original(self, when):
        root = self.root
        check(sha256(root.host(SCRIPT)) == self.original,
              "%s is the original again, sha256 %s... (%s)" % (SCRIPT, self.original[:16], when))
        check(not os.path.exists(root.host(DIVERTED)), "no %s left (%s)" % (DIVERTED, when))
        check(SCRIPT not in root.run("dpkg-divert", "--list"), "no diversion left (%s)" % when)

    def differential(self):
        env = dict(POSTFIX_TLS_UPSTREAM=DIVERTED, POSTFIX_TLS_OURS=SCRIPT)
        status, out, err = self.root.call(
            "sh", "-c", "cd %s && python3 -m pytest -q -p no:cacheprovider -rf "
            "tests/test_differential.py 2>&1" % WORK, **env)
        match = SUMMARY.search(out)
        if not match:
            sys.stdout.write(out[-3000:])
            raise CheckFailed("the differential suite printed no summary (exit %d)" % status)
        total, identical, listed, different = (int(group) for group in match.groups())
        if status != 0:  # what failed, and pytest's own lines saying why
            sys.stdout.write("\n".join(line for line in out.splitlines()
                                       if line.startswith(("FAILED", "ERROR", "E ")))[-6000:]
                             + "\n")
        return total, identical, listed, different, status

    def timer_units(self):
        """systemd-analyze verify, in the root, of the units the .deb
        installed (disabled: nothing enabled them)."""
        root = self.root
        units = ["/usr/lib/systemd/system/postfix-tls-acme." + kind
                 for kind in ("service", "timer")]
        # --man=no: a minbase root has no man(1) to look the page up with
        # (test_packaging checks that the .deb has it).
        status, out, err = root.call("systemd-analyze", "verify", "--man=no", *units)
        check(status == 0 and not (out + err).strip(),
              "systemd-analyze verify postfix-tls-acme.service .timer%s"
              % ("" if status == 0 else ": " + (out + err).strip()))
        wants = root.host("/etc/systemd/system/timers.target.wants/postfix-tls-acme.timer")
        check(not os.path.lexists(wants), "the timer is installed disabled")

    def sni_table(self):
        """deploy-acme-cert into tls_server_sni_maps of the release's default
        database type (Debian 14's Postfix 3.11: cdb), then remove-sni-name;
        Postfix is not running in the root: no reload, no live check."""
        root = self.root
        config = WORK + "/sni-config"
        os.makedirs(root.host(config))
        shutil.copy(root.host("/etc/postfix/master.cf"), root.host(config))  # postfix check
        kind = root.run("postconf", "-h", "default_database_type").strip()
        table = "%s:%s/sni_maps" % (kind, config)
        with open(root.host(config + "/main.cf"), "w") as stream:
            stream.write("myhostname = mail.example.com\ntls_server_sni_maps = %s\n" % table)
        past = time.time() - 60
        os.utime(root.host(config + "/main.cf"), (past, past))
        names = ("shop.example.org", "www.shop.example.org")
        root.run("openssl", "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-keyout",
                 config + "/new.key", "-subj", "/CN=" + names[0], "-addext",
                 "subjectAltName=" + ",".join("DNS:" + name for name in names), "-days",
                 "90", "-out", config + "/new.crt")
        said = root.run("postfix-tls", "-c", config, "deploy-acme-cert", "new.key", "new.crt")
        chain = config + "/acme-sni-shop.example.org-rsa.pem"
        with open(root.host(config + "/sni_maps")) as stream:
            lines = stream.read().splitlines()
        check(lines == ["%s %s" % (name, chain) for name in names],
              "deploy-acme-cert: a line per name in %s's source" % table)
        check("postmap -F %s: done" % table in said, "postmap -F %s run" % table)
        built = root.host(config + "/sni_maps" + (".cdb" if kind == "cdb" else ".db"))
        check(os.stat(built).st_mode & 0o777 == 0o600, "the built table is mode 0600")
        with open(root.host(chain)) as stream:
            stored = root.run("postmap", "-c", config, "-Fq", names[1], table)
            check(stored.strip() == stream.read().strip(),
                  "postmap -Fq %s: the chain file's contents" % names[1])
        status, out, err = root.call("postfix-tls", "-c", config, "--json", "status")
        entries = [(entry["name"], entry["stale"]) for entry in json.loads(out)["sni"]]
        check(entries == [(names[0], False), (names[1], False)],
              "status: both names, not stale (exit %d)" % status)
        again = root.run("postfix-tls", "-c", config, "deploy-acme-cert", "new.key", "new.crt")
        check("unchanged: the SNI table already serves" in again, "the same again: unchanged")
        root.run("postfix-tls", "-c", config, "remove-sni-name", *names)
        with open(root.host(config + "/sni_maps")) as stream:
            check(stream.read() == "", "remove-sni-name: both lines out")
        check(not os.path.exists(root.host(chain)), "remove-sni-name: the chain file removed")

    def reinstall_and_upgrade_postfix(self):
        root = self.root
        root.run("apt-get", "install", "--reinstall", "-y", "-q", "postfix")
        self.expect_ours("after apt-get install --reinstall postfix")
        # An upgrade: Debian's own postfix .deb with a higher version, through dpkg.
        cached = sorted(glob.glob(root.host("/var/cache/apt/archives/postfix_*.deb")))
        check(bool(cached), "postfix's .deb is in apt's cache")
        version = root.run("dpkg-query", "-W", "-f", "${Version}", "postfix").strip()
        # A kept root was upgraded by earlier runs: count on, not append.
        done = re.findall(r"\+upgrade(\d+)$", version)
        newer = "%s+upgrade%d" % (re.sub(r"(\+upgrade\d+)+$", "", version),
                                  int(done[0]) + 1 if done else 1)
        unpacked = WORK + "/postfix-upgrade"
        root.run("dpkg-deb", "-R", cached[-1][len(root.path):], unpacked)
        control = root.host(unpacked + "/DEBIAN/control")
        with open(control) as stream:
            text = stream.read()
        with open(control, "w") as stream:
            stream.write(re.sub(r"(?m)^Version: .*$", "Version: " + newer, text))
        root.run("dpkg-deb", "-b", unpacked, WORK + "/postfix-upgrade.deb")
        root.run("dpkg", "-i", WORK + "/postfix-upgrade.deb")
        installed = root.run("dpkg-query", "-W", "-f", "${Version}", "postfix").strip()
        check(installed == newer, "postfix upgraded from %s to %s" % (version, installed))
        self.expect_ours("after the postfix upgrade")

    def remove_and_purge(self):
        root = self.root
        root.run("apt-get", "remove", "-y", "-q", "postfix-tls")
        self.expect_original("after apt-get remove")
        root.run("apt-get", "purge", "-y", "-q", "postfix-tls")
        self.expect_original("after apt-get purge, postrm's second run")
        self.install_deb()
        root.run("apt-get", "purge", "-y", "-q", "postfix-tls")
        self.expect_original("after apt-get purge straight from installed")
        leftovers = [path for path in ("/usr/bin/postfix-tls",
                                       "/usr/lib/python3/dist-packages/postfix_tls")
                     if os.path.exists(root.host(path))]
        check(not leftovers, "nothing of ours left after purge %s" % (leftovers or ""))

    def single_file(self):
        root = self.root
        pyz = WORK + "/" + os.path.basename(self.pyz)
        config = WORK + "/pyz-config"
        os.makedirs(root.host(config))
        with open(root.host(config + "/main.cf"), "w") as stream:
            stream.write("myhostname = mail.example.com\n"
                         "smtpd_tls_key_file = %s/key.pem\n" % config)
        past = time.time() - 60  # Postfix programs pause while main.cf is new
        os.utime(root.host(config + "/main.cf"), (past, past))
        root.run("openssl", "genrsa", "-out", config + "/key.pem", "2048")
        ours = root.run("python3", pyz, "-c", config, "output-server-tlsa")
        environment = {"MAIL_CONFIG": config, "config_directory": config,
                       "command_directory": "/usr/sbin",
                       "daemon_directory": "/usr/lib/postfix/sbin",
                       "data_directory": "/var/lib/postfix", "MAIL_LOGTAG": "postfix",
                       "PATH": "/bin:/usr/bin:/sbin:/usr/sbin"}
        upstream = root.run(SCRIPT, "output-server-tlsa", **environment)
        python = root.run("python3", "--version").strip()
        check(ours == upstream and "IN TLSA 3 1 1" in ours,
              "%s postfix-tls.pyz -c DIR output-server-tlsa equals the original's output"
              % python)
        said = root.run("python3", pyz, "--install-dropin")
        print("  " + said.strip())
        os.unlink(root.host(pyz))  # the drop-in must not need it
        check(self.postfix_tls_version().startswith("postfix-tls "),
              "postfix tls reaches the .pyz drop-in after the .pyz is gone")
        shutil.copy(self.pyz, root.host(pyz))
        print("  " + root.run("python3", pyz, "--uninstall-dropin").strip())
        check(sha256(root.host(SCRIPT)) == self.original, "original back after --uninstall-dropin")


def test_release(release, roots, deb, pyz, mirror):
    root = Root(release, roots)
    print("=== %s (%s)" % (release, root.ensure(mirror)))
    sys.stdout.flush()
    with root.mounted():
        test = HostTest(root, deb, pyz)
        test.reset()
        print("  %s, %s, %s" % (root.run("postconf", "-h", "mail_version").strip(),
                                root.run("openssl", "version").strip(),
                                root.run("python3", "--version").strip()))
        test.install_deb()
        started = time.time()
        total, identical, listed, different, status = test.differential()
        print("  differential: %d scenarios in %.0f s, exit %d"
              % (total, time.time() - started, status))
        test.timer_units()
        test.sni_table()
        test.reinstall_and_upgrade_postfix()
        test.remove_and_purge()
        test.single_file()
    return total, identical, listed, different, status


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", default=os.path.join(REPO, "dist"))
    parser.add_argument("--roots", default="/var/tmp/postfix-tls-hosts")
    parser.add_argument("--roots-only", action="store_true",
                        help="build the roots that are missing, and test nothing")
    parser.add_argument("releases", nargs="+")
    args = parser.parse_args(argv)
    os.makedirs(args.roots, exist_ok=True)
    mirror = apt_mirror()
    if args.roots_only:  # for make test-ansible, whose fleet has roots as hosts
        for release in args.releases:
            print("%s: %s" % (release, Root(release, args.roots).ensure(mirror)))
        return 0
    deb = sorted(glob.glob(os.path.join(args.dist, "postfix-tls_*_all.deb")))
    pyz = os.path.join(args.dist, "postfix-tls.pyz")
    if not deb or not os.path.exists(pyz):
        sys.stderr.write("test_hosts: no .deb or .pyz in %s: run make deb pyz\n" % args.dist)
        return 2
    lines, failed = [], False
    for release in args.releases:
        try:
            total, identical, listed, different, status = test_release(
                release, args.roots, deb[-1], pyz, mirror)
            other = total - identical - listed
            failed = failed or status != 0 or other != 0
            lines.append("%s: %d scenarios identical, %d listed differences, %d other"
                         % (release, identical, listed, other))
        except (CheckFailed, ProcessExecutionError) as error:
            failed = True
            lines.append("%s: FAILED: %s" % (release, str(error).strip().splitlines()[0]
                                             if str(error).strip() else repr(error)))
            sys.stdout.write("%s\n" % error)
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
