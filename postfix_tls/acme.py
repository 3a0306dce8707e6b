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

import collections
import os
import time

from . import chaindeploy, chainfiles, dane, material, messages, openssl, tlsa_seen, validate
from .certificates import covers, iso, parse_certificate_facts
from .command import TO_STDOUT, Command
from .keys import (
    ACME_STAGED_FILE,
    CHAIN_FILES,
    KEY_FILE_PARAMETERS,
    certificate_digest,
    chain_key_digest,
    checked_key,
    in_order,
    key_text_digest,
    pubkey_digest,
    read_key,
    set_fqdn,
    set_keyfile,
)
from .staged import Refused, set_aside, staged_path
from .tlsa import tlsa_ports

CERT_PARAMETERS = {"rsa": "smtpd_tls_cert_file", "ecdsa": "smtpd_tls_eccert_file"}
# In the configuration directory: what Postfix loads (legacy parameters),
# a key waiting for its TLSA record, and when a run first saw each TLSA
# record served by every nameserver ("owner record seconds" lines).
DEPLOYED_FILE = "acme-{}.pem"
STAGED_FILE = ACME_STAGED_FILE
SEEN_FILE = "acme-tlsa.seen"

# dehydrated's hook calls: deploy_cert DOMAIN KEYFILE CERTFILE FULLCHAINFILE
# CHAINFILE TIMESTAMP deploys; unchanged_cert (every run that renews
# nothing) deploys what is staged; every other call is ignored, as
# dehydrated asks of its hooks.
DEHYDRATED_DEPLOY = "deploy_cert"
DEHYDRATED_UNCHANGED = "unchanged_cert"

VERIFY_SECONDS = 30  # -t: how long the live server has to present the new key
# -e: a certificate that expires within this many days is refused (an
# ACME client renews about 30 days ahead: one this close means renewals
# have been failing, and deploying it only postpones the outage a little);
# -e 0 deploys whatever has not expired, with a warning within these days.
MARGIN_DAYS = 7
_DAY = 86400
_RETRY_SECONDS = 0.5  # an smtpd started before the reload may answer once more

UNCHANGED, DEPLOY, STAGE = "unchanged", "deploy", "stage"


class Source(object):
    """Where the material comes from: the client, and [(keyfile, chainfile)]."""

    def __init__(self, name, pairs=(), dehydrated=False):
        self.name = name
        self.pairs = list(pairs)
        self.dehydrated = dehydrated


class Material(object):
    """A key and its certificate chain (leaf first), checked."""

    def __init__(self, source, keyfile, chainfile, key_pem, algorithm, digest, certificates,
                 issuer_digests, not_after):
        self.source = source
        self.keyfile = keyfile
        self.chainfile = chainfile
        self.key_pem = key_pem
        self.algorithm = algorithm
        self.digest = digest  # SHA-256 of the public key: its "3 1 1" record
        self.certificates = certificates
        self.issuer_digests = issuer_digests  # the chain's keys: "2 1 1" records
        self.not_after = not_after

    @property
    def text(self):
        """Key, then chain: what Postfix reads from one file."""
        return self.key_pem.decode("ascii") + "".join(self.certificates)


class Loaded(object):
    """What Postfix loads now for an algorithm (nothing: all empty)."""

    def __init__(self, keyfile="", certfile="", key_text="", certificates=(), digest=""):
        self.keyfile = keyfile
        self.certfile = certfile
        self.key_text = key_text
        self.certificates = list(certificates)
        self.digest = digest  # its key's SPKI digest, when asked for

    def from_client(self, material_files):
        """Whether these are the client's own files (certbot's live/ links,
        say): then they are no sign of a deployment, the client has replaced
        them already."""
        return any(_same_file(path, own) for path in (self.keyfile, self.certfile)
                   for own in material_files)


