"""The manual page: renders without warnings, covers the interface."""

import os
import subprocess

from postfix_tls.subcommands import DECLARED

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
    for word in tuple(subcommand.name for subcommand in DECLARED) + (
            "--json", "--dry-run", "--trace", "--trace-json", "Standalone mode",
            "Postfix mode", "DIFFERENCES FROM POSTFIX'S SCRIPT"):
        assert word in text, word


def test_each_subcommand_synopsis_stays_on_its_tag_line():
    """At 80 columns, each declared subcommand's synopsis (as --help shows
    it) starts a tag line of SUBCOMMANDS (a tag of several macros would be
    split): upstream's, and ours with our options."""
    section = render().stdout.split("\nSUBCOMMANDS\n")[1].split("\nOPTIONS\n")[0]
    tags, previous_was_tag = [], False
    for line in section.splitlines():
        is_tag = line.startswith("       ") and not line.startswith("        ")
        if is_tag and previous_was_tag:  # a synopsis longer than the page wraps
            tags[-1] += " " + line.strip()
        elif is_tag:
            tags.append(line.strip())
        previous_was_tag = is_tag
    tags = [" ".join(tag.split()) for tag in tags]  # justification's extra spaces
    synopses = [synopsis for subcommand in DECLARED
                for synopsis in (subcommand.upstream_synopsis, subcommand.our_synopsis)
                if synopsis]
    assert "status [-w days] [-c days] [-o text|prometheus] [-f file.prom] [-p ports" \
        " [-h hostname] [-n nameserver]]" in synopses
    for synopsis in synopses:
        assert synopsis in tags, synopsis
