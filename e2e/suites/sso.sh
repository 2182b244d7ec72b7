#!/usr/bin/env bash
# End-to-end suite of the SSO gateway (gatehouse-sso), with real processes:
#  1. against Node's oidc-provider, an independent IdP (e2e/sso/oidc-provider.test.mjs);
#  2. against the real Gatehouse demo server (e2e/sso/against-gatehouse.mjs) — only when the
#     engine can sign in ($GATEHOUSE_BIN has `serve`, and its /oauth2/authorize and flow API
#     exist); otherwise that part is reported loudly as SKIPPED, never passed silently.
# Needs GATEHOUSE_SSO_BIN (set by ./test.sh e2e) and e2e/node_modules (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${GATEHOUSE_SSO_BIN:?GATEHOUSE_SSO_BIN must point to the gatehouse-sso binary}"
if [ ! -x "$GATEHOUSE_SSO_BIN" ]; then
  echo "sso suite: $GATEHOUSE_SSO_BIN is not an executable" >&2
  exit 1
fi
if [ ! -d node_modules/oidc-provider ]; then
  echo "sso suite: e2e/node_modules is missing oidc-provider: run npm ci in e2e/" >&2
  exit 1
fi

echo "--- sso: gatehouse-sso against oidc-provider (independent IdP)"
node --test --test-reporter=spec sso/oidc-provider.test.mjs

echo "--- sso: gatehouse-sso against the Gatehouse demo (sso-gateway client)"
skipped() {
  cat >&2 <<BANNER
############################################################################################
# SKIPPED: gatehouse-sso against the real Gatehouse demo server.
# Reason: $1
# The redirect dance through Gatehouse's sign-in flow (e2e/sso/against-gatehouse.mjs) did
# NOT run; the oidc-provider part above did. It runs by itself once the engine can sign in.
############################################################################################
BANNER
}
if [ -z "${GATEHOUSE_BIN:-}" ] || [ ! -x "$GATEHOUSE_BIN" ]; then
  skipped "GATEHOUSE_BIN is not set to an executable"
elif ! "$GATEHOUSE_BIN" serve --help >/dev/null 2>&1; then
  skipped "\$GATEHOUSE_BIN has no \`serve\` command yet"
else
  status=0
  node sso/against-gatehouse.mjs || status=$?
  if [ "$status" -eq 3 ]; then
    skipped "the engine runs but cannot sign in yet (see the line above)"
  elif [ "$status" -ne 0 ]; then
    echo "sso suite: the run against the Gatehouse demo FAILED (exit $status)" >&2
    exit "$status"
  fi
fi
echo "sso suite passed"
