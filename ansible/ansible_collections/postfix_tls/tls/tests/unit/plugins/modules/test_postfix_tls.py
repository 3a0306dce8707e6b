"""The module's own logic: the command line it builds, and what it reports
as changed, created and set, from postfix-tls's --trace-json records."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.postfix_tls.tls.plugins.modules import postfix_tls

PARAMS = dict(command="enable-server", config_directory="/srv/mx1", algorithm="ecdsa",
              bits=None, hostnames=["mx1.example.com"], keyfile=None, certfile=None,
              randsource=None, ports=None, tlsa_hostname=None, executable=["postfix-tls"])

EDIT = {"argv": ["/usr/sbin/postconf", "-e", "smtpd_tls_security_level = may"],
        "stdin": None, "umask": None, "returncode": 0, "seconds": 0.01, "dry_run": False}
POSTLOG = {"argv": ["/usr/sbin/postlog", "-t", "postfix/postfix-tls-script", "-p", "info"],
           "stdin": "", "umask": None, "returncode": None, "seconds": 0.0, "dry_run": True}


def test_argv_for_a_real_run():
    argv = postfix_tls.build_argv(PARAMS, False, "/tmp/trace.json")
    assert argv == ["postfix-tls", "-c", "/srv/mx1", "--trace-json", "/tmp/trace.json",
                    "enable-server", "-a", "ecdsa", "mx1.example.com"]


def test_check_mode_is_a_dry_run():
    argv = postfix_tls.build_argv(PARAMS, True, "/tmp/trace.json")
    assert argv[argv.index("--trace-json") + 2] == "--dry-run"


def test_tlsa_records_as_json_for_each_port():
    params = dict(PARAMS, command="output-server-tlsa", ports=[25, 465], config_directory=None)
    argv = postfix_tls.build_argv(params, False, "/t")
    assert argv == ["postfix-tls", "--trace-json", "/t", "--json", "output-server-tlsa",
                    "-p", "25,465"]


def test_a_real_edit_is_a_change():
    created, settings, changed = postfix_tls.effects(
        [{"action": "create", "path": "/srv/mx1/key.pem", "mode": "0600", "dry_run": False},
         EDIT], False)
    assert changed and created == ["/srv/mx1/key.pem"]
    assert settings == ["smtpd_tls_security_level = may"]


def test_certificates_openssl_wrote_are_created():
    cert = {"argv": ["openssl", "req", "-x509", "-out", "/srv/mx1/cert.pem"], "returncode": 0,
            "dry_run": False}
    failed = dict(cert, returncode=1, argv=cert["argv"][:-1] + ["/srv/mx1/other.pem"])
    assert postfix_tls.effects([cert, failed], False) == (["/srv/mx1/cert.pem"], [], True)


def test_a_failed_edit_is_no_change():
    failed = dict(EDIT, returncode=1)
    assert postfix_tls.effects([failed], False) == ([], [], False)


def test_files_removed_after_a_failure_are_not_created():
    records = [{"action": "create", "path": "/srv/mx1/key.pem", "mode": "0600",
                "dry_run": False},
               {"action": "remove", "path": "/srv/mx1/key.pem", "mode": None,
                "dry_run": False}]
    assert postfix_tls.effects(records, False) == ([], [], False)


def test_dry_run_plan_counts_but_logging_does_not():
    planned = dict(EDIT, returncode=None, dry_run=True)
    cert = {"argv": ["openssl", "req", "-x509", "-out", "/srv/mx1/cert.pem"],
            "returncode": None, "dry_run": True}
    created, settings, changed = postfix_tls.effects([POSTLOG, cert, planned], True)
    assert changed and created == ["/srv/mx1/cert.pem"] and len(settings) == 1
    assert postfix_tls.effects([POSTLOG], True) == ([], [], False)


def test_diff_shows_parameters_before_and_after():
    diff = postfix_tls.diff_of("myhostname = mx1\nsmtpd_tls_security_level = none\n",
                               ["smtpd_tls_security_level = may"], ["/srv/k.pem"])
    assert diff["before"] == "smtpd_tls_security_level = none\n"
    assert diff["after"] == "smtpd_tls_security_level = may\ncreated: /srv/k.pem\n"


def _result(messages=()):
    return dict(changed=False, commands=[], messages=list(messages), created=[], settings=[])


def test_a_status_warning_is_data_not_a_failure():
    # Ansible fails any result with a non-zero rc: a verdict must not carry one.
    failed, result = postfix_tls.outcome("status", 1, '{"verdict": "WARNING", "exit_status": 1}',
                                         "", _result())
    assert not failed and "rc" not in result
    assert result["status"]["verdict"] == "WARNING"


def test_all_default_is_data_not_a_failure():
    failed, result = postfix_tls.outcome("all-default-server", 1, "", "", _result())
    assert not failed and "rc" not in result and result["all_default"] is False
    assert postfix_tls.outcome("all-default-client", 0, "", "", _result())[1]["all_default"]


def test_a_failure_says_the_tools_fatal_message():
    messages = ["warning: something", "fatal: invalid hostname: bad/name"]
    failed, result = postfix_tls.outcome("new-server-key", 1, "", "", _result(messages))
    assert failed and result["rc"] == 1 and result["msg"] == "invalid hostname: bad/name"
    failed, result = postfix_tls.outcome("status", 2, "usage: ...", "no JSON\n", _result())
    assert failed and result["msg"] == "no JSON"


def test_argv_for_the_dane_check_and_the_rollover():
    params = dict(PARAMS, command="check-server-tlsa", config_directory=None, ports=[25, 587],
                  tlsa_hostname="mx1.example.com", nameserver="192.0.2.53:5353",
                  address="192.0.2.25", timeout=5, keyfile="/srv/mx1/key-next.pem")
    assert postfix_tls.build_argv(params, False, "/t") == [
        "postfix-tls", "--trace-json", "/t", "--json", "check-server-tlsa",
        "-h", "mx1.example.com", "-p", "25,587", "-n", "192.0.2.53:5353", "-s", "192.0.2.25",
        "-t", "5", "-k", "/srv/mx1/key-next.pem"]
    params = dict(params, command="output-server-tlsa-rollover", ports=None, tlsa_hostname=None)
    assert postfix_tls.build_argv(params, False, "/t")[3:] == [
        "--json", "output-server-tlsa-rollover", "-k", "/srv/mx1/key-next.pem"]


def test_argv_for_status_thresholds():
    params = dict(PARAMS, command="status", config_directory=None, warning_days=21,
                  critical_days=0)
    assert postfix_tls.build_argv(params, False, "/t")[3:] == [
        "--json", "status", "-w", "21", "-c", "0"]
    # TLSA records per port, from a resolver of the play's choosing; -h and
    # -n alone ask status for nothing.
    params = dict(params, ports=[25, 465], tlsa_hostname="mx1.example.com",
                  nameserver="192.0.2.53")
    assert postfix_tls.build_argv(params, False, "/t")[3:] == [
        "--json", "status", "-w", "21", "-c", "0", "-p", "25,465", "-h", "mx1.example.com",
        "-n", "192.0.2.53"]
    params = dict(params, ports=None)
    assert postfix_tls.build_argv(params, False, "/t")[3:] == [
        "--json", "status", "-w", "21", "-c", "0"]


def test_a_dane_check_with_problems_fails_and_says_them():
    report = '{"ok": false, "problems": ["publish A", "remove B"]}'
    failed, result = postfix_tls.outcome("check-server-tlsa", 1, report, "", _result())
    assert failed and result["rc"] == 1
    assert result["msg"] == "2 problem(s): publish A; remove B"
    assert result["dane_check"]["ok"] is False
    failed, result = postfix_tls.outcome("check-server-tlsa", 0, '{"ok": true, "problems": []}',
                                         "", _result())
    assert not failed and "rc" not in result and result["dane_check"]["ok"] is True


def test_argv_for_deploying_an_acme_certificate():
    params = dict(PARAMS, command="deploy-acme-cert", config_directory=None, ports=[25, 465],
                  tlsa_hostname="mx1.example.com", nameserver=None, address="192.0.2.25",
                  timeout=None, keyfile="/le/privkey.pem", certfile="/le/fullchain.pem")
    assert postfix_tls.build_argv(params, False, "/t")[3:] == [
        "--json", "deploy-acme-cert", "-h", "mx1.example.com", "-p", "25,465",
        "-s", "192.0.2.25", "/le/privkey.pem", "/le/fullchain.pem"]
    params = dict(params, keyfile=None, certfile=None, ports=None, tlsa_hostname=None,
                  address=None)
    assert postfix_tls.build_argv(params, False, "/t")[3:] == ["--json", "deploy-acme-cert"]
    params = dict(params, margin_days=0)
    assert postfix_tls.build_argv(params, False, "/t")[3:] == [
        "--json", "deploy-acme-cert", "-e", "0"]


def test_a_staged_acme_certificate_is_a_change_not_a_failure():
    replace = {"action": "replace", "path": "/etc/postfix/acme-rsa.staged.pem",
               "mode": "0600", "dry_run": False}
    assert postfix_tls.replaced([replace]) == ["/etc/postfix/acme-rsa.staged.pem"]
    report = '{"source": "given", "exit_status": 75, "deployments": []}'
    failed, result = postfix_tls.outcome("deploy-acme-cert", 75, report, "", _result())
    assert not failed and "rc" not in result and result["acme"]["exit_status"] == 75
    failed, result = postfix_tls.outcome("deploy-acme-cert", 1, "", "",
                                         _result(["fatal: the certificate does not match"]))
    assert failed and result["msg"] == "the certificate does not match"


def test_argv_for_publishing_tlsa_records():
    params = dict(PARAMS, command="publish-server-tlsa", config_directory=None, ports=[25, 587],
                  tlsa_hostname="mx1.example.com", nameserver="192.0.2.53", timeout=5,
                  tsig_key_file="/etc/postfix/mx1.key", primary="192.0.2.1:5353", ttl=3600)
    assert postfix_tls.build_argv(params, True, "/t")[3:] == [
        "--dry-run", "publish-server-tlsa", "-h", "mx1.example.com", "-n", "192.0.2.53",
        "-t", "5", "-p", "25,587", "-K", "/etc/postfix/mx1.key", "-P", "192.0.2.1:5353",
        "-L", "3600"]
    params = dict(params, command="deploy-acme-cert", nameserver=None, timeout=None,
                  primary=None, ttl=None, address=None, keyfile=None, certfile=None)
    assert postfix_tls.build_argv(params, False, "/t")[3:] == [
        "--json", "deploy-acme-cert", "-h", "mx1.example.com", "-p", "25,587",
        "-K", "/etc/postfix/mx1.key"]


def test_a_dns_update_is_a_change():
    update = {"action": "dns-update", "zone": "example.com.", "key": "mx1", "dry_run": True}
    assert postfix_tls.dns_updates([{"argv": ["postconf"]}, update]) == [update]


def test_sni_names_options_and_their_removal():
    params = dict(PARAMS, command="output-server-tlsa", sni_name="shop.example.org",
                  config_directory=None)
    assert postfix_tls.build_argv(params, False, "/t")[-2:] == ["-S", "shop.example.org"]
    params = dict(PARAMS, command="deploy-acme-cert", sni_mode="sni", config_directory=None,
                  hostnames=[])
    argv = postfix_tls.build_argv(params, False, "/t")
    assert argv[argv.index("deploy-acme-cert") + 1:] == ["-m", "sni"]
    params = dict(PARAMS, command="remove-sni-name", sni_names=["*.example.net", "shop.org"],
                  ports=[25, 587], address="192.0.2.1", config_directory=None)
    assert postfix_tls.build_argv(params, False, "/t") == [
        "postfix-tls", "--trace-json", "/t", "--json", "remove-sni-name", "-s", "192.0.2.1",
        "-p", "25,587", "*.example.net", "shop.org"]
