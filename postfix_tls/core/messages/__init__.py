"""Every message and exit status of ``postfix tls``, as data.

The texts are those of Postfix 3.7's postfix-tls-script, including its
oddities (trailing spaces, "private" vs "public"), because administrators
and their scripts match on them.  Messages marked "ours" have no upstream
counterpart: they cover input and faults that upstream does not check.

Upstream's subcommands' texts, the exit statuses, the start-up checks' and
the information blocks' words are in common.py; what our own capabilities
say (DANE, chain files, the lock, undoing, deploy-acme-cert, status) in
capabilities.py.  Both are read as one: ``messages.NAME``.
"""

from postfix_tls.core.messages.capabilities import *  # noqa: F401,F403
from postfix_tls.core.messages.common import *  # noqa: F401,F403
