#!/usr/bin/env bash
# Several nodes on one PostgreSQL database (issue 9): two server processes sharing nothing but the
# database — start-up race, flow hand-over, cache announcements, key rotation, session and device
# revocation across nodes, pushes across nodes (e2e/multinode/multinode_test.py).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEHOUSE_BIN:?GATEHOUSE_BIN must point to the gatehouse binary}"
: "${GATEHOUSE_VERIFY_BIN:?GATEHOUSE_VERIFY_BIN must point to the gatehouse-verify binary}"
: "${GATEHOUSE_TEST_POSTGRES_URL:?GATEHOUSE_TEST_POSTGRES_URL must name the PostgreSQL server}"
python3 -W ignore::DeprecationWarning multinode/multinode_test.py
