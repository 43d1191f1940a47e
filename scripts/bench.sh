#!/usr/bin/env bash
# Reproduces the side-by-side figures in BENCHMARKS.md with the shared harness
# (../shared/bench): nginx pinned to CPU 0, each client pinned to CPU 1, same run.
#
#   scripts/bench.sh                 # throughput c=50 and c=1000, pipeline p=16 (3 runs each)
#   SCENARIOS=throughput CONNS_LIST=50 REPEAT=5 scripts/bench.sh
#
# Needs root for the first install (apt-get). Loopback only; every run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-../shared/bench}"
command -v wrk >/dev/null && command -v nginx >/dev/null || "$BENCH/install.sh"
cargo build --release --quiet
"$BENCH/server.sh" start
trap '"$BENCH/server.sh" stop' EXIT
TRESSI="$PWD/target/release/tressi" \
PEERS="${PEERS:-wrk h2load tressi}" \
SCENARIOS="${SCENARIOS:-throughput pipeline}" \
CONNS_LIST="${CONNS_LIST:-50 1000}" \
REPEAT="${REPEAT:-3}" \
    "$BENCH/peers.sh"