class Deployment(object):
    """One algorithm's new material, and what this run does with it."""

    def __init__(self, material, loaded, path, chain_file):
        self.material = material
        self.loaded = loaded
        self.path = path  # the file Postfix will load it from
        self.chain_file = chain_file  # path is one of smtpd_tls_chain_files
        self.action = DEPLOY
        self.why = ""
        self.reasons = []  # why it is staged, one line each
        self.publish = []  # records to publish before it is deployed
        self.live = []  # (address, port, dane_verified)

    @property
    def algorithm(self):
        return self.material.algorithm

    @property
    def key_changed(self):
        return self.loaded.digest != self.material.digest


class Outcome(object):
    """What the run did, for render.acme_deploy."""

    def __init__(self, source):
        self.source = source
        self.deployments = []
        self.settings = []
        self.reload = ""
        self.running = None
        self.notes = []

    @property
    def exit_status(self):
        if any(deployment.action == STAGE for deployment in self.deployments):
            return messages.EXIT_OK if self.source.dehydrated else messages.EXIT_STAGED
        return messages.EXIT_OK


# ----- the subcommand

def deploy_acme_cert(tls, options, operands):
    hostnames = _hostnames(tls, options)
    ports = tlsa_ports(tls, options.get("p", "25"))
    nameserver, address, seconds = dane.live_options(tls, options, hostnames[0],
                                                     VERIFY_SECONDS)
    margin = _margin(tls, options)
    source = find_source(tls, operands)
    if source is None:
        return messages.EXIT_OK  # a dehydrated call that is not ours
    outcome = Outcome(source)
    setting = chaindeploy.read_setting(tls)
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
    materials += staged_materials(tls, hostnames, given + [m.algorithm for m in materials])
    if not materials and not outcome.deployments:
        outcome.notes.append(messages.ACME_NOTHING)
        return _done(tls, outcome)
    outcome.deployments += [plan(tls, material, chains, setting) for material in materials]
    gated = [d for d in outcome.deployments if d.action == DEPLOY and d.key_changed]
    records = dane_gate(tls, hostnames[0], ports, nameserver, gated) if gated else {}
    deploying = [d for d in outcome.deployments if d.action == DEPLOY]
    if deploying:
        deploy(tls, outcome, deploying, ports, hostnames[0], address, seconds, records, setting)
    for deployment in outcome.deployments:
        if deployment.action == STAGE:
            stage(tls, deployment)
    if not deploying and not any(d.action == STAGE for d in outcome.deployments):
        outcome.notes.append(messages.ACME_NOTHING_CHANGED)
    return _done(tls, outcome)


def _done(tls, outcome):
    from . import render

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
    return int(days) * _DAY


def _dehydrated_call(name):
    """dehydrated's hook calls are named like deploy_cert, startup_hook."""
    return "_" in name and name.replace("_", "").isalpha() and name.islower()


def find_source(tls, operands):
    """The client's material; None for a dehydrated call to ignore."""
    given = [_in_config_directory(tls, path) for path in operands]
    if len(given) == 2 and all(os.path.isfile(path) for path in given):
        return Source("given", [tuple(given)])
    if operands and _dehydrated_call(operands[0]):
        if operands[0] == DEHYDRATED_DEPLOY:
            if len(operands) < 5:  # a hook that drops arguments: say so, not "done"
                tls.fail(messages.ACME_DEHYDRATED_ARGUMENTS.format(
                    " ".join(validate.shown(operand) for operand in operands)))
            return Source("dehydrated", [(operands[2], operands[4])], dehydrated=True)
        if operands[0] == DEHYDRATED_UNCHANGED:
            return Source("dehydrated", dehydrated=True)  # what is staged, if anything
        return None
    if len(operands) == 2:
        return Source("given", [tuple(given)])  # check_material says which is missing
    if operands:
        tls.fail(messages.ACME_USAGE_SOURCE)
    env = os.environ
    if env.get("RENEWED_LINEAGE"):
        lineage = env["RENEWED_LINEAGE"]
        return _client_files(tls, "certbot", "RENEWED_LINEAGE",
                             os.path.join(lineage, "privkey.pem"),
                             os.path.join(lineage, "fullchain.pem"))
    if env.get("LEGO_CERT_PATH") or env.get("LEGO_CERT_KEY_PATH"):
        return _client_files(tls, "lego", "LEGO_CERT_PATH and LEGO_CERT_KEY_PATH",
                             env.get("LEGO_CERT_KEY_PATH", ""), env.get("LEGO_CERT_PATH", ""))
    return Source("staged")  # a timer's run: what is staged, if anything


