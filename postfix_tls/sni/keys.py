"""The keys an SNI name is served (output-server-tlsa, check-server-tlsa,
output-server-tlsa-rollover and publish-server-tlsa with -S NAME): the
chain files its entry lists, found as Postfix looks the name up (the name
itself, then each parent domain with a leading dot, in every table); its
MX host name's TLSA records come from them, not from the default
certificate's keys."""

import os

from postfix_tls.core import chainfiles, messages, sni, validate


class Served(object):
    """What Postfix serves an SNI name: chains, the labels of
    deploy-acme-cert's lineages among them (or staged for it), and whether
    it is the default certificate (a name in no table yet, whose first
    lineage is staged until its records are published)."""

    def __init__(self, chains, labels, default=False):
        self.chains = chains
        self.labels = labels
        self.default = default


def served(tls, name):
    """The Served of name; fails saying why when no table has it and no
    lineage is staged for it."""
    found, value = _entry_chains(tls, name)
    if found is not None:
        return Served(found, labels(tls, found))
    waiting = staged_for(tls, name)
    if not waiting:
        tls.fail(messages.SNI_NAME_NOT_FOUND.format(name=name, value=value))
    # Its records can be published before the lineage goes in: those of
    # the default certificate, which it gets until then, and the next key's.
    tls.log.warn([messages.SNI_NAME_NOT_YET.format(name=name, files=", ".join(
        path for path, _ in waiting))])
    from postfix_tls.core.keys import deployed_chains

    return Served(deployed_chains(tls), _unique(label for _, label in waiting), default=True)


def chains(tls, name):
    """[Chain] of the files Postfix serves name (as served())."""
    return served(tls, name).chains


def _entry_chains(tls, name):
    """([Chain] of the files the SNI table gives name, or None when no table
    has it; the setting's value); fails saying why it cannot tell."""
    if not validate.hostname(name, wildcard=False):
        tls.fail(messages.BAD_HOSTNAME.format(validate.shown(name)))
    if not tls.postconf.knows(sni.PARAMETER):
        tls.fail(messages.SNI_NEEDS_3_4.format(
            what="-S", version=tls.postconf.release.mail_version or "before 3.4"))
    value = tls.postconf.get("-nx", sni.PARAMETER)
    if not value:
        tls.fail(messages.SNI_NOT_SET)
    try:
        tables = [table for table in sni.tables(value) if table.readable]
    except sni.SyntaxProblem as problem:
        tls.fail(str(problem))
    found = {}
    for table in tables:
        try:
            entries, _ = sni.entries(table)
        except OSError as error:
            tls.fail(messages.SNI_SOURCE_CANNOT_READ.format(path=table.path,
                                                            error=error.strerror))
        for entry in entries:
            found.setdefault(entry.key, entry)
    labels = name.lower().split(".")
    for key in [name.lower()] + ["." + ".".join(labels[start:])
                                 for start in range(1, len(labels))]:
        if key in found:
            _served_as_listed(tls, found[key])
            try:
                return chainfiles.read(found[key].files), value
            except chainfiles.ChainFileError as error:
                tls.fail(str(error))
    return None, value


def staged_for(tls, name):
    """[(path, label)] of the keys deploy-acme-cert staged for lineages
    whose certificate covers name."""
    from postfix_tls.core.certificates import covers
    from postfix_tls.sni import deploy as sni_deploy

    return [(path, label) for path, label, _ in sni_deploy.staged_files(tls)
            if any(covers(found, name) for found in sni_deploy.leaf_names(tls, path))]


def _unique(items):
    found = []
    for item in items:
        if item not in found:
            found.append(item)
    return found


def _served_as_listed(tls, entry):
    """An indexed table serves what postmap -F stored: when that is not what
    the files hold now, records made from the files would be for keys
    Postfix does not serve (and it is not the files that are wrong)."""
    from postfix_tls.sni import table as sni_table

    if not entry.table.indexed:
        return
    read = sni_table.Table(entry.table, b"", [entry], 0)
    if not sni_table.fresh(tls, read, [entry.key]):
        tls.fail(messages.SNI_KEYS_STALE.format(name=entry.name, table=entry.table.spec))


def labels(tls, chains):
    """The labels of deploy-acme-cert's lineages among the name's files
    (acme-sni-LABEL-ALGORITHM.pem in the configuration directory)."""
    found = []
    for chain in chains:
        directory, base = os.path.split(chain.key_path)
        suffix = "-%s.pem" % chain.algorithm
        if directory == tls.config_directory and base.startswith("acme-sni-") and (
                base.endswith(suffix)):
            found.append(base[len("acme-sni-"):-len(suffix)])
    return found


def label_of(tls, served, algorithm):
    """The label of the lineage serving algorithm among the name's files,
    else of the first of deploy-acme-cert's (an algorithm the name is not
    served yet, or a lineage staged for it), else None: whose key made
    ahead is the name's next key."""
    for chain in [] if served.default else served.chains:
        if chain.algorithm == algorithm and labels(tls, [chain]):
            return labels(tls, [chain])[0]
    return served.labels[0] if served.labels else None


def staged_keyfile(tls, served, algorithm):
    """deploy-acme-cert's staged key of algorithm for the lineage of the
    name's files (its next key, an algorithm it does not serve yet too),
    or ""."""
    for label in served.labels:
        staged = os.path.join(tls.config_directory,
                              "acme-sni-%s-%s.staged.pem" % (label, algorithm))
        if os.path.isfile(staged):
            return staged
    return ""
