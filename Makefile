# PWS, the Python Web Stack: build, lint and test.
#
#   make deb               the four .debs in dist/ (built out of the source tree, in .build/)
#   make lint              lintian on dist/*.deb (fails on errors and warnings)
#   make venv              the test venv in $(VENV)
#   make test-unit | test-integration | test-system
#   make piuparts          install/purge/install of dist/pws_*.deb in a clean bookworm chroot
#   make test              deps venv test-unit test-integration test-system lint piuparts, in order
#   make bench | demo | clean | distclean
#
# Every target installs the Debian packages it needs (make deps) when they are missing.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := deb
.NOTPARALLEL:
.DELETE_ON_ERROR:

# Debian's interpreter, never the first python3 on PATH (there may be a pyenv one).
PY := /usr/bin/python3
# A PATH without pyenv and friends, for the package build.
BUILD_PATH := /usr/sbin:/usr/bin:/sbin:/bin

VERSION := $(shell head -n1 debian/changelog | cut -d' ' -f2 | tr -d '()')
DIST := dist
BUILD := .build
BUILD_SRC := $(BUILD)/pws-$(VERSION)
# What goes into the packages: a change here rebuilds them.
PKG_INPUTS := src conf debian maintscripts man pyproject.toml requirements.txt

VENV := /var/cache/pws/testvenv
TESTPY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.pws-stamp
TEST_REQUIREMENTS := pytest==8.3.5

# Build and test dependencies, from Debian.
APT_DEPS := build-essential debhelper dh-virtualenv dh-python python3-all python3-venv \
	python3-dev python3-setuptools python3-wheel-whl nginx mmdebstrap systemd-container \
	lintian devscripts wrk apache2-utils curl
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

export TESTPY DIST VENV

.PHONY: all deps deb lint venv test test-unit test-integration test-system piuparts bench demo \
	clean distclean

all: deb

# ---------------------------------------------------------------- dependencies
deps:
	@missing=""; \
	for p in $(APT_DEPS); do \
		dpkg-query -W -f='$${db:Status-Abbrev}' "$$p" 2>/dev/null | grep -q '^ii' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends $$missing; \
	fi

# ---------------------------------------------------------------- packages
# The tree is copied to $(BUILD_SRC) so the build never writes into the checkout; debian/rules
# must not inherit this make's variables (`make deb VENV=...` would retarget its VENV);
# dist/.srchash records the inputs the .debs in dist/ were built from.
PKG_HASH = $(shell find $(PKG_INPUTS) \( -name __pycache__ -o -name '*.egg-info' \) -prune \
	-o \( -type f -o -type l \) -print 2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-32)

deb: deps
	@hash='$(PKG_HASH)'; \
	if [ -f $(DIST)/.srchash ] && [ "$$(cat $(DIST)/.srchash)" = "$$hash" ] \
		&& ls $(DIST)/*.deb >/dev/null 2>&1; then \
		echo "$(DIST)/ is up to date:"; ls $(DIST)/*.deb; exit 0; \
	fi; \
	start=$$SECONDS; \
	rm -rf $(BUILD) && mkdir -p $(BUILD_SRC); \
	tar -c --exclude=__pycache__ --exclude='*.egg-info' --exclude=debian/pws.postrm \
		$(PKG_INPUTS) | tar -x -C $(BUILD_SRC); \
	(cd $(BUILD_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH=$(BUILD_PATH) \
		dpkg-buildpackage -b -us -uc); \
	mkdir -p $(DIST); rm -f $(DIST)/*.deb $(DIST)/.srchash; \
	mv $(BUILD)/*.deb $(DIST)/; \
	echo "$$hash" > $(DIST)/.srchash; \
	rm -rf $(BUILD); \
	echo "built in $$((SECONDS - start)) s:"; ls -l $(DIST)/*.deb

lint: deb
	lintian --fail-on error,warning --display-info --tag-display-limit 0 $(DIST)/*.deb
	@echo "lintian: no errors, no warnings"

# ---------------------------------------------------------------- tests
# Rebuilt when requirements.txt, pyproject.toml or the checkout it points to change
# (pws is installed in editable mode from this checkout).
VENV_KEY = $(CURDIR) $(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-16) $(TEST_REQUIREMENTS)

venv: deps
	@if [ "$$(cat $(VENV_STAMP) 2>/dev/null)" = "$(VENV_KEY)" ]; then \
		echo "$(VENV) is up to date"; exit 0; fi; \
	set -x; \
	rm -rf $(VENV); \
	mkdir -p $(dir $(VENV)); \
	$(PY) -m venv $(VENV); \
	$(VENV)/bin/pip install --quiet $(TEST_REQUIREMENTS) -r requirements.txt \
		$(firstword $(wildcard /usr/share/python-wheels/wheel-*.whl)); \
	$(VENV)/bin/pip install --quiet --no-build-isolation -e .; \
	echo "$(VENV_KEY)" > $(VENV_STAMP)

# pytest on one directory; "no tests collected" (status 5) is not a failure while the
# tier is still empty.
define pytest
	@if [ ! -d $(1) ]; then echo "$(1): no such directory, nothing to run"; exit 0; fi; \
	rc=0; $(TESTPY) -m pytest -q $(1) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "$(1): no tests collected"; exit 0; fi; \
	exit $$rc
endef

test-unit: venv
	$(call pytest,tests/unit)

test-integration: deps venv
	$(call pytest,tests/integration)

test-system: deb venv
	$(call pytest,tests/system)

# piuparts (docs/architecture.md): install, purge with nginx still installed (the restore),
# install again, in a clean chroot from the mirror (about 45 s; the base tarball is made once).
# Ignored: nginx's temp dirs in /var/lib/nginx, made by the `nginx -t` of pws's maintainer
# scripts (a running nginx makes them too; nginx is never started in piuparts' chroot).
PIUPARTS_BASE := /var/cache/pws/piuparts-bookworm.tar.gz
PIUPARTS_MIRROR := http://deb.debian.org/debian

piuparts: deb
	@command -v piuparts >/dev/null || { $(SUDO) apt-get update && $(SUDO) env \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends piuparts; }
	@if [ ! -f $(PIUPARTS_BASE) ]; then \
		tmp=$(dir $(PIUPARTS_BASE)).tmp-$$$$.tar.gz; \
		$(SUDO) mmdebstrap --variant=minbase --quiet bookworm $$tmp $(PIUPARTS_MIRROR) \
			&& $(SUDO) mv $$tmp $(PIUPARTS_BASE); fi
	$(SUDO) piuparts -d bookworm -m $(PIUPARTS_MIRROR) -b $(PIUPARTS_BASE) \
		--install-purge-install --no-upgrade-test --log-level=info -i /opt/ \
		-I '/var/lib/nginx/(body|fastcgi|proxy|scgi|uwsgi)/' $(DIST)/pws_*.deb

test: deps venv test-unit test-integration test-system lint piuparts

bench: deb venv
	$(TESTPY) tests/bench/bench.py

demo: deb venv
	@if [ -f tests/system/demo.py ]; then exec $(TESTPY) tests/system/demo.py; \
	else echo "make demo: not yet available (tests/system/demo.py does not exist)" >&2; exit 1; fi

# ---------------------------------------------------------------- cleaning
clean:
	rm -rf $(DIST) $(BUILD) build .pytest_cache src/*.egg-info
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf $(VENV)
