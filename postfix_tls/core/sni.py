"""tls_server_sni_maps (Postfix 3.4+): which names get which chain files.

The parameter names lookup tables.  Each maps a name (an SNI name as the
client sends it, or ".parent" for any name under parent) to a list of
chain files, as smtpd_tls_chain_files lists them: key first, then its
certificate chain, per algorithm.  How the files reach Postfix depends on
the table's type:

- indexed types (hash, btree, lmdb, cdb, dbm, sdbm) are built from their
  source file with ``postmap -F``, which stores the files' CONTENTS: a
  renewal that rewrites a file changes nothing Postfix serves until the
  table is built again (``postmap -Fq`` gives the stored contents back);
- texthash reads its source, and the files, when Postfix opens it;
- any other type (inline, pcre, regexp, ldap, sql...) is left alone: its
  entries are not read here.
"""

from postfix_tls.core import chainfiles, material, messages

INDEXED = ("hash", "btree", "lmdb", "cdb", "dbm", "sdbm")
SOURCE_READ = ("texthash",)  # read at run time from the source file itself


class SniTable(object):
    """One table of tls_server_sni_maps: "type:path"."""

    def __init__(self, spec):
        self.spec = spec
        self.type, _, self.path = spec.partition(":")

    @property
    def indexed(self):
        return self.type in INDEXED

    @property
    def readable(self):
        """Whether its entries can be read from a source file here."""
        return self.indexed or self.type in SOURCE_READ

    def to_json(self):
        return {"table": self.spec, "type": self.type, "source": self.path,
                "indexed": self.indexed}


class SniEntry(object):
    """One line (with its continuation lines) of a table's source."""

    def __init__(self, table, name, files, line):
        self.table = table
        self.name = name  # a name, or ".parent"
        self.files = files
        self.line = line  # where it starts, 1-based

    def covered_by(self, certificate_names):
        """Whether a certificate with these names serves what the key asks:
        the name itself, or for ".parent" every name under it (a wildcard)."""
        from postfix_tls.core.certificates import covers

        if self.name.startswith("."):
            return any(name.lower() == "*" + self.name.lower() for name in certificate_names)
        return any(covers(name, self.name) for name in certificate_names)


def tables(value):
    """The SniTable of each table in the parameter's (expanded) value."""
    return [SniTable(spec) for spec in chainfiles.split_names(value)]


def entries(table):
    """[SniEntry] of the table's source file, as postmap(1) reads it: "key
    value" lines; a line starting with whitespace continues the one
    before; "#" at the start of a line comments it.  OSError when it
    cannot be read."""
    found = []
    current = None
    for number, raw in enumerate(material.read_text(table.path).splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace() and current is not None:
            current[2].append(raw.strip())
            continue
        key, _, value = raw.strip().partition(" ")
        if "\t" in key:
            key, _, rest = key.partition("\t")
            value = rest + " " + value
        current = [key, number, [value]]
        found.append(current)
    return [SniEntry(table, key, chainfiles.split_names(" ".join(values)), number)
            for key, number, values in found]


def stored_query(tls, table, name):
    """The command that asks the built table for name's stored contents
    (postmap -Fq): the files as they were when the table was built."""
    import os

    from postfix_tls.core.command import Command

    argv = [os.path.join(tls.env.get("command_directory", "/usr/sbin"), "postmap")]
    if tls.hints is not messages.POSTFIX_HINTS:  # standalone: its instance
        argv += ["-c", tls.config_directory]
    return Command(argv + ["-Fq", name, table.spec])


def stale(stored_text, files_text):
    """Whether the table stores other PEM objects than the files hold now
    (compared object by object: postmap -Fq adds a newline per file)."""
    def objects(text):
        try:
            return [item.text for item in chainfiles.pem_objects(text, "")]
        except chainfiles.ChainFileError:
            return None

    return objects(stored_text) != objects(files_text)
