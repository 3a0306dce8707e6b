"""make deps: a Debian package this machine's release lacks, from a newer
release's archive, installed with this machine's apt.

    python3 scripts/newer_package.py RELEASE PACKAGE

acme.sh is packaged from Debian 14 (forky) on; the tests run it against
pebble on Debian 12 too.  Its package is architecture-independent shell
(it depends on curl or wget), so the newer release's .deb installs as it
is.  The newer archive is read into a directory of its own (its lists
never reach this machine's apt), from the archive URI this machine's apt
uses (scripts/test_hosts.py), and only the package asked for is fetched.
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_hosts import apt_mirror  # noqa: E402

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def apt_options(directory):
    """apt's options for a state of its own in directory."""
    return ["-o", "Dir::Etc::SourceList=%s/sources.list" % directory,
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State::Lists=%s/lists" % directory,
            "-o", "Dir::Cache=%s/cache" % directory,
            "-o", "APT::Sandbox::User=root", "-q"]


def main(release, package):
    with tempfile.TemporaryDirectory(prefix="postfix-tls-apt.") as directory:
        for name in ("lists/partial", "cache/archives/partial"):
            os.makedirs(os.path.join(directory, name))
        with open(os.path.join(directory, "sources.list"), "w") as stream:
            stream.write("deb [signed-by=%s] %s %s main\n" % (KEYRING, apt_mirror(), release))
        options = apt_options(directory)
        subprocess.run(["apt-get"] + options + ["update"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get"] + options + ["download", package], check=True,
                       cwd=directory, stdout=subprocess.DEVNULL)
        debs = [name for name in os.listdir(directory) if name.endswith(".deb")]
        if len(debs) != 1:
            sys.exit("%s: no single .deb downloaded: %s" % (package, debs))
        # This machine's apt: the package's dependencies from its own release.
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", os.path.join(directory, debs[0])],
                       check=True, env=env, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
