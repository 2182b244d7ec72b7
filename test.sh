#!/usr/bin/env bash
# Every test of Gatehouse. `./test.sh` runs all stages; `./test.sh STAGE…` runs only those named
# (setup, lint, rust, e2e, fuzz). It installs what the tests need that a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(setup lint rust e2e fuzz)

# The local PostgreSQL server the store, multi-node and crash tests create their databases on.
export GATEHOUSE_TEST_POSTGRES_URL=${GATEHOUSE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

log() { printf '\n==> %s\n' "$*"; }

stage_setup() {
  log "setup: system packages, services, Node and Python packages"
  scripts/setup.sh
}

stage_lint() {
  log "lint: rustfmt and clippy"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets --locked -- -D warnings
}

stage_rust() {
  log "rust: unit, property and integration tests (SQLite and PostgreSQL)"
  if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
  else
    cargo test --workspace --locked --no-fail-fast
  fi
  # Doc tests are not run by nextest.
  cargo test --workspace --locked --doc
}

stage_e2e() {
  # Debug binaries: the rust stage has already compiled almost all of them, and a release build
  # costs CI twelve minutes on two cores. Speed is measured by the benchmarks, not here.
  log "e2e: binaries, then the independent-client suites"
  cargo build --locked --bins
  export GATEHOUSE_BIN="$root/target/debug/gatehouse"
  export GATEHOUSE_SSO_BIN="$root/target/debug/gatehouse-sso"
  export GATEHOUSE_VERIFY_BIN="$root/target/debug/gatehouse-verify"
  mkdir -p target/screenshots
  for suite in e2e/suites/*.sh; do
    [ -e "$suite" ] || continue
    log "e2e suite: $suite"
    bash "$suite"
  done
}

stage_fuzz() {
  # cargo-fuzz with `--sanitizer none` builds on the stable toolchain. Each target runs for a CI
  # length (GATEHOUSE_FUZZ_SECONDS, default 20) from the committed seed corpus, copied so the run
  # never rewrites it; any crash fails the stage and leaves its input under fuzz/artifacts/.
  log "fuzz: every target for ${GATEHOUSE_FUZZ_SECONDS:-20} s"
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
  (
    cd fuzz
    cargo fuzz build --sanitizer none --release
    for target in $(cargo fuzz list); do
      work=$(mktemp -d)
      cp -r "corpus/$target/." "$work/"
      log "fuzz target: $target"
      status=0
      cargo fuzz run --sanitizer none --release "$target" "$work" -- \
        -max_total_time="${GATEHOUSE_FUZZ_SECONDS:-20}" -max_len=8192 -print_final_stats=1 \
        >"$work.log" 2>&1 || status=$?
      grep -E '^(Done|stat::number_of_executed_units)' "$work.log" || true
      [ "$status" -eq 0 ] || tail -40 "$work.log"
      rm -rf "$work" "$work.log"
      [ "$status" -eq 0 ] || { echo "fuzz target $target failed (exit $status)"; exit 1; }
    done
  )
}

for s in "${stages[@]}"; do
  "stage_$s"
done
log "all stages passed: ${stages[*]}"
