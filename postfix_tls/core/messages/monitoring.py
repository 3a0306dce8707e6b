"""What status's monitoring outputs say (ours): the Prometheus text for
node_exporter's textfile collector, the staged keys, and the TLSA records
status asks DNS for with -p."""

STATUS_BAD_OUTPUT = "invalid -o value: {}: expected text or prometheus"
STATUS_TEXTFILE_FAILED = "cannot write the metrics file {path}: {error}"
STATUS_TEXTFILE_NAME = ("invalid -f value: {}: expected a file name ending in .prom (the"
                        " textfile collector reads no other)")
STATUS_TEXTFILE_RELATIVE = ("invalid -f value: {}: expected an absolute file name (status"
                            " runs in the command directory, not the caller's)")
STATUS_TEXTFILE_LINE_BREAK = "invalid -f value: {}: a file name with a line break is refused"
STATUS_STAGED = ("{algorithm} key {path} is staged (waiting for its TLSA record) since {when}"
                 " ({days} days)")
# Past two days: exit 75 (staged, or the lock busy, or -K's publish
# failing) is a success for the unit, so only status tells a key is stuck.
STATUS_STAGED_STUCK = ("{algorithm} key {path} has been staged (waiting for its TLSA record)"
                       " since {when} ({days} days): the timer's runs are not deploying it;"
                       " look at journalctl -u postfix-tls-acme (a run holding the lock, -K"
                       " failing to publish the record, the record not served by every"
                       " nameserver, a name waiting for its SNI lineage whose records lack"
                       " it)")
STATUS_STAGED_FUTURE = ("{algorithm} key {path} is staged (waiting for its TLSA record), its"
                        " time {when} in the future: this host's clock or the file's time is"
                        " wrong, and its age cannot be told")
STATUS_NO_DNSPYTHON = ("status -p needs dnspython to look up TLSA records: apt-get install"
                       " python3-dnspython (or pip install dnspython)")
STATUS_OLD_DNSPYTHON = "status -p needs dnspython 2.0 or later, not {}"
STATUS_TLSA_ERROR = "DNS lookup of {owner} TLSA failed: {error}: DANE senders may defer mail"
STATUS_TLSA_NO_MATCH = ("no {owner} TLSA record matches the {algorithm} certificate {certfile}"
                        " (3 1 1 {digest}, nor 2 1 1 of its chain): DANE senders defer mail;"
                        " publish its record")
STATUS_TLSA_NONE = "{owner}: no TLSA records (no DANE for this port)"
STATUS_TLSA_NOT_VALIDATED = ("{owner}: the TLSA answer was not DNSSEC-validated (no AD flag):"
                             " DANE senders ignore it")
STATUS_TLSA_NOT_LOOKED_UP = "not looked up: status spends at most {seconds} s on DNS"
STATUS_TLSA_SKIPPED = ("{owners}: TLSA not looked up: status spends at most {seconds} s on DNS"
                       " (a monitoring system gives a plugin 10 s), and the lookups before"
                       " took them")
DNS_NO_ANSWER = "no answer from {nameservers} within {seconds} s"
# capabilities.py's STATUS_KEY_*_READABLE, with the chmod hint's path
# quoted for a shell ({quoted}), so that pasting it is safe.
STATUS_KEY_READABLE_BY_OTHERS = ("private key {path} is readable by others (mode {mode}):"
                                 " chmod 600 {quoted}")
STATUS_KEY_READABLE_BY_GROUP = ("private key {path} is readable by its group (mode {mode}):"
                                " chmod 600 {quoted}")
STATUS_DAYS_ORDER = ("invalid thresholds: -c {critical} is above -w {warning}: days left"
                     " are critical below -c and a warning below -w, so -c must not be"
                     " above -w (the defaults: -w 30 -c 7)")
