#!/usr/bin/env bash
# Start-up (issue 6, target 5: to the first request in <= 5 ms), measured two ways:
# 1. the time from spawning the client to its first request's bytes at a loopback
#    listener (scripts/lib/first_request.py: exactly what the target names), for
#    tressi, h2load, ab and wrk (wrk runs 1 s, but its first request is what counts);
# 2. the wall time of a whole one-request run — process start, argument parsing, set-up
#    probe, one connect, one request, report, exit — timed by hyperfine against the
#    built-in target (`tressi target`, separate process, loopback); an upper bound.
#    Peers when installed: h2load (--h1 -c1 -n1), ab (-n1); wrk cannot do a single
#    request (it runs for a duration) and is left out.
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

first=("tressi=$TRESSI {url} -c 1 -n 1 --no-ui --json")
command -v h2load >/dev/null && first+=("h2load=h2load --h1 -c1 -n1 {url}")
command -v ab >/dev/null && first+=("ab=ab -q -n1 {url}")
command -v wrk >/dev/null && first+=("wrk=wrk -t1 -c1 -d1s {url}")
echo "To the first request (spawn to the request's bytes at a listener, $RUNS alternating rounds):"
python3 "$(dirname "$0")/lib/first_request.py" "$RUNS" "${first[@]}"
echo
echo "A whole one-request run (hyperfine):"

cmds=("$TRESSI $url -c 1 -n 1 --no-ui --json")
command -v h2load >/dev/null && cmds+=("h2load --h1 -c1 -n1 $url")
command -v ab >/dev/null && cmds+=("ab -q -n1 $url")

hyperfine -N --warmup 3 --min-runs "$RUNS" --export-markdown "$tmp/startup.md" "${cmds[@]}" >&2
cat "$tmp/startup.md"
