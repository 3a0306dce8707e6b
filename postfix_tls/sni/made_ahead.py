"""Keys an ACME client made ahead for a lineage deployed into
tls_server_sni_maps (acme/next_keys.py has the default certificate's).

Each hook run of such a lineage announces its next key in
``acme-sni-LABEL-ALGORITHM.next``; output-server-tlsa-rollover -S NAME
lists it, publish-server-tlsa -S NAME -K publishes its records, and the
runs between renewals (a timer's, dehydrated's unchanged_cert) note when
every nameserver first serves them, for each name of the lineage: so the
renewal that takes the key passes every name's gate at once.
"""

import glob
import os

from postfix_tls.acme import next_keys
from postfix_tls.acme.gate import watch as watch_records
from postfix_tls.core import messages
from postfix_tls.core.keys import SNI_NEXT_FILE

PREFIX = "acme-sni-"


def announced(tls):
    """[(label, algorithm)] of the announcements in the configuration
    directory, in name order."""
    found = []
    for algorithm in tls.setup.algorithms():
        pattern = os.path.join(glob.escape(tls.config_directory),
                               SNI_NEXT_FILE.format(label="*", algorithm=algorithm))
        suffix = "-%s.next" % algorithm
        for path in sorted(glob.glob(pattern)):
            found.append((os.path.basename(path)[len(PREFIX):-len(suffix)], algorithm))
    return found


def watch(tls, live, names_of, outcome):
    """Note the first sighting of each announced key's records, for every
    name of its lineage (names_of(label): the names, wildcards left out:
    they have no records).  A DNS error is a note: the gate looks again."""
    watched = set()
    for label, algorithm in announced(tls):
        if next_keys.read(tls, algorithm, label) is None:
            continue  # warned when it names a key no longer there
        for name in names_of(label):
            if name.startswith("*.") or name.lower() in watched:
                continue
            watched.add(name.lower())
            outcome.notes += [messages.ACME_WATCH_DNS_ERROR.format(owner=owner, error=error)
                              for owner, error in watch_records(tls, name, live.ports,
                                                                live.nameserver)]