def _client_files(tls, name, variable, keyfile, chainfile):
    for path in (keyfile, chainfile):
        if not os.path.isfile(path):
            tls.fail(messages.ACME_LINEAGE_MISSING.format(source=name, path=path or '""',
                                                          variable=variable))
    return Source(name, [(keyfile, chainfile)])


def _in_config_directory(tls, path):
    return path if path.startswith("/") else os.path.join(tls.config_directory, path)


# ----- 1. the material

def check_material(tls, source, keyfile, chainfile, hostnames, margin=0, algorithm=None):
    """The key and chain in keyfile and chainfile, checked; staged.Refused
    (nothing changed) when Postfix should not serve them.  margin: seconds
    every certificate must still be valid for; algorithm: the key's, when
    the file's name says it (staged)."""
    for path in (keyfile, chainfile):
        try:
            material.check(path)  # before openssl reads it: a FIFO would block it
        except material.NotMaterial as error:
            raise Refused(messages.NOT_MATERIAL.format(problem=error))
        except OSError:
            raise Refused(messages.NOT_A_FILE.format(path))
    if algorithm:  # staged: a key that is not readable is a file to set aside
        key = read_key(tls, keyfile)
        if key is None:
            raise Refused(messages.NO_PRIVATE_KEY.format(keyfile))
        key_pem, key_type = key
        if key_type.algorithm != algorithm:
            raise Refused(messages.ACME_STAGED_WRONG_ALGORITHM.format(
                path=keyfile, found=key_type.algorithm, algorithm=algorithm))
    else:
        key_pem, key_type = checked_key(tls, keyfile, ours=True)
    # Deployed as the client wrote it (openssl rewrites some formats), so that
    # the next run can tell it is what Postfix loads without running openssl.
    original = _private_key(keyfile)
    if original is not None:
        key_pem = original.text.encode("ascii")
    if key_type.algorithm not in tls.setup.algorithms():
        raise Refused(messages.ACME_UNSUPPORTED.format(keyfile=keyfile,
                                                       algorithm=key_type.algorithm))
    if keyfile == chainfile:  # staged: key, then chain, in one file
        certificates = _pem_certificates(chainfile)
        if not certificates:
            raise Refused(messages.CHAIN_FILE_NO_CERTIFICATE.format(chainfile))
    else:
        certificates = chaindeploy.certificates(tls, chainfile)
    digest = key_text_digest(tls, key_pem.decode("ascii"))
    if not digest:
        raise Refused(messages.KEY_DIGEST_FAILED)
    if certificate_digest(tls, certificates[0]) != digest:
        raise Refused(messages.ACME_KEY_MISMATCH.format(chainfile=chainfile, keyfile=keyfile))
    if not in_order(tls, certificates):
        raise Refused(messages.CHAIN_FILE_NOT_IN_ORDER.format(chainfile))
    now = time.time()
    leaf = None
    soon = []  # certificates expiring within the warning's days (-e 0 lets them in)
    for position, certificate in enumerate(certificates, 1):
        facts = parse_certificate_facts(tls.runner.run(openssl.certificate_facts(
            tls.openssl, chainfile, certificate)).stdout)
        if "not_after" not in facts or "not_before" not in facts:
            raise Refused(messages.ACME_NOT_A_CERTIFICATE.format(position=position,
                                                                 chainfile=chainfile))
        what = dict(position=position, chainfile=chainfile, subject=facts.get("subject", ""))
        if facts["not_after"] <= now:
            raise Refused(messages.ACME_EXPIRED.format(when=iso(facts["not_after"]), **what),
                          expired=True)
        if facts["not_before"] > now:
            raise Refused(messages.ACME_NOT_YET_VALID.format(when=iso(facts["not_before"]),
                                                             **what))
        if facts["not_after"] <= now + margin:
            raise Refused(messages.ACME_EXPIRES_SOON.format(
                when=iso(facts["not_after"]), days=_days(margin), **what))
        if source != "staged" and facts["not_after"] <= now + MARGIN_DAYS * _DAY:
            soon.append(messages.ACME_EXPIRES_SOON_DEPLOYED.format(
                when=iso(facts["not_after"]), days=MARGIN_DAYS, margin=_days(margin), **what))
        leaf = leaf or facts
    names = leaf["names"] or [leaf.get("subject", "").partition("CN=")[2].split(",")[0]]
    for hostname in hostnames:
        if not any(covers(name, hostname) for name in names):
            raise Refused(messages.ACME_NAME_MISSING.format(
                chainfile=chainfile, hostname=hostname, names=", ".join(names)))
    if soon:
        tls.log.warn(soon)
    issuers = [certificate_digest(tls, certificate) for certificate in certificates[1:]]
    return Material(source, keyfile, chainfile, key_pem, key_type.algorithm, digest,
                    certificates, [issuer for issuer in issuers if issuer], leaf["not_after"])


