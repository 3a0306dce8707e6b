"""tls_server_sni_maps (Postfix 3.4+): which names get which chain files.

The parameter names lookup tables.  Each maps a name (an SNI name as the
client sends it, or ".parent" for any name under parent) to a list of
chain files, as smtpd_tls_chain_files lists them: key first, then its
certificate chain, per algorithm.  How the files reach Postfix depends on
the table's type:

- indexed types (hash, btree, lmdb, cdb, dbm, sdbm) are built from their
  source file with ``postmap -F``, which stores the files' CONTENTS,
  base64-encoded: a renewal that rewrites a file changes nothing Postfix
  serves until the table is built again.  ``postmap -s`` dumps what is
  stored, one "key<TAB>base64" line per name, in one process per table;
- texthash reads its source, and the files, when Postfix opens it;
- any other type (inline, pcre, regexp, ldap, sql...) is left alone: its
  entries are not read here.

The source is read as postmap(1) reads it, and what postmap would skip
(a first line starting with whitespace, a key without a value, a key
seen before: the first wins, keys folded to lower case) is said, never
judged as an entry.
"""

import base64
import binascii
import os
import stat

from postfix_tls.core import chainfiles, messages
from postfix_tls.core.keys import SNI_MAPS

PARAMETER = SNI_MAPS
INDEXED = ("hash", "btree", "lmdb", "cdb", "dbm", "sdbm")
SOURCE_READ = ("texthash",)  # read at run time from the source file itself
NO_SEQUENCE = ("cdb",)  # its keys cannot be listed: asked for one by one
# The files postmap builds, by type (dbm: two).
BUILT_SUFFIXES = {"hash": (".db",), "btree": (".db",), "lmdb": (".lmdb",), "cdb": (".cdb",),
                  "dbm": (".dir", ".pag"), "sdbm": (".dir", ".pag")}


class SniTable(object):
    """One table of tls_server_sni_maps: "type:path" (type "" when the
    value has none: Postfix refuses it)."""

    def __init__(self, spec):
        self.spec = spec
        self.type, colon, self.path = spec.partition(":")
        if not colon:
            self.type, self.path = "", spec

    @property
    def indexed(self):
        return self.type in INDEXED

    @property
    def readable(self):
        """Whether its entries can be read from a source file here."""
        return self.indexed or self.type in SOURCE_READ

    @property
    def built_files(self):
        return [self.path + suffix for suffix in BUILT_SUFFIXES.get(self.type, ())]


class SniEntry(object):
    """One logical line of a table's source: key and the files it names."""

    def __init__(self, table, name, files, line, lines=None):
        self.table = table
        self.name = name  # a name, or ".parent"; as written
        self.files = files
        self.line = line  # where it starts, 1-based
        self.lines = lines or [line]  # every line it takes (continuations), 1-based

    @property
    def key(self):
        return self.name.lower()  # Postfix folds lookup keys

    def covered_by(self, certificate_names):
        """Whether a certificate with these names serves what the key asks:
        the name itself, or for ".parent" every name under it (a wildcard)."""
        from postfix_tls.core.certificates import covers

        if self.name.startswith("."):
            return any(name.lower() == "*" + self.key for name in certificate_names)
        return any(covers(name, self.key) for name in certificate_names)


class Skipped(object):
    """A source line postmap would not turn into an entry, and why."""

    def __init__(self, table, line, text, duplicate=None):
        self.table = table
        self.line = line
        self.text = text
        self.duplicate = duplicate  # the SniEntry it would have been, for a key seen before


class SyntaxProblem(Exception):
    """The parameter's value is not one Postfix can open."""


def tables(value):
    """The SniTable of each table in the parameter's (expanded) value:
    split at commas and white space, but not inside braces (inline:{...});
    SyntaxProblem for braces that do not close, with the tables outside
    any brace (those are still worth checking) as .tables."""
    specs, current, depth = [], "", 0
    for character in value:
        if character == "{":
            depth += 1
        elif character == "}":
            depth = max(depth - 1, 0)
        if depth == 0 and character in ", \t\r\n":
            if current:
                specs.append(current)
            current = ""
            continue
        current += character
    if current:
        specs.append(current)
    if depth:
        problem = SyntaxProblem(messages.SNI_UNBALANCED.format(value=value))
        problem.tables = [SniTable(spec) for spec in chainfiles.split_names(value)
                          if not set("{}=") & set(spec)]
        raise problem
    return [SniTable(spec) for spec in specs]


