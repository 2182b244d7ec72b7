#!/usr/bin/env bash
# Crash safety (issue 9): kill -9 a node under enrollment and sign-in load, restart it, and check
# that every acknowledged write is there and nothing is half-written (e2e/crash/crash_test.py),
# on SQLite and, when GATEHOUSE_TEST_POSTGRES_URL is set (./test.sh sets it), on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEHOUSE_BIN:?GATEHOUSE_BIN must point to the gatehouse binary}"
python3 crash/crash_test.py
