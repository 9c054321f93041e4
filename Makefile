# The README's two commands: `make run` (the main job on examples/) and `make test` (every suite).
# Both do all the set-up on a fresh machine: .venv with torch, npm packages, Debian packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PARAMLENS_INTERPRETER := $(abspath $(BIN)/python)

.PHONY: run test setup system-deps node-deps lint test-python test-clients test-extension bench bench-introspect package clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

node_modules/.installed: package.json $(wildcard package-lock.json) $(wildcard vscode-extension/package.json)
	npm ci --no-audit --no-fund || npm install --no-audit --no-fund
	touch $@

node-deps: node_modules/.installed

run: setup
	$(BIN)/paramlens summary examples/darknet.py
	$(BIN)/paramlens summary examples/net.py
	$(BIN)/paramlens summary examples/tied_lm.py
	$(BIN)/paramlens summary examples/vision/models.py

test: lint test-python test-clients test-extension

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test-python: setup
	$(BIN)/pytest -q tests/unit tests/worker tests/e2e

test-clients: setup system-deps

test-extension:

bench: bench-introspect

bench-introspect: setup
	$(BIN)/python bench/introspect.py

clean:
	rm -rf $(VENV) node_modules dist vscode-extension/bundled vscode-extension/dist
