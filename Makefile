# postfix-tls: everything a fresh Debian machine needs is installed by these
# targets (as root: apt-get for Postfix and openssl, a virtualenv for Python).

# make help: one line per target.
help:
	@echo "make demo          install Postfix, openssl, man-db, strace, unbound, gnutls-bin, ldnsutils and a virtualenv; run the main job on demo/scratch"
	@echo "make test          the same set-up, then every test (unit, integration, differential against upstream)"
	@echo "make acme-sh       acme.sh for the tests (Debian 14 packages it; older releases take forky's .deb)"
	@echo "make lint          ruff, and vermin for Python 3.6"
	@echo "make test-matrix   unit, integration and safety tests per Python (PYTHONS=\"3.6 3.13\")"
	@echo "make deb           dist/postfix-tls_VERSION_all.deb, for apt-get install on Debian"
	@echo "make pyz           dist/postfix-tls.pyz, one file for any python3 from 3.6 on"
	@echo "make test-hosts    the .deb and .pyz on Debian 11, 12 and 13 (debootstrap roots; as root)"
	@echo "make test-ansible  the Ansible collection: ansible-test sanity and units, and ansible-playbook on a fleet (scratch configurations, Debian 11 and 13 roots; as root)"
	@echo "make bench         speed and memory side by side with upstream (writes $(BENCH_RESULTS));"
	@echo "                   BASE=REV: the working tree against git revision REV, pair by pair"
	@echo "make install       pip install into VIRTUALENV or the system's python3, with the manual page"
	@echo "make install-dropin / uninstall-dropin   development drop-in for postfix tls, and back"
	@echo "make clean         remove virtualenvs, builds, dist/ and demo/scratch"

PYTHON3 ?= python3
VENV ?= .venv
PYTHON = $(VENV)/bin/python
PYTEST_ARGS ?=
# make test runs the tests in TEST_WORKERS processes (pytest-xdist; 0: in
# this one); the tests of one set of live servers stay on one worker
# (tests/conftest.py).  Most of the time is waiting, not CPU: more workers
# than cores.
TEST_WORKERS ?= 4
UPSTREAM = /usr/lib/postfix/sbin/postfix-tls-script

.PHONY: test-ansible help deps venv acme-sh test lint bench demo install install-dropin uninstall-dropin test-matrix \
	deb pyz test-hosts debootstrap clean

# make install [VIRTUALENV=/opt/postfix-tls]: into that virtualenv (made if
# missing), else into the system's python3 (Debian 12 asks for
# PIP_BREAK_SYSTEM_PACKAGES=1 then).
VIRTUALENV ?=
INSTALL_PYTHON = $(if $(VIRTUALENV),$(VIRTUALENV)/bin/python,$(PYTHON3))
MANPAGE_DIRECTORY ?= $(shell postconf -h manpage_directory 2>/dev/null || echo /usr/local/share/man)
# Empty: the dropin module asks "postconf -h daemon_directory".
DAEMON_DIRECTORY ?=
# make test-matrix PYTHONS="3.6 3.13": interpreters from pyenv or PATH.
PYTHONS ?= 3.6 3.7 3.8 3.9 3.10 3.11 3.12 3.13
# Shell: py= the newest pyenv interpreter of version $$v, else pythonV on PATH.
FIND_PYTHON = py=$$(ls -d $$(pyenv root 2>/dev/null)/versions/$$v.*/bin/python$$v 2>/dev/null | tail -n 1); \
	[ -n "$$py" ] || py=$$(command -v python$$v) || { echo "no Python $$v found" >&2; exit 1; }
MATRIX_TESTS ?= tests/test_commands_argv.py tests/test_integration.py tests/test_safety.py \
	tests/test_first_hour.py tests/test_older_postfix.py tests/test_sni_status.py \
	tests/test_monitoring.py

