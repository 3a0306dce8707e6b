"""Changing a table of tls_server_sni_maps: its source edited in place,
only the lines of the names that change, every other line and comment as
it was; then built again with ``postmap -F`` for the indexed types (which
store the files' contents: a table not built again serves the old ones).

The source is replaced as every file Postfix loads is (a temporary file
renamed over it), and the built files are kept before postmap rewrites
them, so that an undo puts back exactly the table there was.
"""

import os

from postfix_tls.core import chainfiles, messages, sni
from postfix_tls.core.command import TO_STDOUT, Command

NEW_SOURCE_MODE = 0o644  # postmap's own default for what it creates


class Table(object):
    """The table a run changes: its SniTable, its source's bytes and
    entries as read (no source yet: empty)."""

    def __init__(self, table, data, entries, mode, skipped=()):
        self.table = table
        self.data = data
        self.entries = entries
        self.mode = mode
        self.by_key = dict((entry.key, entry) for entry in entries)
        # Lines of a key seen before (postmap keeps the first): taken out
        # with the key, or they would take its place.
        self.duplicates = {}
        for line in skipped:
            if line.duplicate is not None:
                self.duplicates.setdefault(line.duplicate.key, []).extend(
                    line.duplicate.lines)

    @property
    def spec(self):
        return self.table.spec


def key_of(name):
    """The table's key for a certificate's name: "*.example.com" is
    ".example.com" (Postfix looks up the parent domains of a name with a
    leading dot); lower case, as postmap folds it."""
    name = name.lower()
    return name[1:] if name.startswith("*.") else name


def configured(tls):
    """tls_server_sni_maps' value, "" when unset or when this Postfix lacks it."""
    if not tls.postconf.knows(sni.PARAMETER):
        return ""
    return tls.postconf.get("-nx", sni.PARAMETER)


def readable(tls, value):
    """[Table] of the parameter's tables whose entries are read here (a
    table named twice: once); a failure naming the parameter when none is."""
    try:
        found = sni.tables(value)
    except sni.SyntaxProblem as problem:
        tls.fail(str(problem))
    specs = set()
    editable = [table for table in found if table.readable
                and not (table.spec in specs or specs.add(table.spec))]
    if not editable:
        tls.fail(messages.SNI_NO_EDITABLE_TABLE.format(
            value=value, types=", ".join(sni.INDEXED + sni.SOURCE_READ)))
    return [read_table(tls, table) for table in editable]


def choose(tables, keys):
    """The Table to change: the first table Postfix would search that
    already has one of keys, else the first."""
    for table in tables:
        if any(key in table.by_key for key in keys):
            return table
    return tables[0]


def read_table(tls, table):
    try:
        data = sni.read_source(table.path)
    except FileNotFoundError:
        return Table(table, b"", [], NEW_SOURCE_MODE)
    except OSError as error:
        tls.fail(messages.SNI_SOURCE_CANNOT_READ.format(path=table.path,
                                                        error=error.strerror))
    found, skipped = sni.entries(table)
    return Table(table, data, found, os.stat(table.path).st_mode & 0o7777, skipped)


def edited(table, changes):
    """The source's bytes with changes made: {key: [files]} sets a key's
    line (where it was, else at the end), {key: None} removes it.  Every
    other line, comment and blank line is kept as it was."""
    lines = table.data.split(b"\n")
    trailing = lines and lines[-1] == b""
    if trailing:
        lines.pop()
    appended = []
    dropped = set()
    for key, files in sorted(changes.items()):
        entry = table.by_key.get(key)
        if entry is None:
            if files is not None:
                appended.append(_line(key, files, b""))
            continue
        first = entry.lines[0] - 1
        dropped.update(number - 1 for number in entry.lines[1:])
        if files is None:
            dropped.add(first)
            dropped.update(number - 1 for number in table.duplicates.get(key, []))
        else:
            ending = b"\r" if lines[first].endswith(b"\r") else b""
            lines[first] = _line(entry.name, files, ending)
    kept = [line for number, line in enumerate(lines) if number not in dropped] + appended
    return b"".join(line + b"\n" for line in kept)


def _line(key, files, ending):
    return os.fsencode("%s %s" % (key, ", ".join(files))) + ending


