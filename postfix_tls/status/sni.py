"""What ``status`` checks in tls_server_sni_maps (Postfix 3.4+): per name,
each chain file as for the default certificate (readable, mode, expiry,
key/leaf match, chain order), whether the leaf covers the name, and for
an indexed table whether what it stores is still what the files hold.

The last is what goes wrong with renewals: ``postmap -F`` stores the
files' contents, so a renewed file is not served until the table is
built again.  It is judged by content (``postmap -s``, one process per
table, against the files, PEM object by PEM object), never by the files'
times.  The built file holds the private keys too: its mode is judged as
a key file's.
"""

from postfix_tls.core import chainfiles, material, messages, sni
from postfix_tls.status.checks import _file_facts, judge_chain
from postfix_tls.status.facts import CRITICAL, OK, WARNING, Facts

PARAMETER = "tls_server_sni_maps"
CHAIN_PREFIX = "smtpd_tls_chain_files: "  # chainfiles' messages: not this parameter's


class SniName(Facts):
    """One name of an SNI table: its files, each chain (a ServerEntry per
    key), whether the leaves cover the name, whether the table is stale."""

    FIELDS = ("table", "name", "line", "files", "chains", "covered", "stale")


def check_sni(tls, report, now):
    value = report.settings.get(PARAMETER, "")
    if not value:
        return
    files, judged, unread = {}, {}, False
    try:
        found = sni.tables(value)
    except sni.SyntaxProblem as problem:
        report.problem(CRITICAL, str(problem))
        found, unread = problem.tables, True
    served = set()  # the keys the built tables hold
    for table in found:
        if not table.type:
            report.problem(CRITICAL, messages.STATUS_SNI_NO_TYPE.format(table=table.spec))
            continue
        if not table.readable:
            report.problem(OK, messages.STATUS_SNI_NOT_READ.format(table=table.spec))
            unread = True
            continue
        try:
            entries, skipped = sni.entries(table)
        except OSError as error:
            built = any(material.problem(path) == "" for path in table.built_files)
            report.problem(WARNING if built else CRITICAL,
                           messages.STATUS_SNI_SOURCE_UNREADABLE.format(
                               table=table.spec, path=table.path,
                               error=error.strerror or error))
            unread = unread or not built
            # The built file holds every key: judged whatever the source says
            # (a cdb table, which cannot be listed, only by its source's keys).
            if table.indexed:
                served |= set(_stored(tls, report, table, ()) or ())
            continue
        stored = _stored(tls, report, table, [entry.key for entry in entries]) \
            if table.indexed else None
        served |= set(stored or ())
        for line in skipped:
            report.problem(WARNING, messages.STATUS_SNI_SKIPPED.format(
                table=table.spec, line=line.line, why=line.text))
        for entry in entries:
            _check_key(report, entry)
            report.sni.append(_check_name(tls, report, now, entry, files, judged, stored))
        keys = set(entry.key for entry in entries)
        for key in sorted(set(key.lower() for key in stored or ()) - keys):
            report.problem(WARNING, messages.STATUS_SNI_REMOVED.format(
                name=key, table=table.spec))
    _default_names(report, unread, served)


def _check_key(report, entry):
    """Keys Postfix never looks up as written."""
    if entry.name.startswith("*."):
        report.problem(WARNING, messages.STATUS_SNI_WILDCARD_KEY.format(
            name=entry.name, table=entry.table.spec, line=entry.line, parent=entry.name[1:]))


def _stored(tls, report, table, keys):
    """{key: stored text} of the built table, or None (said why); the built
    file's mode judged as a private key's.  keys: the source's (all a cdb
    table can be asked for)."""
    for path in table.built_files:
        if material.problem(path) == "":
            _file_facts(report, path, "built SNI table", True)
    result = tls.runner.run(sni.dump_command(tls, table, keys))
    if result.dry_run:
        return None
    try:
        return sni.parse_dump(table, result)
    except sni.DumpError as error:
        report.problem(CRITICAL, str(error))
        return None


