"""--chain-file (ours): deploy a key and its chain into a file of
smtpd_tls_chain_files (Postfix 3.4+), the way Postfix reads it.

The file gets the key, then the certificate and its chain, in Postfix's
order, keeping the other algorithms' entries already there; it is written
to a temporary file in the same directory and renamed into place, mode
0600, so that Postfix never reads a key without its certificate.  Then one
``postconf -e`` lists the file in smtpd_tls_chain_files and empties the
legacy parameters, which Postfix would ignore (and warn about).  Nothing
is written before every check passed: the key matches the certificate
(deploy_server_cert checked), the chain is in order, the file as it would
be parses as Postfix would read it.
"""

import os
import stat

from postfix_tls.core import chainfiles, messages, openssl
from postfix_tls.core.keys import CHAIN_FILES, certificate_digest, in_order, key_text_digest

# Emptied when chain files are deployed: Postfix ignores them then.
LEGACY_PARAMETERS = ("smtpd_tls_cert_file", "smtpd_tls_key_file", "smtpd_tls_eccert_file",
                     "smtpd_tls_eckey_file", "smtpd_tls_dcert_file", "smtpd_tls_dkey_file")
# The legacy (key, certificate) parameters of each algorithm Postfix loads
# without chain files; a key parameter left unset means the certificate's file.
LEGACY_PAIRS = (("rsa", "smtpd_tls_key_file", "smtpd_tls_cert_file"),
                ("ecdsa", "smtpd_tls_eckey_file", "smtpd_tls_eccert_file"),
                ("dsa", "smtpd_tls_dkey_file", "smtpd_tls_dcert_file"))

# Files Postfix reads as its configuration: never overwritten with keys.
_CONFIGURATION_NAMES = ("main.cf", "master.cf", "dynamicmaps.cf", "postfix-files", "aliases")
_CONFIGURATION_ENDINGS = (".cf", ".db", ".lmdb", ".cdb", ".dir", ".pag", ".proto")
_CONFIGURATION_DIRECTORIES = ("postfix-files.d", "dynamicmaps.cf.d")
# A chain file is a few kB; what exceeds this is something else.
_LARGEST_CHAIN_FILE = 1 << 20
_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


def target_problem(path):
    """Why --chain-file path cannot be written (None: it can).  Asked before
    anything runs: a name Postfix would split, a file of Postfix's own
    configuration, or a file that is there and is no chain file."""
    for character, what in ((",", "a comma"), (" ", "a space"), ("\t", "a tab"),
                            ("\n", "a newline"), ("\r", "a carriage return"),
                            ("$", "a $ (main.cf would expand it)")):
        if character in path:
            return messages.CHAIN_FILE_BAD_NAME.format(path=path, what=what)
    if any(ord(character) < 32 or ord(character) == 127 for character in path):
        return messages.CHAIN_FILE_BAD_NAME.format(path=path, what="a control character")
    directory, name = os.path.split(path)
    if (name in _CONFIGURATION_NAMES or name.endswith(_CONFIGURATION_ENDINGS)
            or os.path.basename(directory) in _CONFIGURATION_DIRECTORIES):
        return messages.CHAIN_FILE_IS_CONFIGURATION.format(path=path)
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        if not os.path.isdir(directory):
            return messages.CHAIN_FILE_NO_DIRECTORY.format(path=path, directory=directory)
        return None
    except OSError as error:
        return messages.CANNOT_CREATE.format(path, error.strerror)
    for test, what in _NOT_REGULAR:
        if test(status.st_mode):
            return messages.CHAIN_FILE_NOT_REGULAR.format(path=path, what="it is " + what)
    if status.st_size == 0:
        return None  # made by the administrator for us: nothing in it to lose
    what = _not_pem(path, status.st_size)
    return messages.CHAIN_FILE_NOT_PEM.format(path=path, what=what) if what else None


