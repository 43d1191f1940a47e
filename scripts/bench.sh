#!/usr/bin/env bash
# Reproduces the side-by-side figures in BENCHMARKS.md with the shared harness
# (../shared/bench): nginx pinned to CPU 0, each client pinned to CPU 1, same run.
#
#   scripts/bench.sh                 # throughput c=50 and c=1000, pipeline p=16 (3 runs each)
#   SCENARIOS=throughput CONNS_LIST=50 REPEAT=5 scripts/bench.sh
#   SCENARIOS=tls scripts/bench.sh   # wrk vs tressi over https (scripts/bench_tls.sh:
#                                    # nginx with TLS on :18443, same pinning and figures)
#
# Needs root for the first install (apt-get). Loopback only; every run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-../shared/bench}"
command -v wrk >/dev/null && command -v nginx >/dev/null || "$BENCH/install.sh"
cargo build --release --quiet
SCENARIOS="${SCENARIOS:-throughput pipeline}"
# The shared harness speaks http only: the tls scenario has its own script.
http_scenarios="$(echo "$SCENARIOS" | tr ' ' '\n' | grep -vx tls | tr '\n' ' ' || true)"
if [[ -n "${http_scenarios// /}" ]]; then
    "$BENCH/server.sh" start
    trap '"$BENCH/server.sh" stop' EXIT
    TRESSI="$PWD/target/release/tressi" \
    PEERS="${PEERS:-wrk h2load tressi}" \
    SCENARIOS="$http_scenarios" \
    CONNS_LIST="${CONNS_LIST:-50 1000}" \
    REPEAT="${REPEAT:-3}" \
        "$BENCH/peers.sh"
fi
if [[ " $SCENARIOS " == *" tls "* ]]; then
    TRESSI="$PWD/target/release/tressi" REPEAT="${REPEAT:-3}" CONNS_LIST="${CONNS_LIST:-50}" \
        scripts/bench_tls.sh
fi
