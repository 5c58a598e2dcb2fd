# Two entry points for a newcomer: `make demo` (the main job on embedded defaults) and
# `make test` (the whole suite: lint, types, layering, tests against real servers).
# Each creates its own virtual environment from the pinned constraints.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HASH := $(shell cat constraints.txt pyproject.toml | sha256sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)

.PHONY: demo test lint install clean bench

# production: the service and the staff commands, no test tools
$(STAMP): constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[postgres]'
	touch $@

# development: the same plus pytest, ruff, mypy, import-linter, aiosmtpd, trustme
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,postgres]'
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pec-ingest demo

lint: $(TEST_STAMP)
	$(BIN)/ruff check parsers store pec_ingest tests scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(TEST_STAMP)
	bash scripts/test.sh

bench: $(TEST_STAMP)
	$(BIN)/python scripts/bench_parse.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