# Postfix (with the upstream script, for the differential tests), openssl,
# man (the manual page test), strace (the benchmark's process counts),
# unbound and gnutls-bin's danetool (the DANE tests' resolver and an
# independent TLSA computation), ldnsutils' ldns-signzone (a signed zone);
# pebble (an ACME test CA), certbot, dehydrated and lego (deploy-acme-cert's
# clients, in its tests and in the benchmark; acme.sh: the acme-sh target);
# knot and knot-dnsutils (the publishing tests' primary, keymgr's TSIG
# keys, kdig), bind9-dnsutils (nsupdate) and bind9 (tsig-keygen; Debian 12
# ships it there, not in bind9-utils); prometheus (promtool, which checks
# status's metrics) and prometheus-node-exporter (its textfile collector
# reads them).  Services are not started (a policy-rc.d says no while apt
# installs; the tests start what they need, on their own addresses).
deps:
	@if [ ! -x $(UPSTREAM) ] || [ ! -x /usr/sbin/postconf ] || ! command -v openssl >/dev/null \
	    || ! command -v man >/dev/null || ! command -v strace >/dev/null \
	    || ! command -v unbound >/dev/null || ! command -v danetool >/dev/null \
	    || ! command -v ldns-signzone >/dev/null || ! command -v pebble >/dev/null \
	    || ! command -v certbot >/dev/null || ! command -v dehydrated >/dev/null \
	    || ! command -v lego >/dev/null || ! command -v knotd >/dev/null \
	    || ! command -v kdig >/dev/null || ! command -v nsupdate >/dev/null \
	    || ! command -v tsig-keygen >/dev/null || ! command -v promtool >/dev/null \
	    || ! command -v prometheus-node-exporter >/dev/null \
	    || ! /usr/sbin/postconf -m 2>/dev/null | grep -qx cdb; then \
	    apt-get update -qq || exit 1; \
	    made=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
	        && made=1; fi; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix openssl man-db strace \
	        unbound gnutls-bin ldnsutils pebble certbot dehydrated lego knot knot-dnsutils \
	        bind9-dnsutils bind9-utils bind9 postfix-cdb prometheus prometheus-node-exporter \
	        >/dev/null; status=$$?; \
	    [ -z "$$made" ] || rm -f /usr/sbin/policy-rc.d; exit $$status; \
	fi
	@# Debian's own python3 has venv and ensurepip only with python3-venv.
	@$(PYTHON3) -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON3) -m venv $(VENV)
	$(PYTHON) -m pip install -q "pip>=21" || $(PYTHON) -m pip install -q "pip>=21,<22"
	$(PYTHON) -m pip install -q -e ".[test]" ruff
	touch $@

venv: $(VENV)/.installed

# acme.sh is packaged from Debian 14 on: the tests' client comes from
# forky's archive on older releases (scripts/newer_package.py; plumbum).
acme-sh: venv
	@command -v acme.sh >/dev/null || $(PYTHON) scripts/newer_package.py forky acme.sh

test: deps venv acme-sh
	$(PYTHON) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check postfix_tls tests scripts bench
	@[ -x $(VENV)/bin/vermin ] || $(PYTHON) -m pip install -q vermin
	$(VENV)/bin/vermin -t=3.6- --violations --no-tips postfix_tls scripts/postfix-tls-script tests bench

install:
	@if [ -n "$(VIRTUALENV)" ] && [ ! -x "$(VIRTUALENV)/bin/python" ]; then $(PYTHON3) -m venv "$(VIRTUALENV)"; fi
	$(INSTALL_PYTHON) -m pip install -q .
	install -D -m 644 man/postfix-tls-python.1 $(DESTDIR)$(MANPAGE_DIRECTORY)/man1/postfix-tls-python.1

# Keeps the original once as postfix-tls-script.upstream; uninstall-dropin puts it back.
install-dropin: install
	$(INSTALL_PYTHON) -m postfix_tls.packaging.dropin install $(DAEMON_DIRECTORY)

uninstall-dropin:
	$(INSTALL_PYTHON) -m postfix_tls.packaging.dropin uninstall $(DAEMON_DIRECTORY)

test-matrix: deps
	@set -e; for v in $(PYTHONS); do \
	    $(FIND_PYTHON); \
	    echo "=== Python $$v: $$py"; \
	    [ -x .venv-$$v/bin/python ] || $$py -m venv .venv-$$v; \
	    .venv-$$v/bin/python -m pip install -q "pip>=21" 2>/dev/null || .venv-$$v/bin/python -m pip install -q "pip>=21,<22"; \
	    .venv-$$v/bin/python -m pip install -q ".[test]"; \
	    .venv-$$v/bin/python -m pytest -q -p no:cacheprovider $(MATRIX_TESTS); \
	done

