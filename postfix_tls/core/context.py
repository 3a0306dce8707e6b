"""The context every subcommand is given: one run's runner, postconf,
logger and environment, and what the start-up checks found.

Made once by cli.py, with every setting it needs; the start-up checks'
findings come with :meth:`Tls.started`, which returns the context the
subcommand runs with.  Nothing else changes it.
"""

import os

from postfix_tls.core import messages


class Failed(Exception):
    """A step failed; its message has been logged."""


class Tls(object):
    """One run: environment, runner, postconf, logger, start-up findings."""

    def __init__(self, runner, postconf, log, env, config_directory, data_directory,
                 hints=messages.POSTFIX_HINTS, json=False, setup=None, chain_file=""):
        self.runner = runner
        self.postconf = postconf
        self.log = log
        self.env = env
        self.config_directory = config_directory
        self.data_directory = data_directory
        self.hints = hints  # standalone mode: the commands for -c DIR
        self.json = json  # --json: our subcommands' output as JSON
        self.setup = setup  # startup.Setup, once the checks passed
        self.chain_file = chain_file  # --chain-file: deploy into this chain file

    def started(self, setup):
        """This context with the start-up checks' findings."""
        return Tls(self.runner, self.postconf, self.log, self.env, self.config_directory,
                   self.data_directory, self.hints, self.json, setup, self.chain_file)

    @property
    def openssl(self):
        return self.setup.openssl

    def postfix_program(self, name):
        """argv's start for a Postfix program (postfix, postmap) of this
        instance: from command_directory, with -c DIR in standalone mode."""
        argv = [os.path.join(self.env.get("command_directory", "/usr/sbin"), name)]
        if self.hints is not messages.POSTFIX_HINTS:  # standalone: its instance
            argv += ["-c", self.config_directory]
        return argv

    def fail(self, text):
        self.log.fatal(text)
        raise Failed(text)

    def is_file(self, path):
        """test -f, where a dry run counts files it would have created."""
        return bool(path) and (os.path.isfile(path) or self.runner.plan.planned(path))

    def is_readable(self, path):
        """test -r, likewise."""
        return bool(path) and (os.access(path, os.R_OK) or self.runner.plan.planned(path))
