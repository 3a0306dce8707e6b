"""``deploy-acme-cert`` (ours): the deploy step of an ACME client's renewal.

certbot (``--deploy-hook``), lego (``--run-hook``/``--renew-hook``),
dehydrated (its hook's ``deploy_cert`` call) or any client (a key and a
full chain, as operands) hand over a new key and chain.  Deploying them
must not take the host off line:

1. The material is checked before anything changes: the key matches the
   leaf, each certificate is signed by the next, none has expired or is
   yet to come, the leaf names the host.  A refusal changes nothing.
2. The DANE gate.  A key that changed is deployed only once a TLSA record
   matching it ("3 1 1" of the key, or "2 1 1" of an issuer in its chain)
   is served by every authoritative nameserver on every port that has
   records, and the zone's TTL has passed since a run first saw it there
   (caches may hold the old RRset until then).  Until then it is staged
   in the configuration directory (mode 0600), the records to publish are
   printed and the exit status is EXIT_STAGED; a later run deploys it.
   No records at all: nobody does DANE with the host, it is deployed.
3. Key and chain go into one file renamed into place: the chain file
   Postfix loads (smtpd_tls_chain_files, 3.4+: the other algorithms'
   entries kept), else acme-ALGORITHM.pem named by the legacy key and
   certificate parameters (the key in the certificate's file).  Postfix
   never reads a key without its certificate.  main.cf changes only when a
   parameter does.
4. ``postfix check``, then ``postfix reload``, only when something changed;
   a Postfix that is not running is not started.
5. The live server must then present the new key on every port (and pass
   openssl's DANE verification where records are published); otherwise the
   old files and main.cf are put back and Postfix is reloaded again.

Every step runs through the runner (``--dry-run``, ``--trace``,
``--trace-json``); a failure or SIGTERM at any step puts the old files and
main.cf back (Runner.restore_replaced).
"""


from postfix_tls import chain_deploy
from postfix_tls.acme import next_keys
from postfix_tls.acme.checks import check_material, staged_materials
from postfix_tls.acme.facts import (
    CERT_PARAMETERS,
    DAY,
    DEPLOY,
    MARGIN_DAYS,
    STAGE,
    UNCHANGED,
    VERIFY_SECONDS,
)
from postfix_tls.acme.gate import dane_gate, gate_names, relying_names, stage, watch
from postfix_tls.acme.loaded import already_loaded, plan
from postfix_tls.acme.source import find_source
from postfix_tls.acme.write import deploy
from postfix_tls.core import messages, validate
from postfix_tls.core.keys import (
    CHAIN_FILES,
    KEY_FILE_PARAMETERS,
    SNI_MAPS,
    set_fqdn,
)
from postfix_tls.core.tlsa import tlsa_ports
from postfix_tls.dane.check import live_options
from postfix_tls.dane.staged import Refused


class Outcome(object):
    """What the run did, for render.acme_deploy."""

    def __init__(self, source):
        self.source = source
        self.deployments = []
        self.settings = []
        self.reload = ""
        self.running = None
        self.notes = []
        self.published = []  # -K: the records added, one line each
        self.retired = []  # -K: the records removed
        self.failure = None  # -K: the PublishError of an update not made
        self.sni = []  # deployments into tls_server_sni_maps (sni/deploy.py)
        self.sni_table = []  # the SNI table's lines changed, its build
        self.sni_default = []  # names in no table that still get the default

    @property
    def exit_status(self):
        if self.failure is not None and not self.failure.retry:
            return messages.EXIT_FAIL  # a person must act, even under dehydrated
        if self.failure is not None or any(deployment.action == STAGE for deployment in
                                           self.deployments + self.sni):
            return messages.EXIT_OK if self.source.dehydrated else messages.EXIT_STAGED
        return messages.EXIT_OK



