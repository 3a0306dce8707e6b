"""Keys an ACME client made ahead for a lineage deployed into
tls_server_sni_maps (acme/next_keys.py has the default certificate's).

Each hook run of such a lineage announces its next key in
``acme-sni-LABEL-ALGORITHM.next``; output-server-tlsa-rollover -S NAME
lists it, publish-server-tlsa -S NAME -K publishes its records, and the
runs between renewals (a timer's, dehydrated's unchanged_cert) note when
every nameserver first serves them, for each name of the lineage: so the
renewal that takes the key passes every name's gate at once.
"""

import time

from postfix_tls.acme import next_keys
from postfix_tls.acme.gate import watch as watch_records
from postfix_tls.core import messages, validate
from postfix_tls.core.keys import SNI_NEXT_FILE, sni_files

# The watch's time, all names together: it runs holding the lock, which a
# renewal's hook waits for (lock.py).  Each name takes milliseconds when
# DNS answers; a name left for later only waits one TTL at its renewal.
WATCH_SECONDS = 30


def announced(tls):
    """[(label, algorithm)] of the announcements in the configuration
    directory, in name order; a label that is no host name (a file of
    another making) is left out."""
    found = []
    for algorithm in tls.setup.algorithms():
        for _, label in sni_files(tls.config_directory, SNI_NEXT_FILE, algorithm):
            if validate.hostname(label, wildcard=False):
                found.append((label, algorithm))
    return found


def watch(tls, live, names_of, outcome, only=None):
    """Note the first sighting of each announced key's records, for every
    name of its lineage (names_of(label): the names, wildcards left out:
    they have no records); only: that label's alone.  The first DNS error
    ends the watch, said in a note (the gate looks again), as does
    WATCH_SECONDS."""
    watched = set()
    deadline = time.time() + WATCH_SECONDS
    for label, algorithm in announced(tls):
        if only is not None and label != only:
            continue
        if next_keys.read(tls, algorithm, label) is None:
            continue  # warned when it names a key no longer there
        for name in names_of(label):
            if name.startswith("*.") or name.lower() in watched:
                continue
            if time.time() > deadline:
                outcome.notes.append(messages.SNI_WATCH_TIME.format(
                    seconds=WATCH_SECONDS, name=name))
                return
            watched.add(name.lower())
            errors = watch_records(tls, name, live.ports, live.nameserver)
            outcome.notes += [messages.ACME_WATCH_DNS_ERROR.format(owner=owner, error=error)
                              for owner, error in errors]
            if errors:
                return
