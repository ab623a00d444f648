# PWS, the Python Web Stack: build, lint and test.
#
#   make deb               the four .debs per suite in dist/SUITE/, each built in a clean chroot of
#                          its suite (tools/build-deb), both suites at once
#   make repo              dist/ as a signed APT repository in dist/repo/ (tools/publish-repo;
#                          the key in $(REPO_KEY), made once)
#   make lint              lintian on dist/SUITE/*.deb (fails on errors and warnings)
#   make venv              the test venv in $(VENV)
#   make test-unit | test-integration | test-system
#   make piuparts          install/purge/install of pws in a clean chroot of each suite
#   make autopkgtest       debian/tests (as installed) with autopkgtest in a booted container
#   make previous          the previous release (PREVIOUS_COMMIT) built once, cached in /var/cache/pws
#   make test              deps venv test-unit test-integration test-system lint piuparts, in order
#   make bench | demo | clean | distclean
#
# SUITE=bookworm or SUITE=trixie limits deb, repo, lint, piuparts and the system tier to one
# Debian suite (12 or 13); without it, both (their system tiers one after the other).
# bench and demo use one suite: SUITE, else bookworm.
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

SUITES := bookworm trixie
SUITE :=
ONE_SUITE := $(or $(SUITE),bookworm)
BUILD_SUITES := $(or $(SUITE),$(SUITES))
$(foreach s,$(SUITE),$(if $(filter $(s),$(SUITES)),,$(error SUITE=$(s): one of $(SUITES))))
DIST_TOP := dist
REPO_DIR := $(DIST_TOP)/repo
REPO_KEY := /var/cache/pws/repo-key
# What goes into the packages: a change here rebuilds them.
PKG_INPUTS := src conf debian maintscripts man pyproject.toml requirements.txt tools/build-deb
# The previous release, for the upgrade test (tests/system/test_upgrade.py).
PREVIOUS_COMMIT := f15c14e
PREVIOUS_DIR := /var/cache/pws/previous/$(PREVIOUS_COMMIT)

VENV := /var/cache/pws/testvenv
TESTPY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.pws-stamp
TEST_REQUIREMENTS := pytest==8.3.5

# Build and test dependencies, from Debian (the packages are built in chroots of each suite).
APT_DEPS := build-essential debhelper dpkg-dev python3-venv nginx mmdebstrap systemd-container \
	lintian devscripts wrk apache2-utils curl apt-utils gnupg
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

export TESTPY VENV

.PHONY: all deps deb repo lint venv test test-unit test-integration test-system piuparts \
	autopkgtest previous bench demo clean distclean

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
# tools/build-deb SUITE builds in a fresh copy of a cached chroot of the suite (so the pws venv
# gets that suite's Python); the suites build at once, each logging to dist/SUITE.log.
# dist/SUITE/.srchash records the inputs the .debs there were built from.
PKG_HASH = $(shell find $(PKG_INPUTS) \( -name __pycache__ -o -name '*.egg-info' \) -prune \
	-o \( -type f -o -type l \) -print 2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-32)

