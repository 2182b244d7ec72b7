#!/usr/bin/env bash
# Two builds of Gatehouse measured at the same time, to tell whether a change helps.
#
# The machine's speed drifts by tens of percent over minutes (a VM), so two builds measured one
# after the other differ by more than most changes do. Here both run at once: each build's
# server on core 1 (PROVIDER_CPUS), each with its own driver on core 0 (DRIVER_CPUS), the same
# scenario, for the same seconds. Both see the same machine state, and each round prints the
# provider CPU ms per flow of each, measured on its own process. The two halve the core and
# the drivers share theirs, so the absolute figures are not the harness's (bench/run.sh): read
# only the ratio between the two builds, round by round.
#
# Usage: bench/ab.sh SCENARIO ROUNDS SECONDS BINARY_A BINARY_B
#   SCENARIO: authcode, cc or refresh. Env: FLOW=password_first (the sign-in of
#   register_bench_client.py --password-first), CONCURRENCY (16 per driver), BENCH_DIR
#   (../shared/bench), PORT (18080; B listens on PORT+1).
# Example: cp target/release/gatehouse /tmp/before; (change, rebuild);
#   bench/ab.sh refresh 4 8 /tmp/before target/release/gatehouse
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ $# -eq 5 ] || { sed -n '12,18p' "$0" >&2; exit 2; }
scenario=$1 rounds=$2 seconds=$3
bins=("$(realpath "$4")" "$(realpath "$5")")
BENCH_DIR=${BENCH_DIR:-$root/../shared/bench}
PORT=${PORT:-18080}; CONCURRENCY=${CONCURRENCY:-16}
PROVIDER_CPUS=${PROVIDER_CPUS:-1}; DRIVER_CPUS=${DRIVER_CPUS:-0}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$BENCH_DIR/driver" && { [ -d node_modules ] || npm ci --no-audit --no-fund; })
first=()
[ "${FLOW:-}" = password_first ] && first=(--password-first)

# serve I: the command line of build I (0 or 1) on its own database and port.
serve() {
  local dir=$work/$1 port=$((PORT + $1))
  echo "env GATEHOUSE_RATE_LIMIT_PER_IP=0 GATEHOUSE_RATE_LIMIT_PER_LOGIN=0 GATEHOUSE_NO_DEMO_APPS=true" \
    "${bins[$1]} serve --listen 127.0.0.1:$port --issuer http://127.0.0.1:$port" \
    "--database-url $dir/gatehouse.db --master-key-file $dir/gatehouse.key --outbox-dir $dir/outbox" \
    "--password-memory-kib 8 --password-iterations 1"
}

wait_up() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "ab: nothing answers on port $1" >&2
  exit 1
}

# Each build seeds its own demo database, with the driver's client (bench/run.sh does the same).
for i in 0 1; do
  mkdir -p "$work/$i"
  # shellcheck disable=SC2046
  $(serve $i) --demo >"$work/$i/seed.log" 2>&1 &
  pid=$!
  wait_up $((PORT + i))
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 bench/register_bench_client.py "${first[@]}" "$work/$i/gatehouse.db" >/dev/null
done

for round in $(seq 1 "$rounds"); do
  pids=()
  for i in 0 1; do
    # shellcheck disable=SC2046
    taskset -c "$PROVIDER_CPUS" $(serve $i) >"$work/$i/serve.log" 2>&1 &
    pids+=($!)
  done
  wait_up "$PORT"; wait_up $((PORT + 1))
  drivers=()
  for i in 0 1; do
    GATEHOUSE_BENCH_FLOW=${FLOW:-} taskset -c "$DRIVER_CPUS" node "$BENCH_DIR/driver/bench.mjs" \
      --driver-cpus "$DRIVER_CPUS" --pid "${pids[$i]}" \
      --base-url "http://127.0.0.1:$((PORT + i))" --adapter "$root/bench/adapters/gatehouse.mjs" \
      --client-id bench --client-secret bench-secret --username alice --password correct-horse-battery \
      --runs 1 --duration "$seconds" --warmup 2 --concurrency "$CONCURRENCY" \
      --scenarios "$scenario" --out "$work/$i/r$round.json" >"$work/$i/r$round.md" 2>&1 &
    drivers+=($!)
  done
  wait "${drivers[@]}" || true
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
  pids=()
  python3 - "$round" "$work/0/r$round.json" "$work/1/r$round.json" <<'PY'
import json, sys

def scenario(path):
    return json.load(open(path))["runs"][0]["scenarios"][0]

a, b = scenario(sys.argv[2]), scenario(sys.argv[3])
line = (f"round {sys.argv[1]}: A {a['providerCpuMsPerFlow']:.4f}  B {b['providerCpuMsPerFlow']:.4f}"
        f" ms/flow  B/A {b['providerCpuMsPerFlow'] / a['providerCpuMsPerFlow']:.3f}")
if a["errors"] or b["errors"]:
    line += f"  (errors: A {a['errors']} {a['errorKinds']}, B {b['errors']} {b['errorKinds']})"
print(line)
PY
done
