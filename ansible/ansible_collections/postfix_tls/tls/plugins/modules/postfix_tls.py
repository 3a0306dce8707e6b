#!/usr/bin/python
# Copyright: postfix-tls developers
# MIT License (see LICENSE in the postfix-tls repository)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: postfix_tls
short_description: Postfix TLS with postfix-tls, with check mode, diff and an audit trail
version_added: "0.1.0"
description:
  - Runs the C(postfix-tls) command installed on the target host (the Debian package,
    the single-file C(postfix-tls.pyz), or pip) for one of Postfix's C(postfix tls)
    subcommands, or one of postfix-tls's own.
  - In check mode it runs C(postfix-tls --dry-run), which runs only what reads and plans
    the rest, and reports C(changed) from that plan; nothing on the host changes.
  - C(changed) comes from what the run did (files created, C(postconf -e) run), so a
    second C(enable-server) on a host where it is already enabled reports no change.
  - Every command the run started is returned in RV(commands) (C(--trace-json)), the
    audit trail per host.
  - Failures leave nothing half-done on the host, as C(postfix-tls) guarantees.
  - C(status) reports a verdict and does not fail on it; C(check-server-tlsa) is a gate
    before a key rollover's next step, and fails when it finds a problem.
  - C(deploy-acme-cert) deploys an ACME client's key and full chain (O(keyfile),
    O(certfile)), or what an earlier run staged; a new key still waiting for its TLSA
    record is staged, which does not fail the task (RV(acme) says so).
