"""The keys an SNI name is served (output-server-tlsa, check-server-tlsa,
output-server-tlsa-rollover and publish-server-tlsa with -S NAME): the
chain files its entry lists, found as Postfix looks the name up (the name
itself, then each parent domain with a leading dot, in every table); its
MX host name's TLSA records come from them, not from the default
certificate's keys.  A name no table has yet, whose first lineage
deploy-acme-cert staged, gets the default certificate until it goes in:
its keys, and the next keys of both, are the name's meanwhile; and a new
default key waits for such a name's records too (waiting_names)."""

import os

from postfix_tls.core import chainfiles, messages, sni, validate
from postfix_tls.core.keys import SNI_FILE, SNI_STAGED_FILE, sni_files, sni_label
from postfix_tls.core.ordered import unique


class Served(object):
    """What Postfix serves an SNI name: chains, the labels of
    deploy-acme-cert's lineages among them (or staged for it), and whether
    it is the default certificate (a name in no table yet, whose first
    lineage is staged until its records are published); judged: {staged
    file: why its run would set it aside, or None}, as served() asked
    (each file's openssl runs once)."""

    def __init__(self, chains, labels, default=False, judged=None):
        self.chains = chains
        self.labels = labels
        self.default = default
        self.judged = judged or {}


def served(tls, name):
    """The Served of name; fails saying why when no table has it and no
    lineage is staged for it."""
    found, key, value = _entry_chains(tls, name)
    waiting, refused = staged_for(tls, name, exact_only=key == name.lower())
    staged_labels = unique(label for _, label, _ in waiting)
    judged = dict([(path, None) for path, _, _ in waiting]
                  + [(path, why) for path, _, why in refused])
    if found is not None:
        # A lineage staged for it is its next key too (its entry may list an
        # administrator's own files, or a parent domain's).
        return Served(found, unique(staged_labels + labels(tls, found)), judged=judged)
    if not waiting:
        for path, algorithm, reason in refused:
            tls.log.warn([messages.ACME_STAGED_IGNORED.format(algorithm=algorithm, path=path,
                                                              reason=reason)])
        tls.fail(messages.SNI_NAME_NOT_FOUND.format(name=name, value=value))
    # Its records can be published before the lineage goes in: those of
    # the default certificate, which it gets until then, and the next keys.
    tls.log.warn([messages.SNI_NAME_NOT_YET.format(name=name, files=", ".join(
        path for path, _, _ in waiting))])
    from postfix_tls.core.keys import deployed_chains

    return Served(deployed_chains(tls), staged_labels, default=True, judged=judged)


def chains(tls, name):
    """[Chain] of the files Postfix serves name (as served())."""
    return served(tls, name).chains


def _entry_chains(tls, name):
    """([Chain] of the files the SNI table gives name and the key it is
    found by, or None, None when no table has it; the setting's value);
    fails saying why it cannot tell."""
    if not validate.hostname(name, wildcard=False):
        tls.fail(messages.BAD_HOSTNAME.format(validate.shown(name)))
    if not tls.postconf.knows(sni.PARAMETER):
        tls.fail(messages.SNI_NEEDS_3_4.format(
            what="-S", version=tls.postconf.release.mail_version or "before 3.4"))
    value = tls.postconf.get("-nx", sni.PARAMETER)
    if not value:
        tls.fail(messages.SNI_NOT_SET)
    try:
        found = _entries(value)
    except sni.SyntaxProblem as problem:
        tls.fail(str(problem))
    except OSError as error:
        tls.fail(messages.SNI_SOURCE_CANNOT_READ.format(path=error.filename,
                                                        error=error.strerror))
    key = _lookup(found, name)
    if key is None:
        return None, None, value
    _served_as_listed(tls, found[key])
    try:
        return chainfiles.read(found[key].files), key, value
    except chainfiles.ChainFileError as error:
        tls.fail(str(error))


def _entries(value):
    """{key: the entry Postfix finds it by} of every readable table of
    tls_server_sni_maps' value; raises sni.SyntaxProblem, OSError."""
    found = {}
    for table in [table for table in sni.tables(value) if table.readable]:
        entries, _ = sni.entries(table)
        for entry in entries:
            found.setdefault(entry.key, entry)
    return found