def _days(seconds):
    return "%g" % (seconds / float(_DAY))


def _config_file(tls, template, algorithm):
    return os.path.join(tls.config_directory, template.format(algorithm))


def staged_materials(tls, hostnames, given):
    """What earlier runs staged, for the algorithms not given now (checked
    again: a date may have passed).  One that cannot be deployed any more
    is set aside, with a warning: it concerns its own algorithm only."""
    found = []
    for algorithm in tls.setup.algorithms():
        path = staged_path(tls, algorithm)
        if algorithm not in given and os.path.lexists(path) and not os.path.isfile(path):
            tls.log.warn([messages.ACME_STAGED_NOT_REMOVED.format(
                path=path, problem=material.problem(path) or "not a regular file")])
        if algorithm in given or not os.path.isfile(path):
            continue
        try:
            found.append(check_material(tls, "staged", path, path, hostnames,
                                        algorithm=algorithm))
        except Refused as refusal:
            set_aside(tls, algorithm, path, refusal)
    return found


# ----- what Postfix loads, and where the new material goes

def loaded(tls, algorithm, chains, setting, digest=True):
    """What Postfix loads for algorithm: its entry of the chain files; the
    legacy files when no chain file is set (Postfix ignores them otherwise);
    else nothing.  digest: with its key's SPKI digest (openssl)."""
    chain = chains.get(algorithm)
    if chain:
        return Loaded(chain.key_path, chain.key_path, chain.key_text, chain.certificates,
                      chain_key_digest(tls, chain) if digest else "")
    if setting.names:
        return Loaded()
    certfile = tls.postconf.get("-nx", CERT_PARAMETERS[algorithm])
    keyfile = set_keyfile(tls, algorithm) or certfile
    if not (os.path.isfile(certfile) and os.path.isfile(keyfile)):
        return Loaded(keyfile, certfile)
    key = _private_key(keyfile)
    return Loaded(keyfile, certfile, key.text if key else "", _pem_certificates(certfile),
                  pubkey_digest(tls, keyfile) if digest else "")


def _pem_certificates(path):
    return [item.text for item in chainfiles.file_objects(path)
            if item.label == "CERTIFICATE"]


def _private_key(path):
    """The first private key's PEM object in path, or None."""
    for item in chainfiles.file_objects(path):
        if item.label.endswith("PRIVATE KEY") and item.label != "ENCRYPTED PRIVATE KEY":
            return item
    return None


def already_loaded(tls, source, keyfile, chainfile, chains, setting):
    """An unchanged Deployment when Postfix loads this very key and chain,
    from files of its own (not the client's), else None.  Read in Python,
    without openssl: what Postfix loads was checked when it was deployed,
    and a client's every no-change run (a timer's) stays cheap."""
    key, certificates = _private_key(keyfile), _pem_certificates(chainfile)
    if key is None or not certificates:
        return None
    algorithm = chainfiles.key_algorithm(key)
    if algorithm not in CERT_PARAMETERS:
        return None
    now = loaded(tls, algorithm, chains, setting, digest=False)
    if now.from_client((keyfile, chainfile)) or _normal([now.key_text]) != _normal(
            [key.text]) or _normal(now.certificates) != _normal(certificates):
        return None
    material = Material(source, keyfile, chainfile, key.text.encode("ascii"), algorithm, "",
                        certificates, [], None)
    deployment = Deployment(material, now, now.certfile, chain_file=algorithm in chains)
    deployment.action = UNCHANGED
    return deployment


