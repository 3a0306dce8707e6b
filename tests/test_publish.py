"""Publishing TLSA records (issue 29): what an update adds, keeps and
requires, sent to Debian's knot as the zone's primary on 127.0.0.18 (a
TSIG key made by keymgr -t, an update ACL for TLSA records only), and the
same update as an nsupdate script run by BIND's nsupdate.  Needs root
(port 53), knot, knot-dnsutils, bind9-dnsutils and dnspython.
"""

import os
import subprocess

import pytest

from postfix_tls.core import messages
from postfix_tls.dane import publish, tsig

from support import POSTFIX_PATH, ours_argv
from support.dnsservers import ZONE, KnotPrimary, KnotSecondary, require_knot
from support.liveservers import scratch_base

pytestmark = [pytest.mark.root]

PRIMARY = "127.0.0.18"  # test_acme_interrupts' site ends at .17
SECONDARY = "127.0.0.19"
OWNER = "_25._tcp.mail.example.com."
OLD, NEW, OTHER = "3 1 1 " + "ab" * 32, "3 1 1 " + "cd" * 32, "3 1 1 " + "ef" * 32


@pytest.fixture(scope="module")
def knot():
    require_knot()
    with scratch_base("postfix-tls-publish.") as base:
        primary = KnotPrimary(base, PRIMARY, secondaries=[SECONDARY])
        primary.start()
        secondary = KnotSecondary(base, SECONDARY, primary)
        secondary.start()
        primary.secondary = secondary
        try:
            yield primary
        finally:
            secondary.stop()
            primary.stop()


@pytest.fixture
def zone(knot):
    """The zone as first loaded: OWNER holds OLD, TTL 300."""
    knot.stop()
    knot.start(records=["_25._tcp.mail 300 IN TLSA " + OLD])
    return knot


def read(knot, owner=OWNER):
    return {owner: knot.tlsa(owner)}


# ----- what an update is made of

def test_added_records_take_the_rrset_s_ttl_and_keep_its_records():
    change, = publish.changes({OWNER: ([OLD.upper()], 300)}, [NEW, OLD])
    assert (change.records, change.add, change.delete, change.ttl) == ([OLD], [NEW], [], 300)
    assert change.after() == [OLD, NEW]


def test_a_new_rrset_needs_a_ttl_given():
    with pytest.raises(publish.PublishError) as raised:
        publish.changes({OWNER: ([], None)}, [NEW])
    assert str(raised.value) == messages.PUBLISH_NO_TTL.format(owner=OWNER)
    assert not raised.value.retry
    change, = publish.changes({OWNER: ([], None)}, [NEW], ttl=3600)
    assert change.ttl == 3600


def test_only_records_the_rrset_holds_are_deleted():
    change, = publish.changes({OWNER: ([OLD, NEW], 300)}, [], delete={OWNER: [OLD, OTHER]})
    assert change.delete == [OLD]
    assert change.after() == [NEW]


def test_the_script_and_the_zone_lines_say_the_same_update():
    changes = publish.changes({OWNER: ([OLD], 300)}, [NEW], delete={OWNER: [OLD]})
    assert publish.nsupdate_script(ZONE, PRIMARY, 53, changes) == (
        "server %s 53\nzone %s\nprereq yxrrset %s IN TLSA %s\n"
        "update delete %s IN TLSA %s\nupdate add %s 300 IN TLSA %s\nsend\n"
        % (PRIMARY, ZONE, OWNER, OLD, OWNER, OLD, OWNER, NEW))
    assert publish.zone_lines(changes) == "%s 300 IN TLSA %s\n" % (OWNER, NEW)


# ----- sent to the primary

def test_an_update_adds_the_next_key_s_record_beside_the_old(zone):
    key = tsig.read(zone.key_file)
    changes = publish.changes(read(zone), [OLD, NEW])
    publish.send(ZONE, changes, key, PRIMARY)
    assert zone.tlsa(OWNER) == ([OLD, NEW], 300)  # Knot keeps the RRset's TTL


def test_an_rrset_changed_since_it_was_read_is_never_overwritten(zone):
    key = tsig.read(zone.key_file)
    stale = publish.changes(read(zone), [OLD, NEW])
    publish.send(ZONE, publish.changes(read(zone), [OLD, OTHER]), key, PRIMARY)  # another host
    with pytest.raises(publish.PublishError) as raised:
        publish.send(ZONE, stale, key, PRIMARY)
    assert raised.value.retry
    assert str(raised.value) == messages.PUBLISH_CHANGED.format(
        zone=ZONE, server="%s port 53" % PRIMARY)
    assert zone.tlsa(OWNER) == ([OLD, OTHER], 300)
    publish.send(ZONE, publish.changes(read(zone), [OLD, NEW]), key, PRIMARY)  # read again
    assert zone.tlsa(OWNER) == ([OLD, NEW, OTHER], 300)  # both hosts' records kept


