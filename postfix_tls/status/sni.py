"""What ``status`` checks in tls_server_sni_maps (Postfix 3.4+): per name,
each chain file as for the default certificate (readable, mode, expiry,
key/leaf match, chain order), whether the leaf covers the name, and for
an indexed table whether what it stores is still what the files hold.

The last is what goes wrong with renewals: ``postmap -F`` stores the
files' contents, so a renewed file is not served until the table is
built again.  It is judged by content (``postmap -Fq`` against the
files, PEM object by PEM object), never by the files' times.
"""

import collections

from postfix_tls.core import chainfiles, messages, sni
from postfix_tls.status.checks import _certificate, _chain, _file_facts, _key_matches
from postfix_tls.status.facts import CRITICAL, OK, WARNING, Facts, ServerEntry

PARAMETER = "tls_server_sni_maps"


class SniName(Facts):
    """One name of an SNI table: its files, each chain (a ServerEntry per
    key), whether the leaves cover the name, whether the table is stale."""

    FIELDS = ("table", "name", "line", "files", "chains", "covered", "stale")


def check_sni(tls, report, now):
    value = report.settings.get(PARAMETER, "")
    if not value:
        return
    files, judged = {}, {}  # what is said once per file, and per list of files
    for table in sni.tables(value):
        if not table.readable:
            report.problem(OK, messages.STATUS_SNI_NOT_READ.format(table=table.spec))
            continue
        try:
            entries = sni.entries(table)
        except OSError as error:
            report.problem(CRITICAL, messages.STATUS_SNI_SOURCE_UNREADABLE.format(
                table=table.spec, path=table.path, error=error.strerror or error))
            continue
        for entry in entries:
            report.sni.append(_check_name(tls, report, now, entry, files, judged))
    _default_names(report)


def _check_name(tls, report, now, entry, files, judged):
    for path in entry.files:
        if path not in files:
            files[path] = _file_facts(report, path, "SNI chain file", True)
    facts = SniName(table=entry.table.spec, name=entry.name, line=entry.line,
                    files=[files[path] for path in entry.files])
    key = tuple(entry.files)
    if key not in judged:
        judged[key] = _chains(tls, report, now, entry, files)
    chains, texts = judged[key]
    facts.chains = chains
    if chains:
        names = set(name for chain in chains if chain.found("names") for name in chain.names)
        facts.covered = all(entry.covered_by(chain.names) for chain in chains
                            if chain.found("names"))
        if not facts.covered:
            report.problem(WARNING, messages.STATUS_SNI_NOT_COVERED.format(
                name=entry.name, table=entry.table.spec, line=entry.line,
                names=", ".join(sorted(names)) or "none"))
    if entry.table.indexed and texts is not None:
        facts.stale = _stale(tls, report, entry, texts)
    return facts


def _chains(tls, report, now, entry, files):
    """([ServerEntry] of the entry's files, their texts joined), or ([],
    None) when they cannot be read as Postfix reads them."""
    if not all(files[path].usable for path in entry.files):
        return [], None
    try:
        texts = [(path, _text(path)) for path in entry.files]
        chains = chainfiles.parse(texts)
    except (OSError, chainfiles.ChainFileError) as error:
        report.problem(CRITICAL, messages.STATUS_SNI_CHAIN.format(
            name=entry.name, table=entry.table.spec, error=error))
        return [], None
    found = []
    for chain in chains:
        server = ServerEntry(algorithm=chain.algorithm, cert_file=files[chain.cert_path])
        if chain.key_path != chain.cert_path:
            server.key_file = files[chain.key_path]
        _certificate(tls, report, server, chain.cert_path, now, chain.certificates[0],
                     name=entry.name)
        _key_matches(tls, report, server, chain.cert_path, chain.where, chain)
        _chain(tls, report, server, chain.cert_path, chain.certificates)
        found.append(server)
    return found, "".join(text for _, text in texts)


def _text(path):
    from postfix_tls.core import material

    return material.read_text(path)


def _stale(tls, report, entry, files_text):
    """Whether the built table stores other contents for the name than its
    files hold (or nothing: built before the line was added)."""
    result = tls.runner.run(sni.stored_query(tls, entry.table, entry.name))
    stored = result.stdout.decode("ascii", "replace") if not result.returncode else ""
    if result.dry_run:
        return None
    if not stored.strip():
        report.problem(CRITICAL, messages.STATUS_SNI_NOT_BUILT.format(
            name=entry.name, table=entry.table.spec))
        return True
    if sni.stale(stored, files_text):
        report.problem(CRITICAL, messages.STATUS_SNI_STALE.format(
            name=entry.name, table=entry.table.spec))
        return True
    return False


def _default_names(report):
    """The parameter's documentation asks for the default certificate's
    names in the table too (the client's SNI then gets a positive answer);
    and a name both serve is worth knowing."""
    keys = collections.OrderedDict((facts.name.lower(), facts) for facts in report.sni)
    defaults = sorted(set(name.lower() for entry in report.server if entry.found("names")
                          for name in entry.names))
    for name in defaults:
        parent = "." + name.partition(".")[2]
        if name in keys or (name.startswith("*.") and name[1:] in keys) or parent in keys:
            report.problem(OK, messages.STATUS_SNI_ALSO_DEFAULT.format(name=name))
        else:
            report.problem(OK, messages.STATUS_SNI_DEFAULT_MISSING.format(name=name))
