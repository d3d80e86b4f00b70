# The two commands a fresh machine needs (README.md):
#   make demo   deploy a local master and child with site.yml, print the URL
#   make test   lint, unit tests, the Molecule scenarios and the bench smoke
#   make bench  the benchmark (bench/README.md); results in bench/results/latest.json
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Prepended once: ansible-lint warns when the venv's bin is on PATH twice.
export PATH := $(CURDIR)/$(BIN):$(subst $(CURDIR)/$(BIN):,,$(PATH))

$(BIN)/ansible-playbook: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	touch $@

.PHONY: host venv demo demo-down test lint unit molecule bench bench-smoke
venv: $(BIN)/ansible-playbook

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

molecule: host venv
	pytest -q -s tests/integration

# The benchmark on its own hosts (molecule/bench), destroyed at the end.
bench: host venv
	bench/run

# Tiny counts, every measurement once: keeps the bench from rotting.
bench-smoke: host venv
	bench/run --smoke --out bench/results/smoke.json

test: lint unit molecule bench-smoke
