"""status's monitoring outputs (issue 31, item 3), on real keys and
certificates in scratch configurations:

- the first line as a monitoring plugin's, parsed by the grammar of the
  Monitoring Plugins Development Guidelines (status text, "|",
  'label'=value[UOM];[warn];[crit];[min];[max], thresholds in the range
  format), with the exit status 0 to 3;
- ``-o prometheus`` checked by the real ``promtool check metrics`` (no
  error and no lint problem), for several configurations;
- ``-f file.prom`` read by a real prometheus-node-exporter's textfile
  collector on 127.0.0.50, scraped over HTTP;
- ``-p``: TLSA records per port from a small DNS responder on 127.0.0.51.

Loopback addresses 127.0.0.50 to .59 are this module's.
"""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import threading
import time
import urllib.request

import pytest
from test_sni_status import chains, postmap, sni_config  # noqa: F401 (fixtures)
from test_status import configure, made  # noqa: F401 (fixtures)

from support import POSTFIX_PATH, free_port, ours_argv

pytestmark = pytest.mark.postfix

PROMTOOL = "/usr/bin/promtool"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
EXPORTER_ADDRESS = "127.0.0.50"
DNS_ADDRESS = "127.0.0.51"


def run_status(directory, *args):
    """(exit status, stdout, stderr) of status, standalone."""
    result = subprocess.run(ours_argv(["-c", directory, "status"] + list(args)),
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    return result.returncode, result.stdout, result.stderr


def add_lines(directory, lines):
    with open(os.path.join(directory, "main.cf"), "a") as stream:
        stream.write("".join(line + "\n" for line in lines))
    past = time.time() - 60
    os.utime(os.path.join(directory, "main.cf"), (past, past))


def with_ecdsa(make_config, made, cert="fresh.pem", eccert="ecfresh.pem"):  # noqa: F811
    directory = configure(make_config, made, cert=cert)
    shutil.copy(os.path.join(made, eccert), os.path.join(directory, "eccert.pem"))
    shutil.copy(os.path.join(made, "eckey.pem"), os.path.join(directory, "eckey.pem"))
    os.chmod(os.path.join(directory, "eckey.pem"), 0o600)
    add_lines(directory, ["smtpd_tls_eccert_file = %s/eccert.pem" % directory,
                          "smtpd_tls_eckey_file = %s/eckey.pem" % directory])
    return directory


def stage(directory, made, algorithm="rsa", days=3, name=None):  # noqa: F811
    """A staged key as deploy-acme-cert leaves one, written days ago."""
    path = os.path.join(directory, name or "acme-%s.staged.pem" % algorithm)
    with open(path, "w") as stream:
        for part in (("key.pem", "fresh.pem") if algorithm == "rsa"
                     else ("eckey.pem", "ecfresh.pem")):
            with open(os.path.join(made, part)) as source:
                stream.write(source.read())
    os.chmod(path, 0o600)
    past = time.time() - days * 86400
    os.utime(path, (past, past))
    return path


# ----- the plugin line, by the guidelines' grammar

# 'label'=value[UOM];[warn];[crit];[min];[max]: a label quoted when it has
# a space, "=" or "'" (a quote doubled), values in [-0-9.], a range
# [@][start:][end] with "~" for minus infinity.
_LABEL = r"(?:'(?:[^']|'')+'|[^' =]+)"
_NUMBER = r"-?[0-9.]+"
_RANGE = r"@?(?:(?:~|%s)?:)?(?:%s)?" % (_NUMBER, _NUMBER)
_UOM = r"(?:us|ms|s|%|B|KB|MB|GB|TB|c)?"
PERFORMANCE = re.compile(r"(%s)=(%s)(%s)(?:;(%s))?(?:;(%s))?(?:;(%s)?)?(?:;(%s)?)?$" % (
    _LABEL, _NUMBER, _UOM, _RANGE, _RANGE, _NUMBER, _NUMBER))
PLUGIN_LINE = re.compile(r"TLS (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| (.*))?$")
EXIT = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def alerts(value, threshold):
    """Whether value alerts under a threshold range (guidelines, 2.5): by
    default outside start..end (start 0, end infinity), "@" inside."""
    inside = threshold.startswith("@")
    threshold = threshold.lstrip("@")
    start, colon, end = threshold.partition(":")
    if not colon:
        start, end = "0", threshold
    low = float("-inf") if start == "~" else float(start or 0)
    high = float(end) if end else float("inf")
    within = low <= value <= high
    return within if inside else not within


def plugin_line(output):
    """(state, text, {label: (value, uom, warn, crit)}) of the first line."""
    first = output.split("\n", 1)[0]
    found = PLUGIN_LINE.match(first)
    assert found, "not a plugin line: %r" % first
    performance = {}
    for item in (found.group(3) or "").split(" ") if found.group(3) else []:
        parsed = PERFORMANCE.match(item)
        assert parsed, "not performance data: %r in %r" % (item, first)
        label, value, uom, warn, crit = parsed.group(1, 2, 3, 4, 5)
        assert label not in performance, "label twice: " + label
        performance[label] = (float(value), uom, warn, crit)
    return found.group(1), found.group(2), performance


def assert_thresholds_agree(state, performance, warning_days=30, critical_days=7):
    """The days-left values alert by their own thresholds exactly where
    status judged by them (a reader of the data sees what status saw)."""
    for label, (value, uom, warn, crit) in performance.items():
        if not label.endswith("days_left"):
            continue
        assert uom == ""
        assert alerts(value, warn) == (value < warning_days), (label, value, warn)
        assert alerts(value, crit) == (value < critical_days), (label, value, crit)
        if value < critical_days:
            assert state in ("CRITICAL", "UNKNOWN")
        elif value < warning_days:
            assert state in ("WARNING", "CRITICAL", "UNKNOWN")


def test_an_ok_line_by_the_plugin_guidelines(make_config, made):  # noqa: F811
    code, output, _ = run_status(with_ecdsa(make_config, made))
    state, text, performance = plugin_line(output)
    assert (state, code) == ("OK", 0)
    assert sorted(performance) == ["ecdsa_days_left", "rsa_days_left"]
    assert performance["rsa_days_left"][2:] == ("30:", "7:")
    assert_thresholds_agree(state, performance)


def test_a_warning_line_and_its_thresholds_by_the_guidelines(make_config, made):  # noqa: F811
    directory = with_ecdsa(make_config, made, eccert="ecfresh.pem", cert="ten-days.pem")
    code, output, _ = run_status(directory)
    state, text, performance = plugin_line(output)
    assert (state, code) == ("WARNING", 1) and "expires in" in text
    assert_thresholds_agree(state, performance)
    code, output, _ = run_status(directory, "-w", "5", "-c", "2")
    state, text, performance = plugin_line(output)
    assert (state, code) == ("OK", 0)
    assert performance["rsa_days_left"][2:] == ("5:", "2:")
    assert_thresholds_agree(state, performance, 5, 2)


def test_a_critical_line_with_a_pipe_in_a_file_name(make_config, made):  # noqa: F811
    """A "|" in the text would start the performance data: it is written
    \\x7c, in the first line and in the long text after it."""
    directory = configure(make_config, made, cert="expired.pem")
    add_lines(directory, ["smtpd_tls_eccert_file = %s/ec|cert.pem" % directory,
                          "smtpd_tls_eckey_file = %s/ec|cert.pem" % directory])
    code, output, _ = run_status(directory)
    state, text, performance = plugin_line(output)
    assert (state, code) == ("CRITICAL", 2)
    assert "expired on" in text and "ec\\x7ccert.pem is missing" in text
    assert performance["rsa_days_left"][0] < 0
    assert_thresholds_agree(state, performance)
    assert all("|" not in line for line in output.splitlines()[1:])


def test_an_unknown_line_by_the_guidelines(make_config, made, tmp_path):  # noqa: F811
    code, output, _ = run_status(configure(make_config, made, cert="key.pem"))
    state, text, performance = plugin_line(output)
    assert (state, code) == ("UNKNOWN", 3) and performance == {}
    code, output, _ = run_status(str(tmp_path / "nowhere"))
    assert plugin_line(output)[0] == "UNKNOWN" and code == 3
    assert output.count("\n") == 1


def test_a_staged_key_s_age_is_performance_data_in_seconds(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    stage(directory, made, days=1)
    code, output, _ = run_status(directory)
    state, text, performance = plugin_line(output)
    assert (state, code) == ("OK", 0)
    value, uom, warn, crit = performance["rsa_staged_age"]
    assert uom == "s" and 86400 <= value < 86400 + 120
    assert (warn, crit) == ("172800", None) and not alerts(value, warn)
    assert "acme-rsa.staged.pem is staged (waiting for its TLSA record)" in output


def test_a_key_staged_for_more_than_two_days_is_a_warning(make_config, made):  # noqa: F811
    """The timer runs every 6 hours and a TLSA TTL is rarely over a day: a
    key still staged after two days is not getting in (exit 75 is a
    success for the unit, so only status says so), and the performance
    data alerts where status does."""
    directory = configure(make_config, made, cert="fresh.pem")
    stage(directory, made, days=3)
    code, output, _ = run_status(directory)
    state, text, performance = plugin_line(output)
    assert (state, code) == ("WARNING", 1)
    assert "acme-rsa.staged.pem has been staged" in text and "(3 days)" in text
    assert "journalctl -u postfix-tls-acme" in text and "-K" in text and "lock" in text
    value, uom, warn, crit = performance["rsa_staged_age"]
    assert alerts(value, warn)
    sni = stage(directory, made, days=4, name="acme-sni-shop.example.org-rsa.staged.pem")
    os.unlink(os.path.join(directory, "acme-rsa.staged.pem"))
    code, output, _ = run_status(directory)
    state, text, performance = plugin_line(output)
    assert (state, code) == ("WARNING", 1) and sni in text and "(SNI shop.example.org)" in text
    assert alerts(performance["sni_staged_age"][0], performance["sni_staged_age"][2])


# ----- Prometheus: promtool check metrics

def promtool(text):
    """promtool check metrics on text: its exit status and what it said."""
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=60)
    return result.returncode, result.stdout


def samples(text):
    """{(name, frozenset of labels): value} of the exposition text."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if "{" not in line:
            name, value = line.split(" ")[:2]
            found[(name, frozenset())] = float(value)
            continue
        name, _, rest = line.partition("{")
        labels, _, value = rest.rpartition("} ")
        pairs = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', labels))
        found[(name, pairs)] = float(value)
    return found


def value_of(found, name, **labels):
    matching = [value for (found_name, pairs), value in found.items()
                if found_name == name and set(labels.items()) <= pairs]
    assert len(matching) == 1, (name, labels, matching)
    return matching[0]


def check_metrics(directory, *args):
    """status -o prometheus, checked by promtool; (exit status, samples)."""
    code, output, _ = run_status(directory, "-o", "prometheus", *args)
    status, said = promtool(output)
    assert (status, said) == (0, ""), said + output
    found = samples(output)
    assert value_of(found, "postfix_tls_status", config_directory=directory) == code
    return code, found, output


def test_metrics_of_rsa_and_ecdsa_pass_promtool(make_config, made):  # noqa: F811
    directory = with_ecdsa(make_config, made)
    code, found, output = check_metrics(directory)
    assert code == 0
    for algorithm, name in (("rsa", "cert.pem"), ("ecdsa", "eccert.pem")):
        labels = dict(algorithm=algorithm, file=os.path.join(directory, name))
        expiry = value_of(found, "postfix_tls_certificate_expiry_timestamp_seconds", **labels)
        assert 364 * 86400 < expiry - time.time() < 366 * 86400
        assert value_of(found, "postfix_tls_key_matches_certificate", **labels) == 1
        assert value_of(found, "postfix_tls_chain_in_order", **labels) == 1
    assert value_of(found, "postfix_tls_problems", severity="critical") == 0
    assert "# TYPE postfix_tls_status gauge" in output


def test_metrics_of_an_expired_and_mismatched_certificate(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="expired.pem", key="other.pem")
    code, found, _ = check_metrics(directory)
    assert code == 2
    assert value_of(found, "postfix_tls_certificate_expiry_timestamp_seconds",
                    algorithm="rsa") == 1580515200  # 2020-02-01T00:00:00Z
    assert value_of(found, "postfix_tls_key_matches_certificate", algorithm="rsa") == 0
    assert value_of(found, "postfix_tls_problems", severity="critical") == 2


def test_metrics_of_chains_in_and_out_of_order(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="misordered.pem")
    code, found, _ = check_metrics(directory)
    assert code == 1
    assert value_of(found, "postfix_tls_chain_in_order", algorithm="rsa") == 0
    assert value_of(found, "postfix_tls_certificate_chain_length", algorithm="rsa") == 3
    # smtpd_tls_chain_files: the key and its chain in one file.
    directory = make_config()
    with open(os.path.join(directory, "chain-file.pem"), "w") as stream:
        for part in ("key.pem", "chain.pem"):
            with open(os.path.join(made, part)) as source:
                stream.write(source.read())
    os.chmod(os.path.join(directory, "chain-file.pem"), 0o600)
    add_lines(directory, ["smtpd_tls_chain_files = %s/chain-file.pem" % directory])
    code, found, _ = check_metrics(directory)
    labels = dict(algorithm="rsa", file=os.path.join(directory, "chain-file.pem"))
    assert value_of(found, "postfix_tls_chain_in_order", **labels) == 1
    assert value_of(found, "postfix_tls_key_matches_certificate", **labels) == 1


def test_metrics_of_a_staged_key(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    path = stage(directory, made, days=3)
    code, found, _ = check_metrics(directory)
    assert code == 1  # staged for more than two days: a warning
    age = value_of(found, "postfix_tls_staged_key_age_seconds", algorithm="rsa", file=path)
    assert 3 * 86400 <= age < 3 * 86400 + 120
    assert value_of(found, "postfix_tls_staged_key_timestamp_seconds",
                    algorithm="rsa") == int(os.stat(path).st_mtime)


def test_metrics_of_sni_names_and_a_stale_table(make_config, chains):  # noqa: F811
    directory, sni_files = sni_config(make_config, chains)
    table = "hash:%s/sni" % directory
    code, found, _ = check_metrics(directory)
    assert code == 0
    assert value_of(found, "postfix_tls_sni_table_stale", table=table) == 0
    assert value_of(found, "postfix_tls_sni_name_covered", sni_name="example.org") == 1
    assert value_of(found, "postfix_tls_certificate_expiry_timestamp_seconds",
                    sni_name="example.org", algorithm="ecdsa") > time.time()
    # A renewal written behind the table's back.
    shutil.copy(os.path.join(chains, "org-rsa-renewed.pem"),
                os.path.join(sni_files, "org-rsa.pem"))
    code, found, _ = check_metrics(directory)
    assert code == 2
    assert value_of(found, "postfix_tls_sni_table_stale", table=table) == 1
    assert value_of(found, "postfix_tls_sni_name_stale", sni_name="example.org") == 1
    assert value_of(found, "postfix_tls_sni_name_stale", sni_name="example.net") == 0


def test_label_values_are_escaped(make_config, made):  # noqa: F811
    """A backslash, a double quote and a line feed in a file name."""
    directory = configure(make_config, made, cert="fresh.pem")
    odd = os.path.join(directory, 'odd \\ "name"\nhere.pem')
    shutil.copy(os.path.join(directory, "cert.pem"), odd)
    add_lines(directory, ['smtpd_tls_eccert_file = %s' % odd.replace("\n", "\\n")])
    code, output, _ = run_status(directory, "-o", "prometheus")
    assert promtool(output) == (0, "")


def test_unknown_metrics_when_status_cannot_run(tmp_path):
    missing = str(tmp_path / "nowhere")
    code, output, _ = run_status(missing, "-o", "prometheus")
    assert code == 3 and promtool(output) == (0, "")
    found = samples(output)
    assert value_of(found, "postfix_tls_status") == 3
    assert value_of(found, "postfix_tls_problems", severity="unknown") == 1


def test_a_bad_option_value_is_refused_and_unknown(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    for args, said in ((("-o", "xml"), "invalid -o value: xml"),
                       (("-f", "relative.prom"), "invalid -f value: relative.prom"),
                       (("-f", "/tmp/metrics.txt"), "invalid -f value: /tmp/metrics.txt")):
        code, output, error = run_status(directory, *args)
        assert code == 3 and said in error, error
        assert output.startswith("TLS UNKNOWN - ")


# ----- node_exporter's textfile collector

def test_the_textfile_is_written_whole_with_mode_0644(make_config, made, tmp_path):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    (tmp_path / "textfiles").mkdir()
    target = str(tmp_path / "textfiles" / "postfix_tls.prom")
    code, output, _ = run_status(directory, "-f", target)
    assert code == 0 and output.startswith("TLS OK - ")  # stdout keeps its text
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    with open(target) as stream:
        assert promtool(stream.read()) == (0, "")
    assert os.listdir(str(tmp_path / "textfiles")) == ["postfix_tls.prom"]  # no temporary
    # A dry run writes nothing.
    os.unlink(target)
    subprocess.run(ours_argv(["-c", directory, "--dry-run", "status", "-f", target]),
                   env={"PATH": POSTFIX_PATH}, stdout=subprocess.PIPE, timeout=60)
    assert not os.path.exists(target)


def test_a_textfile_that_cannot_be_written_is_unknown(make_config, made, tmp_path):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    target = str(tmp_path / "missing-directory" / "postfix_tls.prom")
    code, output, _ = run_status(directory, "-f", target)
    assert code == 3
    assert output.startswith("TLS UNKNOWN - cannot write the metrics file %s" % target)


@pytest.fixture
def node_exporter(tmp_path):
    """A real prometheus-node-exporter with the textfile collector alone,
    on 127.0.0.50; (its textfile directory, a function that scrapes it)."""
    if not os.access(NODE_EXPORTER, os.X_OK):
        pytest.fail("needs %s: apt-get install prometheus-node-exporter" % NODE_EXPORTER)
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    port = free_port(EXPORTER_ADDRESS)
    process = subprocess.Popen(
        [NODE_EXPORTER, "--web.listen-address=%s:%d" % (EXPORTER_ADDRESS, port),
         "--collector.disable-defaults", "--collector.textfile",
         "--collector.textfile.directory=%s" % textfiles],
        stdout=subprocess.DEVNULL, stderr=open(str(tmp_path / "exporter.log"), "w"))
    url = "http://%s:%d/metrics" % (EXPORTER_ADDRESS, port)

    def scrape():
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode("utf-8")

    try:
        deadline = time.time() + 30
        while True:
            try:
                scrape()
                break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    raise
                time.sleep(0.1)
        yield str(textfiles), scrape
    finally:
        process.kill()
        process.wait()


def test_node_exporter_serves_the_textfile(make_config, made, node_exporter):  # noqa: F811
    textfiles, scrape = node_exporter
    directory = with_ecdsa(make_config, made, cert="ten-days.pem")
    stage(directory, made, algorithm="ecdsa", days=1)
    target = os.path.join(textfiles, "postfix_tls.prom")
    code, _, _ = run_status(directory, "-f", target)
    assert code == 1
    found = samples(scrape())
    assert value_of(found, "node_textfile_scrape_error") == 0
    assert value_of(found, "postfix_tls_status", config_directory=directory) == 1
    expiry = value_of(found, "postfix_tls_certificate_expiry_timestamp_seconds",
                      algorithm="rsa", file=os.path.join(directory, "cert.pem"))
    assert 9 * 86400 < expiry - time.time() < 11 * 86400
    assert value_of(found, "postfix_tls_key_matches_certificate", algorithm="ecdsa") == 1
    assert value_of(found, "postfix_tls_staged_key_age_seconds", algorithm="ecdsa") >= 86400
    # The next run's verdict replaces the last one's, whole.
    os.unlink(os.path.join(directory, "cert.pem"))
    code, _, _ = run_status(directory, "-f", target)
    found = samples(scrape())
    assert code == 2 and value_of(found, "postfix_tls_status") == 2
    assert value_of(found, "node_textfile_scrape_error") == 0
    # A run that cannot judge anything says UNKNOWN there too.
    code, _, _ = run_status(os.path.join(directory, "nowhere"), "-f", target)
    found = samples(scrape())
    assert code == 3 and value_of(found, "postfix_tls_status") == 3
    assert value_of(found, "node_textfile_scrape_error") == 0


# ----- -p: TLSA records per port, from a DNS responder of the test's

def spki_sha256(certificate):
    """SHA-256 of a certificate file's (first) public key, as TLSA "x 1 1"."""
    import hashlib

    pubkey = subprocess.run(["openssl", "x509", "-in", certificate, "-noout", "-pubkey"],
                            stdout=subprocess.PIPE, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pubkey,
                         stdout=subprocess.PIPE, check=True).stdout
    return hashlib.sha256(der).hexdigest()


@pytest.fixture
def tlsa_responder():
    """A DNS responder on 127.0.0.51 (UDP): {owner: (records, validated)}
    answers TLSA queries (AD set when validated), an owner with records
    None answers SERVFAIL, any other name NXDOMAIN.  (address:port, zone)."""
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rrset

    zone = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((DNS_ADDRESS, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except socket.timeout:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.RA
            owner = query.question[0].name.to_text()
            records, validated = zone.get(owner, ((), False))
            if owner not in zone:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif records is None:
                response.set_rcode(dns.rcode.SERVFAIL)
            else:
                response.answer.append(dns.rrset.from_text_list(
                    owner, 300, "IN", "TLSA", list(records)))
                if validated:
                    response.flags |= dns.flags.AD
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "%s:%d" % sock.getsockname(), zone
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_tlsa_records_per_port_are_matched_with_the_served_keys(make_config, made,  # noqa: F811
                                                               tlsa_responder):
    nameserver, zone = tlsa_responder
    directory = with_ecdsa(make_config, made)
    rsa = spki_sha256(os.path.join(directory, "cert.pem"))
    ecdsa = spki_sha256(os.path.join(directory, "eccert.pem"))
    zone["_25._tcp.mail.example.com."] = (["3 1 1 " + rsa, "3 1 1 " + ecdsa], True)
    code, output, _ = run_status(directory, "-p", "25", "-n", nameserver)
    assert (code, plugin_line(output)[0]) == (0, "OK"), output
    assert "tlsa _25._tcp.mail.example.com.: 2 record(s), DNSSEC-validated: yes" in output
    # Port 587 publishes the RSA key's record only; port 465's lookup fails;
    # port 2525 has none (no DANE there: a note).
    zone["_587._tcp.mail.example.com."] = (["3 1 1 " + rsa], False)
    zone["_465._tcp.mail.example.com."] = (None, False)
    code, output, _ = run_status(directory, "-p", "25,465,587,2525", "-n", nameserver,
                                 "-o", "prometheus")
    assert code == 2 and promtool(output) == (0, "")
    found = samples(output)
    for port, algorithm, match in (("25", "rsa", 1), ("25", "ecdsa", 1), ("587", "rsa", 1),
                                   ("587", "ecdsa", 0)):
        assert value_of(found, "postfix_tls_tlsa_match", port=port,
                        algorithm=algorithm) == match
    assert value_of(found, "postfix_tls_tlsa_lookup_success", port="465") == 0
    assert value_of(found, "postfix_tls_tlsa_records", port="2525") == 0
    assert value_of(found, "postfix_tls_tlsa_dnssec_validated", port="587") == 0
    code, output, _ = run_status(directory, "-p", "25,465,587,2525", "-n", nameserver)
    assert "no _587._tcp.mail.example.com. TLSA record matches the ecdsa certificate" \
        in output.splitlines()[0]
    assert "WARNING: DNS lookup of _465._tcp.mail.example.com. TLSA failed" in output
    assert "note: _2525._tcp.mail.example.com.: no TLSA records" in output


def test_a_2_1_1_record_of_an_issuer_matches_the_chain(make_config, made,  # noqa: F811
                                                      tlsa_responder):
    nameserver, zone = tlsa_responder
    directory = configure(make_config, made, cert="chain.pem")
    issuer = spki_sha256(os.path.join(made, "intermediate.pem"))
    zone["_25._tcp.mx.example.net."] = (["2 1 1 " + issuer], True)
    code, output, _ = run_status(directory, "-p", "25", "-h", "mx.example.net",
                                 "-n", nameserver, "-o", "prometheus")
    assert code == 0 and promtool(output) == (0, "")
    assert value_of(samples(output), "postfix_tls_tlsa_match", port="25") == 1
    zone["_25._tcp.mx.example.net."] = (["2 1 1 " + "00" * 32], True)
    code, output, _ = run_status(directory, "-p", "25", "-h", "mx.example.net",
                                 "-n", nameserver)
    assert code == 2 and "DANE senders defer mail" in output.splitlines()[0]


# ----- file names that are not UTF-8 (a byte os.fsdecode keeps as a surrogate)

def run_status_bytes(directory, *args):
    """(exit status, stdout, stderr) of status as bytes: what a monitoring
    system reads, undecoded."""
    result = subprocess.run(ours_argv(["-c", directory] + list(args)),
                            env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=60)
    return result.returncode, result.stdout, result.stderr


def bad_names(make_config, made):  # noqa: F811
    """A healthy configuration whose key and certificate are named with
    the bytes 0xff 0xfe (not UTF-8), and an SNI key staged under such a
    name; (directory, the certificate's name as bytes)."""
    directory = make_config()
    raw = os.fsencode(directory) + b"/bad\xff\xfe"
    shutil.copy(os.path.join(made, "fresh.pem"), raw + b".crt")
    shutil.copy(os.path.join(made, "key.pem"), raw + b".key")
    os.chmod(raw + b".key", 0o600)
    with open(os.path.join(directory, "main.cf"), "ab") as stream:
        stream.write(b"smtpd_tls_key_file = " + raw + b".key\n"
                     b"smtpd_tls_cert_file = " + raw + b".crt\n")
    past = time.time() - 60
    os.utime(os.path.join(directory, "main.cf"), (past, past))
    stage(directory, made, days=1, name=os.fsdecode(b"acme-sni-bad\xff-rsa.staged.pem"))
    return directory, raw + b".crt"


def test_a_name_that_is_not_utf8_is_escaped_in_the_metrics(make_config, made,  # noqa: F811
                                                           tmp_path):
    """promtool refuses a label value that is not UTF-8: the byte is
    written \\xff (then escaped as the format wants: \\\\xff), and the
    verdict stays the real one, with -o prometheus and with -f."""
    directory, certificate = bad_names(make_config, made)
    code, output, error = run_status_bytes(directory, "status", "-o", "prometheus")
    text = output.decode("utf-8")  # valid UTF-8, or this raises
    assert code == 0 and promtool(text) == (0, ""), error
    found = samples(text)
    assert value_of(found, "postfix_tls_certificate_expiry_timestamp_seconds",
                    file=os.path.join(directory, "bad\\\\xff\\\\xfe.crt")) > time.time()
    assert value_of(found, "postfix_tls_staged_key_age_seconds", sni_name="bad\\\\xff") >= 86400
    target = str(tmp_path / "bad.prom")
    code, output, error = run_status_bytes(directory, "status", "-f", target)
    assert code == 0 and output.startswith(b"TLS OK - "), output + error
    assert b"Traceback" not in error
    with open(target, "rb") as stream:
        assert promtool(stream.read().decode("utf-8")) == (0, "")


def test_a_name_that_is_not_utf8_is_escaped_in_the_text_and_json(make_config, made):  # noqa: F811
    directory, certificate = bad_names(make_config, made)
    code, output, _ = run_status_bytes(directory, "status")
    text = output.decode("utf-8")
    assert code == 0 and plugin_line(text)[0] == "OK"
    assert "  cert_file: %s/bad\\xff\\xfe.crt (mode" % directory in text
    assert "acme-sni-bad\\xff-rsa.staged.pem is staged" in text
    code, output, _ = run_status_bytes(directory, "--json", "status")
    document = json.loads(output.decode("utf-8"))
    assert code == 0 and document["verdict"] == "OK"
    assert document["settings"]["smtpd_tls_cert_file"] == "%s/bad\\xff\\xfe.crt" % directory
    assert "\\udc" not in output.decode("ascii")  # no lone surrogate
    # Made invalid-free by escaping, not by losing anything: the file is judged.
    assert document["server"][0]["days_left"] >= 364


# ----- -p with a resolver that never answers: NRPE's and Nagios' 10 s

SILENT_ADDRESS = "127.0.0.53"


@pytest.fixture
def silent_resolver():
    """A UDP socket on 127.0.0.53 that reads queries and never answers:
    a dead resolver (nothing refuses, the queries time out)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((SILENT_ADDRESS, 0))
    try:
        yield "%s:%d" % sock.getsockname()
    finally:
        sock.close()


def test_a_dead_resolver_costs_one_dns_budget_not_one_per_port(make_config, made,  # noqa: F811
                                                                silent_resolver):
    """Three ports, one budget for all: the run ends within a plugin's
    10 s, the first port says the resolver did not answer (once), the
    others that they were not looked up."""
    directory = configure(make_config, made, cert="fresh.pem")
    started = time.monotonic()
    code, output, _ = run_status(directory, "-p", "25,465,587", "-n", silent_resolver)
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    state, text, _ = plugin_line(output)
    assert (state, code) == ("WARNING", 1)
    assert text.count(SILENT_ADDRESS) == 1 and "timed out" not in text, text
    assert "DNS lookup of _25._tcp.mail.example.com. TLSA failed: no answer from" in text
    assert "_465._tcp.mail.example.com., _587._tcp.mail.example.com.: TLSA not looked up" \
        in text
    assert len(text) < 400, text
    assert "tlsa _587._tcp.mail.example.com.: not looked up" in output


# ----- the plugin's escaping: a backslash too; the chmod hint quoted for a shell

def test_a_backslash_is_escaped_so_a_line_break_is_not_ambiguous(make_config, made):  # noqa: F811
    """A file named with a backslash and "n" and one named with a line
    break were both written \\n: the backslash is written \\\\."""
    directory = configure(make_config, made, cert="fresh.pem")
    add_lines(directory, ["smtpd_tls_eccert_file = %s/back\\nslash.pem" % directory,
                          "smtpd_tls_eckey_file = %s/back\\nslash.pem" % directory])
    code, output, _ = run_status(directory)
    state, text, _ = plugin_line(output)
    assert (state, code) == ("CRITICAL", 2)
    assert "%s/back\\\\nslash.pem is missing" % directory in text, text
    assert "  cert_file: %s/back\\\\nslash.pem (missing)" % directory in output.splitlines()


def test_the_chmod_hint_quotes_the_path_for_a_shell(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    odd = os.path.join(directory, "it's my key.pem")
    shutil.copy(os.path.join(made, "key.pem"), odd)
    os.chmod(odd, 0o644)
    add_lines(directory, ["smtpd_tls_key_file = %s" % odd])
    code, output, _ = run_status(directory)
    state, text, _ = plugin_line(output)
    assert (state, code) == ("CRITICAL", 2)
    quoted = "'%s/it'\"'\"'s my key.pem'" % directory
    assert text.endswith("(mode 0644): chmod 600 " + quoted), text
    # Pasted into sh, it is the file.
    listed = subprocess.run(["sh", "-c", "ls -- " + quoted], stdout=subprocess.PIPE,
                            universal_newlines=True, check=True).stdout
    assert listed == odd + "\n"
    os.chmod(odd, 0o640)
    assert "chmod 600 " + quoted in run_status(directory)[1]


def test_a_relative_textfile_name_is_refused_as_relative(make_config, made):  # noqa: F811
    """rel.prom does end in .prom: what is wrong is that it is relative."""
    directory = configure(make_config, made, cert="fresh.pem")
    code, output, error = run_status(directory, "-f", "rel.prom")
    assert code == 3 and "invalid -f value: rel.prom: expected an absolute" in error, error
    assert "ending in .prom" not in error
    code, output, error = run_status(directory, "-f", "/tmp/metrics.txt")
    assert code == 3 and "expected a file name ending in .prom" in error, error


# ----- options that made no sense, and a staged key from the future

def test_critical_days_above_warning_days_are_refused(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    code, output, error = run_status(directory, "-w", "5", "-c", "10")
    assert code == 3 and output.startswith("TLS UNKNOWN - "), output
    assert "-c 10 is above -w 5" in error, error
    assert run_status(directory, "-w", "7", "-c", "7")[0] == 0  # equal: no warning band
    assert run_status(directory, "-c", "40")[0] == 3  # above the default -w 30
    assert run_status(directory, "-w", "5")[0] == 0  # -w alone: as it was


def test_an_empty_port_list_is_refused(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    code, output, error = run_status(directory, "-p", "")
    assert code == 3 and output.startswith("TLS UNKNOWN - "), output
    assert "-p" in error, error


def test_a_staged_key_from_the_future_says_a_clock_is_wrong(make_config, made):  # noqa: F811
    directory = configure(make_config, made, cert="fresh.pem")
    stage(directory, made, days=-30)
    code, output, _ = run_status(directory)
    assert code == 0
    assert "(0 days)" not in output
    assert "in the future" in output, output
