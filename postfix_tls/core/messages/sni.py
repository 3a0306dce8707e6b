"""What deploy-acme-cert says of tls_server_sni_maps, and remove-sni-name
and -S (sni/): read as part of capabilities.py."""

SNI_BAD_MODE = "invalid -m value: {}: expected sni (into tls_server_sni_maps) or default"
SNI_NEEDS_3_4 = ("{what}: tls_server_sni_maps is new in Postfix 3.4, and this is Postfix"
                 " {version}: nothing changed")
SNI_NOT_SET = ("tls_server_sni_maps is not set: nothing changed; name a table first, e.g."
               " postconf -e tls_server_sni_maps=hash:/etc/postfix/sni_maps")
SNI_NO_PUBLISHING = ("-K, -P and -L publish the records of the host's own name, and this"
                     " lineage goes into the SNI table: nothing changed; deploy it without -K"
                     " (a name with TLSA records gets its key staged until they match), then"
                     " publish each name's records with publish-server-tlsa -S NAME -K FILE")
SNI_BAD_NAME = "invalid name: {}: expected a DNS host name, or *.domain"
SNI_PATH_UNUSABLE = ("{path}: a file name with a comma or white space cannot be listed in an"
                     " SNI table: nothing changed")
SNI_FILE_MIXED = ("{key} ({table}) lists {path}, which holds the {algorithm} key and the"
                  " {others} key(s): nothing changed; list each algorithm's key and chain in a"
                  " file of its own, or take {key} out of the table")
SNI_NO_EDITABLE_TABLE = ("tls_server_sni_maps = {value}: none of its tables is of a type whose"
                         " source is edited here ({types}): nothing changed")
SNI_SOURCE_CANNOT_READ = "cannot read {path}: {error}: nothing changed"
SNI_TABLE_LINE = "{table}: {key} {files}"
SNI_TABLE_LINE_REMOVED = "{table}: {key} taken out"
SNI_BUILT = "postmap -F {table}: done"
SNI_BUILD_FAILED = "{table} cannot be built as it is; {undone}:\n{output}"
SNI_DEPLOYED = "{algorithm}: {names}: deployed into {path} ({why})"
SNI_UNCHANGED = ("{algorithm}: {names}: unchanged: the SNI table already serves this key and"
                 " chain ({path})")
SNI_STAGED = ("{algorithm}: {names}: staged in {path}, not deployed (Postfix keeps serving"
              " what it served):")
SNI_LIVE_OK = "{address} port {port}: {name} gets the new {algorithm} certificate{dane}"
SNI_LIVE_FAILED = ("{address} port {port} does not serve the new {algorithm} certificate to"
                   " {name} after {reload}: {error}; {undone}")
SNI_DEFAULT_OK = ("{address} port {port}: a name in no SNI table ({name}) still gets the"
                  " default {algorithm} certificate")
SNI_DEFAULT_LOST = ("{address} port {port}: a name in no SNI table ({name}) no longer gets the"
                    " default {algorithm} certificate after {reload}: {error}; {undone}")
SNI_REMOVE_USAGE = ("remove-sni-name takes the names to take out of tls_server_sni_maps"
                    " (example.com, *.example.com or .example.com)")
SNI_STILL_COVERED = ("{name} is still in the SNI table as {key}: it gets that entry's"
                     " certificate, not the default")
SNI_FILE_REMOVED = "removed {path}: its lineage is in no SNI entry any more"
SNI_NAME_ABSENT = "{name}: in no SNI table: no line to take out"
SNI_NAME_NOT_FOUND = ("-S {name}: no table of tls_server_sni_maps ({value}) has {name} or a"
                      " parent domain of it")
SNI_NAME_NOT_YET = ("-S {name}: in no table of tls_server_sni_maps yet, it gets the default"
                    " certificate until the key staged for it is deployed: {files}")
SNI_DEFAULT_STILL_SERVES = ("the default certificate also serves {names}, whose records match it,"
                            " until the lineage staged for each goes into the SNI table: a new"
                            " key waits for their records too (remove-sni-name NAME drops a"
                            " lineage given up)")
ACME_WAITING_NAME_UNKNOWN = ("{owner}: {error}: a name the default certificate serves until its"
                             " staged lineage goes in is not asked further; it holds up no new"
                             " key this run")
SNI_NOW_DEFAULT = "{address} port {port}: {name} now gets the default {algorithm} certificate"
SNI_WILDCARD_NO_RECORDS = "a wildcard's names (TLSA records are looked up for each name, not *)"
SNI_TABLE_ONLY = "its file is as it was; the table is brought in step"
SNI_UNCHANGED_FILE = "{algorithm}: {names}: {path} unchanged ({why})"
SNI_TABLE_LINE_DROPPED = ("{table}: {key} taken out: no longer a name of this certificate (it"
                          " would not cover it)")
SNI_BUILD_INCOMPLETE = ("the built table lacks {names} (postmap skips an entry whose file it"
                        " cannot open: those names would get the default certificate): fix"
                        " their files, or take them out with remove-sni-name; postmap said:\n"
                        "{output}")
SNI_FILES_MISSING = ("a file of {names} is missing (Postfix skips such an entry: those names"
                     " would get the default certificate): fix their files, or take them out"
                     " with remove-sni-name")
SNI_FILE_KEPT = ("{path} is kept: no entry read here lists it any more, but {table} may"
                 " (its entries are not read here)")
SNI_KEYS_STALE = ("-S {name}: the built table {table} serves other keys than its files hold"
                  " (built before they changed): run postmap -F {table} (or deploy-acme-cert"
                  " again), then ask again")
SNI_WATCH_TIME = ("the SNI names' keys made ahead were watched for {seconds} s; from {name}"
                  " on, the next run's watch notes when their records are served")
