"""A Postfix host faked with pytest-subprocess, for the argv-sequence tests.

Every external command must be registered; fp fails a test on any other.
``host.calls()`` is then the exact ordered argv list: the audit
specification of each subcommand.
"""

import collections
import os

from postfix_tls import cli
from postfix_tls.upstream.functions import CLIENT_SETTINGS, SERVER_SETTINGS

from . import POSTFIX_PATH

OPENSSL = "openssl"
PASSIN = ["-passin", "pass:umask 077"]
DIGEST = ["openssl", "dgst", "-binary", "-sha256"]
NULL_SHA256 = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
KEY_DIGEST = bytes(range(32))


class FakeHost(object):
    def __init__(self, fp, directory, monkeypatch):
        self.fp = fp
        self.config_directory = os.path.join(directory, "config")
        self.command_directory = os.path.join(directory, "sbin")
        os.mkdir(self.config_directory)
        os.mkdir(self.command_directory)
        self.postconf = os.path.join(self.command_directory, "postconf")
        self.postlog = os.path.join(self.command_directory, "postlog")
        self.stdin = []  # (argv, text) of every command given input
        self.monkeypatch = monkeypatch
        monkeypatch.chdir(directory)
        for name, value in self.environment().items():
            monkeypatch.setenv(name, value)

    def environment(self):
        return {
            "config_directory": self.config_directory,
            "command_directory": self.command_directory,
            "daemon_directory": "/usr/lib/postfix/sbin",
            "data_directory": "/var/lib/postfix",
            "MAIL_CONFIG": self.config_directory,
            "MAIL_LOGTAG": "postfix",
            "PATH": POSTFIX_PATH,
        }

    def register(self, argv, stdout=b"", returncode=0, callback=None, stderr=b""):
        argv = list(argv)

        def record(data):
            self.stdin.append((argv, data.decode() if isinstance(data, bytes) else data))

        self.fp.register(argv, stdout=stdout, returncode=returncode, callback=callback,
                         stdin_callable=record, stderr=stderr)
        return argv

    # ----- postconf and postlog

    def read(self, flags, values, config_directory=None, stderr=b""):
        """postconf FLAGS NAMES, answering "name = value" for the values given
        (None: nothing, as for a name -n leaves out or the release lacks)."""
        argv = [self.postconf] + (["-c", config_directory] if config_directory else [])
        argv += [flags] + list(values)
        output = "".join("%s = %s\n" % (name, value) for name, value in values.items()
                         if value is not None)
        return self.register(argv, stdout=output.encode(), stderr=stderr)

    def openssl_path_read(self, openssl=OPENSSL, mail_version="3.7.11"):
        """The default instance's openssl_path: postconf without MAIL_CONFIG;
        with mail_version where the release is not known yet (postfix mode)."""
        values = collections.OrderedDict([("openssl_path", openssl)])
        if mail_version:
            values["mail_version"] = mail_version
        return self.read("-x", values)

    def lines(self, args, output_lines):
        return self.register([self.postconf] + list(args),
                             stdout="".join(line + "\n" for line in output_lines).encode())

    def edit(self, settings, returncode=0):
        return self.register([self.postconf, "-e"] + list(settings), returncode=returncode)

    def log(self, level, message=None, returncode=None):
        argv = [self.postlog, "-t", "postfix/postfix-tls-script", "-p", level]
        if message is not None:
            argv.append(message)
        if returncode is None:
            returncode = 1 if level == "fatal" else 0
        return self.register(argv, returncode=returncode)

    # ----- openssl

    def openssl(self, *args, **kwargs):
        return self.register([OPENSSL] + list(args), **kwargs)

    def startup(self, reads=(), x_reads=(), algorithms=("dsa", "ecdsa", "rsa"), ecdsa_ok=True,
                lines=(), mail_version="3.7.11"):
        """Register upstream's start-up checks; returns their argv in order.

        reads: the subcommand's other prefetched reads [(flags, {name: value})];
        x_reads: {name: value} read with -x (openssl_path is read apart, from
        the default instance).
        """
        reads, x_values = list(reads), dict(x_reads)
        for index, (flags, values) in enumerate(reads):
            if flags == "-nx" and x_values:
                # The -x names are asked with the instance's -nx read.
                reads[index] = (flags, dict(list(values.items()) + list(x_values.items())))
                x_values = {}
        if x_values:
            reads.append(("-x", x_values))
        # Postfix mode knows only "3.1 or later" until mail_version comes:
        # a read with smtpd_tls_chain_files (3.4) starts with the others all
        # the same (its stderr held back, see Postconf.prefetch).
        calls = [self.read(flags, values) for flags, values in reads]
        calls.append(self.openssl_path_read(mail_version=mail_version))
        calls.append(self.lines(["-T", "public-key-algorithms"], algorithms))
        calls += [self.lines(args, output) for args, output in lines]
        # "openssl version" only where the digest's check fails (startup.check).
        calls.append(self.openssl("dgst", "-binary", "-sha256", stdout=NULL_SHA256))
        if "ecdsa" in algorithms:
            calls.append(self.openssl("ecparam", "-name", "secp256r1",
                                      returncode=0 if ecdsa_ok else 1))
        return calls

    def run(self, *args):
        return cli.main(list(args))

    def calls(self):
        return [list(call) for call in self.fp.calls]

    def input_of(self, argv):
        texts = [text for called, text in self.stdin if called == list(argv)]
        assert texts, "no input to %r" % (argv,)
        return texts[-1]


def client_settings(value=None):
    return dict((name, value) for name in CLIENT_SETTINGS)


def server_settings(value=None, chain_files=True):
    """The server settings all-default-server reads; chain_files: with
    smtpd_tls_chain_files (Postfix 3.4+), which counts as one."""
    settings = collections.OrderedDict((name, value) for name in SERVER_SETTINGS)
    if chain_files:
        settings["smtpd_tls_chain_files"] = value
    return settings


def write(path, text="x\n", mode=0o644):
    with open(path, "w") as stream:
        stream.write(text)
    os.chmod(path, mode)
    return path
