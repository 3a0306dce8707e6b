"""Which lines of which tables of tls_server_sni_maps a lineage's
deployment changes, and which tables must be built again: the chosen
table gets a line per name of the lineage (its file in place of the files
of the same algorithm's key and chain); in every table, a name the
lineage no longer has loses its file; and every indexed table that lists
one of its files must store the files' new contents."""

import collections

from postfix_tls.core import messages
from postfix_tls.core.ordered import unique
from postfix_tls.sni import table as sni_table


class TablePlan(object):
    """What one table gets: its lines' changes, and the keys whose served
    contents must be the files' (built again when they are not)."""

    def __init__(self, table, changes, keys):
        self.table = table
        self.changes = changes
        self.keys = keys


def tables_plan(tls, tables, table, keys, ours):
    """A TablePlan for the chosen table (keys' lines written), and for
    every other table that lists one of ours: a name there that the
    lineage no longer has loses its file, and one it still has is served
    the file's new contents (built again)."""
    plans = []
    for other in tables:
        asked = keys if other is table else ()
        listing = [entry.key for entry in other.entries
                   if set(entry.files) & set(ours.values())]
        if other is table or listing:
            plans.append(TablePlan(other, _table_changes(tls, other, asked, ours),
                                   unique(list(asked) + listing)))
    return plans


def in_step(tls, plan):
    """No line to change, and every table serves what its files hold."""
    return not any(part.changes for part in plan) and all(
        sni_table.fresh(tls, part.table, part.keys) for part in plan)


def _files(tls, key, old, ours, table):
    """The files key's entry lists after this deployment: each of ours in
    place of the files that hold the same algorithm's key and chain (a
    certificate-only file belongs to the key before it), every other file
    kept where it was."""
    held = sni_table.owners([path for path in old if path not in ours.values()])
    new = []
    for path in old:
        if path in ours.values():
            new.append(path)
            continue
        replaced = sorted(held[path] & set(ours))
        if replaced and held[path] - set(ours):
            tls.fail(messages.SNI_FILE_MIXED.format(
                key=key, table=table.spec, path=path, algorithm=replaced[0],
                others=", ".join(sorted(held[path] - set(ours)))))
        if replaced:
            for algorithm in replaced:
                if ours[algorithm] not in new:
                    new.append(ours[algorithm])
            continue
        new.append(path)
    for algorithm in sorted(ours):
        if ours[algorithm] not in new:
            new.append(ours[algorithm])
    return new


def _table_changes(tls, table, keys, ours):
    """{key: [files]} of the lines to write for keys, and {key: [files] or
    None} for the other lines that list one of ours: names the lineage no
    longer has (its certificate would not cover them) lose its file, and a
    line left with no file goes."""
    changes = collections.OrderedDict()
    for key in keys:
        entry = table.by_key.get(key)
        old = entry.files if entry else []
        new = _files(tls, key, old, ours, table)
        if new != old:
            changes[key] = new
    for entry in table.entries:
        if entry.key not in keys and set(entry.files) & set(ours.values()):
            changes[entry.key] = [path for path in entry.files
                                  if path not in ours.values()] or None
    return changes


def build_or_undo(tls, table):
    """build, and the line that says so ([] for texthash); a failure puts
    back every file the run changed (the table too) and fails."""
    failed = sni_table.build(tls, table)
    if failed:
        from postfix_tls.acme.live import undo

        tls.fail(messages.SNI_BUILD_FAILED.format(
            table=table.spec, output=failed, undone=undo(tls, messages.UNDONE)))
    return [messages.SNI_BUILT.format(table=table.spec)] if table.table.indexed else []
