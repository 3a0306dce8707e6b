"""What our own capabilities say: DANE, chain files, the lock, undoing,
deploy-acme-cert, acme-tlsa.seen, staged keys, status."""

# DANE (ours).
BAD_PORTS = "invalid -p value: {}: expected ports, comma-separated (25,465,587)"
BAD_NAMESERVER = "invalid -n value: {}: expected an IP address, with :port if not 53"
BAD_ADDRESS = "invalid -s value: {}: expected a host name or an IP address"
NO_DNSPYTHON = ("check-server-tlsa needs dnspython: apt-get install python3-dnspython"
                " (or pip install dnspython)")
OLD_DNSPYTHON = ("check-server-tlsa needs dnspython 2.0 or later, not {}: pip install"
                 " 'dnspython>=2.0' (Debian 11 and later: python3-dnspython)")
BAD_SECONDS = "invalid -t value: {}: expected seconds, 1 to 3600"
ROLLOVER_DEPLOYED = "; {algorithm}: deployed {keyfile}"
ROLLOVER_NEXT = "; {algorithm}: next {keyfile}"
NEXT_KEY_LEFT_OUT = "{algorithm}: the next key {path} is left out: {reason}"
ROLLOVER_NO_NEXT = "; {algorithm}: no next key yet: {command} new-server-key -a {algorithm}"
ROLLOVER_PUBLISH = ("; publish this RRset now (current + next); deploy a next key only once"
                    " the old RRset's TTL has passed on every nameserver")
TLSA_DNS_ERROR = "DNS lookup of {owner} TLSA failed: {error}"
TLSA_PUBLISH_DEPLOYED = ("publish {record} for the deployed key {keyfile}: DANE senders defer"
                         " mail until it is published")
TLSA_PUBLISH_STAGED = ("publish {record} for the next key {keyfile}, and wait for the old"
                       " RRset's TTL to pass, before deploying it")
TLSA_PUBLISH_MADE_AHEAD = ("publish {record} for the key the ACME client made for its next"
                           " renewal, {keyfile}: that renewal then deploys it at once, instead"
                           " of waiting one TTL")
TLSA_STALE = "remove stale {owner} IN TLSA {record}: no deployed or next key matches it"
TLSA_NO_NAMESERVERS = ("{owner}: the zone's nameservers were not found ({error}): only the"
                       " resolver's answer was checked")
TLSA_NAMESERVER_NOT_ASKED = "{owner}: nameserver {name} ({address}) could not be asked: {error}"
TLSA_NAMESERVER_DIFFERS = ("nameserver {name} ({address}) serves another {owner} TLSA RRset"
                           " ({count} record(s): {missing} missing, {extra} extra): every"
                           " nameserver must serve the same before a key is deployed (zone"
                           " transfer, serial?)")
TLSA_NOT_VALIDATED = ("{owner}: the answer was not DNSSEC-validated (no AD flag): DANE needs"
                      " a signed zone and a validating resolver")
TLSA_WAIT = ("{owner}: the next keys are published (TTL {ttl} s): wait until {ttl} s have"
             " passed since publishing, on every nameserver, before deploying them")
TLSA_NO_TLS = "no TLS from {address} port {port}: {error}"
TLSA_OPENSSL_NO_DANE = ("the live server's DANE verification was not run: {openssl} is {version},"
                        " and s_client -dane_tlsa_domain needs OpenSSL 1.1.0 or later (put a"
                        " newer openssl first on PATH, or set openssl_path on Postfix 3.1+);"
                        " the DNS records and the presented keys were checked")
TLSA_SILENT = "no answer within {seconds} s (-t {seconds})"
TLSA_LIVE_OTHER_KEY = ("{address} port {port} presents {presented} for {algorithm}, not the"
                       " deployed {keyfile}: run {reload}")
TLSA_LIVE_UNVERIFIED = ("{address} port {port} ({algorithm}): openssl's DANE verification"
                        " failed ({error}): publish a record for the key it presents")
TLSA_CHECK_OK = ("OK: DNS and the live server match the deployed keys; deploying the next"
                 " keys now is safe")
TLSA_CHECK_PROBLEMS = "{count} problem(s):"