def test_the_secondary_serves_the_update_after_notify(zone):
    key = tsig.read(zone.key_file)
    publish.send(ZONE, publish.changes(read(zone), [OLD, NEW]), key, PRIMARY)
    assert zone.secondary.wait_for_serial(zone.serial()), zone.secondary.serial()
    assert zone.secondary.tlsa(OWNER) == ([OLD, NEW], 300)


def test_a_wrong_secret_or_an_unknown_key_changes_nothing(zone):
    key = tsig.read(zone.key_file)
    changes = publish.changes(read(zone), [NEW])
    wrong = tsig.TsigKey(key.name, key.algorithm, "AAAA" + key.secret[4:])
    with pytest.raises(publish.PublishError) as raised:
        publish.send(ZONE, changes, wrong, PRIMARY)
    assert "BADSIG" in str(raised.value) and not raised.value.retry
    unknown = tsig.TsigKey("someone-else", key.algorithm, key.secret)
    with pytest.raises(publish.PublishError) as raised:
        publish.send(ZONE, changes, unknown, PRIMARY)
    assert "BADKEY" in str(raised.value) and not raised.value.retry
    assert key.secret not in str(raised.value)
    assert zone.tlsa(OWNER) == ([OLD], 300)


def test_no_answer_in_time_is_said_and_retried(zone):
    key = tsig.read(zone.key_file)
    with pytest.raises(publish.PublishError) as raised:
        publish.send(ZONE, publish.changes(read(zone), [NEW]), key, "127.0.0.29", timeout=2)
    assert raised.value.retry


def test_nsupdate_applies_the_script_as_the_update_would(zone):
    changes = publish.changes(read(zone), [OLD, NEW])
    script = publish.nsupdate_script(ZONE, PRIMARY, 53, changes)
    key = tsig.read(zone.key_file)  # keymgr -t's file: nsupdate -k reads BIND's alone
    result = subprocess.run(["nsupdate", "-y", "%s:%s:%s" % (key.algorithm, key.name, key.secret)],
                            input=script,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=30)
    assert result.returncode == 0, result.stdout
    assert zone.tlsa(OWNER) == ([OLD, NEW], 300)


# ----- what the primary serves, read from it

def test_the_zone_and_its_primary_are_found_from_the_soa(knot):
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [PRIMARY]
    assert publish.zone_and_primary(OWNER, resolver) == (ZONE, "ns1." + ZONE, [PRIMARY])


def test_the_rrsets_are_read_from_the_primary_itself(zone):
    other = "_587._tcp.mail.example.com."
    assert publish.read_rrsets([OWNER, other], PRIMARY) == {OWNER: ([OLD], 300),
                                                            other: ([], None)}


# ----- publish-server-tlsa, run as an administrator would

