"""Build the artefacts a mail host installs: ``make_dist.py deb|pyz [DIST]``.

deb: ``DIST/postfix-tls_VERSION_all.deb``, built with dpkg-deb alone (see
the Makefile for why), for Debian's /usr/bin/python3; maintainer scripts
in debian/.  pyz: ``DIST/postfix-tls.pyz``, a zip application that runs
with any python3 from 3.6 on, standard library only.

Both are reproducible: files sorted, owned by root, dated
SOURCE_DATE_EPOCH (default: the last commit's date).
"""

import gzip
import hashlib
import io
import os
import shutil
import sys
import tempfile
import time
import zipfile

from plumbum import local

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from postfix_tls import __version__  # noqa: E402
from postfix_tls.packaging import dropin  # noqa: E402

PACKAGE = "postfix-tls"
DAEMON_SCRIPT = "usr/lib/postfix/sbin/postfix-tls-script"
MODULES = "usr/lib/python3/dist-packages/postfix_tls"
MANPAGE = "man/postfix-tls-python.1"
# deploy-acme-cert's timer (disabled until the administrator enables it),
# and its options, a conffile.
SYSTEMD_UNITS = ("postfix-tls-acme.service", "postfix-tls-acme.timer")
DEFAULTS = "/etc/default/postfix-tls-acme"
COMMAND = "#!/usr/bin/python3\nfrom postfix_tls import run\n\nrun()\n"
PYZ_MAIN = "from postfix_tls.packaging.pyz import main\n\nmain()\n"


def source_date_epoch():
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        return int(local["git"]("-C", REPO, "log", "-1", "--format=%ct").strip())
    except Exception:  # not a git checkout: a source tarball
        return int(os.stat(os.path.join(REPO, "setup.cfg")).st_mtime)


def package_modules():
    """(path under postfix_tls/, bytes) of every module of the package and
    its subpackages, sorted."""
    directory = os.path.join(REPO, "postfix_tls")
    modules = []
    for parent, folders, names in os.walk(directory):
        folders[:] = [name for name in folders if name != "__pycache__"]
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(parent, name)
                with open(path, "rb") as stream:
                    modules.append((os.path.relpath(path, directory), stream.read()))
    return sorted(modules)


def _gzip(data, epoch):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=epoch) as z:
        z.write(data)
    return out.getvalue()


def _write(root, path, data, mode=0o644):
    target = os.path.join(root, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as stream:
        stream.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(target, mode)


def _read(path):
    with open(os.path.join(REPO, path), "rb") as stream:
        return stream.read()


def deb_tree(root, epoch):
    """The package's files under root, and its control directory."""
    for name, data in package_modules():
        if name != os.path.join("packaging", "pyz.py"):  # the .pyz's entry point only
            _write(root, os.path.join(MODULES, name), data)
    _write(root, "usr/bin/postfix-tls", COMMAND, 0o755)
    _write(root, DAEMON_SCRIPT, dropin.script("/usr/bin/python3"), 0o755)
    _write(root, "usr/share/man/man1/postfix-tls-python.1.gz", _gzip(_read(MANPAGE), epoch))
    _write(root, "usr/share/doc/postfix-tls/copyright", _read("debian/copyright"))
    for unit in SYSTEMD_UNITS:  # shipped disabled: postinst enables nothing
        _write(root, "usr/lib/systemd/system/" + unit, _read("debian/systemd/" + unit))
    _write(root, DEFAULTS[1:], _read("debian/default.postfix-tls-acme"))
    changelog = "%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n" % (
        PACKAGE, __version__, __version__, "postfix-tls developers <root@localhost>",
        time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(epoch)))
    _write(root, "usr/share/doc/postfix-tls/changelog.gz", _gzip(changelog.encode(), epoch))

    md5sums, size = [], 0
    for directory, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = os.path.join(directory, name)
            data = _read(path)
            size += len(data)
            if os.path.relpath(path, root).startswith("etc/"):
                continue  # a conffile: dpkg keeps its own checksum (as dh_md5sums)
            md5sums.append("%s  %s\n" % (hashlib.md5(data).hexdigest(),
                                         os.path.relpath(path, root)))
    control = _read("debian/control").decode()
    control = control.replace("@VERSION@", __version__).replace("@SIZE@",
                                                                str((size + 1023) // 1024))
    _write(root, "DEBIAN/control", control)
    _write(root, "DEBIAN/md5sums", "".join(sorted(md5sums)))
    _write(root, "DEBIAN/conffiles", DEFAULTS + "\n")
    for script in ("preinst", "postinst", "prerm", "postrm"):
        _write(root, "DEBIAN/" + script, _read("debian/" + script), 0o755)
    for directory, subdirectories, _ in os.walk(root):
        for name in subdirectories:
            os.chmod(os.path.join(directory, name), 0o755)
        for name in os.listdir(directory):
            os.utime(os.path.join(directory, name), (epoch, epoch))
    os.chmod(root, 0o755)


def build_deb(dist):
    epoch = source_date_epoch()
    target = os.path.join(dist, "%s_%s_all.deb" % (PACKAGE, __version__))
    root = tempfile.mkdtemp(prefix="postfix-tls-deb.")
    try:
        deb_tree(os.path.join(root, "tree"), epoch)
        with local.env(SOURCE_DATE_EPOCH=str(epoch)):
            local["dpkg-deb"]("--root-owner-group", "-Zxz", "--build",
                              os.path.join(root, "tree"), target)
    finally:
        shutil.rmtree(root)
    return target


def build_pyz(dist):
    epoch = source_date_epoch()
    stamp = time.gmtime(max(epoch, 315532800))[:6]  # zip dates start in 1980
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zip_file:
        files = [("postfix_tls/" + name, data) for name, data in package_modules()]
        for name, data in [("__main__.py", PYZ_MAIN.encode())] + files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            zip_file.writestr(info, data)
    target = os.path.join(dist, "postfix-tls.pyz")
    _write(os.path.dirname(target) or ".", os.path.basename(target),
           b"#!/usr/bin/env python3\n" + archive.getvalue(), 0o755)
    return target


def main(argv):
    if len(argv) not in (1, 2) or argv[0] not in ("deb", "pyz"):
        sys.stderr.write("usage: make_dist.py deb|pyz [DIST]\n")
        return 2
    dist = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(REPO, "dist"))
    os.makedirs(dist, exist_ok=True)
    target = build_deb(dist) if argv[0] == "deb" else build_pyz(dist)
    sys.stdout.write("%s (%d bytes)\n" % (os.path.relpath(target), os.path.getsize(target)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