def read_source(path):
    """The source file's bytes: a regular file only (never a FIFO), of any
    size (a hosting provider's table is long); OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, messages.SNI_SOURCE_NOT_REGULAR)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def entries(table):
    """([SniEntry], [Skipped]) of the table's source, as postmap(1) reads
    it: "key value" lines, a line starting with whitespace continuing the
    one before, "#" starting a comment line.  OSError when it cannot be
    read."""
    logical = []  # [line number, raw text]
    skipped = []
    for number, raw in enumerate(read_source(table.path).split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip() or raw.lstrip().startswith(b"#"):
            continue
        if raw[:1].isspace():
            if logical:
                logical[-1][1] += b" " + raw.strip()
                logical[-1][2].append(number)
            else:
                skipped.append(Skipped(table, number, messages.SNI_LINE_STARTS_WITH_SPACE))
            continue
        logical.append([number, raw.strip(), [number]])
    found, seen = [], {}
    for number, raw, lines in logical:
        parts = raw.split(None, 1)
        try:
            key = parts[0].decode("ascii")
        except UnicodeDecodeError:  # the key alone: a file's name may be UTF-8
            skipped.append(Skipped(table, number, messages.SNI_LINE_NOT_ASCII))
            continue
        if len(parts) < 2:
            skipped.append(Skipped(table, number, messages.SNI_LINE_NO_VALUE.format(key=key)))
            continue
        # File names as the file system has them (os.fsdecode: bytes kept
        # under any locale, as os.stat wants them back).
        entry = SniEntry(table, key, chainfiles.split_names(os.fsdecode(parts[1])), number,
                         lines)
        if entry.key in seen:
            skipped.append(Skipped(table, number, messages.SNI_LINE_DUPLICATE.format(
                key=entry.name, first=seen[entry.key]), entry))
            continue
        seen[entry.key] = number
        found.append(entry)
    return found, skipped


def dump_command(tls, table, keys=()):
    """postmap -s: every key of the built table with its stored value
    (base64 of the files' contents), one process for the whole table.  A
    cdb table cannot be listed ("sequence operation is not supported"):
    postmap -q - then, asked for keys (its source's) on stdin, one process
    too, answering in the same "key<TAB>value" lines."""
    from postfix_tls.core.command import CAPTURE, Command

    postmap = tls.postfix_program("postmap")
    if table.type in NO_SEQUENCE:
        return Command(postmap + ["-q", "-", table.spec], stderr=CAPTURE,
                       stdin="".join(key + "\n" for key in keys))
    return Command(postmap + ["-s", table.spec], stderr=CAPTURE)


class DumpError(Exception):
    """The built table could not be read; the text says why and what to do."""


def parse_dump(table, result):
    """{key: stored text} of postmap -s's result; DumpError saying why not
    (never built, built without -F, a type this Postfix lacks)."""
    error = result.stderr.decode("utf-8", "replace").strip()
    # postmap -q - exits 1, silently, when none of the keys was found.
    none_found = table.type in NO_SEQUENCE and result.returncode == 1 and not error
    if result.returncode and not none_found:
        if "unsupported dictionary type" in error:
            raise DumpError(messages.SNI_TYPE_UNSUPPORTED.format(table=table.spec))
        if not any(os.path.lexists(path) for path in table.built_files):
            raise DumpError(messages.SNI_NOT_BUILT_AT_ALL.format(table=table.spec))
        said = error.splitlines()[-1] if error else "exit %d" % result.returncode
        raise DumpError(messages.SNI_DUMP_FAILED.format(table=table.spec, error=said))
    stored = {}
    for line in result.stdout.split(b"\n"):
        if not line.strip():
            continue
        key, _, value = line.partition(b"\t")
        try:
            # Keys as stored: smtpd looks names up in lower case, so a key
            # built without folding (postmap -f) in capitals never matches.
            stored[key.decode("ascii", "replace")] = base64.b64decode(
                value.strip(), validate=True).decode("ascii", "replace")
        except (binascii.Error, ValueError):
            raise DumpError(messages.SNI_BUILT_WITHOUT_F.format(table=table.spec))
    return stored


def stale(stored_text, files_text):
    """Whether the table stores other PEM objects than the files hold now
    (compared object by object: postmap joins the files with newlines)."""
    def objects(text):
        try:
            return [item.text for item in chainfiles.pem_objects(text, "")]
        except chainfiles.ChainFileError:
            return None

    return objects(stored_text) != objects(files_text)
