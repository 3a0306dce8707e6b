# postfix-tls: everything a fresh Debian machine needs is installed by these
# targets (as root: apt-get for Postfix and openssl, a virtualenv for Python).

PYTHON3 ?= python3
VENV ?= .venv
PYTHON = $(VENV)/bin/python
PYTEST_ARGS ?=
UPSTREAM = /usr/lib/postfix/sbin/postfix-tls-script

.PHONY: deps venv test lint bench demo install install-dropin uninstall-dropin test-matrix clean

# Postfix (with the upstream script, for the differential tests) and openssl.
deps:
	@if [ ! -x $(UPSTREAM) ] || [ ! -x /usr/sbin/postconf ] || ! command -v openssl >/dev/null; then \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix openssl >/dev/null; \
	fi

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON3) -m venv $(VENV)
	$(PYTHON) -m pip install -q "pip>=21" || $(PYTHON) -m pip install -q "pip>=21,<22"
	$(PYTHON) -m pip install -q -e ".[test]" ruff
	touch $@

venv: $(VENV)/.installed

test: deps venv
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check postfix_tls tests scripts/postfix-tls-script bench

# Ours runs from a normal (not editable) install, as on a production host.
bench: deps venv
	$(PYTHON3) -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q --no-deps --force-reinstall .
	$(PYTHON) bench/bench.py --python .venv-bench/bin/python

demo: deps venv
	PYTHON=$(PYTHON) sh demo/demo.sh

clean:
	rm -rf $(VENV) .venv-* build dist *.egg-info demo/scratch .pytest_cache