# smtpd_tls_chain_files (ours): what Postfix would refuse to load.
CHAIN_UNREADABLE = "smtpd_tls_chain_files: cannot read {path}: {error}"
CHAIN_EMPTY = "smtpd_tls_chain_files: no PEM object in {path}"
CHAIN_UNTERMINATED = ("smtpd_tls_chain_files: {path}, object {position} ({label}) has no END"
                      " line")
CHAIN_UNKNOWN_OBJECT = ("smtpd_tls_chain_files: {path}, object {position} is a {label}: only"
                        " private keys and certificates belong there")
CHAIN_NO_KEY = "smtpd_tls_chain_files: no private key in {path}"
CHAIN_NAMES_NOTHING = ("smtpd_tls_chain_files is set but names no file: Postfix loads no key"
                       " from it and ignores smtpd_tls_cert_file and the other legacy"
                       " parameters; name the files, or remove it (postconf -X"
                       " smtpd_tls_chain_files)")
CHAIN_KEY_WITHOUT_CERT = ("smtpd_tls_chain_files: the private key at {path}, object"
                          " {position}, is not followed by its certificate")
CHAIN_CERT_BEFORE_KEY = ("smtpd_tls_chain_files: the certificate at {path}, object {position},"
                         " comes before any private key (each key must come first, then its"
                         " certificate and chain)")
CHAIN_TWO_KEYS = ("smtpd_tls_chain_files: a second {algorithm} key at {path}, object"
                  " {position} (the first is at {first}): at most one key per algorithm")
CHAIN_KEY_ENCRYPTED = ("smtpd_tls_chain_files: the private key at {path}, object {position},"
                       " is encrypted: Postfix cannot read it")
CHAIN_KEY_UNKNOWN = ("smtpd_tls_chain_files: the private key at {path}, object {position}:"
                     " unknown algorithm")
# output-server-csr: a key that is not its file's first goes to openssl on a pipe.
KEY_PIPE_FAILED = "the private key at {where}, cannot go to openssl on a pipe: {why}"
KEY_PIPE_TOO_LARGE = ("it is {size} bytes, more than a pipe holds ({largest}) and far more"
                      " than any key OpenSSL can use (RSA of 16384 bits is about 12.6 KB)")
KEY_PIPE_TOO_SMALL = ("the pipe holds less than its {size} bytes, and a larger one was refused"
                      " ({error}): a user over fs.pipe-user-pages-soft (proc(5)) gets small"
                      " pipes; run it as root")
# Ours: in any PEM file of ours to read (a chain file, a full chain, a key).
PEM_BYTE_ORDER_MARK = ("{path} has a byte-order mark (U+FEFF) before object {position} ({label}):"
                       " OpenSSL before 3.0 (and Postfix built with it) skips that object, and"
                       " OpenSSL 3 too unless the mark is the file's first bytes or directly"
                       " follows an END line; save the file without the byte-order mark")

CHAIN_FILE_SUBCOMMANDS = "--chain-file goes with deploy-server-cert, enable-server," \
    " new-server-key, new-server-cert or deploy-acme-cert"
CHAIN_FILE_NEEDS_3_4 = ("--chain-file: smtpd_tls_chain_files is new in Postfix 3.4, and this is"
                        " Postfix {version}: deploy without --chain-file")
CHAIN_FILE_OTHER_FILE = ("--chain-file {path}: the {algorithm} key Postfix loads is in {other}:"
                         " deploy into that file, or take it out of smtpd_tls_chain_files first")
CHAIN_FILE_NO_CERTIFICATE = "no certificate found in {}"
CHAIN_FILE_OTHER_OBJECTS = ("{path} holds a {labels} besides certificates: give the certificate"
                            " and its chain only: nothing deployed")
CHAIN_FILE_NOT_IN_ORDER = ("the certificates in {} are not in order (each one signed by the"
                           " next, the server's first): nothing deployed")

# --chain-file and deploy-acme-cert (ours): what may be a chain file.
CHAIN_FILE_BAD_NAME = ("--chain-file {path}: Postfix cannot list a file whose name has {what} in"
                       " smtpd_tls_chain_files (it splits the list there): choose another name")
CHAIN_FILE_NAMED_ELSEWHERE = ("--chain-file {path}: main.cf names it in {parameter}: it is not a"
                              " chain file of its own; choose another name")
