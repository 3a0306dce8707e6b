"""Take one collection out of the `ansible` bundle's wheel (from the package
index), for a collections path: Galaxy cannot be reached here, and the
bundle holds every community collection (the fleet test needs only
community.general, for its chroot connection).

    python unpack_collection.py WHEEL NAMESPACE.NAME DIRECTORY

Writes DIRECTORY/ansible_collections/NAMESPACE/NAME, whole or not at all.
"""

import os
import shutil
import sys
import zipfile


def unpack(wheel, collection, directory):
    namespace, name = collection.split(".")
    prefix = "ansible_collections/%s/%s/" % (namespace, name)
    target = os.path.join(directory, "ansible_collections", namespace, name)
    building = target + ".tmp"
    shutil.rmtree(building, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        members = [member for member in archive.namelist() if member.startswith(prefix)]
        if not members:
            raise SystemExit("unpack_collection: no %s in %s" % (collection, wheel))
        for member in members:
            path = os.path.join(building, member[len(prefix):])
            if member.endswith("/"):
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with archive.open(member) as source, open(path, "wb") as copy:
                shutil.copyfileobj(source, copy)
    shutil.rmtree(target, ignore_errors=True)
    os.rename(building, target)
    print("%s: %d files from %s" % (target, len(members), os.path.basename(wheel)))


if __name__ == "__main__":
    unpack(*sys.argv[1:])