def _same_file(one, other):
    return bool(one and other) and os.path.realpath(one) == os.path.realpath(other)


def plan(tls, material, chains, setting):
    """Where material goes, and whether it is already what Postfix loads."""
    algorithm = material.algorithm
    now = loaded(tls, algorithm, chains, setting)
    if setting.names or tls.chain_file:
        if not tls.postconf.knows(CHAIN_FILES):
            tls.fail(messages.CHAIN_FILE_NEEDS_3_4.format(
                version=tls.postconf.release.mail_version or "before 3.4"))
        if tls.chain_file and not chains.get(algorithm):
            named = chaindeploy.named_elsewhere(tls, tls.chain_file)
            if named:
                tls.fail(messages.CHAIN_FILE_NAMED_ELSEWHERE.format(path=tls.chain_file,
                                                                    parameter=named))
        chain = chains.get(algorithm)
        # A named file that is missing is the first to write into: Postfix
        # loads nothing until it exists.
        path = chain.key_path if chain else (tls.chain_file or (
            setting.missing + setting.names)[0])
        deployment = Deployment(material, now, path, chain_file=True)
    else:
        deployment = Deployment(material, now, _config_file(tls, DEPLOYED_FILE, algorithm),
                                chain_file=False)
    from_client = now.from_client((material.keyfile, material.chainfile))
    if (not deployment.key_changed and _normal(now.certificates) == _normal(
            material.certificates) and not from_client and material.source != "staged"):
        deployment.action = UNCHANGED
    elif not deployment.key_changed:
        deployment.why = messages.ACME_SAME_KEY
    return deployment


def _normal(certificates):
    return ["".join(certificate.split()) for certificate in certificates]


# ----- 2. the DANE gate

def dane_gate(tls, hostname, ports, nameserver, deployments):
    """Stage the deployments whose new key no published record matches yet
    everywhere; {port: records} as the nameservers serve them."""
    try:
        from . import tlsa_dns
    except ImportError:
        tls.fail(messages.ACME_NO_DNSPYTHON)
    resolver = tlsa_dns.resolver(*dane.split_nameserver(nameserver))
    check = dane.Check(hostname, ports, nameserver)
    for port in ports:
        entry = dane.ask_dns(tlsa_dns, resolver, check, "_%d._tcp.%s." % (port, hostname))
        if not entry.error:
            dane.judge_nameservers(check, entry)
        check.dns[port] = entry
    errors = [entry for entry in check.dns.values() if entry.error]
    published = [entry for entry in check.dns.values() if not entry.error and (
        entry.records or any(served.records for served in entry.nameservers))]
    records = dict((port, list(entry.records)) for port, entry in check.dns.items()
                   if not entry.error)
    seen = _seen(tls, published)
    served = [record for entry in published for record in entry.records + [
        record for answer in entry.nameservers for record in answer.records]]
    # SHA-512 ("3 1 2", "2 1 2") only when some record has it: openssl runs
    # for nothing else.
    sha512 = any(record.split()[2:3] == ["2"] for record in served)
    for deployment in deployments:
        material = deployment.material
        wanted = _matching_records(tls, material, sha512)
        deployment.publish = ["%s IN TLSA 3 1 1 %s" % (entry.owner, material.digest)
                              for entry in published]
        reasons = [messages.ACME_STAGED_DNS_ERROR.format(owner=entry.owner, error=entry.error)
                   for entry in errors]
        if not reasons and not published:
            deployment.why = messages.ACME_NEW_KEY_NO_RECORDS.format(
                owners=", ".join(entry.owner for entry in check.dns.values()))
            continue
        lacking = collections.OrderedDict()  # nameservers -> owners without a match
        for entry in published:
            if not entry.nameservers:
                reasons.append(messages.ACME_STAGED_NO_NAMESERVERS.format(
                    owner=entry.owner, error=" ".join(check.notes) or "none"))
            servers = []
            for served in entry.nameservers:
                if served.error:
                    reasons.append(messages.ACME_STAGED_NOT_ASKED.format(
                        owner=entry.owner, **served.to_json()))
                elif not wanted & set(served.records):
                    servers.append("%s (%s)" % (served.name, served.address))
            if servers:
                lacking.setdefault(", ".join(servers), []).append(entry.owner)
        reasons += [messages.ACME_STAGED_NOT_SERVED.format(owners=", ".join(owners),
                                                           nameservers=servers)
                    for servers, owners in lacking.items()]
        if reasons:
            deployment.action, deployment.reasons = STAGE, reasons
            continue
        # Since when each port has had a matching record everywhere: a
        # cache may hold the RRset from before, for up to the zone's TTL.
        # (Nameservers that each serve another matching record: seen now.)
        since = max(min([when for (owner, record), when in seen.items()
                         if owner == entry.owner and record in wanted] or [time.time()])
                    for entry in published)
        ttl = max([entry.zone_ttl or 0 for entry in published] + [0])
        deployment.publish = []
        if time.time() < since + ttl:
            deployment.action = STAGE
            deployment.reasons = [messages.ACME_STAGED_WAIT.format(
                since=iso(since), ttl=ttl, after=iso(since + ttl))]
        else:
            deployment.why = messages.ACME_NEW_KEY_PUBLISHED
    return records