CHAIN_FILE_EMPTY = "--chain-file needs a file name"
CHAIN_FILE_IS_CONFIGURATION = ("--chain-file {path}: Postfix reads that file as its configuration:"
                               " choose a file of its own for the key and certificates")
CHAIN_FILE_NOT_REGULAR = ("--chain-file {path}: {what}, not a regular file: choose a file of its"
                          " own for the key and certificates")
CHAIN_FILE_NOT_PEM = ("--chain-file {path}: the file exists and holds {what}, not only PEM"
                      " private keys and certificates: it is not a chain file, and is not"
                      " overwritten; choose another name, or move it away first")
CHAIN_FILE_NO_DIRECTORY = "--chain-file {path}: no such directory: {directory}"
CHAIN_FILE_DROPS = ("moving to smtpd_tls_chain_files would drop the {algorithm} key and"
                    " certificate Postfix loads now ({parameters}): {why}; nothing deployed")
CHAIN_FILE_DROPS_DSA = ("DSA is not deployed into chain files; take it out first: postconf -X"
                        " smtpd_tls_dcert_file smtpd_tls_dkey_file")
CHAIN_FILE_CARRIED = ("{algorithm}: the key and certificate of {parameters} are carried into"
                      " {path}")
CHAIN_FILE_MISSING_DROPPED = ("smtpd_tls_chain_files names {path}, which does not exist: it is"
                              " left out of the setting")
LOCK_BUSY = ("another postfix-tls run (pid {pid}) is changing this configuration; it holds {path}"
             " (waited {seconds:g} s): run again once it has finished")
LOCK_FAILED = "cannot open or create the lock file {path}: {error}"
LOCK_WAITING = "(waiting for the lock {path})"

# Ours: putting back what a failed or interrupted run changed (every step
# is tried; these say what is left as it is, and what to run).
UNDO_FILE_FAILED = ("{path} could not be put back ({error}): it holds the new key and"
                    " certificate")
UNDO_KEPT = "{path} is kept (main.cf may name it): it holds the new key and certificate"
UNDO_STEP_FAILED = "an undo step failed ({error})"
UNDO_MAIN_CF_FAILED = ("main.cf could not be put back ({command} failed: {output}); it still"
                       " has: {now}; to put it back, run: {commands}")
UNDO_RELOAD_FAILED = ("{command} failed after the old files were put back: Postfix may still"
                      " serve the new ones ({output})")
UNDO_INCOMPLETE = ("the old state could not be fully restored:\n  {problems}\nCheck with"
                   " \"postfix check\" and \"{tls} status\", then run \"postfix reload\"")
UNDONE = "the old files are back"
REPLACED_NOT_REGULAR = "is not a regular file, and is not replaced: move it away first"
ACME_STAGED_NOT_REMOVED = ("{path} is left as it is ({problem}): a staged key is a regular file;"
                           " remove it by hand")
# --json: a failure that said nothing of its own (cli.main).
FAILED = "failed"

# deploy-acme-cert (ours): refusals (nothing changed), then what a run did.
ACME_USAGE_SOURCE = ("deploy-acme-cert takes keyfile fullchainfile; or no operands, as"
                     " certbot's --deploy-hook (RENEWED_LINEAGE), lego's --run-hook or"
                     " --renew-hook (LEGO_CERT_PATH, LEGO_CERT_KEY_PATH), acme.sh's --reloadcmd"
                     " (CERT_KEY_PATH, CERT_FULLCHAIN_PATH) or a timer (what is staged); or"
                     " dehydrated's hook calls (deploy_cert DOMAIN KEYFILE ...)")
ACME_LINEAGE_MISSING = "{source}: {path} is missing: is {variable} a certificate's directory?"
ACME_UNSUPPORTED = ("the key in {keyfile} is {algorithm}, which this Postfix does not support:"
                    " nothing deployed")
ACME_KEY_MISMATCH = ("the certificate in {chainfile} does not match the key in {keyfile}:"
                     " nothing deployed, the old certificate stays")
ACME_NOT_A_CERTIFICATE = "certificate {position} in {chainfile}: openssl cannot read it"
ACME_EXPIRED = ("certificate {position} in {chainfile} ({subject}) expired on {when}:"
                " nothing deployed, the old certificate stays")
ACME_NOT_YET_VALID = ("certificate {position} in {chainfile} ({subject}) is not valid before"
                      " {when}: nothing deployed, the old certificate stays")
