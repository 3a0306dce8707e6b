"""The manual page: renders without warnings, covers the interface."""

import os
import subprocess

from postfix_tls.messages import SUBCOMMANDS

MANPAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "man", "postfix-tls-python.1")


def render():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    return subprocess.run(["man", "--warnings", "-l", MANPAGE], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


def test_renders_without_warnings():
    result = render()
    assert result.returncode == 0
    assert result.stderr == ""


def test_covers_subcommands_modes_options_and_differences():
    text = render().stdout
    for word in SUBCOMMANDS + ("--dry-run", "--trace", "--trace-json", "Standalone mode",
                               "Postfix mode", "DIFFERENCES FROM POSTFIX'S SCRIPT"):
        assert word in text, word


def test_does_not_take_the_name_of_postfixs_own_page():
    assert os.path.basename(MANPAGE) != "postfix-tls.1"
