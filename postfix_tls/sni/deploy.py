"""deploy-acme-cert into tls_server_sni_maps (Postfix 3.4+): a lineage
whose names are not the default certificate's (myhostname), when the
parameter is set, or with -m sni; -m default keeps every lineage out.

1. The material is checked as every deploy's is (acme/checks.py); its
   names are the leaf's (or -h's, which the leaf must cover).
2. One chain file per lineage and algorithm, acme-sni-LABEL-ALGORITHM.pem
   in the configuration directory (LABEL: the leaf's first name, "*." as
   "wildcard."): key first, then the full chain, mode 0600, renamed into
   place.
3. The table: the first of the parameter's tables that already has one of
   the names, else the first whose type is read here (indexed, texthash).
   Its source gets a line per name ("*.example.com" is ".example.com"),
   the other algorithm's file kept; every other line stays as it was.
4. The DANE gate, per name: a name with TLSA records gets a new key only
   once they match it everywhere (acme/gate.py); until then the key is
   staged in acme-sni-LABEL-ALGORITHM.staged.pem, and a later run with no
   certificate given (a timer's) deploys it.
5. ``postmap -F`` for an indexed table (it stores the files' contents),
   ``postfix check``, ``postfix reload`` when Postfix runs.
6. Live: each name on each port of -p, asked for with -servername, must
   present the new key (and pass DANE where it has records); a name in no
   table must still get the default certificate.  Otherwise the old files,
   source and built table are put back and Postfix is reloaded again.

The same certificate again, with a table that stores the files as they
are, changes nothing and reloads nothing; a table left stale (a run
stopped before postmap, a file changed behind its back) is built again.
"""

import collections
import os
import time

from postfix_tls.acme import next_keys
from postfix_tls.acme.checks import check_material
from postfix_tls.acme.facts import DEPLOY, STAGE, UNCHANGED, Deployment, Loaded, private_key
from postfix_tls.acme.gate import gate_names
from postfix_tls.acme.live import check_and_reload, undo
from postfix_tls.core import messages, validate
from postfix_tls.core.certificates import covers
from postfix_tls.core.keys import (
    SNI_FILE,
    SNI_STAGED_FILE,
    key_text_digest,
    set_fqdn,
    sni_label,
)
from postfix_tls.core.ordered import unique
from postfix_tls.dane.check import SECONDS, Check
from postfix_tls.dane.staged import Refused, set_aside
from postfix_tls.sni import live as served
from postfix_tls.sni import plan as sni_plan
from postfix_tls.sni import table as sni_table
from postfix_tls.sni.keys import leaf_names, staged_files

MODES = ("sni", "default")


def mode(tls, options):
    """-m sni|default, checked ("" when not given); -m sni before Postfix
    3.4 is refused, naming the release."""
    given = options.get("m", "")
    if given and given not in MODES:
        tls.fail(messages.SNI_BAD_MODE.format(validate.shown(given)))
    if given == "sni" and not tls.postconf.knows(sni_table.sni.PARAMETER):
        tls.fail(messages.SNI_NEEDS_3_4.format(
            what="-m sni", version=tls.postconf.release.mail_version or "before 3.4"))
    return given


def wanted(tls, options, chainfile):
    """Whether the lineage of chainfile goes into the SNI table."""
    given = mode(tls, options)
    if given:
        return given == "sni"
    if options.get("h") or not chainfile or not sni_table.configured(tls):
        return False
    names = leaf_names(tls, chainfile)
    myhostname = set_fqdn(tls, "")
    return bool(names) and not any(covers(name, myhostname) for name in names)


def unchanged_lineage(tls, options, source, hostnames):
    """For a call with no material (dehydrated's unchanged_cert, which names
    the lineage's chain), where the lineage's next key is announced: ("",
    "") for the default certificate (its leaf names every one of
    hostnames), (LABEL, "") for an SNI lineage, (None, why) when it is
    neither or cannot be told: announced nowhere, since one lineage's key
    announced as another's would have its record published for the wrong
    names (dehydrated calls the one hook for every lineage it has)."""
    given = mode(tls, options)
    if given == "default":
        return "", ""
    chain = source.lineage_chain
    names = leaf_names(tls, chain) if chain else []
    if not names or not all(validate.hostname(name, wildcard=True) for name in names):
        return None, messages.NEXT_KEY_CHAIN_UNREAD.format(chain=chain or '""')
    if given != "sni" and all(any(covers(name, host) for name in names) for host in hostnames):
        return "", ""
    if given == "sni" or not options.get("h") and sni_table.configured(tls):
        return _label(tls, names), ""
    return None, messages.NEXT_KEY_OTHER_NAMES.format(chain=chain, names=", ".join(names),
                                                      hostnames=", ".join(hostnames))


