#!/usr/bin/env bash
# Gatehouse against the peer (Node's oidc-provider) with the shared load driver, in one session on
# one machine (DESIGN issue 4, "Performance"; the driver and the peer are in ../shared/bench).
#
#  1. Seeds two demo databases with `gatehouse serve --demo` and registers the driver's `bench`
#     client in each (bench/register_bench_client.py): one with argon2id at OWASP parameters
#     (m=19456 KiB, t=2, p=1), one with the cheapest argon2id the library allows (m=8 KiB, t=1),
#     so that "everything but the hash" can be measured next to the real thing.
#  2. Runs the driver against Gatehouse, which it spawns per run pinned to one core (the same
#     placement run-peer.sh uses for the peer: provider on core 1, driver on core 0):
#       gatehouse-default         authcode, cc, refresh   cheap hash
#       gatehouse-password-first  authcode                cheap hash, password_first sign-in
#                                                         (login and password in one step, as
#                                                         the peer's login form)
#       gatehouse-argon2id        authcode                OWASP argon2id
#  3. Runs ../shared/bench/run-peer.sh (the peer's three configurations).
#  Steps 2 and 3 alternate, one run of each configuration per round, RUNS rounds: the machine's
#  speed drifts by tens of percent over minutes (a VM), so each round compares the two servers on
#  the same machine state, and bench/ratios.py reports the median of the per-round ratios.
# Results: bench/results/rounds/*-rN.json, bench/results/summary.md (medians and ratios).
#
# Env: GATEHOUSE_BIN (target/release/gatehouse; build it with `cargo build --release --bin
# gatehouse`), BENCH_DIR (../shared/bench), RUNS (3), DURATION (30), WARMUP (5), CONCURRENCY
# (16), PROVIDER_CPUS (1), DRIVER_CPUS (0), SKIP_PEER=1 to measure Gatehouse only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
BIN=${GATEHOUSE_BIN:-$root/target/release/gatehouse}
BENCH_DIR=${BENCH_DIR:-$root/../shared/bench}
RUNS=${RUNS:-3}; DURATION=${DURATION:-30}; WARMUP=${WARMUP:-5}; CONCURRENCY=${CONCURRENCY:-16}
PROVIDER_CPUS=${PROVIDER_CPUS:-1}; DRIVER_CPUS=${DRIVER_CPUS:-0}
PORT=${PORT:-18080}
out=$root/bench/results
work=$out/scratch

[ -x "$BIN" ] || { echo "bench: $BIN is not built (cargo build --release --bin gatehouse)" >&2; exit 1; }
[ -f "$BENCH_DIR/driver/bench.mjs" ] || { echo "bench: no driver in $BENCH_DIR" >&2; exit 1; }
(cd "$BENCH_DIR/driver" && { [ -d node_modules ] || npm ci --no-audit --no-fund; })
mkdir -p "$out/logs" "$work"

# serve_cmd DIR MEMORY_KIB ITERATIONS: the server command line (for --spawn and for seeding).
# The sign-in rate limits (per IP, per login) are off: the driver signs one user in from one
# address hundreds of times a second, which is exactly what they exist to stop. The demo's
# relying parties on the callback ports are not started.
serve_cmd() {
  echo "env GATEHOUSE_RATE_LIMIT_PER_IP=0 GATEHOUSE_RATE_LIMIT_PER_LOGIN=0 GATEHOUSE_NO_DEMO_APPS=true $BIN serve --listen 127.0.0.1:$PORT --issuer http://127.0.0.1:$PORT" \
    "--database-url $1/gatehouse.db --master-key-file $1/gatehouse.key --outbox-dir $1/outbox" \
    "--password-memory-kib $2 --password-iterations $3"
}

# seed NAME MEMORY_KIB ITERATIONS [--password-first]: a fresh demo database with the bench
# client in $work/NAME.
seed() {
  local dir=$work/$1
  rm -rf "$dir"; mkdir -p "$dir"
  # shellcheck disable=SC2046
  $(serve_cmd "$dir" "$2" "$3") --demo >"$dir/seed.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$dir/seed.log" >&2; kill "$pid"; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # shellcheck disable=SC2086
  python3 bench/register_bench_client.py ${4:-} "$dir/gatehouse.db"
}

# bench LABEL DBNAME MEMORY_KIB ITERATIONS [driver options…]: one run, as round $round.
bench() {
  local label=$1 dir=$work/$2 m=$3 t=$4; shift 4
  local result=$out/rounds/$label-r$round
  taskset -c "$DRIVER_CPUS" node "$BENCH_DIR/driver/bench.mjs" \
    --driver-cpus "$DRIVER_CPUS" --provider-cpus "$PROVIDER_CPUS" \
    --spawn "$(serve_cmd "$dir" "$m" "$t")" --spawn-log "$out/logs/$label-run{run}.log" \
    --base-url "http://127.0.0.1:$PORT" --adapter "$root/bench/adapters/gatehouse.mjs" \
    --client-id bench --client-secret bench-secret \
    --username alice --password correct-horse-battery \
    --runs 1 --duration "$DURATION" --warmup "$WARMUP" --concurrency "$CONCURRENCY" \
    --label "$label" --out "$result.json" "$@" | tee "$result.md"
  # The recorded command names this checkout's paths: keep them relative to the repository.
  sed -i "s|$root/|./|g" "$result.json" "$result.md"
}

seed cheap 8 1
seed pwfirst 8 1 --password-first
seed owasp 19456 2
rm -rf "$out/rounds"; mkdir -p "$out/rounds"
for round in $(seq 1 "$RUNS"); do
  bench gatehouse-default cheap 8 1 --scenarios authcode,cc,refresh
  GATEHOUSE_BENCH_FLOW=password_first bench gatehouse-password-first pwfirst 8 1 --scenarios authcode
  bench gatehouse-argon2id owasp 19456 2 --scenarios authcode
  if [ "${SKIP_PEER:-0}" != 1 ]; then
    RUNS=1 DURATION=$DURATION WARMUP=$WARMUP CONCURRENCY=$CONCURRENCY "$BENCH_DIR/run-peer.sh"
    for f in "$BENCH_DIR"/results/peer-*.json; do
      cp "$f" "$out/rounds/$(basename "$f" .json)-r$round.json"
    done
  fi
done
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -m), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo
  python3 bench/ratios.py "$out/rounds"
} >"$out/summary.md"
cat "$out/summary.md"
echo "bench: summary in bench/results/summary.md"
