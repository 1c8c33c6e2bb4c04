#!/usr/bin/env bash
# Command 2 of the README: install what is needed, then run the whole test suite twice:
# on the embedded default (SQLite, filesystem broker) and, for the integration tests marked
# `stack`, again on PostgreSQL + Redis (127.0.0.1:5432 and :6379), each with a real Celery
# worker process. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
export PYTHONUNBUFFERED=1
scripts/services.sh

echo "== lint =="
.venv/bin/ruff check .

echo "== import contracts =="
.venv/bin/lint-imports

echo "== tests on the embedded default (SQLite + filesystem broker) =="
# The multi-host test and the fault-injection suite share PostgreSQL between their processes:
# they run in the second pass.
.venv/bin/python -m pytest -m "not multihost and not faults" "$@"

echo "== integration tests on PostgreSQL + Redis =="
DATABASE_URL=${PODIUM_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/podium} \
CELERY_BROKER_URL=${PODIUM_TEST_BROKER_URL:-redis://127.0.0.1:6379/15} \
PODIUM_EXPECT_STACK=1 \
    .venv/bin/python -m pytest -m stack "$@"
