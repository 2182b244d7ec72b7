#!/usr/bin/env bash
# The browser suite: the sign-in page and the end-user dashboard in Debian's headless Chromium,
# driven by Playwright (e2e/browser/*.test.mjs). Needs GATEHOUSE_BIN (set by ./test.sh e2e),
# /usr/bin/chromium and e2e/node_modules (both installed by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEHOUSE_BIN:?GATEHOUSE_BIN must point to the gatehouse binary}"
[ -x /usr/bin/chromium ] || { echo "browser suite: /usr/bin/chromium is missing (scripts/setup.sh installs it)" >&2; exit 1; }
node --test --test-concurrency=1 --test-reporter=spec browser/*.test.mjs
