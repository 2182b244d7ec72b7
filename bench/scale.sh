#!/usr/bin/env bash
# Scale figures (issue 9): sign-in latency with 1,000 and 1,000,000 users on SQLite and on
# PostgreSQL, and the throughput of one node and of two nodes on one PostgreSQL database, with the
# shared load driver (../shared/bench/driver).
#
# For each database and size: a demo database (`serve --demo`), the driver's `bench` client
# registered through the admin API, `gatehouse dev seed --users N` (N - 4 seeded users beside
# the demo's four), then the driver's authcode scenario where every flow signs in a random seeded
# user (bench/adapters/gatehouse.mjs with GATEHOUSE_BENCH_USERS), so the directory is read all
# over. Passwords use the cheapest argon2id (m=8 KiB, t=1): a sign-in's hash costs the same at
# any directory size and would hide what the size changes. Two nodes: two servers on the same
# PostgreSQL database, one driver each at half the concurrency, flows/s summed.
#
# Env: GATEHOUSE_BIN (target/release/gatehouse), BENCH_DIR (../shared/bench), PG
# (postgres://postgres@127.0.0.1:5432/postgres), SIZES ("1000 1000000"), BACKENDS ("sqlite
# postgres"), DURATION (20), WARMUP (3), RUNS (1), CONCURRENCY (4), NODES_CONCURRENCY (16),
# KEEP=1 keeps the databases. Results: bench/results/scale-*.json|md and bench/results/scale.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
BIN=${GATEHOUSE_BIN:-$root/target/release/gatehouse}
BENCH_DIR=${BENCH_DIR:-$root/../shared/bench}
PG=${PG:-postgres://postgres@127.0.0.1:5432/postgres}
SIZES=${SIZES:-"1000 1000000"}; BACKENDS=${BACKENDS:-"sqlite postgres"}
DURATION=${DURATION:-20}; WARMUP=${WARMUP:-3}; RUNS=${RUNS:-1}; CONCURRENCY=${CONCURRENCY:-4}
NODES_CONCURRENCY=${NODES_CONCURRENCY:-16}
TOKEN=scale-admin-token
out=$root/bench/results; work=$out/scale-work
mkdir -p "$out/logs" "$work"
[ -x "$BIN" ] || { echo "scale: $BIN is not built (cargo build --release --bin gatehouse)" >&2; exit 1; }
(cd "$BENCH_DIR/driver" && { [ -d node_modules ] || npm ci --no-audit --no-fund; })
summary=$out/scale.md
echo "| database | users | flows/s | p50 ms | p99 ms | errors | server CPU ms/flow |" >"$summary"
echo "|---|---:|---:|---:|---:|---:|---:|" >>"$summary"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_node DBURL DIR PORT CPUS: a server in the background; echoes its pid.
start_node() {
  local db=$1 dir=$2 port=$3 cpus=$4
  GATEHOUSE_RATE_LIMIT_PER_IP=0 GATEHOUSE_RATE_LIMIT_PER_LOGIN=0 GATEHOUSE_NO_DEMO_APPS=true \
    taskset -c "$cpus" "$BIN" serve --demo --listen "127.0.0.1:$port" --issuer "http://127.0.0.1:$port" \
    --database-url "$db" --master-key-file "$dir/gatehouse.key" --outbox-dir "$dir/outbox" \
    --admin-token "$TOKEN" --password-memory-kib 8 --password-iterations 1 >>"$dir/server-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { tail "$dir/server-$port.log" >&2; exit 1; }
  echo "$pid"
}

# register PORT: the driver's client through the admin API; echoes its secret.
register() {
  python3 - "$1" "$TOKEN" <<'EOF'
import json, sys, urllib.request
port, token = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
app = call("POST", "/api/v1/apps", {"client_id": "bench", "name": "Load driver", "policy": "dashboard",
        "redirect_uris": ["http://127.0.0.1:9999/cb"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"]})
call("POST", "/api/v1/authorization-server/rules", {"name": "bench-any-scope", "priority": 50, "clients": ["bench"],
     "grant_types": ["*"], "scopes": ["*"], "access_token_lifetime": "PT1H", "refresh_token_lifetime": "P1D"})
print(app["client_secret"])
EOF
}

# drive LABEL PORT PID SECRET USERS CONCURRENCY
drive() {
  GATEHOUSE_BENCH_USERS=$5 taskset -c 0 node "$BENCH_DIR/driver/bench.mjs" \
    --pid "$3" --base-url "http://127.0.0.1:$2" --adapter "$root/bench/adapters/gatehouse.mjs" \
    --client-id bench --client-secret "$4" --scenarios authcode \
    --runs "$RUNS" --duration "$DURATION" --warmup "$WARMUP" --concurrency "$6" \
    --label "$1" --out "$out/$1.json" | tee "$out/$1.md"
}

row() { # LABEL DATABASE USERS
  python3 - "$out/$1.json" "$2" "$3" >>"$summary" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["median"]["scenarios"]["authcode"]
print(f"| {sys.argv[2]} | {int(sys.argv[3]):,} | {s['flowsPerSec']:.1f} | {s['p50ms']:.2f} | {s['p99ms']:.2f} | "
      f"{s['errorsTotal']} | {s['providerCpuMsPerFlow']:.3f} |")
EOF
}

for backend in $BACKENDS; do
  for users in $SIZES; do
    label=scale-$backend-$users
    dir=$work/$label; rm -rf "$dir"; mkdir -p "$dir"
    if [ "$backend" = sqlite ]; then
      db=$dir/gatehouse.db
    else
      name=gatehouse_scale_$users
      psql "$PG" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -qc "CREATE DATABASE $name"
      db=${PG%/*}/$name
    fi
    pid=$(start_node "$db" "$dir" 18090 1); pids+=("$pid")
    secret=$(register 18090)
    echo "== $label: seeding $((users - 4)) users"
    "$BIN" dev seed --users $((users - 4)) --database-url "$db" --master-key-file "$dir/gatehouse.key" \
      --password-memory-kib 8 --password-iterations 1
    # Settle after the bulk load (SQLite checkpoints its WAL, PostgreSQL autovacuum analyses).
    [ "$backend" = postgres ] && psql "${PG%/*}/$name" -qc "VACUUM ANALYZE"
    drive "$label" 18090 "$pid" "$secret" $((users - 4)) "$CONCURRENCY"
    row "$label" "$backend" "$users"
    if [ "$backend" = postgres ] && [ "$users" = "$(echo "$SIZES" | awk '{print $NF}')" ]; then
      # Throughput: one node, then two nodes on the same database.
      drive "$label-1node" 18090 "$pid" "$secret" $((users - 4)) "$NODES_CONCURRENCY"
      pid2=$(start_node "$db" "$dir" 18091 0); pids+=("$pid2")
      drive "$label-2nodes-a" 18090 "$pid" "$secret" $((users - 4)) $((NODES_CONCURRENCY / 2)) &
      first=$!
      drive "$label-2nodes-b" 18091 "$pid2" "$secret" $((users - 4)) $((NODES_CONCURRENCY / 2))
      wait "$first"
      python3 - "$out" "$label" "$NODES_CONCURRENCY" "$users" >>"$summary" <<'EOF'
import json, sys
out, label, concurrency, users = sys.argv[1:5]
get = lambda l: json.load(open(f"{out}/{l}.json"))["median"]["scenarios"]["authcode"]["flowsPerSec"]
one, a, b = get(f"{label}-1node"), get(f"{label}-2nodes-a"), get(f"{label}-2nodes-b")
print(f"\nPostgreSQL, {int(users):,} users, authcode at total concurrency {concurrency}: one node {one:.1f} flows/s; "
      f"two nodes {a + b:.1f} flows/s ({a:.1f} + {b:.1f})\n")
EOF
      kill "$pid2" 2>/dev/null || true
    fi
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    if [ "${KEEP:-0}" != 1 ]; then
      [ "$backend" = postgres ] && psql "$PG" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)"
      rm -rf "$dir"
    fi
  done
done
cat "$summary"