options:
  command:
    description:
      - The subcommand, in C(postfix tls)'s names, or one of postfix-tls's own
        (C(status), C(output-server-tlsa-rollover), C(check-server-tlsa),
        C(deploy-acme-cert), C(remove-sni-name)).
    type: str
    required: true
    choices:
      - enable-client
      - enable-server
      - new-server-key
      - new-server-cert
      - deploy-server-cert
      - output-server-csr
      - output-server-tlsa
      - all-default-client
      - all-default-server
      - output-server-tlsa-rollover
      - check-server-tlsa
      - publish-server-tlsa
      - deploy-acme-cert
      - remove-sni-name
      - status
  config_directory:
    description: The Postfix configuration directory; the default instance when omitted.
    type: path
  algorithm:
    description: The key algorithm (C(-a)).
    type: str
    choices: [rsa, ecdsa]
  bits:
    description: RSA key size or ECDSA curve name (C(-b)).
    type: str
  hostnames:
    description: Host names for the certificate or CSR; the first is the CommonName.
    type: list
    elements: str
    default: []
  keyfile:
    description:
      - The key file for C(deploy-server-cert) and C(output-server-csr) (C(-k)), or the key
        files' algorithm names or paths for C(output-server-tlsa).
      - The next key (C(-k)) for C(output-server-tlsa-rollover) and C(check-server-tlsa),
        when it is not the newest one C(new-server-key) made.
      - The new key for C(deploy-acme-cert) (with O(certfile), its full chain).
    type: str
  certfile:
    description:
      - The certificate file for C(deploy-server-cert).
      - The full chain (leaf first) for C(deploy-acme-cert).
    type: str
  randsource:
    description: The TLS random source (C(-r)), C(dev:/path) or C(egd:/path).
    type: str
  ports:
    description:
      - Ports for the TLSA records (C(-p)) of C(output-server-tlsa),
        C(output-server-tlsa-rollover), C(check-server-tlsa) and C(deploy-acme-cert);
        for C(status), the ports whose TLSA records it matches with the served keys.
    type: list
    elements: int
  tlsa_hostname:
    description:
      - The host name of the TLSA records (C(-h)) of C(output-server-tlsa),
        C(output-server-tlsa-rollover), C(check-server-tlsa), C(deploy-acme-cert) and
        C(status) (with I(ports)).
    type: str
  nameserver:
    description:
      - The resolver C(check-server-tlsa), C(deploy-acme-cert) and C(status) (with
        I(ports)) ask (C(-n)), an address with C(:port) if not 53.
    type: str
  address:
    description:
      - The address C(check-server-tlsa) and C(deploy-acme-cert) connect to (C(-s)); the
        host name when omitted.
    type: str
  timeout:
    description:
      - Seconds each of C(check-server-tlsa)'s connections may take (C(-t)); for
        C(deploy-acme-cert), the seconds the live server has to present the new key.
    type: int
  margin_days:
    description:
      - C(deploy-acme-cert) refuses a certificate that expires within these days (C(-e));
        7 when omitted, 0 deploys whatever has not expired.
    type: int
  warning_days:
    description: C(status) warns when a certificate expires within these days (C(-w)).
    type: int
  critical_days:
    description: C(status) is critical when a certificate expires within these days (C(-c)).
    type: int
  sni_mode:
    description:
      - For C(deploy-acme-cert) (C(-m)), C(sni) puts the lineage into
        C(tls_server_sni_maps), C(default) keeps it out; when omitted, a lineage whose
        names do not include myhostname goes into the SNI table if it is set.
    type: str
    choices: [sni, default]
  sni_name:
    description:
      - For C(output-server-tlsa), C(output-server-tlsa-rollover), C(check-server-tlsa)
        and C(publish-server-tlsa) (C(-S)), the SNI name whose keys (its entry of
        C(tls_server_sni_maps)) the records are for.
    type: str
  sni_names:
    description:
      - The names C(remove-sni-name) takes out of C(tls_server_sni_maps)
        (C(example.com), C(*.example.com) or C(.example.com)).
    type: list
    elements: str
    default: []
  tsig_key_file:
    description:
      - For C(publish-server-tlsa) and C(deploy-acme-cert) (C(-K)), the TSIG key file of
        the RFC 2136 updates that publish the TLSA records (C(tsig-keygen)'s format, or
        Knot's C(keymgr -t)); with it, C(deploy-acme-cert) publishes a new key's record,
        deploys the key once every nameserver serves it and one TTL has passed, and
        retires the old key's record.
    type: path
  primary:
    description:
      - The zone's primary to update (C(-P)), an address with C(:port) if not 53; the
        SOA's MNAME when omitted.
    type: str
  ttl:
    description:
      - The TTL of a TLSA RRset that does not exist yet (C(-L)); an existing RRset keeps
        its own.
    type: int
  executable:
    description:
      - How to run postfix-tls on the target, as a list of words; for the single file,
        C([python3, /usr/local/lib/postfix-tls.pyz]).
    type: list
    elements: str
    default: [postfix-tls]
author:
  - postfix-tls developers (!UNKNOWN)
notes:
  - Supports C(check_mode) and C(diff_mode).
"""

EXAMPLES = r"""
- name: Enable opportunistic TLS in the Postfix SMTP server
  postfix_tls.tls.postfix_tls:
    command: enable-server
    algorithm: ecdsa
    hostnames: ["{{ inventory_hostname }}"]

- name: Collect the TLSA records for every SMTP port
  postfix_tls.tls.postfix_tls:
    command: output-server-tlsa
    ports: [25, 465, 587]
  register: tlsa

- name: Health, for monitoring
  postfix_tls.tls.postfix_tls:
    command: status
    warning_days: 21
  register: health
  failed_when: health.status is not defined or health.status.exit_status == 2

- name: The RRset to publish before a rollover (deployed and next keys)
  postfix_tls.tls.postfix_tls:
    command: output-server-tlsa-rollover
    ports: [25, 465, 587]
  register: rollover

- name: Stop unless DNS and the live server are ready for the next key
  postfix_tls.tls.postfix_tls:
    command: check-server-tlsa
    ports: [25, 465, 587]

- name: Deploy a certificate an ACME client renewed (staged while DNS lacks its record)
  postfix_tls.tls.postfix_tls:
    command: deploy-acme-cert
    keyfile: /etc/letsencrypt/live/mail.example.org/privkey.pem
    certfile: /etc/letsencrypt/live/mail.example.org/fullchain.pem
    ports: [25, 465, 587]
  register: acme
"""

RETURN = r"""
commands:
  description: Every command the run started, as C(postfix-tls --trace-json) records it.
  returned: always
  type: list
  elements: dict
  sample:
    - {"argv": ["/usr/sbin/postconf", "-e", "smtpd_tls_security_level = may"],
       "stdin": null, "umask": null, "returncode": 0, "seconds": 0.012, "dry_run": false}
messages:
  description: What postfix-tls logged (its lines on stderr, in postlog's format).
  returned: always
  type: list
  elements: str
replaced:
  description: Files the run replaced, renamed into place (or, in check mode, would replace).
  returned: always
  type: list
  elements: str
created:
  description: Files the run created (or, in check mode, would create).
  returned: always
  type: list
  elements: str
settings:
  description: The main.cf settings the run made (or would make), "name = value".
  returned: always
  type: list
  elements: str
tlsa:
  description: The TLSA records, for C(output-server-tlsa).
  returned: when command is output-server-tlsa
  type: list
  elements: dict
rollover:
  description: The keys (deployed, next) and the records to publish, for C(output-server-tlsa-rollover).
  returned: when command is output-server-tlsa-rollover
  type: dict
dane_check:
  description:
    - The report of C(check-server-tlsa) (ok, DNS per port and nameserver, the live
      server, problems, notes); the task fails when it is not ok.
  returned: when command is check-server-tlsa
  type: dict
status:
  description:
    - The C(status) report (verdict, exit status, facts, problems).
    - A WARNING, CRITICAL or UNKNOWN verdict does not fail the task; use C(failed_when).
  returned: when command is status
  type: dict
acme:
  description:
    - The report of C(deploy-acme-cert) (per algorithm deployed, unchanged or staged, and
      why; the records to publish for a staged key; main.cf changes; the reload; the live
      check); C(exit_status) 75 means staged.
  returned: when command is deploy-acme-cert
  type: dict
sni_removal:
  description:
    - The report of C(remove-sni-name) (the lines taken out, the names no table had, the
      reload, what each name now gets, the files removed).
  returned: when command is remove-sni-name
  type: dict
dns_updates:
  description:
    - The RFC 2136 updates the run sent (in check mode, would send) to publish or retire
      TLSA records; each with the zone, the server, the TSIG key's name (never its
      secret) and per owner the records required, deleted and added.
  returned: always
  type: list
  elements: dict
all_default:
  description: Whether the settings are all at their defaults (C(all-default-client), C(all-default-server)).
  returned: when command is all-default-client or all-default-server
  type: bool
rc:
  description: The exit status of postfix-tls.
  returned: when the task failed
  type: int
msg:
  description: The reason of a failure, postfix-tls's own fatal message.
  returned: when the task failed
  type: str
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

TAG = "postfix-tls-script: "
DANE_COMMANDS = ("output-server-tlsa", "output-server-tlsa-rollover", "check-server-tlsa",
                 "deploy-acme-cert")
JSON_COMMANDS = DANE_COMMANDS + ("status", "remove-sni-name")
EXIT_STAGED = 75  # deploy-acme-cert: a new key waits for its TLSA record


def build_argv(params, check_mode, trace_file):
    """The postfix-tls command line for the module's parameters."""
    argv = list(params["executable"])
    if params.get("config_directory"):
        argv += ["-c", params["config_directory"]]
    argv += ["--trace-json", trace_file]
    if check_mode:
        argv.append("--dry-run")
    command = params["command"]
    if command in JSON_COMMANDS:
        argv.append("--json")
    argv.append(command)
    if params.get("randsource") and command in ("enable-client", "enable-server"):
        argv += ["-r", params["randsource"]]
    if command in ("enable-server", "new-server-key", "new-server-cert"):
        if params.get("algorithm"):
            argv += ["-a", params["algorithm"]]
        if params.get("bits"):
            argv += ["-b", params["bits"]]
        argv += list(params.get("hostnames") or [])
    elif command == "deploy-server-cert":
        argv += [params.get("certfile") or "", params.get("keyfile") or ""]
    elif command == "output-server-csr":
        if params.get("keyfile"):
            argv += ["-k", params["keyfile"]]
        argv += list(params.get("hostnames") or [])
    elif command == "remove-sni-name":
        for option, name in (("-s", "address"), ("-t", "timeout")):
            if params.get(name):
                argv += [option, str(params[name])]
        if params.get("ports"):
            argv += ["-p", ",".join(str(port) for port in params["ports"])]
        argv += list(params.get("sni_names") or [])
    elif command == "publish-server-tlsa":
        for option, name in (("-h", "tlsa_hostname"), ("-n", "nameserver"),
                             ("-t", "timeout"), ("-S", "sni_name")):
            if params.get(name):
                argv += [option, str(params[name])]
        if params.get("ports"):
            argv += ["-p", ",".join(str(port) for port in params["ports"])]
        argv += publishing_options(params)
    elif command in DANE_COMMANDS:
        if params.get("tlsa_hostname"):
            argv += ["-h", params["tlsa_hostname"]]
        if params.get("ports"):
            argv += ["-p", ",".join(str(port) for port in params["ports"])]
        if params.get("sni_name") and command != "deploy-acme-cert":
            argv += ["-S", params["sni_name"]]
        if command in ("check-server-tlsa", "deploy-acme-cert"):
            for option, name in (("-n", "nameserver"), ("-s", "address"), ("-t", "timeout")):
                if params.get(name):
                    argv += [option, str(params[name])]
        if command == "deploy-acme-cert":
            if params.get("margin_days") is not None:
                argv += ["-e", str(params["margin_days"])]
            if params.get("sni_mode"):
                argv += ["-m", params["sni_mode"]]
            argv += publishing_options(params)
            if params.get("keyfile") or params.get("certfile"):
                argv += [params.get("keyfile") or "", params.get("certfile") or ""]
        elif params.get("keyfile"):
            argv += [params["keyfile"]] if command == "output-server-tlsa" \
                else ["-k", params["keyfile"]]
    elif command == "status":
        for option, name in (("-w", "warning_days"), ("-c", "critical_days")):
            if params.get(name) is not None:
                argv += [option, str(params[name])]
        # The TLSA records of ports matched with the served keys (DNS only:
        # status -f's metrics file is for a timer on the host, not a play).
        if params.get("ports"):
            argv += ["-p", ",".join(str(port) for port in params["ports"])]
            for option, name in (("-h", "tlsa_hostname"), ("-n", "nameserver")):
                if params.get(name):
                    argv += [option, params[name]]
    return argv


def publishing_options(params):
    """-K, -P, -L: the TSIG key file, the primary, a new RRset's TTL."""
    argv = []
    for option, name in (("-K", "tsig_key_file"), ("-P", "primary"), ("-L", "ttl")):
        if params.get(name):
            argv += [option, str(params[name])]
    return argv


def dns_updates(records):
    """The trace's RFC 2136 updates (sent, or in check mode planned)."""
    return [record for record in records if record.get("action") == "dns-update"]


def read_records(path):
    records = []
    try:
        with open(path) as stream:
            for line in stream:
                if line.strip():
                    records.append(json.loads(line))
    except (OSError, ValueError):
        pass
    return records


def _is_postconf_edit(record):
    argv = record.get("argv") or []
    return len(argv) > 1 and os.path.basename(argv[0]) == "postconf" and argv[1] == "-e"


def _writes_out(record, check_mode):
    argv = record.get("argv") or []
    if "-out" not in argv[:-1]:
        return False
    return record.get("dry_run") if check_mode else record.get("returncode") == 0


def effects(records, check_mode):
    """(created files, settings, changed) from the trace: what the run did,
    or in check mode what the dry run planned."""
    created, settings = [], []
    for record in records:
        if record.get("action") == "replace":
            continue  # replaced(): renamed into place
        if record.get("action") in ("create", "write"):
            if record["path"] not in created:
                created.append(record["path"])
        elif record.get("action") == "remove" and record["path"] in created:
            created.remove(record["path"])
        elif _is_postconf_edit(record):
            if check_mode or record.get("returncode") == 0:
                settings += record["argv"][2:]
        elif _writes_out(record, check_mode):
            # openssl writing a key or certificate (-out): run, or planned.
            argv = record["argv"]
            path = argv[argv.index("-out") + 1]
            if path not in created:
                created.append(path)
    return created, settings, bool(created or settings)


def replaced(records):
    """Files renamed into place (deploy-acme-cert), or planned to be."""
    found = []
    for record in records:
        if record.get("action") == "replace" and record["path"] not in found:
            found.append(record["path"])
        elif record.get("action") in ("remove", "restore") and record["path"] in found:
            found.remove(record["path"])
    return found


def read_main_cf(config_directory):
    try:
        with open(os.path.join(config_directory or "/etc/postfix", "main.cf")) as stream:
            return stream.read()
    except OSError:
        return ""


def parameters(main_cf, names):
    """{name: line} of main.cf's text for names, for the diff."""
    found = {}
    for line in main_cf.splitlines():
        name = line.split("=", 1)[0].strip()
        if name in names:
            found[name] = line
    return found


def diff_of(main_cf, settings, created):
    """main.cf's lines for the settings made, before and after, and the
    files created."""
    names = [setting.split("=", 1)[0].strip() for setting in settings]
    before = parameters(main_cf, names)
    after = dict(zip(names, settings))
    return {
        "before_header": "main.cf",
        "after_header": "main.cf, and the files created",
        "before": "".join(before[name] + "\n" for name in names if name in before),
        "after": "".join(after[name] + "\n" for name in names)
        + "".join("created: %s\n" % path for path in created),
    }


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            # The subcommands as postfix_tls/subcommands.py declares them
            # (tests/test_subcommands.py compares).
            command=dict(type="str", required=True, choices=[
                "enable-client", "enable-server", "new-server-key", "new-server-cert",
                "deploy-server-cert", "output-server-csr", "output-server-tlsa",
                "all-default-client", "all-default-server", "output-server-tlsa-rollover",
                "check-server-tlsa", "publish-server-tlsa", "deploy-acme-cert",
                "remove-sni-name", "status"]),
            config_directory=dict(type="path"),
            algorithm=dict(type="str", choices=["rsa", "ecdsa"]),
            bits=dict(type="str"),
            hostnames=dict(type="list", elements="str", default=[]),
            keyfile=dict(type="str", no_log=False),  # a path, not a secret
            certfile=dict(type="str"),
            randsource=dict(type="str"),
            ports=dict(type="list", elements="int"),
            tlsa_hostname=dict(type="str"),
            nameserver=dict(type="str"),
            address=dict(type="str"),
            timeout=dict(type="int"),
            margin_days=dict(type="int"),
            warning_days=dict(type="int"),
            critical_days=dict(type="int"),
            sni_mode=dict(type="str", choices=["sni", "default"]),
            sni_name=dict(type="str"),
            sni_names=dict(type="list", elements="str", default=[]),
            tsig_key_file=dict(type="path", no_log=False),  # a path, not a secret
            primary=dict(type="str"),
            ttl=dict(type="int"),
            executable=dict(type="list", elements="str", default=["postfix-tls"]),
        ),
        required_if=[("command", "deploy-server-cert", ("certfile", "keyfile")),
                     ("command", "remove-sni-name", ("sni_names",))],
        supports_check_mode=True,
    )
    params = module.params
    if not module.get_bin_path(params["executable"][0]) and \
            not os.path.isfile(params["executable"][0]):
        module.fail_json(msg="postfix-tls is not installed on this host (%s not found): "
                             "install the .deb, the .pyz or the pip package"
                             % params["executable"][0])
    handle, trace_file = tempfile.mkstemp(prefix="postfix-tls-trace.", suffix=".json")
    os.close(handle)
    try:
        argv = build_argv(params, module.check_mode, trace_file)
        main_cf_before = read_main_cf(params.get("config_directory"))
        rc, out, err = module.run_command(argv, environ_update={"LANG": "C"})
        records = read_records(trace_file)
    finally:
        os.unlink(trace_file)
    messages = [line.split(TAG, 1)[1] for line in err.splitlines() if TAG in line]
    created, settings, changed = effects(records, module.check_mode)
    replaced_files = replaced(records)
    updates = dns_updates(records)
    result = dict(changed=changed or bool(replaced_files) or bool(updates), commands=records,
                  messages=messages, created=created, replaced=replaced_files,
                  settings=settings, stdout=out, dns_updates=updates)
    if module._diff and changed:
        result["diff"] = diff_of(main_cf_before, settings, created)
    failed, result = outcome(params["command"], rc, out, err, result)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


