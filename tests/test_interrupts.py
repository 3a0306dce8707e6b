"""SIGINT at the moments no other test reaches (issue 27): while our
modules load, and while the first postconf read runs, before anything is
read or changed: no traceback, a short message or none, exit non-zero.

Python raises KeyboardInterrupt wherever it is when SIGINT comes; to be at
every such moment for sure, the harness raises it there itself: at the
import of each module of the package, and at the first process started.
(Before Python's own start-up is done, its site module prints a
traceback of its own: not ours to change.)
"""

import os
import subprocess
import sys

import pytest

import postfix_tls

from support import OURS, POSTFIX_PATH

HARNESS = """
import runpy, subprocess, sys
where, script = sys.argv[1], sys.argv[2]
sys.argv = [script] + sys.argv[3:]

class Interrupting(object):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == where:
            raise KeyboardInterrupt
        return None

if where == "Popen":
    real = subprocess.Popen.__init__
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt
    subprocess.Popen.__init__ = interrupted
else:
    sys.meta_path.insert(0, Interrupting())
runpy.run_path(script, run_name="__main__")
"""

def _module_names():
    """Every module and package of postfix_tls, dotted."""
    top = os.path.dirname(postfix_tls.__file__)
    for parent, _, names in os.walk(top):
        for name in names:
            if name.endswith(".py") and name != "__main__.py":
                parts = os.path.relpath(os.path.join(parent, name), top)[:-3].split(os.sep)
                yield ".".join(["postfix_tls"] + [part for part in parts if part != "__init__"])


MODULES = sorted(_module_names())


@pytest.mark.parametrize("where", ["postfix_tls.cli", "postfix_tls.core.runner",
                                   "postfix_tls.dispatch", "postfix_tls.core.messages", "Popen"])
def test_sigint_while_starting_up_never_gives_a_traceback(make_config, where):
    """Before: "Traceback (most recent call last)" and KeyboardInterrupt."""
    assert where == "Popen" or where in MODULES
    directory = make_config()
    result = subprocess.run([sys.executable, "-c", HARNESS, where, OURS, "-c", directory,
                             "status"], env={"PATH": POSTFIX_PATH, "LANG": "C",
                                             "PYTHONPATH": os.path.dirname(OURS) + "/.."},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (1, 130), result.stderr
