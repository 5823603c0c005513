# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint docs-cli clean

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

## make test: lint, format check, mypy strict, then every test
test: $(VENV)/.test-installed
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

clean:
	rm -rf $(VENV) $(PEER) bench/out .pytest_cache .mypy_cache .ruff_cache .coverage ivrlog-demo.db*
