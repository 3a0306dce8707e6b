"""Every message and exit status of ``postfix tls``, as data.

The texts are those of Postfix 3.7's postfix-tls-script, including its
oddities (trailing spaces, "private" vs "public"), because administrators
and their scripts match on them.  Messages marked "ours" have no upstream
counterpart: they cover input and faults that upstream does not check.

Upstream's subcommands' texts, the exit statuses, the start-up checks' and
the information blocks' words are in common.py; what our own capabilities
say (DANE, chain files, the lock, undoing, deploy-acme-cert, status) in
capabilities.py; status's monitoring outputs (Prometheus, staged keys, its
TLSA lookups) in monitoring.py.  All are read as one: ``messages.NAME``.
"""

import sys

from postfix_tls.core.messages.common import *  # noqa: F401,F403

if sys.version_info < (3, 7):  # noqa: UP036 (runs on 3.6: no module __getattr__, PEP 562)
    from postfix_tls.core.messages.capabilities import *  # noqa: F401,F403
    from postfix_tls.core.messages.monitoring import *  # noqa: F401,F403
else:
    _LAZY = ("capabilities", "monitoring")  # in this order

    def __getattr__(name):
        """capabilities.py's NAME (else monitoring.py's), loaded when first
        asked for: upstream's nine, run as upstream's, never ask (a module
        less at start-up)."""
        # Not "from ... import capabilities": that asks this module for the
        # attribute "capabilities" first, which would come here again.
        for module_name in _LAZY:
            module = __import__(__name__ + "." + module_name, fromlist=["_"])
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value
                return value
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
