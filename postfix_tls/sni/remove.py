"""``remove-sni-name`` (ours): names taken out of tls_server_sni_maps.

Each name's line goes from the source of every table that has it (a
wildcard "*.example.com" is the key ".example.com"), every other line kept;
an indexed table is built again (postmap -F), Postfix reloaded.  Live,
each name must then get the default certificate (unless another entry,
".parent", still covers it); otherwise the old source and built table are
put back and Postfix is reloaded again.  Only then are the files that
deploy-acme-cert wrote for the names (acme-sni-*.pem in the configuration
directory), and that no entry lists any more, removed; an administrator's
own files are never removed.  A name in no table changes nothing.
"""

import os
import time

from postfix_tls.acme.live import check_and_reload
from postfix_tls.core import messages, sni, validate
from postfix_tls.core.keys import set_fqdn
from postfix_tls.sni import live as served
from postfix_tls.sni import plan as sni_plan
from postfix_tls.sni import table as sni_table

OUR_PREFIX = "acme-sni-"


class Removal(object):
    """What remove-sni-name did, for render.sni_removal."""

    def __init__(self):
        self.removed = []  # the tables' lines taken out, built
        self.absent = []  # the names no table had
        self.files = []  # our files removed
        self.reload = ""
        self.running = None
        self.live = []
        self.notes = []


def remove_sni_name(tls, options, operands):
    from postfix_tls.acme.deploy import VERIFY_SECONDS
    from postfix_tls.core import render
    from postfix_tls.core.tlsa import tlsa_ports
    from postfix_tls.dane.check import live_options
    from postfix_tls.sni.deploy import Live

    if not operands:
        tls.fail(messages.SNI_REMOVE_USAGE)
    keys = []
    for name in operands:
        if not validate.hostname(name[1:] if name.startswith(".") else name, wildcard=True):
            tls.fail(messages.SNI_BAD_NAME.format(validate.shown(name)))
        key = name[1:] if name.startswith("*.") else name
        keys.append(key.lower())
    if not tls.postconf.knows(sni.PARAMETER):
        tls.fail(messages.SNI_NEEDS_3_4.format(
            what="remove-sni-name", version=tls.postconf.release.mail_version or "before 3.4"))
    value = sni_table.configured(tls)
    if not value:
        tls.fail(messages.SNI_NOT_SET)
    ports = tlsa_ports(tls, options.get("p", "25"))
    _, address, seconds = live_options(tls, options, set_fqdn(tls, ""), VERIFY_SECONDS)
    live = Live(ports, "", address, seconds)
    removal = Removal()
    tables = sni_table.readable(tls, value)
    changed = [(table, [key for key in keys if key in table.by_key]) for table in tables]
    changed = [(table, found) for table, found in changed if found]
    removal.absent = [key for key in keys if not any(key in found for _, found in changed)]
    if changed:
        _remove(tls, tables, changed, keys, live, removal)
    elif removal.absent:
        # A lineage given up before it went in: its staged keys go (a new
        # key of the default certificate would wait for its names' records).
        _remove_staged(tls, removal.absent, set(), set(), removal)
    render.sni_removal(removal, tls.json)
    return messages.EXIT_OK


def _remove_staged(tls, keys, listed, still_listed, removal):
    """The keys deploy-acme-cert staged for a lineage none of whose files
    is listed any more (a later run would put its names back), and the
    announcement of its key made ahead (its record would be published)."""
    from postfix_tls.core.keys import SNI_FILE, SNI_NEXT_FILE, SNI_STAGED_FILE

    labels = set("wildcard" + key if key.startswith(".") else key for key in keys)
    for path in listed:
        base = os.path.basename(path)
        if os.path.dirname(path) == tls.config_directory and base.startswith(OUR_PREFIX):
            labels.add(base[len(OUR_PREFIX):].rsplit("-", 1)[0])
    algorithms = tls.setup.algorithms()
    for label in sorted(labels):
        files = [os.path.join(tls.config_directory, SNI_FILE.format(
            label=label, algorithm=algorithm)) for algorithm in algorithms]
        if set(files) & still_listed:
            continue
        for algorithm in algorithms:
            # Its staged keys, and the announcement of a key made ahead.
            for template in (SNI_STAGED_FILE, SNI_NEXT_FILE):
                path = os.path.join(tls.config_directory, template.format(
                    label=label, algorithm=algorithm))
                if os.path.isfile(path):
                    tls.runner.remove_file(path)
                    removal.files.append(path)


def _may_list(tls, path):
    """The table whose entries are not read here (regexp, pcre, inline,
    ldap...) that lists or may list path, or "": its file is kept then."""
    for table in sni.tables(sni_table.configured(tls)):
        if table.readable:
            continue
        if table.type in ("regexp", "pcre"):
            try:
                if os.fsencode(path) not in sni.read_source(table.path):
                    continue
            except OSError:
                pass  # cannot tell: it may
        elif table.type in ("inline", "static") and path not in table.spec:
            continue
        return table.spec
    return ""


def _remove(tls, tables, changed, keys, live, removal):
    listed = set(path for table, found in changed for key in found
                 for path in table.by_key[key].files)
    for table, found in changed:
        sni_table.write_source(tls, table, sni_table.edited(
            table, dict((key, None) for key in found)))
        removal.removed += [messages.SNI_TABLE_LINE_REMOVED.format(table=table.spec, key=key)
                            for key in found]
        removal.removed += sni_plan.build_or_undo(tls, table)
    removal.running, removal.reload = check_and_reload(tls, removal.notes)
    remaining = [(table, key) for table in tables for key in table.by_key
                 if not any(key in found for other, found in changed if other is table)]
    if removal.reload:
        names = []
        for key in keys:
            name = served.key_check_name(key)
            covering = _covered(name, [key for _, key in remaining])
            if covering:
                removal.notes.append(messages.SNI_STILL_COVERED.format(name=name,
                                                                       key=covering))
            else:
                names.append(name)
        removal.live = served.default_served(tls, time.time() + live.seconds, live, names,
                                             removal.reload, messages.SNI_NOW_DEFAULT)
    tls.runner.finishing()
    still_listed = set(path for table, key in remaining for path in table.by_key[key].files)
    for path in sorted(listed - still_listed):
        if not (os.path.dirname(path) == tls.config_directory
                and os.path.basename(path).startswith(OUR_PREFIX)
                and os.path.isfile(path)):
            continue
        other = _may_list(tls, path)
        if other:
            removal.notes.append(messages.SNI_FILE_KEPT.format(path=path, table=other))
            continue
        tls.runner.remove_file(path)
        removal.files.append(path)
    _remove_staged(tls, keys, listed | still_listed, still_listed, removal)
    if not tls.runner.dry_run:
        tls.log.record(removal.removed + [messages.SNI_FILE_REMOVED.format(path=path)
                                          for path in removal.files])


def _covered(name, keys):
    """The key that still gives name an entry (itself or a ".parent"), or ""."""
    name = name.lower()
    if name in keys:
        return name
    labels = name.split(".")
    for start in range(1, len(labels)):
        parent = "." + ".".join(labels[start:])
        if parent in keys:
            return parent
    return ""


def prefetch(options, operands):
    from postfix_tls.acme.deploy import prefetch as deploy_prefetch

    return deploy_prefetch({}, ())