deb: deps
	@hash='$(PKG_HASH)'; pids=""; mkdir -p $(DIST_TOP); \
	for s in $(BUILD_SUITES); do \
		d=$(DIST_TOP)/$$s; \
		if [ -f $$d/.srchash ] && [ "$$(cat $$d/.srchash)" = "$$hash" ] \
			&& ls $$d/*.deb >/dev/null 2>&1; then \
			echo "$$d/ is up to date:"; ls $$d/*.deb; continue; fi; \
		echo "building for $$s in a $$s chroot (log: $(DIST_TOP)/$$s.log)"; \
		( start=$$SECONDS; rm -f $$d/.srchash; \
		  if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH=$(BUILD_PATH) \
			tools/build-deb $$s $$d > $(DIST_TOP)/$$s.log 2>&1; then \
			echo "$$hash" > $$d/.srchash; \
			echo "$$s: built in $$((SECONDS - start)) s:"; ls -l $$d/*.deb; \
		  else echo "$$s: build failed; the end of $(DIST_TOP)/$$s.log:"; \
			tail -n 40 $(DIST_TOP)/$$s.log; exit 1; fi ) & pids="$$pids $$!"; \
	done; \
	rc=0; for p in $$pids; do wait $$p || rc=1; done; exit $$rc

# One signed repository, a distribution per suite; re-signed when the .debs change.
repo: deb
	@for s in $(BUILD_SUITES); do \
		if [ -f $(REPO_DIR)/dists/$$s/.srchash ] \
			&& cmp -s $(DIST_TOP)/$$s/.srchash $(REPO_DIR)/dists/$$s/.srchash \
			&& [ -f $(REPO_DIR)/dists/$$s/InRelease ]; then \
			echo "$(REPO_DIR)/dists/$$s is up to date"; continue; fi; \
		REPO_KEY=$(REPO_KEY) tools/publish-repo $$s $(DIST_TOP)/$$s $(REPO_DIR); \
		cp $(DIST_TOP)/$$s/.srchash $(REPO_DIR)/dists/$$s/.srchash; \
	done

lint: deb
	@for s in $(BUILD_SUITES); do \
		echo "lintian ($$s):"; \
		lintian --fail-on error,warning --display-info --tag-display-limit 0 $(DIST_TOP)/$$s/*.deb; \
		echo "lintian ($$s): no errors, no warnings"; \
	done

# The previous release, built once from git for the upgrade test (bookworm: it was released
# for Debian 12 only).
previous: deps
	@if ls $(PREVIOUS_DIR)/bookworm/*.deb >/dev/null 2>&1; then \
		echo "$(PREVIOUS_DIR) is up to date"; exit 0; fi; \
	tmp=$$(mktemp -d /var/tmp/pws-previous.XXXXXX); \
	git archive $(PREVIOUS_COMMIT) | tar -x -C $$tmp; \
	cp tools/build-deb $$tmp/build-deb; \
	PATH=$(BUILD_PATH) PWS_SUITE_VERSION=0 $$tmp/build-deb bookworm $(PREVIOUS_DIR)/bookworm.tmp $$tmp > $(DIST_TOP)/previous.log 2>&1 \
		|| { tail -n 40 $(DIST_TOP)/previous.log; rm -rf $$tmp; exit 1; }; \
	rm -rf $$tmp $(PREVIOUS_DIR)/bookworm; mv $(PREVIOUS_DIR)/bookworm.tmp $(PREVIOUS_DIR)/bookworm; \
	ls -l $(PREVIOUS_DIR)/bookworm

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

# The system tier per suite, one suite after the other: side by side (tools/test-system
# bookworm trixie) two booted containers on 2 cores starved trixie's systemd 257 (a killed
# site not restarted within 10 s under load, a boot failure told in 36 s instead of 3); each
# suite alone passes. Both suites run even if the first fails.
SYSTEM_SUITES := $(BUILD_SUITES)
test-system: deb repo $(if $(filter bookworm,$(SYSTEM_SUITES)),previous) venv
	@rc=0; for s in $(SYSTEM_SUITES); do \
		DIST_TOP=$(DIST_TOP) tools/test-system $$s || rc=1; done; exit $$rc

# piuparts (docs/architecture.md): install, purge with nginx still installed (the restore),
# install again, in a clean chroot of each suite from the mirror (about 45 s each; the base
# tarballs are made once). Ignored: nginx's temp dirs in /var/lib/nginx, made by the
# `nginx -t` of pws's maintainer scripts (a running nginx makes them too; nginx is never
# started in piuparts' chroot), and on trixie debconf's own scratch dir /var/cache/debconf/tmp.ci
# (made by apt's template extraction for any package, owned by none).
PIUPARTS_MIRROR := http://deb.debian.org/debian

# Also ignored: what systemd leaves on trixie. piuparts' own logrotate check (pws ships
# /etc/logrotate.d/pws) installs logrotate, which there pulls cron and systemd; purging systemd
# leaves what its tmpfiles made (/etc/default/locale, /etc/vconsole.conf, /root/.ssh/,
# /var/{cache,lib,log}/private/). None of it is pws's (bookworm's cron does not pull systemd).
PIUPARTS_SYSTEMD_LEFTOVERS := /etc/default/locale /etc/vconsole.conf /root/.ssh/ \
	/var/cache/private/ /var/lib/private/ /var/log/private/
PIUPARTS_SUITES := $(BUILD_SUITES)
piuparts: deb
	@command -v piuparts >/dev/null || { $(SUDO) apt-get update && $(SUDO) env \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends piuparts; }
	@for s in $(PIUPARTS_SUITES); do \
		base=/var/cache/pws/piuparts-$$s.tar.gz; \
		if [ ! -f $$base ]; then \
			tmp=/var/cache/pws/.tmp-$$$$.tar.gz; \
			$(SUDO) mmdebstrap --variant=minbase --quiet $$s $$tmp $(PIUPARTS_MIRROR) \
				&& $(SUDO) mv $$tmp $$base; fi; \
		start=$$SECONDS; \
		$(SUDO) piuparts -d $$s -m $(PIUPARTS_MIRROR) -b $$base \
			--install-purge-install --no-upgrade-test --log-level=info -i /opt/ \
			-i /var/cache/debconf/tmp.ci/ $(addprefix -i ,$(PIUPARTS_SYSTEMD_LEFTOVERS)) \
			-I '/var/lib/nginx/(body|fastcgi|proxy|scgi|uwsgi)/' $(DIST_TOP)/$$s/pws_*.deb; \
		echo "piuparts ($$s): passed in $$((SECONDS - start)) s"; \
	done

# debian/tests with autopkgtest in a booted container of each suite (also part of test-system).
autopkgtest: deb repo venv
	@for s in $(BUILD_SUITES); do \
		PWS_SUITE=$$s DIST=$(DIST_TOP)/$$s $(TESTPY) -m pytest -q -s tests/system/test_autopkgtest.py; \
	done

test: deps venv test-unit test-integration test-system lint piuparts

bench: deb venv
	PWS_SUITE=$(ONE_SUITE) DIST=$(DIST_TOP)/$(ONE_SUITE) $(TESTPY) tests/bench/bench.py

demo: deb repo venv
	@if [ -f tests/system/demo.py ]; then PWS_SUITE=$(ONE_SUITE) DIST=$(DIST_TOP)/$(ONE_SUITE) \
		exec $(TESTPY) tests/system/demo.py; \
	else echo "make demo: not yet available (tests/system/demo.py does not exist)" >&2; exit 1; fi

# ---------------------------------------------------------------- cleaning
clean:
	rm -rf $(DIST_TOP) .build build .pytest_cache src/*.egg-info
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf $(VENV)