def _lookup(found, name):
    """The key Postfix finds name by (itself, then each parent domain with
    a leading dot), or None."""
    labels = name.lower().split(".")
    for key in [name.lower()] + ["." + ".".join(labels[start:])
                                 for start in range(1, len(labels))]:
        if key in found:
            return key
    return None


def waiting_names(tls):
    """The names of the lineages staged for the SNI table that no table has
    yet (a wildcard's have no records): Postfix serves them the default
    certificate until their lineage goes in, so a new default key must
    match their records too."""
    value = tls.postconf.get("-nx", sni.PARAMETER)
    staged = staged_files(tls) if value else []
    if not staged:
        return []
    try:
        found = _entries(value)
    except (sni.SyntaxProblem, OSError):
        return []  # the SNI deploy says why
    from postfix_tls.dane.staged import next_key_refusal

    names = []
    for path, _, algorithm in staged:
        if next_key_refusal(tls, algorithm, path) is not None:
            continue  # the SNI deploy sets it aside, saying why
        for name in leaf_names(tls, path):
            name = name.lower()
            if not name.startswith("*.") and name not in names and _lookup(found, name) is None:
                names.append(name)
    return names


def staged_for(tls, name, exact_only=False):
    """([(path, label, algorithm)], refused [(path, algorithm, why)]) of the
    keys deploy-acme-cert staged for the lineages that will serve name, as
    Postfix looks it up: those whose certificate has name itself, else
    (unless exact_only: an entry has name itself) those of a wildcard
    covering it.  A staged key its next run would set aside is refused."""
    from postfix_tls.core.certificates import covers
    from postfix_tls.dane.staged import next_key_refusal

    exact, wildcard, refused = [], [], []
    for path, label, algorithm in staged_files(tls):
        names = [found.lower() for found in leaf_names(tls, path)]
        if name.lower() not in names and (exact_only or not any(
                covers(found, name) for found in names)):
            continue
        why = next_key_refusal(tls, algorithm, path)
        if why is not None:
            refused.append((path, algorithm, why))
        else:
            (exact if name.lower() in names else wildcard).append((path, label, algorithm))
    return exact or wildcard, refused


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
        label = sni_label(chain.key_path, SNI_FILE, chain.algorithm)
        if os.path.dirname(chain.key_path) == tls.config_directory and label is not None:
            found.append(label)
    return found


def staged_keyfiles(tls, served, algorithm):
    """deploy-acme-cert's staged keys of algorithm for the lineages of the
    name (its next keys, an algorithm it does not serve yet too); one its
    next run would set aside is left out, with a warning."""
    from postfix_tls.dane.staged import next_key_refusal

    found = []
    for label in served.labels:
        staged = os.path.join(tls.config_directory,
                              SNI_STAGED_FILE.format(label=label, algorithm=algorithm))
        if not os.path.isfile(staged):
            continue
        why = served.judged[staged] if staged in served.judged else next_key_refusal(
            tls, algorithm, staged)
        if why is None:
            found.append(staged)
        else:
            tls.log.warn([messages.ACME_STAGED_IGNORED.format(algorithm=algorithm, path=staged,
                                                              reason=why)])
    return found


def staged_files(tls):
    """[(path, label, algorithm)] of the SNI keys staged, in name order."""
    found = []
    for algorithm in tls.setup.algorithms():
        for path, label in sni_files(tls.config_directory, SNI_STAGED_FILE, algorithm):
            if validate.hostname(label, wildcard=False) and os.path.isfile(path):
                found.append((path, label, algorithm))
    return sorted(found)


def leaf_names(tls, chainfile):
    """The names of chainfile's leaf certificate ([]: none to read)."""
    from postfix_tls.acme.facts import pem_certificates
    from postfix_tls.core import openssl
    from postfix_tls.core.certificates import parse_certificate_facts

    certificates = pem_certificates(chainfile)
    if not certificates:
        return []  # check_material says why
    facts = parse_certificate_facts(tls.runner.run(openssl.certificate_facts(
        tls.openssl, chainfile, certificates[0])).stdout)
    # As check_material reads them: the CN when there is no DNS name.
    return facts["names"] or [facts.get("subject", "").partition("CN=")[2].split(",")[0]]