def _matching_records(tls, material, sha512):
    """The records that match material: "3 1 1" of its key, "2 1 1" of an
    issuer in its chain; with sha512, "3 1 2" and "2 1 2" too."""
    wanted = set(["3 1 1 " + material.digest] + [
        "2 1 1 " + digest for digest in material.issuer_digests])
    if sha512:
        digests = [key_text_digest(tls, material.key_pem.decode("ascii"), "sha512")]
        digests += [certificate_digest(tls, certificate, "sha512")
                    for certificate in material.certificates[1:]]
        wanted |= set(("3 1 2 " if position == 0 else "2 1 2 ") + digest
                      for position, digest in enumerate(digests) if digest)
    return wanted


def _seen(tls, published):
    """{(owner, record): when a run first saw every nameserver serve it},
    for the records they all serve now; kept in SEEN_FILE for later runs
    (tlsa_seen: times this host's clock cannot have written are reset)."""
    path = os.path.join(tls.config_directory, SEEN_FILE)
    known, dirty = tlsa_seen.read(tls, path)
    now = int(time.time())
    seen = {}
    for entry in published:
        if not entry.nameservers or any(served.error for served in entry.nameservers):
            continue
        everywhere = set.intersection(*[set(served.records) for served in entry.nameservers])
        for record in everywhere:
            seen[entry.owner, record] = known.get((entry.owner, record), now)
    if dirty or seen != known:
        tlsa_seen.write(tls, path, seen)
    return seen


def stage(tls, deployment):
    """Keep the material for a later run, mode 0600."""
    material, algorithm = deployment.material, deployment.algorithm
    path = _config_file(tls, STAGED_FILE, algorithm)
    try:
        if material.source != "staged":
            tls.runner.replace_file(path, material.text.encode("ascii"), 0o600)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))
    deployment.path = path
    tls.runner.keep_replaced()  # staged: nothing to put back


# ----- 3. to 5.: write, check, reload, verify