class Live(object):
    """Where the deployed lineage is checked: (nameserver, address, seconds, ports)."""

    def __init__(self, ports, nameserver, address, seconds):
        self.ports = ports
        self.nameserver = nameserver
        self.address = address
        self.seconds = seconds


def deploy_given(tls, options, source, live, margin, outcome):
    """The source's key and chain into the SNI table."""
    value = _value(tls)
    hostnames = [name for name in options.get("h", "").split(",") if name]
    materials = []
    for keyfile, chainfile in source.pairs:
        try:
            materials.append(check_material(tls, source.name, keyfile, chainfile, hostnames,
                                            margin))
        except Refused as refusal:
            tls.fail(str(refusal))
    for material in materials:
        names = hostnames or material.names
        label = _label(tls, names)
        # Before the gate reads the records: the next key is one of them.
        outcome.notes += next_keys.announce(tls, source, [material.algorithm], label)
        _deploy_lineage(tls, value, label, names, [material], live, outcome)


def deploy_staged(tls, options, live, outcome):
    """What earlier runs staged for SNI names (a timer's run): checked
    again; one that cannot be deployed any more is set aside."""
    if not sni_table.configured(tls):
        return
    value = _value(tls)
    by_label = collections.OrderedDict()
    for path, label, algorithm in staged_files(tls):
        try:
            material = check_material(tls, "staged", path, path, [], algorithm=algorithm)
        except Refused as refusal:
            set_aside(tls, algorithm, path, refusal)
            continue
        by_label.setdefault(label, []).append(material)
    for label, materials in by_label.items():
        names = materials[0].names
        _deploy_lineage(tls, value, label, names, materials, live, outcome)


def lineage_names(tls, label):
    """The names of the lineage label: its deployed file's leaf's, else its
    staged file's, else the label's."""
    for template in (SNI_FILE, SNI_STAGED_FILE):
        for algorithm in tls.setup.algorithms():
            path = _path(tls, template, label, algorithm)
            names = leaf_names(tls, path) if os.path.isfile(path) else []
            if names:
                return names
    return [] if label.startswith("wildcard.") else [label]


def _value(tls):
    value = sni_table.configured(tls)
    if not value:
        tls.fail(messages.SNI_NOT_SET.format(tls=tls.hints.reads))
    return value


def _label(tls, names):
    """The lineage's name in its files' names: its first name, "*." as
    "wildcard."; every name checked (they go into the table and argv)."""
    for name in names:
        if not validate.hostname(name, wildcard=True):
            tls.fail(messages.SNI_BAD_NAME.format(validate.shown(name)))
    first = names[0].lower()
    return "wildcard." + first[2:] if first.startswith("*.") else first


def _path(tls, template, label, algorithm):
    return os.path.join(tls.config_directory, template.format(label=label,
                                                              algorithm=algorithm))


def _deploy_lineage(tls, value, label, names, materials, live, outcome):
    tls.runner.next_unit()  # a signal while the lineage before finished: stop here
    keys = unique(sni_table.key_of(name) for name in names)
    tables = sni_table.readable(tls, value)
    table = sni_table.choose(tables, keys)
    deployments = [_plan(tls, label, names, material) for material in materials]
    for deployment in deployments:
        if set(deployment.path) & set(", \t\r\n"):
            tls.fail(messages.SNI_PATH_UNUSABLE.format(path=deployment.path))
    outcome.sni += deployments
    plan = sni_plan.tables_plan(tls, tables, table, keys, _paths(deployments))
    deploying = [d for d in deployments if d.action == DEPLOY]
    if not deploying and sni_plan.in_step(tls, plan):
        return
    gated = [d for d in deploying if d.key_changed]
    records = gate_names(tls, names, live.ports, live.nameserver, gated) if gated else {}
    deploying = [d for d in deploying if d.action == DEPLOY]
    staged = [d for d in deployments if d.action == STAGE]
    # A staged key's file and lines wait with it; the rest goes in now.
    serving = [d for d in deployments if d.action != STAGE]
    if staged:
        plan = sni_plan.tables_plan(tls, tables, table, keys, _paths(serving))
    if deploying or not sni_plan.in_step(tls, plan):
        for deployment in serving:
            if deployment.action == UNCHANGED:
                deployment.why = messages.SNI_TABLE_ONLY
        _write(tls, plan, deploying, outcome)
        # Every key served to the names is checked live, an unchanged one too
        # (its line or the built table may be what changed).
        _check_and_reload(tls, deploying, serving, names, live, records, outcome)
    for deployment in staged:
        _stage(tls, label, deployment)