def write_source(tls, table, data):
    """The source replaced; a symbolic link (a source kept elsewhere, by
    configuration management) is written through, never replaced by a file."""
    path = os.path.realpath(table.table.path)
    try:
        tls.runner.replace_file(path, data, table.mode)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))


def build_command(tls, table):
    """postmap -F: the files' contents into the table (an indexed type)."""
    return Command(tls.postfix_program("postmap") + ["-F", table.spec], stderr=TO_STDOUT,
                   changes=True)


def build(tls, table):
    """postmap -F, for an indexed type (a texthash table is read with its
    files when Postfix opens it); the built files kept first, for an undo.
    Returns what went wrong (postmap's output), or "".  postmap skips an
    entry whose file it cannot open with a warning and exit 0: a key of the
    source the built table lacks is a failure too (that name would get the
    default certificate)."""
    if not table.table.indexed:
        # Read with its files when Postfix opens it: a file that is not
        # there drops its name then, as postmap would.
        missing = [entry.name for entry in sni.entries(table.table)[0]
                   if not all(os.path.isfile(path) for path in entry.files)]
        if missing and not tls.runner.dry_run:
            return messages.SNI_FILES_MISSING.format(names=", ".join(missing))
        return ""
    for path in table.table.built_files:
        tls.runner.preserve(path)
    # The built table holds the keys: postmap creates it under umask 077
    # (it inherits ours), and one that was readable by others is made private.
    old_umask = os.umask(0o077)
    try:
        result = tls.runner.run(build_command(tls, table))
    finally:
        os.umask(old_umask)
    said = result.stdout.decode("utf-8", "replace").strip()
    if result.returncode:
        if table.table.type != "cdb" and not tls.runner.dry_run:
            # Written in place, and half written now (a full disk): removed,
            # so that the undo has the space to put the old one back.  (cdb
            # is built aside and renamed: the old one is still whole.)
            for path in table.table.built_files:
                try:
                    tls.runner.remove_file(path)
                except OSError:
                    pass  # the undo says what is left
        return said or "exit status %d" % result.returncode
    if tls.runner.dry_run:
        return ""
    for path in table.table.built_files:
        if os.path.isfile(path) and os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
    built = stored(tls, table) or {}
    missing = [entry.name for entry in sni.entries(table.table)[0] if entry.key not in built]
    if missing:
        return messages.SNI_BUILD_INCOMPLETE.format(names=", ".join(missing),
                                                    output=said or "(nothing)")
    return ""


def stored(tls, table):
    """{key: the text the built table stores}, or None when it cannot be
    read (never built, built without -F): a build is due then."""
    if not table.table.indexed:
        return None
    try:
        keys = [entry.key for entry in sni.entries(table.table)[0]] if os.path.isfile(
            table.table.path) else []
        return sni.parse_dump(table.table, tls.runner.run(
            sni.dump_command(tls, table.table, keys)))
    except sni.DumpError:
        return None


def files_text(paths):
    """What postmap -F stores for paths, as sni.stale compares it; None
    when one cannot be read."""
    texts = []
    for path in paths:
        try:
            with open(path, "rb") as stream:
                texts.append(stream.read().decode("ascii", "replace"))
        except OSError:
            return None
    return "\n".join(texts)


def fresh(tls, table, keys):
    """Whether what Postfix serves for each key is what its files hold now:
    always for texthash (it reads them), for an indexed type when the
    built table stores their current contents."""
    if not table.table.indexed:
        return True
    built = stored(tls, table)
    if built is None:
        return False
    for key in keys:
        entry = table.by_key.get(key)
        if entry is None:
            if key in built:
                return False
            continue
        text = files_text(entry.files)
        if key not in built or text is None or sni.stale(built[key], text):
            return False
    return True


def owners(paths):
    """{path: set of the key algorithms whose objects it holds} of an entry's
    files, read as Postfix reads them: one sequence of PEM objects, each
    certificate belonging to the key before it, so that a file of
    certificates only (key and certificate in files of their own) belongs
    to the key in the file before it.  A file that cannot be read: empty."""
    found, current = {}, None
    for path in paths:
        held = found.setdefault(path, set())
        for item in chainfiles.file_objects(path):
            if item.label in chainfiles.KEY_LABELS:
                current = chainfiles.key_algorithm(item)
            if current:
                held.add(current)
    return found
