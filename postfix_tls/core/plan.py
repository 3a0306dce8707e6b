"""The dry run's plan: which commands it skips, and what the skipped ones
would have made.

A dry run runs every command that only reads and skips those that change
state.  Later steps read files the skipped ones would have created (a key,
its certificate): the plan answers for them as openssl would, from the
key type each command parses or creates, so that a dry run follows the
path the real run would.
"""

from postfix_tls.core import openssl
from postfix_tls.core.command import Result


def _planned_digest(key_type):
    # Stands in for the digest of a key or certificate that a dry run did
    # not create; equal for a key and its certificate, as the real ones are.
    import hashlib  # only here: it costs start-up time every other run saves

    return hashlib.sha256(b"planned " + key_type.encode()).digest()


class Plan(object):
    def __init__(self, dry_run):
        self.dry_run = dry_run
        self._planned = {}  # file -> key type a skipped step would have made
        self._ec_reads_rsa = False

    def learn_openssl(self, version_output):
        """What "openssl version" said: OpenSSL 3's "openssl ec" reads RSA keys."""
        self._ec_reads_rsa = openssl.ec_reads_rsa(version_output)

    def skip(self, commands):
        """None to run the commands, else the planned result (dry run only)."""
        if not self.dry_run:
            return None
        planned = [self._planned[path] for command in commands
                   for path in command.reads if path in self._planned]
        if not planned and not any(command.changes for command in commands):
            return None
        for command in commands:
            for path in command.creates:
                self._planned[path] = command.key_type
        if planned:
            key_type = planned[0]
            if not all(self._reads(command.key_type, key_type) for command in commands):
                return Result(1, b"", True)
            return Result(0, _planned_digest(key_type), True)
        return Result(0, b"", True)

    def _reads(self, command_type, key_type):
        """Whether a command for command_type keys accepts a key_type key."""
        return command_type in (None, key_type) or (
            command_type == "ec" and key_type == "rsa" and self._ec_reads_rsa)

    def planned(self, path):
        """True when a dry run skipped the step that would create path."""
        return path in self._planned

    def file_made(self, path, key_type):
        """Dry run: path would now exist, holding a key_type key."""
        if self.dry_run:
            self._planned[path] = key_type