def _check_name(tls, report, now, entry, files, judged, stored):
    for path in entry.files:
        if path not in files:
            files[path] = _file_facts(report, path, "SNI chain file", True)
    # covered and stale always there, null when not known (JSON readers).
    facts = SniName(table=entry.table.spec, name=entry.name, line=entry.line,
                    files=[files[path] for path in entry.files], covered=None, stale=None)
    key = tuple(entry.files)
    if key not in judged:
        judged[key] = _chains(tls, report, now, entry, files)
    chains, texts = judged[key]
    facts.chains = chains
    dated = [chain for chain in chains if chain.found("names")]
    if dated:
        facts.covered = all(entry.covered_by(_names(chain)) for chain in dated)
        if not facts.covered:
            report.problem(WARNING, messages.STATUS_SNI_NOT_COVERED.format(
                name=entry.name, table=entry.table.spec, line=entry.line,
                names=", ".join(sorted(set(name for chain in dated
                                           for name in _names(chain)))) or "none"))
    if stored is not None and texts is not None:
        facts.stale = _stale(report, entry, stored, texts)
    return facts


def _names(chain):
    """The leaf's DNS names, else its subject's CN (as for the default)."""
    if chain.names:
        return chain.names
    subject = chain.subject if chain.found("subject") else ""
    return [subject.partition("CN=")[2].split(",")[0]] if "CN=" in subject else []


def _chains(tls, report, now, entry, files):
    """([ServerEntry] of the entry's files, their texts joined), or ([],
    None) when they cannot be read as Postfix reads them."""
    if not all(files[path].usable for path in entry.files):
        return [], None
    try:
        texts = [(path, material.read_text(path)) for path in entry.files]
        chains = chainfiles.parse(texts)
    except (OSError, chainfiles.ChainFileError) as error:
        text = str(error)
        report.problem(CRITICAL, messages.STATUS_SNI_CHAIN.format(
            name=entry.name, table=entry.table.spec, line=entry.line,
            error=text[len(CHAIN_PREFIX):] if text.startswith(CHAIN_PREFIX) else text))
        return [], None
    found = [judge_chain(tls, report, now, chain, files, entry.name) for chain in chains]
    return found, "".join(text for _, text in texts)


def _stale(report, entry, stored, files_text):
    """Whether the built table stores other contents for the name than its
    files hold (or nothing: built before the line was added)."""
    text = stored.get(entry.key)
    if text is None:
        report.problem(CRITICAL, messages.STATUS_SNI_NOT_BUILT.format(
            name=entry.name, table=entry.table.spec))
        return True
    if sni.stale(text, files_text):
        report.problem(CRITICAL, messages.STATUS_SNI_STALE.format(
            name=entry.name, table=entry.table.spec))
        return True
    return False


def _default_names(report, unread, served):
    """The parameter's documentation asks for the default certificate's
    names in the table too (the client's SNI then gets a positive answer);
    and a name both serve is worth knowing.  With a table not read, not
    known.  A name is found as smtpd looks it up: itself, then ".ancestor"
    for each ancestor domain."""
    keys = set(facts.name.lower() for facts in report.sni) | served
    defaults = sorted(set(name.lower() for entry in report.server if entry.found("names")
                          for name in entry.names))
    for name in defaults:
        labels = name.lstrip("*.").split(".") if name.startswith("*.") else name.split(".")
        ancestors = set("." + ".".join(labels[index:]) for index in range(
            0 if name.startswith("*.") else 1, len(labels)))
        if name in keys or ancestors & keys:
            report.problem(OK, messages.STATUS_SNI_ALSO_DEFAULT.format(name=name))
        elif not unread:
            report.problem(OK, messages.STATUS_SNI_DEFAULT_MISSING.format(name=name))
