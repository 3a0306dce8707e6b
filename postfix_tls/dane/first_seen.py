"""``acme-tlsa.seen``: when a run of deploy-acme-cert first saw each TLSA
record served by every nameserver, one "owner record seconds" line each
(``_25._tcp.mail.example.org. 3 1 1 HEX 1767225600``).

Only this host's clock ever wrote the times, so a time it cannot have
written is not trusted: a line that does not parse is dropped, and a time
from before 2000 or more than SKEW_SECONDS ahead of the clock counts as
"first seen now" (a time in the future would hold a key back until that
date; one from long ago would let it in before caches can have the
record).  Each says so with a warning; the sane lines are kept.
"""

import os
import time

from postfix_tls.core import messages

# A time at most this far ahead of the clock is kept as written: NTP may
# step a clock back by a few seconds, and a concurrent run may have
# written a line a moment later than this run's "now"; it costs a key at
# most this much more wait.  Further ahead, no clock running forward
# wrote it (a clock that ran ahead and was corrected, or an edit).
SKEW_SECONDS = 300
EARLIEST = 946684800  # 2000-01-01: no run of this tool saw anything before


def read(tls, path, allow_zero=False, reset_to=None, reset_message=None):
    """({(owner, record): seconds} of path's sane lines, whether the file
    must be written again: lines were dropped or reset), with a warning for
    each line not trusted; allow_zero: 0 is a time too (the registry's
    "needed"); reset_to: a time not trusted is kept as this one, not
    dropped (reset_message says so)."""
    known, dirty, warnings = {}, False, []
    if os.path.lexists(path) and not os.path.isfile(path):
        tls.log.warn([messages.ACME_SEEN_NOT_A_FILE.format(path=path)])
        return {}, True
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        return {}, False
    except OSError as error:
        tls.log.warn([messages.ACME_SEEN_UNREADABLE.format(path=path, error=error.strerror)])
        return {}, True
    now = time.time()
    for number, raw in enumerate(data.split(b"\n"), 1):
        line = raw.decode("ascii", "replace").strip()
        if not line:
            continue
        entry = _parse(line)
        if entry is None:
            warnings.append(messages.ACME_SEEN_BAD_LINE.format(
                path=path, number=number, line=_shown(line)))
            dirty = True
            continue
        owner, record, seconds = entry
        if not (EARLIEST <= seconds <= now + SKEW_SECONDS or allow_zero and seconds == 0):
            warnings.append((reset_message or messages.ACME_SEEN_RESET).format(
                path=path, number=number, owner=owner, record=record, seconds=seconds,
                skew=SKEW_SECONDS))
            dirty = True
            if reset_to is not None:
                known[owner, record] = reset_to
            continue  # not known: seen now, if it is served everywhere
        known[owner, record] = seconds
    if warnings:
        tls.log.warn(warnings)
    return known, dirty


def _parse(line):
    """(owner, "U S M HEX", seconds) of a sane line, or None."""
    words = line.split()
    if len(words) != 6 or not words[0].endswith("."):
        return None
    usage, selector, mtype, data, seconds = words[1:]
    if not all(word in ("0", "1", "2", "3") for word in (usage, mtype)) or selector not in (
            "0", "1"):
        return None
    if not data or any(character not in "0123456789abcdef" for character in data.lower()):
        return None
    if not seconds or any(character not in "0123456789" for character in seconds):
        return None
    return words[0], " ".join(words[1:5]), int(seconds)


def _shown(line):
    return line if len(line) <= 200 else line[:200] + "..."


def text(seen):
    return "".join("%s %s %d\n" % (owner, record, when)
                   for (owner, record), when in sorted(seen.items()))


def write(tls, path, seen):
    """Keep seen in path; a warning when it cannot be written (the records'
    wait then starts again at the next run: a new key waits, never sooner)."""
    try:
        tls.runner.replace_file(path, text(seen).encode("ascii"), 0o644)
    except OSError as error:
        tls.log.warn([messages.ACME_SEEN_UNWRITABLE.format(path=path, error=error.strerror)])
