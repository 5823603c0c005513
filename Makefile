# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint docs-cli vendor screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed

## make run: a virtual environment, ivrlog installed, the demo server on SQLite
run: $(VENV)/.run-installed
	$(BIN)/ivrlog demo

## make test: lint, format check, mypy strict, then every test. The browser tests drive
## the system's Chromium: installed from Debian (as root) when it is missing.
test: $(VENV)/.test-installed
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

## make bench: the benchmarks of docs/performance.md, printed as one table. Installs what
## they need: wrk, nginx and curl from Debian (as root), Datasette in a venv of its own.
PEER := .venv-peer
$(PEER)/bin/datasette:
	$(PYTHON) -m venv $(PEER)
	$(PEER)/bin/python -m pip install --quiet 'datasette==0.65.*'

bench: $(VENV)/.test-installed $(PEER)/bin/datasette
	@command -v wrk >/dev/null && command -v nginx >/dev/null && command -v curl >/dev/null \
	  || { apt-get update -q && apt-get install -y -q wrk nginx-light curl; }
	$(BIN)/python -m bench.run

## make docs-cli: regenerate docs/cli.md from the commands' --help
docs-cli: $(VENV)/.run-installed
	$(BIN)/python -m ivrlog.clidoc > docs/cli.md

## make vendor: the pinned front-end files (package.json, package-lock.json) from npm into
## src/ivrlog/web/static/vendor/ and tests/e2e/browser/vendor/, with their digests
vendor:
	npm ci --ignore-scripts --no-audit --no-fund
	$(PYTHON) scripts/vendor.py

## make screenshots: the pages' screenshots in docs/img/, made by the browser tests
screenshots: $(VENV)/.test-installed
	IVRLOG_SCREENSHOTS=docs/img $(BIN)/pytest -q --no-cov -p no:cacheprovider tests/e2e/browser

clean:
	rm -rf $(VENV) $(PEER) node_modules bench/out .pytest_cache .mypy_cache .ruff_cache .coverage ivrlog-demo.db*
