#!/usr/bin/env bash
# The whole test suite, as `make test` runs it (and .ci/run calls `make test`).
# Lint, types and layering first; then make sure the real servers the integration tests need
# are there (PostgreSQL started if installed but stopped; Dovecot installed when missing and
# we are root), then pytest. Under CI=true a missing server fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin

echo "== ruff"; $BIN/ruff check parsers store pec_ingest tests scripts
echo "== mypy"; $BIN/mypy
echo "== import-linter"; $BIN/lint-imports
echo "== servers"; bash scripts/ensure-servers.sh
echo "== pytest"
$BIN/pytest "$@"
