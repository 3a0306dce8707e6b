"""The checks upstream makes before any subcommand, in its order.

Independent reads run at the same time (and with them the reads the
subcommand will need), but failures are reported in upstream's order, so
the first message is the one upstream would give.
"""

import os
import sys

from postfix_tls.core import messages, openssl, release
from postfix_tls.core.postconf import DEFAULT_INSTANCE


class Setup(object):
    """What the start-up checks found."""

    def __init__(self, openssl_path, rsa, ecdsa, openssl_version=None, assumed=False):
        self.openssl = openssl_path
        self.rsa = rsa
        self.ecdsa = ecdsa
        self.default_algorithm = "rsa" if rsa else "ecdsa"
        self._openssl_version = openssl_version  # what "openssl version" printed
        # Postfix before 3.1 cannot say what it supports: assumed (release.py).
        self.assumed = assumed
        self.stdin_path = None  # what openssl reads its configuration text from

    def openssl_version(self, runner):
        """What "openssl version" prints, asked when first needed (see check)."""
        if self._openssl_version is None:
            self._openssl_version = runner.run(openssl.version(self.openssl)).stdout
        return self._openssl_version

    def algorithms(self):
        """Supported algorithm names, in upstream's "$rsa $ecdsa" order."""
        return [name for name, ok in (("rsa", self.rsa), ("ecdsa", self.ecdsa)) if ok]


def _stdin_path():
    # Upstream tests "[ -r /dev/stdin ] </dev/null": the device must exist,
    # whatever our own stdin is.
    for path in ("/dev/stdin", "/dev/fd/0"):
        if os.path.lexists(path):
            return path
    return None


def _has_postconf_t(postconf):
    # Unknown only where mail_version could not be read: then ask.
    return postconf.release.has(release.POSTCONF_T) is not False


def _algorithms(postconf):
    """rsa and ecdsa as Postfix supports them; None: no TLS support at all.

    Postfix before 3.1 has no "postconf -T" (nor "postfix tls"), and its
    postconf -d knows the TLS parameters whether or not TLS was compiled
    in: there (standalone mode, ours) TLS is assumed, with the algorithms
    of its release (see release.py).
    """
    if _has_postconf_t(postconf):
        return [line for line in postconf.lines("-T", "public-key-algorithms")
                if line in ("rsa", "ecdsa")]
    return postconf.release.assumed_algorithms()


def check(tls, reads=(), lines=()):
    """Run the start-up checks; returns a Setup, or None after a fatal message.

    reads and lines are the subcommand's postconf reads, made at the same
    time as the checks' own (see Postconf.prefetch); its -x reads become one.
    """
    postconf, log = tls.postconf, tls.log
    x_names = tuple(name for read in reads if read[0] == "-x" for name in read[1])
    reads = [read for read in reads if read[0] != "-x"]
    if x_names:
        reads.append(("-x", x_names))
    # "The value from the default instance is used for all instances."
    if postconf.release.knows("openssl_path") is not False:
        # Postfix mode knows only "3.1 or later": mail_version comes in the
        # same process, for what newer releases have (smtpd_tls_chain_files).
        reads.append(("-x", ("openssl_path",) + (
            ("mail_version",) if postconf.release.version is None else ()), DEFAULT_INSTANCE))
    postconf_t = _has_postconf_t(postconf)
    lines = ([("-T", "public-key-algorithms")] if postconf_t else []) + list(lines)
    postconf.prefetch(reads, lines)

    # Each probe starts as soon as what it needs is known.
    if postconf.knows("openssl_path"):
        openssl_path = postconf.get("-x", "openssl_path", DEFAULT_INSTANCE)
    else:
        openssl_path = release.DEFAULT_OPENSSL
    # Upstream runs "openssl version" to see that openssl runs at all; a
    # right digest from the digest's check says as much (a process less: 3
    # ms of CPU), so "openssl version" runs only when that check fails
    # (which message then), in a dry run (the plan reads it, but the
    # verdict is the real run's) or when asked (Setup).
    probes = [openssl.sha256_check(openssl_path)]
    if tls.runner.dry_run:
        probes.insert(0, openssl.version(openssl_path))
    probes = tls.runner.start_all(probes)
    algorithms = _algorithms(postconf)
    if algorithms and "ecdsa" in algorithms:
        probes += tls.runner.start_all([openssl.ecdsa_check(openssl_path)])
    results = [probe.result() for probe in probes]
    version = results.pop(0) if tls.runner.dry_run else None
    digest = results[0].stdout
    # SHA-256 of nothing, as upstream's check wants it (its message: below).
    digest_right = bool(digest) and openssl.hex_digest(digest) == ""
    digest_ok = results[0].returncode == 0 and digest_right
    if version is None and not digest_ok:
        version = tls.runner.run(openssl.version(openssl_path))
    version_ok = digest_ok or version.returncode == 0
    if version is not None:
        tls.runner.plan.learn_openssl(version.stdout)

    if not version_ok:
        if postconf.failed("-x", ("openssl_path",), DEFAULT_INSTANCE) and not (
                os.path.isfile(postconf.path) and os.access(postconf.path, os.X_OK)):
            # Ours: openssl_path could not be read at all, for want of postconf.
            return log.fatal(messages.NO_POSTCONF.format(postconf.path))
        return log.fatal(messages.NO_OPENSSL.format(openssl_path))
    if not (tls.config_directory and os.path.isdir(tls.config_directory)):
        # Upstream passes the directory unquoted: sh collapses its spaces.
        return log.fatal(messages.NO_CONFIG_DIRECTORY.format(
            " ".join(tls.config_directory.split())))
    if not algorithms:
        compiled = (algorithms is not None and postconf_t
                    and any(postconf.lines("-T", "compile-version")))
        mail_version = postconf.get("-d", "mail_version")
        if not compiled:
            return log.fatal(messages.NO_TLS.format(mail_version))
        return log.fatal(messages.NO_RSA_OR_ECDSA.format(mail_version))
    ecdsa = "ecdsa" in algorithms
    if ecdsa and results[1].returncode != 0:
        log.warn(line.format(openssl=openssl_path, path=tls.env.get("PATH", ""))
                 for line in messages.NO_ECDSA_IN_OPENSSL)
        ecdsa = False
    setup = Setup(openssl_path, "rsa" in algorithms, ecdsa,
                  None if version is None else version.stdout, assumed=not postconf_t)
    if not (setup.rsa or setup.ecdsa):
        return log.fatal(messages.NO_RSA_OR_ECDSA.format(
            postconf.get("-d", "mail_version")))
    setup.stdin_path = _stdin_path()
    if setup.stdin_path is None:
        return log.fatal(messages.NO_STDIN)
    if not digest_right:
        default_config_directory = postconf.get("-d", "config_directory")
        sys.stderr.write("".join(line.format(
            openssl=openssl_path, default_config_directory=default_config_directory) + "\n"
            for line in messages.NO_SHA256_STDERR))
        sys.stderr.flush()
        return log.fatal(messages.NO_SHA256)
    return setup

