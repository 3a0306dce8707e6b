"""status (ours) and tls_server_sni_maps (issue 30, item 1): each name's
chain files judged as the default certificate's, the name covered by the
leaf, and an indexed table built by postmap -F compared by content with
its files (the renewal nobody rebuilt the table for).  Real keys and
certificates (openssl), real postmap, scratch configurations."""

import json
import os
import shutil
import subprocess

import pytest
from test_status import configure, severities, status

from support import MYHOSTNAME, POSTFIX_PATH, openssl_in, ours_argv

pytestmark = pytest.mark.postfix


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    """Key-first chain files: example.org (RSA and ECDSA), *.example.net
    (a wildcard), and a renewal of example.org's RSA one."""
    directory = str(tmp_path_factory.mktemp("sni"))
    openssl = openssl_in(directory)

    def chain_file(name, names, algorithm="rsa", days=365):
        new_key = (["-newkey", "rsa:2048"] if algorithm == "rsa" else
                   ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        openssl("req", "-x509", "-nodes", *new_key, "-keyout", name + ".key", "-subj",
                "/CN=" + names[0], "-addext", "subjectAltName=" + ",".join(
                    "DNS:" + found for found in names), "-days", str(days), "-out",
                name + ".crt")
        with open(os.path.join(directory, name + ".pem"), "w") as stream:
            for suffix in (".key", ".crt"):
                with open(os.path.join(directory, name + suffix)) as part:
                    stream.write(part.read())

    # The default certificate, as test_status makes it.
    openssl("genrsa", "-out", "key.pem", "2048")
    openssl("req", "-x509", "-new", "-key", "key.pem", "-subj", "/CN=" + MYHOSTNAME,
            "-addext", "subjectAltName=DNS:" + MYHOSTNAME, "-days", "365", "-out", "fresh.pem")
    chain_file("org-rsa", ["example.org", "mail.example.org"])
    chain_file("org-ecdsa", ["example.org", "mail.example.org"], "ecdsa")
    chain_file("net", ["*.example.net", "example.net"])
    chain_file("org-rsa-renewed", ["example.org", "mail.example.org"])
    chain_file("other", ["other.example.com"])
    return directory


def sni_config(make_config, chains, table_type="hash", lines=None, build=True):
    """A configuration with the default certificate and an SNI table."""
    directory = configure(make_config, chains, cert="fresh.pem",
                          lines=["tls_server_sni_maps = %s:%s/sni" % (table_type, "CONFIG")])
    with open(os.path.join(directory, "main.cf")) as stream:
        text = stream.read().replace("CONFIG", directory)
    with open(os.path.join(directory, "main.cf"), "w") as stream:
        stream.write(text)
    past = os.stat(os.path.join(directory, "main.cf")).st_mtime - 60
    os.utime(os.path.join(directory, "main.cf"), (past, past))
    sni_files = os.path.join(directory, "sni-chains")
    os.makedirs(sni_files)
    for name in ("org-rsa", "org-ecdsa", "net"):
        shutil.copy(os.path.join(chains, name + ".pem"), sni_files)
        os.chmod(os.path.join(sni_files, name + ".pem"), 0o600)
    if lines is None:
        lines = ["# customers", "example.org %s/org-rsa.pem," % sni_files,
                 "    %s/org-ecdsa.pem" % sni_files,
                 "mail.example.org %s/org-rsa.pem, %s/org-ecdsa.pem" % (sni_files, sni_files),
                 ".example.net %s/net.pem" % sni_files, "example.net %s/net.pem" % sni_files]
    with open(os.path.join(directory, "sni"), "w") as stream:
        stream.write("".join(line + "\n" for line in lines))
    if build:
        postmap(directory, table_type)
    return directory, sni_files


def postmap(directory, table_type="hash"):
    """postmap -F, and the built file made private (it holds the keys)."""
    subprocess.run(["postmap", "-c", directory, "-F", "%s:%s/sni" % (table_type, directory)],
                   check=True)
    os.chmod(os.path.join(directory, "sni.cdb" if table_type == "cdb" else "sni.db"), 0o600)


def test_every_name_is_judged_and_a_built_table_in_step_is_ok(make_config, chains):
    directory, _ = sni_config(make_config, chains)
    code, summary, document = status(directory)
    assert code == 0, document["problems"]
    names = [(found["name"], found["covered"], found["stale"]) for found in document["sni"]]
    assert names == [("example.org", True, False), ("mail.example.org", True, False),
                     (".example.net", True, False), ("example.net", True, False)]
    first = document["sni"][0]
    assert first["line"] == 2 and [chain["algorithm"] for chain in first["chains"]] == [
        "rsa", "ecdsa"]
    assert all(chain["key_matches"] for chain in first["chains"])
    assert first["files"][0]["mode"] == "0600"


def test_a_renewed_file_the_table_was_not_rebuilt_for_is_critical(make_config, chains):
    """The renewal went into the file; Postfix serves what postmap -F stored."""
    directory, sni_files = sni_config(make_config, chains)
    shutil.copyfile(os.path.join(chains, "org-rsa-renewed.pem"),  # its mode kept: 0600
                    os.path.join(sni_files, "org-rsa.pem"))
    code, summary, document = status(directory)
    assert code == 2, document["problems"]
    stale = [found["name"] for found in document["sni"] if found["stale"]]
    assert stale == ["example.org", "mail.example.org"]
    assert "run postmap -F hash:%s/sni" % directory in summary
    postmap(directory)
    assert status(directory)[0] == 0


def test_a_name_added_after_the_build_is_critical(make_config, chains):
    directory, sni_files = sni_config(make_config, chains)
    with open(os.path.join(directory, "sni"), "a") as stream:
        stream.write("example.com %s/net.pem\n" % sni_files)
    code, summary, document = status(directory)
    assert code == 2 and "has no entry for it" in summary, summary
    assert [found["name"] for found in document["sni"] if found["stale"]] == ["example.com"]
    # and its leaf does not cover it: a warning besides
    assert "example.com" in [found["name"] for found in document["sni"]
                             if found["covered"] is False]


def test_texthash_is_read_from_its_files_and_never_stale(make_config, chains):
    directory, _ = sni_config(make_config, chains, table_type="texthash", build=False)
    code, summary, document = status(directory)
    assert code == 0, document["problems"]
    assert all(found["stale"] is None for found in document["sni"])  # not known: null
    assert len(document["sni"]) == 4


def test_the_default_certificate_s_names_are_said_when_not_in_the_table(make_config, chains):
    directory, _ = sni_config(make_config, chains)
    code, summary, document = status(directory)
    assert any("a name of the default certificate, not in the SNI table" in note
               for note in document["notes"]), document["notes"]


def test_an_expiring_sni_certificate_counts_as_the_default_s(make_config, chains):
    directory, sni_files = sni_config(make_config, chains, lines=[])
    openssl = openssl_in(sni_files)
    openssl("req", "-x509", "-nodes", "-newkey", "rsa:2048", "-keyout", "soon.key", "-subj",
            "/CN=soon.example.org", "-addext", "subjectAltName=DNS:soon.example.org", "-days",
            "3", "-out", "soon.crt")
    with open(os.path.join(sni_files, "soon.pem"), "w") as stream:
        for name in ("soon.key", "soon.crt"):
            with open(os.path.join(sni_files, name)) as part:
                stream.write(part.read())
    os.chmod(os.path.join(sni_files, "soon.pem"), 0o600)
    with open(os.path.join(directory, "sni"), "w") as stream:
        stream.write("soon.example.org %s/soon.pem\n" % sni_files)
    postmap(directory)
    code, summary, document = status(directory)
    assert code == 2 and severities(document) == ["CRITICAL"], document["problems"]
    assert "expires in 2 days" in summary or "expires in 3 days" in summary, summary


# ----- what a break-it round found

def write_source(directory, lines):
    with open(os.path.join(directory, "sni"), "w") as stream:
        stream.write("".join(line + "\n" for line in lines))


def test_a_built_table_readable_by_others_is_critical(make_config, chains):
    """Before: OK; postmap -F stores the private keys in sni.db, with the
    source's mode (0644 here)."""
    directory, _ = sni_config(make_config, chains)
    os.chmod(os.path.join(directory, "sni.db"), 0o644)
    code, summary, document = status(directory)
    assert code == 2 and "%s/sni.db is readable by others" % directory in summary, summary
    os.chmod(os.path.join(directory, "sni.db"), 0o600)
    assert status(directory)[0] == 0


def test_lines_postmap_skips_are_said_not_judged_stale(make_config, chains):
    """Before: a duplicate key or a key without files was CRITICAL "run
    postmap -F", which could never clear it."""
    directory, sni_files = sni_config(make_config, chains, build=False)
    write_source(directory, ["   %s/net.pem" % sni_files,
                             "example.org %s/org-rsa.pem" % sni_files,
                             "Example.ORG %s/net.pem" % sni_files,
                             "blank.example.org",
                             "*.example.net %s/net.pem" % sni_files])
    postmap(directory)
    code, summary, document = status(directory)
    problems = [(problem["severity"], problem["text"]) for problem in document["problems"]]
    assert ("WARNING", "SNI table hash:%s/sni line 1: starts with white space, with no line"
            " before it to continue: postmap skips it" % directory) in problems
    assert any("line 3: Example.ORG again" in text and "keeps line 2" in text
               for _, text in problems), problems
    assert any("line 4: blank.example.org has no files" in text for _, text in problems)
    assert any("never looks up a \"*.\" key" in text for _, text in problems)
    assert code == 1, problems  # warnings only: nothing stale
    assert [found["name"] for found in document["sni"]] == ["example.org", "*.example.net"]


def test_a_table_built_without_f_or_never_built_is_said_once(make_config, chains):
    directory, _ = sni_config(make_config, chains, build=False)
    code, summary, document = status(directory)
    assert code == 2 and summary.count("was never built") == 1, summary
    subprocess.run(["postmap", "-c", directory, "hash:%s/sni" % directory], check=True)
    os.chmod(os.path.join(directory, "sni.db"), 0o600)
    code, summary, document = status(directory)
    assert code == 2 and "was built without -F" in summary, summary


def test_one_postmap_per_table_and_inline_tables_are_one_each(make_config, chains):
    directory, sni_files = sni_config(make_config, chains)
    with open(os.path.join(directory, "main.cf")) as stream:
        text = stream.read()
    text = text.replace("tls_server_sni_maps = ", "tls_server_sni_maps = inline:{ { a.example"
                        " = %s/net.pem }, { b.example = %s/net.pem } }, " % (sni_files,
                                                                            sni_files))
    with open(os.path.join(directory, "main.cf"), "w") as stream:
        stream.write(text)
    past = os.stat(os.path.join(directory, "main.cf")).st_mtime - 60
    os.utime(os.path.join(directory, "main.cf"), (past, past))
    env = {"PATH": POSTFIX_PATH, "LANG": "C"}
    result = subprocess.run(ours_argv(["-c", directory, "--trace", "--json", "status"]),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert result.stderr.count("/postmap -c ") == 1, result.stderr
    document = json.loads(result.stdout)
    notes = [note for note in document["notes"] if "its type is not read here" in note]
    assert len(notes) == 1 and notes[0].startswith("SNI table inline:{ { a.example"), notes
    assert not [note for note in document["notes"] if "not in the SNI table" in note]


def test_the_summary_stays_short_and_counts_sni_expiries(make_config, chains):
    directory, sni_files = sni_config(make_config, chains)
    write_source(directory, ["name%d.example.org %s/net.pem" % (number, sni_files)
                             for number in range(12)])
    postmap(directory)
    code, summary, document = status(directory)
    assert code == 1 and summary.endswith("(and 7 more)"), summary  # 12 not covered
    text = subprocess.run(ours_argv(["-c", directory, "status"]),
                          env={"PATH": POSTFIX_PATH, "LANG": "C"}, stdout=subprocess.PIPE,
                          universal_newlines=True, timeout=60).stdout.splitlines()[0]
    assert "sni_days_left=364;30:;7:" in text or "sni_days_left=365;30:;7:" in text, text


def test_a_table_without_a_type_is_critical(make_config, chains):
    directory, _ = sni_config(make_config, chains)
    with open(os.path.join(directory, "main.cf")) as stream:
        text = stream.read().replace("tls_server_sni_maps = hash:", "tls_server_sni_maps = ")
    with open(os.path.join(directory, "main.cf"), "w") as stream:
        stream.write(text)
    past = os.stat(os.path.join(directory, "main.cf")).st_mtime - 60
    os.utime(os.path.join(directory, "main.cf"), (past, past))
    code, summary, document = status(directory)
    assert code == 2 and "has no type" in summary, summary


# ----- what a second break-it round found

def test_a_file_name_in_utf_8_is_judged(make_config, chains):
    """Before: the whole line was skipped as "not ASCII" (the key alone must be)."""
    directory, sni_files = sni_config(make_config, chains, build=False)
    accented = os.path.join(sni_files, "ch\u00e9")
    os.makedirs(accented)
    shutil.copy(os.path.join(sni_files, "org-rsa.pem"), accented)
    write_source(directory, ["example.org %s/org-rsa.pem" % accented])
    postmap(directory)
    shutil.copyfile(os.path.join(chains, "org-rsa-renewed.pem"),
                    os.path.join(accented, "org-rsa.pem"))
    code, summary, document = status(directory)
    assert code == 2 and document["sni"][0]["stale"] is True, document["problems"]


def test_the_built_table_is_judged_whatever_its_source_holds(make_config, chains):
    """Before: an emptied source skipped the built file (its mode, its
    names); a name taken out of the source but still built was not said."""
    directory, sni_files = sni_config(make_config, chains)
    write_source(directory, ["example.org %s/org-rsa.pem, %s/org-ecdsa.pem"
                             % (sni_files, sni_files)])
    code, summary, document = status(directory)
    assert code == 1, document["problems"]
    removed = sorted(problem["text"].split()[2].rstrip(":") for problem in document["problems"]
                     if "no longer has it" in problem["text"])
    assert removed == [".example.net", "example.net", "mail.example.org"]
    write_source(directory, [])
    os.chmod(os.path.join(directory, "sni.db"), 0o644)
    code, summary, document = status(directory)
    assert code == 2 and "sni.db is readable by others" in summary, summary


def test_a_built_file_that_cannot_be_opened_is_not_called_never_built(make_config, chains):
    directory, _ = sni_config(make_config, chains, build=False)
    os.mkdir(os.path.join(directory, "sni.db"))
    code, summary, document = status(directory)
    assert code == 2 and "cannot be read" in summary and "never built" not in summary, summary


def test_an_unclosed_brace_is_critical_and_the_other_tables_still_checked(make_config, chains):
    directory, sni_files = sni_config(make_config, chains)
    with open(os.path.join(directory, "main.cf")) as stream:
        text = stream.read().replace("tls_server_sni_maps = ", "tls_server_sni_maps = inline:{"
                                     " { a.example = %s/net.pem }, " % sni_files)
    with open(os.path.join(directory, "main.cf"), "w") as stream:
        stream.write(text)
    past = os.stat(os.path.join(directory, "main.cf")).st_mtime - 60
    os.utime(os.path.join(directory, "main.cf"), (past, past))
    shutil.copyfile(os.path.join(chains, "org-rsa-renewed.pem"),
                    os.path.join(sni_files, "org-rsa.pem"))
    code, summary, document = status(directory)
    assert code == 2 and "a brace is not closed" in summary, summary
    assert [found["name"] for found in document["sni"] if found["stale"]] == [
        "example.org", "mail.example.org"]


def test_a_table_built_without_folding_has_no_entry_for_a_capital_name(make_config, chains):
    directory, sni_files = sni_config(make_config, chains, build=False)
    write_source(directory, ["EXAMPLE.ORG %s/org-rsa.pem" % sni_files])
    subprocess.run(["postmap", "-c", directory, "-f", "-F", "hash:%s/sni" % directory],
                   check=True)
    os.chmod(os.path.join(directory, "sni.db"), 0o600)
    code, summary, document = status(directory)
    assert code == 2 and "has no entry for it" in summary, summary
    assert set(document["sni"][0]) >= {"covered", "stale"}


def test_a_cdb_table_which_cannot_be_listed_is_asked_for_its_sources_keys(make_config,
                                                                          chains):
    """Debian 14's default type: postmap -s says "sequence operation is not
    supported"; postmap -q - answers for the source's keys, in one process."""
    directory, sni_files = sni_config(make_config, chains, table_type="cdb")
    code, summary, document = status(directory)
    assert code == 0, document["problems"]
    assert [found["stale"] for found in document["sni"]] == [False] * 4
    shutil.copyfile(os.path.join(chains, "org-rsa-renewed.pem"),
                    os.path.join(sni_files, "org-rsa.pem"))
    code, summary, document = status(directory)
    assert code == 2 and [found["name"] for found in document["sni"] if found["stale"]] == [
        "example.org", "mail.example.org"]