def _paths(deployments):
    return dict((d.algorithm, d.path) for d in deployments)


def _plan(tls, label, names, material):
    path = _path(tls, SNI_FILE, label, material.algorithm)
    deployment = Deployment(material, _loaded(tls, path, material), path, chain_file=True)
    deployment.names = names
    same_key = deployment.loaded.key_text.strip() == material.key_pem.decode("ascii").strip()
    if same_key and _normal(deployment.loaded.certificates) == _normal(
            material.certificates) and material.source != "staged":
        deployment.action = UNCHANGED
    elif not deployment.key_changed:
        deployment.why = messages.ACME_SAME_KEY
    return deployment


def _loaded(tls, path, material):
    """Loaded of the lineage's file as it is (nothing: empty); its key's
    digest computed only when it is not the material's key."""
    key = private_key(path) if os.path.isfile(path) else None
    if key is None:
        return Loaded(path, path)
    from postfix_tls.acme.facts import pem_certificates

    same = key.text.strip() == material.key_pem.decode("ascii").strip()
    digest = material.digest if same else key_text_digest(tls, key.text)
    return Loaded(path, path, key.text, pem_certificates(path), digest)


def _normal(certificates):
    return ["".join(certificate.split()) for certificate in certificates]


def _write(tls, plan, deploying, outcome):
    for deployment in deploying:
        try:
            tls.runner.replace_file(deployment.path,
                                    deployment.material.text.encode("ascii"), 0o600)
        except OSError as error:
            tls.fail(messages.CANNOT_CREATE.format(deployment.path, error.strerror))
    for part in plan:
        table, changes = part.table, part.changes
        if changes:
            sni_table.write_source(tls, table, sni_table.edited(table, changes))
            outcome.sni_table += [
                messages.SNI_TABLE_LINE_DROPPED.format(table=table.spec, key=key)
                if files is None else messages.SNI_TABLE_LINE.format(
                    table=table.spec, key=key, files=", ".join(files))
                for key, files in changes.items()]
        outcome.sni_table += sni_plan.build_or_undo(tls, table)


def _check_and_reload(tls, deploying, served_keys, names, live, records, outcome):
    outcome.running, outcome.reload = check_and_reload(tls, outcome.notes)
    if outcome.reload:
        _verify(tls, outcome, served_keys, names, live, records)
    tls.runner.finishing()
    for deployment in deploying:
        label = sni_label(deployment.path, SNI_FILE, deployment.algorithm)
        staged = _path(tls, SNI_STAGED_FILE, label, deployment.algorithm)
        if os.path.isfile(staged):
            tls.runner.remove_file(staged)
    if not tls.runner.dry_run:
        tls.log.record([messages.SNI_DEPLOYED.format(
            algorithm=d.algorithm, names=", ".join(d.names), path=d.path, why=d.why)
            for d in deploying] + outcome.sni_table)


def _verify(tls, outcome, deploying, names, live, records):
    """Each name presents each new key on every port (DANE verified where
    it has records); a name in no table still gets the default."""
    deadline = time.time() + live.seconds
    for deployment in deploying:
        for name in names:
            servername = served.check_name(name)
            check = Check(servername, live.ports, "", seconds=min(live.seconds, SECONDS))
            for port in live.ports:
                published = records.get(name, {}).get(port, [])
                error = served.until(tls, deadline, check, live.address, port,
                                     deployment.algorithm, published, servername,
                                     deployment.material.digest)
                if error:
                    tls.fail(messages.SNI_LIVE_FAILED.format(
                        address=live.address, port=port, name=servername,
                        algorithm=deployment.algorithm, reload=outcome.reload, error=error,
                        undone=undo(tls, messages.ACME_UNDONE_RELOADED)))
                deployment.live.append((live.address, port, bool(published), servername))
    outcome.sni_default += served.default_served(tls, deadline, live, [served.OUTSIDE_NAME],
                                                 outcome.reload, messages.SNI_DEFAULT_OK)


def _stage(tls, label, deployment):
    """Keep the material for a later run, mode 0600."""
    material = deployment.material
    path = _path(tls, SNI_STAGED_FILE, label, deployment.algorithm)
    try:
        # The same again (a client's hook retried): nothing written.
        if material.source != "staged" and _bytes(path) != material.text.encode("ascii"):
            tls.runner.replace_file(path, material.text.encode("ascii"), 0o600)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))
    deployment.path = path
    tls.runner.keep_replaced()  # staged: nothing to put back


def _bytes(path):
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError:
        return None
