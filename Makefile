# The two commands a fresh machine needs (README.md):
#   make demo   deploy a local master and child with site.yml, print the URL
#   make test   lint, unit tests, the packaging checks, the Molecule scenarios
#               and the bench smoke on the oldest supported versions (.venv,
#               requirements.txt), then the unit tests and the default
#               scenario on the newest (.cache/venv-newest,
#               requirements-newest.txt, Python 3.12)
#   make bench  the benchmark (bench/README.md); results in bench/results/latest.json
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# The newest end lives under .cache/, which git, the linters and the
# collection build already leave out.
NEWEST := .cache/venv-newest
NEWEST_BIN := $(NEWEST)/bin
PYTHON_NEWEST ?= $(HOME)/.pyenv/versions/3.12.1/bin/python
# Prepended once: ansible-lint warns when the venv's bin is on PATH twice.
BASE_PATH := $(subst $(CURDIR)/$(BIN):,,$(PATH))
export PATH := $(CURDIR)/$(BIN):$(BASE_PATH)
# The newest targets run with only the newest venv on PATH: the lint test,
# molecule and the verify step's pytest all come from it.
NEWEST_PATH := $(CURDIR)/$(NEWEST_BIN):$(BASE_PATH)

$(BIN)/ansible-playbook: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(NEWEST_BIN)/ansible-playbook: requirements-newest.txt
	@test -x $(PYTHON_NEWEST) || { echo "No Python 3.12 at $(PYTHON_NEWEST): make test PYTHON_NEWEST=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON_NEWEST) -m venv $(NEWEST)
	$(NEWEST_BIN)/pip install -q -r requirements-newest.txt
	touch $@

.PHONY: host venv venv-newest images lane-a lane-b demo demo-down test lint unit packaging sanity units-ansible-test docs-check galaxy-importer ee molecule unit-newest molecule-newest bench bench-smoke
venv: $(BIN)/ansible-playbook
venv-newest: $(NEWEST_BIN)/ansible-playbook

# Debian packages and a running Docker engine.
host:
	tests/host-setup

demo: host venv
	molecule create -s demo
	ansible-playbook site.yml -i demo/inventory.yml
	@echo "Open http://127.0.0.1:8080/streamlitApp/ (stop with: make demo-down)"

demo-down: venv
	molecule destroy -s demo

lint: venv
	yamllint .
	ansible-lint

unit: host venv
	pytest -q tests/unit

# Galaxy-grade packaging (tests/sanity, tests/tools): ansible-test sanity and
# units from an ansible_collections/ layout, ansible-doc on every plugin and
# role, the changelog release in a throw-away copy, galaxy-importer on the
# built tarball and ansible-builder create.
packaging: sanity units-ansible-test docs-check galaxy-importer ee

sanity: venv
	tests/sanity/run

units-ansible-test: venv
	tests/tools/ansible-test units --venv --python 3.11 tests/unit/plugins/

docs-check: venv
	tests/tools/check-docs
	tests/tools/role-docs --check
	tests/tools/changelog-check

# galaxy.yml names no repository (there is no public one yet), which
# galaxy-importer requires: the address goes into the checked copy only.
galaxy-importer: venv
	tests/tools/galaxy-importer --stand-in-repository https://stand-in.invalid/streamlit_ops/deploy

ee: venv
	tests/tools/ansible-builder

molecule: host venv
	pytest -q -s tests/integration

# The newest versions: every unit test, and one scenario (CI's time budget).
# Lint runs once, in `unit`, with the pinned linters: the newest end is there
# for the runtime (ansible-core, community.docker, Python 3.12).
unit-newest: host venv-newest
	PATH=$(NEWEST_PATH) $(NEWEST_BIN)/pytest -q tests/unit --deselect tests/unit/test_lint.py

molecule-newest: host venv-newest
	PATH=$(NEWEST_PATH) STREAMLIT_OPS_SCENARIOS=default \
	  STREAMLIT_OPS_E2E_SELECT="not bad_input and not bad_settings and not without_a_group and not tls_key and not master_limits and not swap_ports" \
	  $(NEWEST_BIN)/pytest -q -s tests/integration

# The benchmark on its own hosts (molecule/bench), destroyed at the end.
bench: host venv
	bench/run

# Tiny counts, every measurement once: keeps the bench from rotting.
bench-smoke: host venv
	bench/run --smoke --out bench/results/smoke.json

# The images every scenario starts from, built once before scenarios run
# side by side (each scenario would otherwise build the missing ones itself,
# and two builds of one image at once would race).
images: host venv
	tests/images/build-host-image bookworm
	tests/images/build-host-image trixie
	tests/images/build-app-image

# CI's time budget (README, "What make test runs"): two lanes side by side on
# the 2 cores. The work is mostly CPU (Ansible's tasks, the apps, the
# browser), so a lane beside the other runs about 1.3 to 1.6 times slower
# than alone; a third lane slowed every scenario by 1.6 to 1.8 times. Lane A:
# `ha`, the longest (28 min beside lane B in CI), `standalone`, the newest
# unit tests, the bench smoke; lane B: unit, packaging, `default`, `dropin`,
# `edge`, the newest `default` (after the oldest end's: one scenario's hosts
# and names). In CI lane B ran 52 min 40 s with the bench smoke (8 min) and
# lane A 36 min without it; with it in lane A, make test took 41 min.
# `lint` is not a step of its own: tests/unit/test_lint.py runs the same
# ansible-lint from the same venv (and yamllint strict) inside `unit`.
# --output-sync=line keeps the output live; each scenario's whole log is also
# in .cache/artifacts/<scenario>/.
test: host venv venv-newest images
	$(MAKE) -j2 --output-sync=line lane-a lane-b

lane-a:
	STREAMLIT_OPS_SCENARIOS="ha standalone" $(MAKE) molecule
	$(MAKE) unit-newest
	$(MAKE) bench-smoke

lane-b:
	$(MAKE) unit
	$(MAKE) packaging
	STREAMLIT_OPS_SCENARIOS="default dropin edge" $(MAKE) molecule
	$(MAKE) molecule-newest
