#!/bin/sh
# make test-ansible: the Ansible collection's tests, with ansible-core from
# the package index in a virtualenv of its own.
#
#   sh ansible/tests/run.sh PYTHON3 VENV CORE BUNDLE ROOTS HOSTS_ROOTS MX3_PYTHON
#
# PYTHON3 makes the virtualenv VENV, with CORE (a pip requirement such as
# "ansible-core>=2.19,<2.20"); community.general (the fleet's chroot
# connection) comes out of BUNDLE's wheel ("ansible>=12,<13"), since Galaxy
# cannot be reached.  ansible-test bootstraps pip in its own virtualenvs
# with a get-pip.py from a host outside the registries: a stand-in that
# runs pip from its wheel (from the index) takes its place in
# ansible-test's cache, never over a real one.  Then ansible-test sanity
# and units, and ansible/tests (ansible-playbook on a fleet: scratch
# configurations and the ROOTS release roots in HOSTS_ROOTS, made by
# make test-hosts; MX3_PYTHON, if given, runs the module on mx3).
set -eu
python3=$1 venv=$2 core=$3 bundle=$4 roots=$5 hosts_roots=$6 mx3_python=${7:-}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$(dirname "$here")")
collection=$repo/ansible/ansible_collections/postfix_tls/tls
community_general=$venv/collections/ansible_collections/community/general

if [ ! -x "$venv/bin/ansible-test" ]; then
    "$python3" -m venv "$venv"
    "$venv/bin/pip" install -q "$core" pytest pytest-xdist pytest-mock
fi
"$venv/bin/pip" install -q plumbum  # the fleet test mounts the roots as test-hosts does
if [ ! -d "$community_general" ]; then
    rm -rf "$venv/bundle"
    "$venv/bin/pip" download -q --no-deps -d "$venv/bundle" "$bundle"
    "$venv/bin/python" "$here/unpack_collection.py" "$venv"/bundle/ansible-*.whl \
        community.general "$venv/collections"
    rm -rf "$venv/bundle"
fi

# The pip version ansible-test asks get-pip.py for, from ansible-test itself.
pip_version=$("$venv/bin/python" "$here/ansible_test_pip.py")
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
standin=$cache/get_pip_$(echo "$pip_version" | tr . _).py
if [ ! -f "$standin" ]; then
    "$venv/bin/pip" download -q --no-deps -d "$cache" "pip==$pip_version"
    cp "$here/get_pip_standin.py" "$standin"
fi

venv=$(cd "$venv" && pwd)
version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
(cd "$collection" && "$venv/bin/ansible-test" sanity --local --python "$version" --requirements)
(cd "$collection" && "$venv/bin/ansible-test" units --local --python "$version")
POSTFIX_TLS_ANSIBLE_ROOTS=$roots POSTFIX_TLS_HOSTS_ROOTS=$hosts_roots \
POSTFIX_TLS_ANSIBLE_MX3_PYTHON=$mx3_python \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$repo/ansible/tests"