ACME_EXPIRES_SOON = ("certificate {position} in {chainfile} ({subject}) expires on {when},"
                     " within {days} days: nothing deployed, the old certificate stays; is the"
                     " ACME client renewing? (-e 0 deploys it anyway)")
ACME_EXPIRES_SOON_DEPLOYED = ("certificate {position} in {chainfile} ({subject}) expires on"
                              " {when}, within {days} days: deployed, as -e {margin} allows;"
                              " is the ACME client renewing?")
ACME_DEHYDRATED_ARGUMENTS = ("dehydrated's deploy_cert call needs DOMAIN KEYFILE CERTFILE"
                             " FULLCHAINFILE (then CHAINFILE TIMESTAMP), not: {}: nothing"
                             " deployed; pass every argument on: postfix-tls deploy-acme-cert"
                             " \"$@\"")
BAD_MARGIN_DAYS = "invalid -e value: {}: expected days, 0 to 3650"
ACME_NAME_MISSING = ("the certificate in {chainfile} does not name {hostname} (it names {names}):"
                     " nothing deployed; give -h with the host's names if they differ from"
                     " myhostname")
ACME_NO_DNSPYTHON = ("deploy-acme-cert needs dnspython to check the TLSA records of a new key:"
                     " apt-get install python3-dnspython: nothing deployed")
ACME_OLD_DNSPYTHON = ("deploy-acme-cert needs dnspython 2.0 or later to check the TLSA records of"
                      " a new key, not {}: pip install 'dnspython>=2.0' (Debian 11 and later:"
                      " python3-dnspython): nothing deployed")
ACME_CHECK_FAILED = ("postfix check failed after the new certificate was written; {undone}:"
                     "\n{output}")
ACME_RELOAD_FAILED = "{command} failed; {undone}:\n{output}"
ACME_LIVE_FAILED = ("{address} port {port} does not serve the new {algorithm} certificate"
                    " after {reload}: {error}; {undone}")
ACME_UNDONE_RELOADED = "the old files are back and Postfix was reloaded again"
ACME_LIVE_OTHER_KEY = "it presents another key ({digest})"
ACME_LIVE_UNVERIFIED = "openssl's DANE verification failed ({error})"

ACME_FROM = "{source}: key {keyfile}, certificate chain {chainfile}"
ACME_UNCHANGED = "{algorithm}: unchanged: Postfix already loads this key and chain ({path})"
ACME_DEPLOYED = "{algorithm}: deployed into {path} ({why})"
ACME_SAME_KEY = "the key is the one deployed"
ACME_NEW_KEY_NO_RECORDS = "a new key; no TLSA records are published for {owners}"
ACME_NEW_KEY_PUBLISHED = "a new key; its TLSA record is served by every nameserver"
ACME_STAGED = ("{algorithm}: staged in {path}, not deployed (Postfix keeps serving the"
               " current certificate):")
ACME_STAGED_DNS_ERROR = "the TLSA lookup of {owner} failed ({error})"
ACME_STAGED_NO_NAMESERVERS = "the nameservers of {owner} were not found ({error})"
ACME_STAGED_NOT_ASKED = "nameserver {name} ({address}) could not be asked for {owner} ({error})"
ACME_STAGED_NOT_SERVED = "no TLSA record of {owners} matches the new key at {nameservers}"
ACME_NAMESERVER_SERIAL = "{name} ({address}, zone serial {serial})"
ACME_STAGED_NOT_VALIDATED = ("the zone of {owner} is signed, and the resolver ({resolver}) does"
                             " not yet return the new key's record validated (AD): the wait"
                             " starts once it does")
ACME_STAGED_WAIT = ("every nameserver serves its record since {since}, and caches may hold the"
                    " old RRset for {ttl} s: a run from {after} on deploys it")
ACME_PUBLISH = ("publish beside the current records (keep them until it is deployed), then run"
                " {command} deploy-acme-cert again, or let a timer do it:")
ACME_MAIN_CF = "main.cf: {settings}"
ACME_RELOADED = "{command}: done"
ACME_NOT_RUNNING = ("Postfix is not running: not started, and not reloaded; it loads the new"
                    " certificate when it starts")