def deploy(tls, outcome, deployments, ports, hostname, address, seconds, records, setting):
    for path in _unique(d.path for d in deployments):
        outcome.notes += _write(tls, path, [d for d in deployments if d.path == path], setting)
    outcome.settings = _settings(tls, deployments, setting)
    outcome.notes += setting.notes([d.path for d in deployments if d.chain_file])
    if outcome.settings:
        _edit_main_cf(tls, outcome.settings)
    outcome.running = _postfix(tls, "status").returncode == 0
    result = _postfix(tls, "check")
    if result.returncode:
        tls.fail(messages.ACME_CHECK_FAILED.format(output=_text(result),
                                                   undone=_undo(tls, messages.UNDONE)))
    if not outcome.running:
        outcome.notes.append(messages.ACME_NOT_RUNNING)
    elif tls.runner.dry_run:
        _reload(tls)  # traced, not run
        outcome.notes.append(messages.ACME_DRY_RUN)
    else:
        outcome.reload = _reload(tls)
        verify(tls, outcome, deployments, ports, hostname, address, seconds, records)
    # Deployed: a signal from now on no longer makes it a failure.
    tls.runner.finishing()
    _remove_staged(tls, deployments)
    if not tls.runner.dry_run:
        tls.log.record([messages.ACME_DEPLOYED.format(
            algorithm=d.algorithm, path=d.path, why=d.why) for d in deployments])


def _unique(items):
    return list(collections.OrderedDict((item, None) for item in items))


def _write(tls, path, deployments, setting):
    """Replace path: every deployment into it at once (a chain file may get
    both algorithms in one run); returns the notes on what else it holds."""
    notes = []
    if deployments[0].chain_file:
        text, notes = chaindeploy.file_text(tls, path, [
            (d.algorithm, d.material.key_pem, d.material.certificates) for d in deployments],
            setting)
    else:
        text = deployments[0].material.text  # acme-ALGORITHM.pem: one algorithm's
    try:
        tls.runner.replace_file(path, text.encode("ascii"), 0o600)
    except OSError as error:
        tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))
    return notes


def _settings(tls, deployments, setting):
    """The main.cf lines that point Postfix at the deployments' files (none
    when it loads them already)."""
    settings = []
    chain_paths = [d.path for d in deployments if d.chain_file]
    if chain_paths:
        names = setting.names
        wanted = setting.written(chain_paths)
        if wanted != names:
            settings.append("%s = %s" % (CHAIN_FILES, ", ".join(wanted)))
        legacy = tls.postconf.read("-n", chaindeploy.LEGACY_PARAMETERS)
        settings += ["%s =" % name for name in chaindeploy.LEGACY_PARAMETERS if legacy[name]]
    for deployment in deployments:
        if deployment.chain_file:
            continue
        names = (KEY_FILE_PARAMETERS[deployment.algorithm], CERT_PARAMETERS[deployment.algorithm])
        values = tls.postconf.read("-nx", names)
        settings += ["%s = %s" % (name, deployment.path) for name in names
                     if values[name] != deployment.path]
    return settings


def _edit_main_cf(tls, settings):
    names = [setting.partition("=")[0].strip() for setting in settings]
    old = tls.postconf.read("-n", names)
    # Put back before the files are: main.cf never names a file that is gone.
    tls.runner.on_restore(lambda: _restore_main_cf(tls, old))
    if tls.postconf.edit(settings):
        tls.fail(messages.POSTCONF_EDIT_FAILED.format(tls.config_directory))


def _restore_main_cf(tls, old):
    """main.cf's old settings back; UndoFailed saying what it still has,
    and the commands that would finish the job."""
    from .execute import UndoFailed

    # Only what differs: an edit that failed changed nothing to undo.
    changed = tls.postconf.read_now("-n", sorted(old))
    differs = sorted(name for name in old if changed[name] != old[name])
    settings = ["%s = %s" % (name, old[name]) for name in differs if old[name]]
    unset = [name for name in differs if not old[name]]
    steps = ([("-e", settings)] if settings else []) + ([("-X", unset)] if unset else [])
    for flag, arguments in steps:
        status = tls.postconf.edit(arguments) if flag == "-e" else tls.postconf.remove(arguments)
        if status:
            command = "postconf %s" % flag
            now = tls.postconf.read_now("-n", differs)
            commands = "; ".join("postconf -c %s %s %s" % (
                validate.quote(tls.config_directory), f, " ".join(
                    validate.quote(argument) for argument in a)) for f, a in steps)
            raise UndoFailed(messages.UNDO_MAIN_CF_FAILED.format(
                command=command, output="exit status %d" % status,
                now=", ".join("%s = %s" % (name, value) for name, value in sorted(now.items())),
                commands=commands))