def _not_pem(path, size):
    """What path holds besides PEM keys and certificates, or ""."""
    if size > _LARGEST_CHAIN_FILE:
        return "%d bytes, more than any chain file" % size
    try:
        with open(path, "rb") as stream:
            text = stream.read(_LARGEST_CHAIN_FILE).decode("ascii")
        found = chainfiles.pem_objects(text, path)
    except UnicodeDecodeError:
        return "bytes that are not text"
    except chainfiles.ChainFileError:
        return "a PEM object without its END line"
    except OSError as error:
        return "what cannot be read (%s)" % error.strerror
    if not found:
        return "no PEM object"
    others = sorted(set(item.label for item in found if not chainfiles.is_key_or_certificate(item)))
    if others:
        return "a " + ", a ".join(others)
    try:
        # Keys and certificates only, but in a chain file's order (a CA
        # bundle, a lone key: not a chain file, whatever else it is).
        chainfiles.parse([(path, text)])
    except chainfiles.ChainFileError as error:
        return "keys and certificates that are no chain file (%s)" % error
    return ""


def named_elsewhere(tls, path):
    """The main.cf parameter, other than the chain files and the legacy key
    and certificate ones, that names path (a CA file, a table), or ""."""
    ours = (CHAIN_FILES,) + LEGACY_PARAMETERS
    for line in tls.postconf.lines("-nx"):
        name, _, value = line.partition(" = ")
        if name.strip() in ours:
            continue
        for word in chainfiles.split_names(value):
            if word == path or word.endswith(":" + path):
                return name.strip()
    return ""


class Setting(object):
    """smtpd_tls_chain_files as a deployment finds it: the names it lists,
    those that do not exist (left out when the setting is written again:
    otherwise no deploy could ever repair it), the chains of the others."""

    def __init__(self, names, missing, chains):
        self.names = names
        self.missing = missing
        self.chains = chains

    def written(self, paths):
        """The setting's new list, with paths (deployed into) in it."""
        kept = [name for name in self.names if name not in self.missing or name in paths]
        return kept + [path for path in paths if path not in kept]

    def notes(self, paths):
        return [messages.CHAIN_FILE_MISSING_DROPPED.format(path=name) for name in self.missing
                if name not in paths]


def read_setting(tls):
    """The Setting of smtpd_tls_chain_files; fails for a file that exists and
    that Postfix would refuse."""
    if not tls.postconf.knows(CHAIN_FILES):
        return Setting([], [], [])
    names = chainfiles.split_names(tls.postconf.get("-nx", CHAIN_FILES))
    missing = [name for name in names if not os.path.lexists(name)]
    present = [name for name in names if name not in missing]
    try:
        chains = chainfiles.read(present) if present else []
    except chainfiles.ChainFileError as error:
        tls.fail(str(error))
    return Setting(names, missing, chains)


def carried_chains(tls, algorithms):
    """The text of every other algorithm's legacy key and certificate, which
    Postfix loads now and would no longer once chain files are set, and
    the notes that say so; fails naming what would be dropped."""
    values = tls.postconf.read("-nx", [name for _, key, cert in LEGACY_PAIRS
                                       for name in (key, cert)])
    text, notes = "", []
    for other, key_parameter, cert_parameter in LEGACY_PAIRS:
        certfile = values[cert_parameter]
        if other in algorithms or not certfile:
            continue
        keyfile = values[key_parameter] or certfile
        parameters = "%s = %s, %s = %s" % (key_parameter, keyfile, cert_parameter, certfile)

        def refuse(why, other=other, parameters=parameters):
            tls.fail(messages.CHAIN_FILE_DROPS.format(algorithm=other, parameters=parameters,
                                                      why=why))

        if other == "dsa":
            refuse(messages.CHAIN_FILE_DROPS_DSA)
        key = [item for item in chainfiles.file_objects(keyfile)
               if item.label in chainfiles.KEY_LABELS]
        certificates = [item.text for item in chainfiles.file_objects(certfile)
                        if item.label == "CERTIFICATE"]
        if openssl.is_encrypted(keyfile):
            refuse("the key in %s is encrypted (passphrase-protected): Postfix could not"
                   " load it from a chain file" % keyfile)
        if not key or chainfiles.key_algorithm(key[0]) != other:
            refuse("no %s private key could be read from %s" % (other.upper(), keyfile))
        if not certificates:
            refuse("no certificate could be read from %s" % certfile)
        if key_text_digest(tls, key[0].text) != certificate_digest(tls, certificates[0]):
            refuse("the certificate in %s does not match the key in %s" % (certfile, keyfile))
        text += key[0].text + "".join(certificates)
        notes.append(messages.CHAIN_FILE_CARRIED.format(algorithm=other, parameters=parameters,
                                                        path="{path}"))
    return text, notes


