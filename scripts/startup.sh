#!/usr/bin/env bash
# Start-up (issue 6, target 5): wall time of a whole one-request run — process start,
# argument parsing, set-up probe, one connect, one request, report, exit — timed by
# hyperfine against the built-in target (`tressi target`, separate process, loopback).
# Target: <= 5 ms. Peers measured beside it when installed: h2load (--h1 -c1 -n1),
# ab (-n1), wrk cannot do a single request (it runs for a duration) and is left out.
#
#   scripts/startup.sh                   # hyperfine, 3 warm-ups, >= 50 runs each
#   RUNS=200 scripts/startup.sh
#   TRESSI=target/x86_64-unknown-linux-gnu/release/tressi scripts/startup.sh   # static
#
# These are whole-process figures on a shared machine: take them as rough, and compare
# only rows of the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

TRESSI="${TRESSI:-target/release/tressi}"
RUNS="${RUNS:-50}"
[ -x "$TRESSI" ] || cargo build --release --quiet
command -v hyperfine >/dev/null || { echo "startup.sh: needs hyperfine (../shared/bench/install.sh)" >&2; exit 2; }

. "$(dirname "$0")/lib/target.sh"
start_target "$TRESSI"
url="http://$target_addr/"

cmds=("$TRESSI $url -c 1 -n 1 --no-ui --json")
command -v h2load >/dev/null && cmds+=("h2load --h1 -c1 -n1 $url")
command -v ab >/dev/null && cmds+=("ab -q -n1 $url")

hyperfine -N --warmup 3 --min-runs "$RUNS" --export-markdown "$tmp/startup.md" "${cmds[@]}" >&2
cat "$tmp/startup.md"