def deploy_acme_cert(tls, options, operands):
    hostnames = _hostnames(tls, options)
    ports = tlsa_ports(tls, options.get("p", "25"))
    nameserver, address, seconds = live_options(tls, options, hostnames[0],
                                                     VERIFY_SECONDS)
    margin = _margin(tls, options)
    publishing = _publishing(options)  # -K: its module, else None
    publishing_settings = publishing.settings(tls, options) if publishing else None
    source = find_source(tls, operands)
    if source is None:
        return messages.EXIT_OK  # a dehydrated call that is not ours
    outcome = Outcome(source)
    announced_as = _next_key_lineage(tls, options, source, hostnames)
    sni_deploy = _sni_deploy(tls, options, source)
    if sni_deploy is not None:
        live = sni_deploy.Live(ports, nameserver, address, seconds)
        if source.pairs and sni_deploy.wanted(tls, options, source.pairs[0][1]):
            if publishing:
                tls.fail(messages.SNI_NO_PUBLISHING)
            sni_deploy.deploy_given(tls, options, source, live, margin, outcome)
            return _done(tls, outcome)
        if not source.pairs:
            sni_deploy.deploy_staged(tls, options, live, outcome)
            tls.runner.next_unit()  # a signal while it finished ends the run here
            _sni_made_ahead(tls, source, announced_as, sni_deploy, live, outcome)
    if publishing_settings:
        ports = publishing.ports_in_step(tls, hostnames[0], ports, outcome)
    setting = chain_deploy.read_setting(tls)
    chains = dict((chain.algorithm, chain) for chain in setting.chains)
    materials = []
    for keyfile, chainfile in source.pairs:
        unchanged = already_loaded(tls, source.name, keyfile, chainfile, chains, setting)
        if unchanged:
            outcome.deployments.append(unchanged)
        else:
            try:
                materials.append(check_material(tls, source.name, keyfile, chainfile,
                                                hostnames, margin))
            except Refused as refusal:
                tls.fail(str(refusal))
    given = [deployment.algorithm for deployment in outcome.deployments]
    given += [material.algorithm for material in materials]
    # Before the records in service are read: the next key is one of them.
    if announced_as == "":
        outcome.notes += next_keys.announce(tls, source, given if source.pairs else [])
    materials += staged_materials(tls, hostnames, given)
    in_service = publishing.records_in_service(tls) if publishing_settings else set()
    if not materials and not outcome.deployments:
        if not outcome.sni:
            outcome.notes.append(messages.ACME_NOTHING)
        _made_ahead(tls, publishing, publishing_settings, hostnames[0], ports, nameserver,
                    in_service, outcome)
        _retire(tls, publishing, publishing_settings, hostnames[0], ports, in_service,
                outcome)
        return _done(tls, outcome)
    outcome.deployments += [plan(tls, material, chains, setting) for material in materials]
    gated = [d for d in outcome.deployments if d.action == DEPLOY and d.key_changed]
    if not gated:
        _made_ahead(tls, publishing, publishing_settings, hostnames[0], ports, nameserver,
                    in_service, outcome)
    if gated and publishing_settings:
        publishing.publish_new_keys(tls, publishing_settings, hostnames[0], ports, in_service,
                                    gated, outcome)
        gated = [d for d in gated if d.action == DEPLOY]  # not staged by a failed update
    records = _gate(tls, hostnames[0], ports, nameserver, gated, outcome) if gated else {}
    deploying = [d for d in outcome.deployments if d.action == DEPLOY]
    if deploying:
        deploy(tls, outcome, deploying, ports, hostnames[0], address, seconds, records, setting)
    for deployment in outcome.deployments:
        if deployment.action == STAGE:
            stage(tls, deployment)
    if not deploying and not any(d.action == STAGE for d in outcome.deployments) and not any(
            d.action != UNCHANGED for d in outcome.sni):
        outcome.notes.append(messages.ACME_NOTHING_CHANGED)
    if publishing:
        _retire(tls, publishing, publishing_settings, hostnames[0], ports,
                publishing.needed_after(in_service, outcome.deployments), outcome)
    return _done(tls, outcome)


def _sni_deploy(tls, options, source):
    """sni/deploy.py when a lineage may go into tls_server_sni_maps (-m, or
    the parameter set and no -h) or a timer's run may find keys staged for
    it; else None: a host without SNI names does not load it."""
    if not options.get("m") and (options.get("h") and source.pairs):
        return None
    if not options.get("m") and not tls.postconf.get("-nx", SNI_MAPS):
        return None
    from postfix_tls.sni import deploy as sni_deploy

    return sni_deploy


def _next_key_lineage(tls, options, source, hostnames):
    """Where the next key of this call's lineage is announced: "" the
    default certificate's (a call with material: check_material checks its
    names), an SNI lineage's label, or None: nowhere (warned)."""
    if source.pairs or not source.next_keys:
        return ""
    from postfix_tls.sni import deploy as sni_deploy

    label, why = sni_deploy.unchanged_lineage(tls, options, source, hostnames)
    if label is None:
        tls.log.warn([messages.NEXT_KEY_NOT_ANNOUNCED.format(
            client=client, keyfile=keyfile, reason=why) for client, keyfile in source.next_keys])
    return label


