#!/usr/bin/env bash
# A/B of two tressi builds: client CPU (user+sys, from /usr/bin/time) per response,
# alternating A and B run by run, against one built-in target (a binary of its own,
# `TARGET_BIN`, pinned to CPU 0; clients pinned to CPU 1). For "did this change make the
# hot path cheaper" questions the side-by-side harness (peers.sh) cannot answer: it runs
# one tressi.
#
#   scripts/ab.sh OLD_BINARY NEW_BINARY                # p=1 and p=16, c=50, 5 s, 3 rounds
#   ARGS_LIST="-p 16" ROUNDS=5 DUR=3s scripts/ab.sh A B
#
# Prints one line per run and the median µs per response of each side. Loopback only;
# every run stops by itself.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 A_BINARY B_BINARY" >&2; exit 2; }
A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS="${ROUNDS:-3}"
DUR="${DUR:-5s}"
CONNS="${CONNS:-50}"
ARGS_LIST="${ARGS_LIST:--p 1;-p 16}"
TARGET_BIN="${TARGET_BIN:-$B}"
cd "$(dirname "$0")/.."
. scripts/lib/target.sh
[ -x /usr/bin/time ] || { echo "ab.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

# The target on CPU 0, as in the shared harness.
"$TARGET_BIN" target --listen 127.0.0.1:0 --threads 1 >"$tmp/target.out" 2>&1 &
target_pid=$!
taskset -cp 0 "$target_pid" >/dev/null
for _ in $(seq 100); do
    grep -q '^listening on ' "$tmp/target.out" 2>/dev/null && break
    sleep 0.05
done
target_addr=$(sed -n 's/^listening on //p' "$tmp/target.out")
[ -n "$target_addr" ] || { echo "ab.sh: the target did not start" >&2; exit 1; }
url="http://$target_addr/"

# One run: prints "REQ_PER_S US_PER_RESPONSE".
run() {
    local bin=$1; shift
    /usr/bin/time -f '%U %S' -o "$tmp/time" taskset -c 1 "$bin" "$url" -c "$CONNS" -d "$DUR" \
        -t 1 --no-ui --json "$@" >"$tmp/out.json" 2>/dev/null
    python3 - "$tmp/out.json" "$tmp/time" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
u, s = map(float, open(sys.argv[2]).read().split()[-2:])
n = d["requests"]["completed"]
print(f'{d["rps"]:.0f} {(u + s) / n * 1e6:.3f}')
EOF
}

IFS=';' read -ra cases <<<"$ARGS_LIST"
for args in "${cases[@]}"; do
    : >"$tmp/a" && : >"$tmp/b"
    for r in $(seq "$ROUNDS"); do
        # shellcheck disable=SC2086
        a=$(run "$A" $args); echo "$args round $r  A: ${a% *} req/s, ${a#* } µs/response"; echo "$a" >>"$tmp/a"
        sleep 1
        # shellcheck disable=SC2086
        b=$(run "$B" $args); echo "$args round $r  B: ${b% *} req/s, ${b#* } µs/response"; echo "$b" >>"$tmp/b"
        sleep 1
    done
    python3 - "$tmp/a" "$tmp/b" "$args" <<'EOF'
import statistics, sys
med = lambda f: statistics.median(float(l.split()[1]) for l in open(f) if l.strip())
a, b = med(sys.argv[1]), med(sys.argv[2])
print(f"{sys.argv[3]}: median µs/response A {a:.3f}, B {b:.3f}, B/A {b / a:.2f}")
EOF
done