ACME_DRY_RUN = "dry run: nothing was written, checked or reloaded, the live server not verified"
ACME_LIVE_OK = "{address} port {port}: presents the new {algorithm} certificate{dane}"
ACME_LIVE_DANE = ", and openssl's DANE verification succeeds"
ACME_NOTHING = "nothing to deploy: no certificate given and none staged"
ACME_NOTHING_CHANGED = "nothing changed: nothing written, Postfix not reloaded"
# acme-tlsa.seen (first_seen.py): what is not trusted, and why.
ACME_SEEN_BAD_LINE = ("{path} line {number}: not an \"owner record seconds\" line, dropped:"
                      " {line}")
ACME_SEEN_RESET = ("{path} line {number}: {owner} {record} first seen at second {seconds},"
                   " before 2000 or more than {skew} s ahead of this host's clock: counted as"
                   " first seen now")
REGISTRY_RESET = ("{path} line {number}: {owner} {record}: unneeded since second {seconds},"
                  " before 2000 or more than {skew} s ahead of this host's clock: counted as"
                  " unneeded since now")
ACME_SEEN_NOT_A_FILE = "{path} is not a regular file: every TLSA record counts as first seen now"
ACME_SEEN_UNREADABLE = ("cannot read {path}: {error}: every TLSA record counts as first seen"
                        " now")
ACME_SEEN_UNWRITABLE = ("cannot write {path}: {error}: when TLSA records were first seen is not"
                        " kept, and a new key waits until a run can keep it")
# A staged key concerns its own algorithm only (staged.py): never fatal to another.
ACME_STAGED_WRONG_ALGORITHM = "the key in {path} is {found}, not {algorithm}"
ACME_STAGED_REMOVED = ("{algorithm}: the key staged in {path} is removed, not deployed: {reason}"
                       "; the next renewal stages or deploys a new one")
ACME_STAGED_MOVED_ASIDE = ("{algorithm}: the key staged in {path} cannot be deployed, and was"
                           " moved aside to {aside} (look at it, then remove it): {reason}")
ACME_STAGED_NOT_MOVED = ("{algorithm}: the key staged in {path} cannot be deployed, and could"
                         " not be moved aside ({command} failed), so it is left alone: {reason}")
ACME_STAGED_IGNORED = ("{algorithm}: the key staged in {path} is not taken as the next key:"
                       " {reason}; deploy-acme-cert's next run sets it aside")

# status (ours): the verdict line, and one line per problem found.
STATUS_SUMMARY = "TLS {verdict} - {text}"
STATUS_NOT_RUN = "status could not run: see the messages of postfix-tls on stderr"
STATUS_ALL_OK = "{count} server certificate(s) valid, the nearest expiry in {days} days ({what})"
STATUS_BAD_DAYS = "invalid {option} value: {value}: expected a number of days"
STATUS_MISSING = "{role} {path} is missing: create it, or point main.cf at the right file"
STATUS_UNREADABLE = "{role} {path} is not readable: check its mode and owner"
STATUS_NOT_MATERIAL = "{role} {problem}: point main.cf at the file itself"
STATUS_NOT_A_CERTIFICATE = "no certificate found in {}: openssl x509 cannot read it"
STATUS_EXPIRED = ("{what} expired on {when}: deploy a new one"
                  " (postfix tls new-server-cert, or your CA's)")
STATUS_EXPIRES = "{what} expires in {days} days, on {when}: renew it"
STATUS_NOT_YET_VALID = "{what} is not valid before {when}"
STATUS_SNI_NOT_READ = ("SNI table {table}: its type is not read here (only indexed types and"
                       " texthash): its names are not checked")
STATUS_SNI_SOURCE_UNREADABLE = "SNI table {table}: its source {path} cannot be read: {error}"
STATUS_SNI_CHAIN = "SNI name {name} ({table} line {line}): {error}"
STATUS_SNI_NO_TYPE = ("SNI table {table} has no type (expected type:name, e.g. hash:{table}):"
                      " Postfix cannot open it")
STATUS_SNI_SKIPPED = "SNI table {table} line {line}: {why}"
STATUS_SNI_WILDCARD_KEY = ("SNI name {name} ({table} line {line}): Postfix never looks up a"
                           " \"*.\" key; names under {parent} are found by the key {parent}")