# The Ansible collection (ansible/ansible_collections/postfix_tls/tls):
# ansible-test sanity and units, then ansible-playbook on a fleet (scratch
# configurations, and the ANSIBLE_ROOTS release roots of test-hosts through
# community.general's chroot connection, with the .deb).  ansible/tests/run.sh
# says how ansible-core and community.general are had without Galaxy.
# The newest ansible-core released by default; .ci/run also runs the oldest
# that meta/runtime.yml allows (2.16).  ANSIBLE_PYTHON: the control node's
# Python version (pyenv's or PATH's), 3.12+ for ansible-core 2.20 and later.
ANSIBLE_CORE ?= ansible-core>=2.21,<2.22
ANSIBLE_BUNDLE ?= ansible>=14,<15
ANSIBLE_PYTHON ?= 3.13
ANSIBLE_VENV ?= .venv-ansible
ANSIBLE_ROOTS ?= bullseye trixie forky
# The Python version that runs the module on the fleet's mx3 (empty: the
# virtualenv's); the run with the oldest ansible-core gives it 3.6.
ANSIBLE_MX3_PYTHON ?=
test-ansible: deps venv deb debootstrap
	$(PYTHON) scripts/test_hosts.py --roots $(HOSTS_ROOTS) --roots-only $(ANSIBLE_ROOTS)
	v=$(ANSIBLE_PYTHON); $(FIND_PYTHON); control=$$py; \
	py=; if [ -n "$(ANSIBLE_MX3_PYTHON)" ]; then v=$(ANSIBLE_MX3_PYTHON); $(FIND_PYTHON); fi; \
	sh ansible/tests/run.sh $$control $(ANSIBLE_VENV) "$(ANSIBLE_CORE)" "$(ANSIBLE_BUNDLE)" \
	    "$(ANSIBLE_ROOTS)" $(HOSTS_ROOTS) "$$py"

# bench/results.md is the published run (README's table); a user's run goes
# to BENCH_RESULTS, outside what git tracks, unless asked otherwise.
BENCH_RESULTS ?= dist/bench-results.md
# Ours runs from a normal (not editable) install, as on a production host:
# with Debian's own python3 (what a Debian mail server runs), and with
# $(PYTHON3) when that is another interpreter.
SYSTEM_PYTHON3 ?= /usr/bin/python3
# make bench BASE=REV: the working tree against revision REV instead, pair by
# pair in one run, with Debian's python3 (each side imports its own tree).
BASE ?=
bench: deps venv
ifneq ($(BASE),)
	@mkdir -p $(dir $(BENCH_RESULTS))
	$(PYTHON) bench/bench.py --base $(BASE) --python $(SYSTEM_PYTHON3) --output $(BENCH_RESULTS)
else
	@$(SYSTEM_PYTHON3) -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
	$(SYSTEM_PYTHON3) -m venv .venv-bench-system
	.venv-bench-system/bin/python -m pip install -q --force-reinstall .
	$(PYTHON3) -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q --force-reinstall .
	@mkdir -p $(dir $(BENCH_RESULTS))
	$(PYTHON) bench/bench.py --output $(BENCH_RESULTS) \
	    --python .venv-bench-system/bin/python --python .venv-bench/bin/python
endif

demo: deps venv
	POSTFIX_TLS=$(VENV)/bin/postfix-tls sh demo/demo.sh

# The .deb is built with dpkg-deb alone, not debhelper/dh-python: dpkg-deb is
# on every Debian machine, while debhelper and dh-python would add about
# 100 MB of build dependencies for a package with nothing to build (pure
# Python, one directory of modules for every python3 of the release).  The
# maintainer scripts are short and written by hand in debian/, because the
# diversion of Postfix's script must be exactly right; postinst and prerm
# byte-compile and clean as dh_python3's would (py3compile, py3clean).
deb: venv
	$(PYTHON) scripts/make_dist.py deb dist

# One file, standard library only, for any python3 from 3.6 on.
pyz: venv
	$(PYTHON) scripts/make_dist.py pyz dist

# The .deb and .pyz on real Debian releases, in debootstrap roots kept in
# HOSTS_ROOTS (built once, about 90 s each; bookworm is this machine's release, the
# others the oldest supported, the newest stable and Debian 14 forky, built with
# sid's debootstrap script); see scripts/test_hosts.py.
HOST_RELEASES ?= bullseye bookworm trixie forky
HOSTS_ROOTS ?= /var/tmp/postfix-tls-hosts
test-hosts: deb pyz debootstrap
	$(PYTHON) scripts/test_hosts.py --dist dist --roots $(HOSTS_ROOTS) $(HOST_RELEASES)

debootstrap:
	@command -v debootstrap >/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }

clean:
	rm -rf $(VENV) .venv-* build dist *.egg-info demo/scratch .pytest_cache