def _undo(tls, undone):
    """Put the old files and main.cf back; what to say of it: undone, or
    exactly what is left and what to run."""
    problems = tls.runner.restore_replaced()
    if not problems:
        return undone
    return messages.UNDO_INCOMPLETE.format(problems="\n  ".join(problems), tls=tls.hints.reads)


def _postfix_command(tls, action):
    argv = [os.path.join(tls.env.get("command_directory", "/usr/sbin"), "postfix")]
    if tls.hints is not messages.POSTFIX_HINTS:  # standalone: its instance
        argv += ["-c", tls.config_directory]
    return Command(argv + [action], stderr=TO_STDOUT, changes=action != "status")


def _postfix(tls, action):
    return tls.runner.run(_postfix_command(tls, action))


def _text(result):
    return result.stdout.decode("utf-8", "replace").strip()


def _reload(tls):
    command = _postfix_command(tls, "reload")
    shown = " ".join(["postfix"] + list(command.argv[1:]))
    result = tls.runner.run(command)
    if result.returncode:
        tls.fail(messages.ACME_RELOAD_FAILED.format(command=shown, output=_text(result),
                                                    undone=_undo(tls, messages.UNDONE)))
    # From now on, putting the old files back takes a reload too (last).
    tls.runner.on_restore(lambda: _reload_again(tls, command, shown), last=True)
    return shown


def _reload_again(tls, command, shown):
    from .execute import UndoFailed

    result = tls.runner.run(command)
    if result.returncode:
        raise UndoFailed(messages.UNDO_RELOAD_FAILED.format(command=shown,
                                                            output=_text(result)))


def verify(tls, outcome, deployments, ports, hostname, address, seconds, records):
    """Every port presents each new key; DANE verifies where records are
    published.  Otherwise: the old files back, reloaded, and fail."""
    check = dane.Check(hostname, ports, "", seconds=min(seconds, dane.SECONDS))
    deadline = time.time() + seconds
    for deployment in deployments:
        for port in ports:
            published = records.get(port, [])
            while True:
                verified, digest, error = dane.probe(tls, check, address, port,
                                                     deployment.algorithm, published)
                if digest == deployment.material.digest and (verified or not published):
                    deployment.live.append((address, port, bool(published)))
                    break
                if time.time() >= deadline:
                    if digest and digest != deployment.material.digest:
                        error = messages.ACME_LIVE_OTHER_KEY.format(digest=digest)
                    elif digest:
                        error = messages.ACME_LIVE_UNVERIFIED.format(error=error or "no match")
                    tls.fail(messages.ACME_LIVE_FAILED.format(
                        address=address, port=port, algorithm=deployment.algorithm,
                        reload=outcome.reload, error=error or "no TLS handshake",
                        undone=_undo(tls, messages.ACME_UNDONE_RELOADED)))
                time.sleep(_RETRY_SECONDS)


def _remove_staged(tls, deployments):
    """A deployed algorithm's staged material is done with (a newer one
    deployed supersedes it too)."""
    for deployment in deployments:
        path = _config_file(tls, STAGED_FILE, deployment.algorithm)
        if os.path.isdir(path) or (os.path.lexists(path) and not os.path.isfile(path)):
            # Deployed already: a warning, not a failure, and not removed.
            tls.log.warn([messages.ACME_STAGED_NOT_REMOVED.format(
                path=path, problem=material.problem(path) or "not a regular file")])
        elif os.path.lexists(path):
            try:
                tls.runner.remove_file(path)
            except OSError as error:
                tls.log.warn([messages.ACME_STAGED_NOT_REMOVED.format(
                    path=path, problem=error.strerror)])


# ----- the subcommand table's hooks

def prefetch(options, operands):
    names = tuple(KEY_FILE_PARAMETERS.values()) + tuple(CERT_PARAMETERS.values()) + (
        CHAIN_FILES,)
    return [("-x", () if options.get("h") else ("myhostname",)), ("-nx", names)], []
