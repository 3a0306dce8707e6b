"""What a failure says (issue 27): every undo step runs, even when one
fails, and what could not be undone is said; with --json, every failure
is a JSON object on stdout too."""

import errno
import json
import os
import subprocess

import pytest

from postfix_tls.core.changes import UndoFailed
from postfix_tls.core.runner import Runner

from support import POSTFIX_PATH, ours_argv


def test_every_undo_step_runs_when_one_hits_a_full_disk(tmp_path, monkeypatch):
    runner = Runner(dict(os.environ))
    paths = [str(tmp_path / name) for name in ("a.pem", "b.pem")]
    for path in paths:
        with open(path, "w") as stream:
            stream.write("old " + path)
        runner.replace_file(path, b"new", 0o600)
    undone = []
    runner.on_restore(lambda: undone.append("main.cf"))
    write = Runner._write_and_rename

    def full_disk(path, data, mode):
        if path == paths[1]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write(path, data, mode)

    monkeypatch.setattr(Runner, "_write_and_rename", staticmethod(full_disk))
    problems = runner.restore_replaced()  # before: OSError, and a.pem left new
    assert undone == ["main.cf"]
    assert open(paths[0]).read() == "old " + paths[0]
    assert problems == ["%s could not be put back (No space left on device): it holds the new"
                        " key and certificate" % paths[1]]


def test_an_undo_step_that_fails_keeps_the_files_main_cf_may_name(tmp_path):
    runner = Runner(dict(os.environ))
    created = str(tmp_path / "acme-rsa.pem")
    runner.replace_file(created, b"new", 0o600)

    def main_cf_stays():
        raise UndoFailed("main.cf could not be put back")

    runner.on_restore(main_cf_stays)
    problems = runner.restore_replaced()
    assert os.path.exists(created)  # before: removed, while main.cf named it
    assert problems == ["main.cf could not be put back",
                        "%s is kept (main.cf may name it): it holds the new key and"
                        " certificate" % created]


@pytest.mark.parametrize("args, message", [
    (["deploy-acme-cert", "/nonexistent/key", "/nonexistent/chain"],
     "no such file, or not a regular file: /nonexistent/key"),
    (["--chain-file", "a b.pem", "deploy-server-cert", "c", "k"], "a space"),
    (["output-server-tlsa", "-p", "x"], "invalid -p value"),
    (["--chain-file", "c.pem", "output-server-tlsa"], "--chain-file goes with"),
    (["no-such-subcommand"], "usage: postfix tls"),
])
def test_every_failure_under_json_prints_a_json_error_object(make_config, args, message):
    """Before: nothing on stdout (a program reading it got no JSON at all)."""
    directory = make_config()
    result = subprocess.run(ours_argv(["-c", directory, "--json"] + args),
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert message in document["error"] and document["exit_status"] == 1
    assert message in result.stderr  # said where it always was, too


def test_without_json_a_failure_prints_nothing_on_stdout(make_config):
    directory = make_config()
    result = subprocess.run(ours_argv(["-c", directory, "output-server-tlsa", "-p", "x"]),
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
