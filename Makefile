# The README's two commands: `make run` (the main job on examples/) and `make test` (every suite).
# Both do all the set-up on a fresh machine: .venv with torch, npm packages, Debian packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PARAMLENS_INTERPRETER := $(abspath $(BIN)/python)
VSIX = dist/paramlens-$(shell node -p "require('./vscode-extension/package.json').version" 2>/dev/null).vsix

.PHONY: run test setup compiled system-deps node-deps lint test-python test-compiled test-clients test-extension bench bench-introspect bench-check bench-lsp package clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

# The release build: the rule engine compiled with mypyc (setup.py), as the released wheels ship
# it, installed apart from the editable .venv (where edits take effect at once) for its own run of
# the unit tests and for the benchmark. Needs a C compiler (system-deps installs one if missing).
# build/temp* (mypyc's objects) is kept, to build faster; build/lib* would keep deleted modules.
COMPILED := build/compiled/.installed
$(COMPILED): $(STAMP) setup.py $(shell find server -name '*.py')
	command -v cc >/dev/null 2>&1 || bash scripts/install-system-deps.sh
	rm -rf build/compiled build/wheel build/lib.* build/bdist.*
	PARAMLENS_MYPYC=1 $(BIN)/pip wheel --quiet --no-build-isolation --no-deps -w build/wheel .
	$(BIN)/pip install --quiet --no-deps --target build/compiled build/wheel/paramlens-*.whl
	touch $@

compiled: $(COMPILED)

system-deps:
	bash scripts/install-system-deps.sh

node_modules/.installed: package.json $(wildcard package-lock.json) $(wildcard vscode-extension/package.json)
	npm ci --no-audit --no-fund || npm install --no-audit --no-fund
	touch $@

node-deps: node_modules/.installed

run: setup node-deps
	$(BIN)/paramlens summary examples/darknet.py
	$(BIN)/paramlens summary examples/net.py
	$(BIN)/paramlens summary examples/tied_lm.py
	$(BIN)/paramlens summary examples/vision/models.py
	$(BIN)/paramlens summary examples/finetune.py  # models built from torch's classes, no class
	-$(BIN)/paramlens check examples/  # exits 1: the examples freeze BatchNorm on purpose (FRZ11)
	$(BIN)/python scripts/lsp_demo.py examples/net.py examples/darknet.py  # what an editor shows
	npm run package
	@echo "VS Code extension built: $(VSIX)"
	@echo "  install it:  code --install-extension $(VSIX)   (or Extensions view > ... > Install from VSIX...)"

test: lint test-python test-compiled test-clients test-extension

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test-python: setup
	$(BIN)/pytest -q tests/unit tests/worker tests/e2e

# The unit suite again, on the compiled build (the same source under mypyc's stricter rules).
test-compiled: $(COMPILED)
	PYTHONPATH=build/compiled PARAMLENS_EXPECT_COMPILED=1 $(BIN)/pytest -q -p no:cacheprovider tests/unit

test-clients: setup system-deps
	$(BIN)/pytest -q tests/clients

# The VS Code extension: types, lint, unit tests, the VSIX, then the VSIX in a real VS Code
# (code-server in .tools/, Debian's Chromium driven by playwright-core); output in test-output/vscode.
test-extension: setup node-deps system-deps
	npm run typecheck --workspace vscode-extension
	npm run lint --workspace vscode-extension
	npm run test:unit --workspace vscode-extension
	npm run package
	bash scripts/install-code-server.sh
	npm run test:integration --workspace vscode-extension

package: setup node-deps
	npm run package

bench: bench-introspect bench-check bench-lsp

bench-introspect: setup
	$(BIN)/python bench/introspect.py

bench-check: setup $(COMPILED)
	$(BIN)/python bench/check.py

# The other language servers live in their own venv: they may pin other pygls versions.
bench-lsp: setup
	test -x .venv-bench/bin/pylsp || ($(PYTHON) -m venv .venv-bench && \
		.venv-bench/bin/pip install --quiet jedi-language-server python-lsp-server)
	$(BIN)/python bench/lsp.py

clean:
	rm -rf $(VENV) node_modules dist vscode-extension/bundled vscode-extension/dist