def outcome(command, rc, out, err, result):
    """(failed, result) for postfix-tls's exit status and output.  The verdicts
    of status (0-3) and all-default-* (0 or 1) are data, not failures: and
    since Ansible fails any result whose rc is not 0, rc is returned only
    with a failure."""
    if command == "status" and rc in (0, 1, 2, 3) and out.strip().startswith("{"):
        result["status"] = json.loads(out)
        return False, result
    if command.startswith("all-default-") and rc in (0, 1):
        result["all_default"] = rc == 0
        return False, result
    if command == "check-server-tlsa" and rc in (0, 1) and out.strip().startswith("{"):
        result["dane_check"] = report = json.loads(out)
        if rc == 0:
            return False, result
        result["rc"] = rc
        problems = report["problems"]
        result["msg"] = "%d problem(s): %s" % (len(problems), "; ".join(problems))
        return True, result
    if command == "deploy-acme-cert" and rc in (0, EXIT_STAGED) and \
            out.strip().startswith("{"):
        result["acme"] = json.loads(out)
        return False, result
    if rc != 0:
        fatal = [line for line in result["messages"] if line.startswith("fatal: ")]
        result["rc"] = rc
        result["msg"] = (fatal[-1][len("fatal: "):] if fatal
                         else err.strip() or "postfix-tls exited %d" % rc)
        return True, result
    if command == "output-server-tlsa":
        result["tlsa"] = json.loads(out) if out.strip().startswith("[") else []
    elif command == "output-server-tlsa-rollover":
        result["rollover"] = json.loads(out)
    elif command == "remove-sni-name":
        result["sni_removal"] = json.loads(out)
    return False, result


def main():
    run_module()


if __name__ == "__main__":
    main()