@pytest.fixture
def host(make_config, zone):
    """A configuration with a deployed RSA key and a next one."""
    directory = make_config()
    env = {"PATH": POSTFIX_PATH, "LANG": "C"}
    for args in (["enable-server"], ["new-server-key", "-a", "rsa"]):
        assert subprocess.run(ours_argv(["-c", directory] + args), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    return directory, env


def host_key(zone):
    return zone.key_file


def publish_run(host, *args, options=()):
    """publish-server-tlsa with args; options: ours, before it."""
    directory, env = host
    result = subprocess.run(ours_argv(["-c", directory] + list(options) + [
        "publish-server-tlsa", "-h", "mail.example.com", "-n", PRIMARY] + list(args)), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    return result.returncode, result.stdout, result.stderr


def test_publish_adds_the_deployed_and_the_next_key_s_records(host, zone):
    status, out, err = publish_run(host)
    assert status == 1 and "-K FILE" in err  # no key file: said, nothing sent
    status, out, err = publish_run(host, "-K", host_key(zone), options=["--trace"])
    assert status == 0, err
    records, ttl = zone.tlsa(OWNER)
    assert len(records) == 3 and OLD in records and ttl == 300  # the old record kept
    assert out.count(": published\n") == 2
    assert tsig.read(zone.key_file).secret not in err  # --trace names the key alone
    status, out, err = publish_run(host, "-K", host_key(zone))
    assert status == 0 and "published already" in out  # nothing twice


def test_publish_dry_run_and_the_script_send_nothing(host, zone):
    status, out, err = publish_run(host, "-K", host_key(zone), options=["--dry-run"])
    assert status == 0, err
    assert "(dry run: not sent)" in out
    # The update as text: where it goes, what it requires and adds.
    lines = out.splitlines()
    assert lines[0] == "update %s at %s port 53, signed with TSIG key %s" % (
        ZONE, PRIMARY, tsig.read(zone.key_file).name)
    assert lines[1] == "  require %s TLSA = {%s}" % (OWNER, OLD)
    assert [line.split()[:3] for line in lines[2:4]] == [["add", OWNER, "300"]] * 2
    status, script, err = publish_run(host, "-o", "nsupdate")
    assert status == 0, err
    assert script.startswith("server %s 53\nzone %s\nprereq yxrrset %s IN TLSA %s\n"
                             % (PRIMARY, ZONE, OWNER, OLD))
    assert zone.tlsa(OWNER) == ([OLD], 300)


def test_trace_json_gives_the_update_as_data_without_the_secret(host, zone):
    import json

    status, out, err = publish_run(host, "-K", host_key(zone),
                                   options=["--trace-json", "-", "--dry-run"])
    assert status == 0, err
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    update, = [record for record in records if record.get("action") == "dns-update"]
    assert (update["zone"], update["server"], update["port"], update["dry_run"]) == (
        ZONE, PRIMARY, 53, True)
    assert update["key"] == tsig.read(zone.key_file).name
    change, = update["changes"]
    assert change["owner"] == OWNER and change["records"] == [OLD] and len(change["add"]) == 2
    assert tsig.read(zone.key_file).secret not in err


# ----- what a break-it round found

def test_a_cname_at_the_owner_is_said_never_published_beside(knot):
    """Before: the CNAME read as "no RRset", the update added records the
    server ignored (NOERROR, "no changes"), and "published" was said."""
    knot.stop()
    knot.start(records=["_25._tcp.mail 300 IN TLSA " + OLD,
                        "_465._tcp.mail 300 IN CNAME _25._tcp.mail"])
    with pytest.raises(publish.PublishError) as raised:
        publish.read_rrsets(["_465._tcp.mail.example.com."], PRIMARY)
    assert str(raised.value) == messages.PUBLISH_CNAME.format(
        owner="_465._tcp.mail.example.com.", target=OWNER)
    assert not raised.value.retry


def test_publish_with_a_cname_exits_1_and_registers_nothing(host, knot):
    knot.stop()
    knot.start(records=["_25._tcp.mail 300 IN TLSA " + OLD,
                        "_465._tcp.mail 300 IN CNAME _25._tcp.mail"])
    status, out, err = publish_run(host, "-p", "465", "-K", host_key(knot), "-L", "300")
    assert status == 1 and "is a CNAME to %s" % OWNER in err, err
    assert "published" not in out
    assert not os.path.exists(os.path.join(host[0], "acme-tlsa.published"))


def test_the_registry_holds_only_what_this_host_added(host, zone):
    """Before: every key's record was registered, also one already in the
    RRset (another host's, serving the same key), which a later retirement
    would have removed from under it."""
    import shutil

    directory = host[0]
    shutil.copy(zone.key_file, os.path.join(directory, "update.key"))  # a relative -K
    status, out, err = publish_run(host, "-K", "update.key")
    assert status == 0, err
    records, _ = zone.tlsa(OWNER)
    with open(os.path.join(directory, "acme-tlsa.published")) as stream:
        registered = sorted(" ".join(line.split()[1:5]) for line in stream)
    assert registered == sorted(set(records) - {OLD}) and len(registered) == 2


def test_a_publishing_run_waits_for_the_lock(host, zone):
    from test_chain_files import lock_held

    directory, env = host
    with lock_held(directory) as holder:
        result = subprocess.run(ours_argv(["-c", directory, "publish-server-tlsa", "-h",
                                           "mail.example.com", "-n", PRIMARY, "-K",
                                           zone.key_file]),
                                env=dict(env, POSTFIX_TLS_LOCK_WAIT="1"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=60)
        assert result.returncode == 75 and "pid %d" % holder.pid in result.stderr
    assert zone.tlsa(OWNER) == ([OLD], 300)


def test_a_registry_time_not_trusted_counts_from_now_never_forever(tmp_path):
    """Before: a line with a time ahead of the clock was dropped, so its
    record was never retired (and the warning spoke of first sightings)."""
    import time as clock

    from postfix_tls.dane import first_seen

    path = tmp_path / "acme-tlsa.published"
    ahead = int(clock.time()) + 100000
    path.write_text("%s %s %d\n%s %s 0\n" % (OWNER, OLD, ahead, OWNER, NEW))
    warned = []

    class Log(object):
        def warn(self, lines):
            warned.extend(lines)

    class Tls(object):
        log = Log()

    now = int(clock.time())
    known, dirty = first_seen.read(Tls(), str(path), allow_zero=True, reset_to=now,
                                   reset_message=messages.REGISTRY_RESET)
    assert known == {(OWNER, OLD): now, (OWNER, NEW): 0} and dirty
    assert "counted as unneeded since now" in warned[0]


def test_primary_or_ttl_without_a_key_file_is_refused_before_anything(make_config):
    directory = make_config()
    for option in (["-P", PRIMARY], ["-L", "300"]):
        result = subprocess.run(ours_argv(["-c", directory, "deploy-acme-cert"] + option),
                                env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        assert result.returncode == 1, result.stderr
        assert messages.ACME_PUBLISH_NEEDS_KEY.format(letter=option[0][1]) in result.stderr
    assert not os.path.exists(os.path.join(directory, "acme-tlsa.published"))
