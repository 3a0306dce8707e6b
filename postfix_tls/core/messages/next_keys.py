"""What deploy-acme-cert says of the keys an ACME client made ahead
(acme/next_keys.py, sni/made_ahead.py) and the rollover of them: read as
part of capabilities.py."""

ROLLOVER_MADE_AHEAD = ("; {algorithm}: made ahead by the ACME client for its next renewal"
                       " {keyfile}: with its record published, that renewal deploys it at once")
NEXT_KEY_BAD_ANNOUNCEMENT = ("{path}: not a regular file of one line \"CLIENT KEYFILE\": left"
                             " out (the client's next hook run writes it again)")
NEXT_KEY_NOT_ANNOUNCED = ("{client}'s next key {keyfile} is not announced: {reason} (the"
                          " renewal that takes it waits one TTL)")
NEXT_KEY_NOT_WRITTEN = ("{path}: the next key is not announced: {error} (the renewal that"
                        " takes it waits one TTL)")
NEXT_KEY_ANNOUNCED = ("{algorithm}: {client}'s next key {keyfile} announced in {path}: publish"
                      " its record now (output-server-tlsa-rollover; -K does), and its renewal"
                      " deploys it at once")
NEXT_KEY_DRY_RUN = " (dry run: not written)"
NEXT_KEY_WITHDRAWN = ("{algorithm}: no next key from the client: {path} removed (the next"
                      " renewal's key waits one TTL)")
NEXT_KEY_REPLACED = ("{path} named {client}'s next key {keyfile}, now {new}: if both still"
                     " renew, two lineages deploy this certificate, each renewal replacing"
                     " the other's (one for other names belongs in tls_server_sni_maps:"
                     " -m sni)")
NEXT_KEY_CHAIN_UNREAD = "its lineage's chain {chain} cannot be read, or names no host"
NEXT_KEY_OTHER_NAMES = ("its lineage's chain {chain} names {names}, not {hostnames} (another"
                        " name's lineage goes into tls_server_sni_maps)")
NEXT_KEY_RELATIVE = "a relative name (the hook's directory is not known here)"
NEXT_KEY_CONTROL_CHARACTER = "a control character or line break in its name"
NEXT_KEY_MISSING = "no such file"
NEXT_KEY_NOT_A_FILE = "not a regular file"
NEXT_KEY_UNREADABLE = "it cannot be read"
NEXT_KEY_TOO_LARGE = "larger than any key ({largest} bytes)"
NEXT_KEY_ENCRYPTED = "an encrypted key (Postfix reads no passphrase)"
NEXT_KEY_NO_KEY = "no RSA or ECDSA private key in it"
NEXT_KEY_OTHER_ALGORITHM = "now an {found} key"
NEXT_KEY_EMPTY = "the file is empty (the client used the key)"
NEXT_KEY_GONE = ("{path}: {client}'s next key {keyfile} is left out: {reason} (the client's"
                 " next hook run says which key it holds)")
