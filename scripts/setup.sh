#!/usr/bin/env bash
# Installs what the test suites need that a fresh machine does not have, and starts the local
# PostgreSQL server when it is down. Idempotent: a second run does nothing but check.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in chromium chromium-driver softhsm2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi

if [ -f e2e/package.json ]; then
  (cd e2e && { [ -d node_modules ] && npm ls --depth=0 >/dev/null 2>&1; } || npm ci --no-audit --no-fund)
fi
if [ -f e2e/requirements.txt ]; then
  python3 -m pip install --quiet --disable-pip-version-check -r e2e/requirements.txt
fi
