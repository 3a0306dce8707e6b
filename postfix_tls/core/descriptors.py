"""Descriptors 0, 1 and 2, open however the run was started.

Started with one of them closed (sh's ``<&-``, ``>&-``, ``2>&-``), the
next pipe or file opened takes its number: a key's pipe became descriptor
0, which the configuration a child reads on stdin then replaced; and
Python leaves sys.stdin, sys.stdout or sys.stderr None, which the first
write or flush trips on.  Each closed one is opened on /dev/null instead.
"""

import os
import sys

_STANDARD = ((0, "stdin", os.O_RDONLY, "r"), (1, "stdout", os.O_WRONLY, "w"),
             (2, "stderr", os.O_WRONLY, "w"))


def open_closed_standard_descriptors():
    """Open each of descriptors 0, 1 and 2 that is closed on /dev/null,
    inherited by children as the original would have been, with a Python
    stream for it; before anything else opens a descriptor or writes."""
    for fd, name, flags, mode in _STANDARD:
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        opened = os.open(os.devnull, flags)
        if opened != fd:  # the lowest free descriptor: fd, as those below are open
            os.dup2(opened, fd)
            os.close(opened)
        os.set_inheritable(fd, True)  # os.open's are not (PEP 446)
        if getattr(sys, name) is None:
            # Nothing written there is kept: no encoding error may stop the run.
            setattr(sys, name, open(fd, mode, errors="replace", closefd=False))
