"""TSIG key files as tsig-keygen (BIND) and keymgr -t (Knot) write them:
files made by those tools here, not written from memory."""

import os
import shutil
import subprocess

import pytest

from postfix_tls.core import messages
from postfix_tls.dane import tsig


def made_by(tmp_path, argv):
    program = shutil.which(argv[0], path="/usr/sbin:/usr/bin:/sbin:/bin")
    if program is None:
        pytest.fail("needs %s: apt-get install bind9-utils knot" % argv[0])
    text = subprocess.run([program] + argv[1:], stdout=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout
    path = str(tmp_path / argv[0])
    with open(path, "w") as stream:
        stream.write(text)
    return path, text


@pytest.mark.parametrize("argv", [["tsig-keygen", "-a", "hmac-sha256", "mx-update"],
                                  ["keymgr", "-t", "mx-update", "hmac-sha256"],
                                  ["tsig-keygen", "-a", "hmac-sha512", "mx-update"]])
def test_the_tools_key_files_are_read(tmp_path, argv):
    path, text = made_by(tmp_path, argv)
    key = tsig.read(path)
    assert key.name == "mx-update."
    assert key.algorithm == argv[2] if argv[0] == "tsig-keygen" else "hmac-sha256"
    assert key.secret in text
    assert key.secret not in repr(key)


def test_knsupdate_s_colon_form_alone_is_read():
    key = tsig.parse("hmac-sha256:mx-update:MLNSyUneuIhHyAn+5dbpK7b+WQJK6ZQWBBofSYuvAcQ=\n", "f")
    assert (key.name, key.algorithm) == ("mx-update.", "hmac-sha256")


@pytest.mark.parametrize("text, message", [
    ("", messages.TSIG_NO_KEY),
    ('key "a" { algorithm hmac-sha256; secret "MLNS"; };\n'
     'key "b" { algorithm hmac-sha256; secret "MLNS"; };\n', messages.TSIG_SEVERAL_KEYS),
    # Two keys in two forms; two keys of keymgr's YAML (never one's fields
    # with the other's).
    ('hmac-sha256:a:MLNS\nkey "b" { algorithm hmac-sha256; secret "MLNS"; };\n',
     messages.TSIG_SEVERAL_KEYS),
    ("key:\n  - id: a\n    algorithm: hmac-sha256\n    secret: MLNS\n  - id: b\n"
     "    secret: MLNS\n", messages.TSIG_SEVERAL_KEYS),
    ("template:\n  - id: default\n    storage: /var/lib/knot\n", messages.TSIG_NO_KEY),
    ('key "a" { algorithm hmac-md5; secret "MLNS"; };\n', messages.TSIG_BAD_ALGORITHM),
    ('key "a" { algorithm hmac-sha256; secret "not base64!"; };\n', messages.TSIG_BAD_SECRET),
])
def test_what_cannot_be_used_is_said_without_the_secret(text, message):
    with pytest.raises(tsig.TsigKeyError) as raised:
        tsig.parse(text, "/etc/postfix/tsig.key")
    assert str(raised.value).startswith(message.split("{")[0] + "/etc/postfix/tsig.key")
    assert "MLNS" not in str(raised.value)


def test_a_key_file_that_is_no_regular_file_is_named(tmp_path):
    os.mkfifo(str(tmp_path / "fifo"))
    with pytest.raises(tsig.TsigKeyError):
        tsig.read(str(tmp_path / "fifo"))  # named, never waited for
