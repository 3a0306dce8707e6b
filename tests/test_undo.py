"""Runner.restore_replaced: every undo step runs, even when one fails, and
what could not be undone is said (issue 27)."""

import errno
import os

from postfix_tls import execute


def test_every_undo_step_runs_when_one_hits_a_full_disk(tmp_path, monkeypatch):
    runner = execute.Runner(dict(os.environ))
    paths = [str(tmp_path / name) for name in ("a.pem", "b.pem")]
    for path in paths:
        with open(path, "w") as stream:
            stream.write("old " + path)
        runner.replace_file(path, b"new", 0o600)
    undone = []
    runner.on_restore(lambda: undone.append("main.cf"))
    write = execute.Runner._write_and_rename

    def full_disk(path, data, mode):
        if path == paths[1]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write(path, data, mode)

    monkeypatch.setattr(execute.Runner, "_write_and_rename", staticmethod(full_disk))
    problems = runner.restore_replaced()  # before: OSError, and a.pem left new
    assert undone == ["main.cf"]
    assert open(paths[0]).read() == "old " + paths[0]
    assert problems == ["%s could not be put back (No space left on device): it holds the new"
                        " key and certificate" % paths[1]]


def test_an_undo_step_that_fails_keeps_the_files_main_cf_may_name(tmp_path):
    runner = execute.Runner(dict(os.environ))
    created = str(tmp_path / "acme-rsa.pem")
    runner.replace_file(created, b"new", 0o600)

    def main_cf_stays():
        raise execute.UndoFailed("main.cf could not be put back")

    runner.on_restore(main_cf_stays)
    problems = runner.restore_replaced()
    assert os.path.exists(created)  # before: removed, while main.cf named it
    assert problems == ["main.cf could not be put back",
                        "%s is kept (main.cf may name it): it holds the new key and"
                        " certificate" % created]