def _sni_made_ahead(tls, source, label, sni_deploy, live, outcome):
    """A run with no material: the next key of an SNI lineage's
    unchanged_cert call announced under its label; the records of the SNI
    lineages' keys made ahead watched for (sni/made_ahead.py): that
    lineage's alone in an unchanged_cert call (dehydrated makes one per
    lineage), every one in a timer's run."""
    from postfix_tls.sni import made_ahead

    if label:
        outcome.notes += next_keys.announce(tls, source, [], label)
    only = (label or "-") if source.dehydrated else None  # "-": no label is "-"
    made_ahead.watch(tls, live, lambda name: sni_deploy.lineage_names(tls, name), outcome,
                     only)


def _gate(tls, hostname, ports, nameserver, gated, outcome):
    """The DANE gate of the default certificate's new keys: its host's
    records, and those of the names it serves until the lineage staged
    for them goes into the SNI table, where they match the key in service
    (a new key they do not match would break DANE for them meanwhile);
    {port: records} of the host."""
    waiting = []
    if tls.postconf.get("-nx", SNI_MAPS):
        from postfix_tls.sni.keys import waiting_names

        # A lineage this run puts in is no longer waiting (a dry run's too).
        going_in = set(name.lower() for d in outcome.sni if d.action == DEPLOY
                       for name in d.names)
        waiting = [name for name in waiting_names(tls)
                   if name != hostname.lower() and name not in going_in]
    if waiting:
        waiting, note = relying_names(tls, waiting, ports, nameserver, gated)
        if note:
            outcome.notes.append(note)
    if not waiting:
        return dane_gate(tls, hostname, ports, nameserver, gated)
    outcome.notes.append(messages.SNI_DEFAULT_STILL_SERVES.format(names=", ".join(waiting)))
    return gate_names(tls, [hostname] + waiting, ports, nameserver, gated)[hostname]


def _publishing(options):
    """acme/publishing.py when -K, -P or -L is given (it refuses -P or -L
    alone); else None: a run that publishes nothing does not load it."""
    if not any(options.get(letter) for letter in "KPL"):
        return None
    from postfix_tls.acme import publishing

    return publishing


def _made_ahead(tls, publishing, publishing_settings, hostname, ports, nameserver, in_service,
                outcome):
    """A run with no new key to let in, while a client's key made ahead is
    announced: -K publishes its record (once: an RRset that has it is left
    as it is), and every such run notes when DNS first served it
    everywhere, so that the renewal that takes it finds the wait over."""
    if not any(next_keys.read(tls, algorithm) for algorithm in tls.setup.algorithms()):
        return
    if publishing_settings is not None:
        publishing.publish_new_keys(tls, publishing_settings, hostname, ports, in_service, [],
                                    outcome)
        if outcome.failure is not None:
            return
    outcome.notes += [messages.ACME_WATCH_DNS_ERROR.format(owner=owner, error=error)
                      for owner, error in watch(tls, hostname, ports, nameserver)]


def _retire(tls, publishing, publishing_settings, hostname, ports, needed, outcome):
    """-K: the records of keys gone from service, once it is safe (not
    after a failed update: DNS is not as this run expected)."""
    if publishing_settings is not None and outcome.failure is None:
        publishing.retire_old_keys(tls, publishing_settings, hostname, ports, needed, outcome)


def _done(tls, outcome):
    from postfix_tls.core import render

    render.acme_deploy(outcome, tls.hints, tls.json)
    return outcome.exit_status


def _hostnames(tls, options):
    """-h NAME[,NAME...], else myhostname: the names the leaf must have;
    the first is the TLSA records' host."""
    names = [name for name in options.get("h", "").split(",") if name] or [set_fqdn(tls, "")]
    for name in names:
        if not validate.hostname(name, wildcard=False):
            tls.fail(messages.BAD_HOSTNAME.format(validate.shown(name)))
    return names


def _margin(tls, options):
    """-e DAYS (default MARGIN_DAYS), in seconds."""
    days = options.get("e", str(MARGIN_DAYS))
    if not (validate.digits(days) and int(days) <= 3650):
        tls.fail(messages.BAD_MARGIN_DAYS.format(validate.shown(days)))
    return int(days) * DAY



def prefetch(options, operands):
    names = tuple(KEY_FILE_PARAMETERS.values()) + tuple(CERT_PARAMETERS.values()) + (
        CHAIN_FILES, SNI_MAPS)
    return [("-x", () if options.get("h") else ("myhostname",)), ("-nx", names)], []