def certificates(tls, certfile):
    """The PEM certificates in certfile; fails unless it holds certificates only."""
    try:
        objects = chainfiles.read_objects(certfile)
    except chainfiles.ChainFileError as error:  # a byte-order mark: openssl would skip the leaf
        tls.fail(str(error))
    except OSError:
        objects = []
    found = [item.text for item in objects if item.label == "CERTIFICATE"]
    # A private key beside them (the legacy key-in-certificate layout) is
    # passed over: the key deployed is the key file's, checked against the
    # certificate already.  Anything else is named.
    others = sorted(set(item.label for item in objects if item.label != "CERTIFICATE"
                        and item.label not in chainfiles.KEY_LABELS))
    if others:
        tls.fail(messages.CHAIN_FILE_OTHER_OBJECTS.format(path=certfile,
                                                          labels=", ".join(others)))
    if not found:
        tls.fail(messages.CHAIN_FILE_NO_CERTIFICATE.format(certfile))
    return found


def deploy(tls, certfile, keyfile, key_pem, key_type):
    """Write the chain file with key_pem, the key deploy_server_cert checked
    (keyfile's); returns its main.cf settings, for the one postconf -e, and
    the lines that say what else it did."""
    if not tls.postconf.knows(CHAIN_FILES):
        tls.fail(messages.CHAIN_FILE_NEEDS_3_4.format(
            version=tls.postconf.release.mail_version or "before 3.4"))
    path, algorithm = tls.chain_file, key_type.algorithm
    named = named_elsewhere(tls, path)
    if named:
        tls.fail(messages.CHAIN_FILE_NAMED_ELSEWHERE.format(path=path, parameter=named))
    setting = read_setting(tls)
    notes = []
    if tls.runner.plan.planned(keyfile) or tls.runner.plan.planned(certfile):
        # A dry run whose skipped steps would have made them: only said.
        tls.runner.replace_file(path, b"", 0o600)
    else:
        found = certificates(tls, certfile)
        if not in_order(tls, found):
            tls.fail(messages.CHAIN_FILE_NOT_IN_ORDER.format(certfile))
        text, notes = file_text(tls, path, [(algorithm, key_pem, found)], setting)
        try:
            tls.runner.replace_file(path, text.encode("ascii"), 0o600)
        except OSError as error:
            tls.fail(messages.CANNOT_CREATE.format(path, error.strerror))
    settings = ["%s = %s" % (CHAIN_FILES, ", ".join(setting.written([path])))]
    legacy = tls.postconf.read("-n", LEGACY_PARAMETERS)
    settings += ["%s =" % name for name in LEGACY_PARAMETERS if legacy[name]]
    return settings, notes + setting.notes([path])


def file_text(tls, path, entries, setting):
    """(text, notes): path's text with entries, [(algorithm, key PEM,
    certificates)], written in: the other algorithms' entries it holds (or,
    moving from the legacy parameters, the other algorithms' legacy
    files), then these, checked as Postfix will read it."""
    algorithms = [algorithm for algorithm, _, _ in entries]
    for chain in setting.chains:
        if chain.algorithm in algorithms and chain.key_path != path:
            tls.fail(messages.CHAIN_FILE_OTHER_FILE.format(path=path, algorithm=chain.algorithm,
                                                           other=chain.key_path))
    chains = setting.chains
    if path not in setting.names and os.path.isfile(path) and os.path.getsize(path):
        # Not listed yet, but a chain file (target_problem said so): what it
        # holds of the other algorithms stays in it.
        try:
            chains = chains + chainfiles.read([path])
        except chainfiles.ChainFileError as error:
            tls.fail(str(error))
    kept = [chain for chain in chains
            if chain.key_path == path and chain.algorithm not in algorithms]
    text = "".join(chain.key_text + "".join(chain.certificates) for chain in kept)
    notes = []
    if not setting.names:
        carried, notes = carried_chains(tls, algorithms)
        text += carried
    for _, key_pem, found in entries:
        text += key_pem.decode("ascii") + "".join(found)
    try:
        chainfiles.parse([(path, text)])  # as Postfix will read it
    except chainfiles.ChainFileError as error:
        tls.fail(str(error))
    return text, [note.format(path=path) for note in notes]