SNI_SOURCE_NOT_REGULAR = "not a regular file"
SNI_UNBALANCED = ("tls_server_sni_maps = {value}: a brace is not closed: Postfix cannot open"
                  " its tables")
STATUS_SNI_REMOVED = ("SNI name {name}: the built table {table} still serves it, but its source"
                      " no longer has it: run postmap -F {table}")
SNI_LINE_STARTS_WITH_SPACE = ("starts with white space, with no line before it to continue:"
                              " postmap skips it")
SNI_LINE_NOT_ASCII = ("not ASCII: a client sends an SNI name in A-label form (xn--...), so this"
                      " key never matches (and postmap skips a line that is not UTF-8)")
SNI_LINE_NO_VALUE = "{key} has no files after it: postmap skips it (expected: key files)"
SNI_LINE_DUPLICATE = ("{key} again (keys are folded to lower case): postmap keeps line"
                      " {first} and skips this one")
SNI_TYPE_UNSUPPORTED = ("SNI table {table}: this Postfix has no such table type (postconf -m):"
                        " install its package (postfix-cdb, postfix-lmdb) or change the type")
SNI_NOT_BUILT_AT_ALL = "SNI table {table} was never built: run postmap -F {table}"
SNI_DUMP_FAILED = "SNI table {table} cannot be read: {error}"
SNI_BUILT_WITHOUT_F = ("SNI table {table} was built without -F (it stores file names, not their"
                       " contents; Postfix cannot use it): run postmap -F {table}")
STATUS_SNI_NOT_COVERED = ("SNI name {name} ({table} line {line}): the certificate does not cover"
                          " it (it names {names})")
STATUS_SNI_NOT_BUILT = ("SNI name {name}: the built table {table} has no entry for it: run"
                        " postmap -F {table}")
STATUS_SNI_STALE = ("SNI name {name}: the built table {table} holds other keys or certificates"
                    " than its files (Postfix serves what the table holds): run"
                    " postmap -F {table}")
STATUS_SNI_ALSO_DEFAULT = ("{name}: served by the default certificate and by the SNI table (a"
                           " client sending no SNI gets the default)")
STATUS_SNI_DEFAULT_MISSING = ("{name}: a name of the default certificate, not in the SNI table"
                              " (its documentation asks for it: a client sending it gets no"
                              " positive SNI answer)")
STATUS_MYHOSTNAME = "{what} does not name myhostname {myhostname} (it names {names})"
STATUS_NO_KEY = "no private key found in file: {}"
STATUS_KEY_ENCRYPTED = "private key {} is encrypted (passphrase-protected): Postfix cannot read it"
STATUS_KEY_WITHOUT_CERT = "{algorithm} private key {path} is configured without a certificate"
STATUS_CHAIN_ORDER = ("the certificates in {} are not in order (each one signed by the next,"
                      " the server's first): reorder them")
STATUS_NO_SERVER_CERT = "no server certificate configured"
STATUS_ASSUMED = ("Postfix {version} was built with TLS, supporting {algorithms}: its postconf"
                  " cannot say (postconf -T is new in Postfix 3.1); if it was,"
                  " \"ldd {daemon_directory}/smtpd\" names libssl")
STATUS_CACHE_TYPE = "{parameter} uses map type {type}, which this Postfix does not support"

# Publishing TLSA records (RFC 2136 with TSIG), ours.
PUBLISH_NO_DNSPYTHON = ("publishing TLSA records needs dnspython: apt-get install"
                        " python3-dnspython (or pip install dnspython): nothing changed")
PUBLISH_OLD_DNSPYTHON = ("publishing TLSA records needs dnspython 2.0 or later, not {}: pip"
                         " install 'dnspython>=2.0' (Debian 11 and later: python3-dnspython):"
                         " nothing changed")
TSIG_UNREADABLE = "TSIG key file {path}: {error}"
TSIG_NO_KEY = ("TSIG key file {path}: no key found (expected tsig-keygen's key \"NAME\" {{ ... }};"
               " or keymgr -t's output)")
TSIG_SEVERAL_KEYS = "TSIG key file {path}: several keys ({names}): give a file with one"
TSIG_BAD_ALGORITHM = "TSIG key file {path}: algorithm {algorithm} is not one of {algorithms}"
TSIG_BAD_SECRET = "TSIG key file {path}: the secret of key {name} is not base64"
PUBLISH_NO_TTL = ("{owner} has no TLSA records yet, so no TTL to keep: give one (the zone's"
                  " usual, say 3600)")
