# kb: two commands for a fresh machine — `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help run test test-postgres lint fmt bench install clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)  ## make .venv and install kb with its test tools

run: $(STAMP)  ## initialise the embedded default (sample articles, demo accounts) and serve on :5000
	$(BIN)/kb init --demo
	$(BIN)/kb serve

test: $(STAMP)  ## lint, then run every test (installs Chromium for the browser tests when it can)
	$(BIN)/ruff check kb tests bench
	$(BIN)/ruff format --check kb tests bench
	./scripts/ensure-browser
	$(BIN)/python -m pytest -q

test-postgres: $(STAMP)  ## run every test again on a throwaway PostgreSQL (installed if missing)
	./scripts/ensure-browser
	./scripts/with-postgres $(BIN)/python -m pytest -q

lint: $(STAMP)  ## ruff lint and format check
	$(BIN)/ruff check kb tests bench
	$(BIN)/ruff format --check kb tests bench

fmt: $(STAMP)  ## format the code
	$(BIN)/ruff format kb tests bench
	$(BIN)/ruff check --fix kb tests bench

bench: $(STAMP)  ## run the benchmarks (search, relevance, checker)
	$(BIN)/python bench/run_all.py

clean:  ## remove the virtualenv and caches (keeps instance/ data)
	rm -rf $(VENV) .pytest_cache .ruff_cache