PUBLISH_BADKEY = ("{server} does not accept TSIG key {key} for this update (BADKEY): the key"
                  " is unknown there, or its update ACL does not cover TLSA records of this"
                  " name")
PUBLISH_BADSIG = ("{server} rejects the signature of TSIG key {key} (BADSIG): the secret differs"
                  " from the server's")
PUBLISH_BADTIME = ("{server} rejects the update's time (BADTIME): this host's clock and the"
                   " server's differ by more than 5 minutes: check NTP on both")
PUBLISH_TIMEOUT = ("{server} did not answer the update within {seconds} s: it may have been"
                   " made; a later run reads the zone again")
PUBLISH_NO_ANSWER = ("{server}: the update failed on its way ({error}): it may have been made;"
                     " a later run reads the zone again")
PUBLISH_CHANGED = ("the TLSA records at {server} changed since they were read (another host or"
                   " run updated {zone}): nothing was overwritten; read again and retry")
PUBLISH_REFUSED = "{server} refused the update of {zone}: {rcode}"
PUBLISH_NO_ZONE = "the zone of {owner} was not found: {error}"
PUBLISH_NO_PRIMARY = ("the primary of {zone} ({primary}, its SOA's MNAME) has no address:"
                      " name the server to update")
PUBLISH_READ_FAILED = ("{server} did not give the TLSA records of {owner}: {rcode}: it must be"
                       " the zone's primary (-P, else the SOA's MNAME) and answer this host's"
                       " queries over TCP")
PUBLISH_READ_TIMEOUT = ("{server} did not answer the query for the TLSA records of {owner} within"
                        " {seconds} s: nothing was sent")
PUBLISH_READ_NO_ANSWER = ("{server} could not be asked for the TLSA records of {owner}: {error};"
                          " nothing was sent")
PUBLISH_CNAME = ("{owner} is a CNAME to {target}: no record can be added beside it; publish the"
                 " records at {target}, or remove the CNAME")
PUBLISH_NOT_MADE = ("{server} accepted the update of {zone} but does not serve it: {owner} {what};"
                    " check the server's log (an update it ignored)")
PUBLISH_BAD_PRIMARY = ("invalid -P value: {}: expected the primary's IP address, with :port"
                       " if not 53")
PUBLISH_BAD_OUTPUT = "invalid -o value: {}: expected nsupdate or zone"
PUBLISH_BAD_TTL = "invalid -L value: {}: expected seconds, 1 to 2147483647"
PUBLISH_NO_KEY_FILE = ("publish-server-tlsa needs -K FILE, a TSIG key file (tsig-keygen's or"
                       " keymgr -t's; a relative name is in the configuration directory), or"
                       " -o nsupdate or -o zone to write the update out")
PUBLISHED = "{owner} {ttl} IN TLSA {record}: published{dry_run}\n"
PUBLISHED_ALREADY = "{owner}: every key's record is published already\n"
ACME_MORE_PORTS = ("ports {ports} too: this host published TLSA records there ({path}), which"
                   " a new key must be published beside and the old retired from")
ACME_PUBLISH_NEEDS_KEY = ("-{letter} goes with -K FILE, the TSIG key file of the updates that"
                          " publish the TLSA records")
ACME_PUBLISH_FAILED = "the TLSA records could not be published: {error}"
ACME_PUBLISHED = "published {owner} {ttl} IN TLSA {record} at {server}{dry_run}"
ACME_RETIRED = "retired {owner} IN TLSA {record} at {server}: no key of this host has it{dry_run}"
ACME_RETIRE_WAIT = ("{owner} IN TLSA {record}: no key of this host has it any more; a run from"
                    " {after} on removes it")
ACME_WATCH_DNS_ERROR = ("{owner}: DNS lookup failed ({error}): when a key made ahead has its"
                        " record served everywhere was not noted by this run")
ACME_RETIRE_FAILED = "the records of retired keys were not removed: {error}"
ACME_NOT_SENT = " (dry run: not sent)"


from postfix_tls.core.messages.next_keys import *  # noqa: E402,F401,F403
from postfix_tls.core.messages.sni import *  # noqa: E402,F401,F403
