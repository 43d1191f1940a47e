#!/usr/bin/env bash
# How far is tressi from the floor of an epoll client, and where is that floor against
# the peers? Runs wrk or h2load, the floor client (examples/floor.rs: one read and one
# write per event, no parsing, no timing), the same floor over io_uring (`--uring`) and
# tressi, alternating run by run, each pinned to CPU 1 with the server on CPU 0, and
# prints the client CPU (user+sys, from /usr/bin/time) per response with the medians and
# ratios. Needs 2 CPUs, /usr/bin/time, and the tools of the chosen cases.
#
#   scripts/floor.sh                          # the three cases below, 5 s runs, 3 rounds
#                                             # (about 4 minutes; ROUNDS=5: about 6)
#   CASES="nginx-p1" ROUNDS=5 DUR=3 CONNS=50 scripts/floor.sh
#   scripts/floor.sh --smoke                  # CI: the floor runs 1 s each way, no peers
#
# Cases: nginx-p1 (nginx from ../shared/bench, no pipelining: wrk), target-p1 (the
# built-in target: wrk), target-p16 (the built-in target, -p 16: h2load --h1 -m16).
# A client that fails, reports errors or non-200 responses, or outlasts its run by 20 s
# stops the script with its own message. Loopback only; every run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --smoke ]; then
    # Debug builds (what `cargo test` built). The floor checks its own counts: a run that
    # does not add up exits non-zero.
    cargo build --quiet --bin tressi --example floor
    . scripts/lib/target.sh
    start_target target/debug/tressi
    for args in "-p 1" "-p 8" "-p 1 --uring" "-p 8 --uring"; do
        # shellcheck disable=SC2086
        if ! out=$(timeout 30 target/debug/examples/floor "$target_addr" -c 4 -d 1 $args 2>&1); then
            if [[ $args == *--uring* && $out == "floor: io_uring: "* ]]; then
                echo "floor $args: skipped ($out)"
                continue
            fi
            echo "floor $args failed: $out" >&2
            exit 1
        fi
        n=$(sed -n 's/^responses \([0-9]*\) .*/\1/p' <<<"$out")
        [ "${n:-0}" -gt 0 ] || { echo "floor $args counted nothing: $out" >&2; exit 1; }
        echo "floor $args: ok ($n responses)"
    done
    exit 0
fi

BENCH="${BENCH:-../shared/bench}"
ROUNDS="${ROUNDS:-3}"
DUR="${DUR:-5}"
CONNS="${CONNS:-50}"
CASES="${CASES:-nginx-p1 target-p1 target-p16}"
need=()
[[ " $CASES " == *" nginx-"* ]] && need+=(nginx)
[[ " $CASES " == *"-p1 "* ]] && need+=(wrk)
[[ " $CASES " == *" target-p16 "* ]] && need+=(h2load)
for tool in "${need[@]}"; do
    if ! command -v "$tool" >/dev/null && ! [ -x "/usr/sbin/$tool" ]; then
        "$BENCH/install.sh"
        break
    fi
done
[ -x /usr/bin/time ] || { echo "floor.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
cargo build --release --quiet --bin tressi --example floor
TRESSI=$PWD/target/release/tressi
FLOOR=$PWD/target/release/examples/floor
. scripts/lib/target.sh
nginx_started=
stop_all() {
    [ -n "$nginx_started" ] && "$BENCH/server.sh" stop >/dev/null
    cleanup
}
trap stop_all EXIT

# One run of one client: prints "RESPONSES CPU_SECONDS", or stops the script.
run() {
    local who=$1 addr=$2 depth=$3 out=$tmp/out err=$tmp/err
    local -a cmd
    case $who in
        wrk) cmd=(wrk -t1 -c"$CONNS" -d"${DUR}s" "http://$addr/") ;;
        h2load) cmd=(h2load --h1 -t1 -m"$depth" -c"$CONNS" -D "$DUR" "http://$addr/") ;;
        floor) cmd=("$FLOOR" "$addr" -c "$CONNS" -p "$depth" -d "$DUR") ;;
        uring) cmd=("$FLOOR" "$addr" -c "$CONNS" -p "$depth" -d "$DUR" --uring) ;;
        tressi) cmd=("$TRESSI" "http://$addr/" -c "$CONNS" -p "$depth" -d "${DUR}s" -t 1 --no-ui --json) ;;
    esac
    local rc=0
    /usr/bin/time -f '%U %S' -o "$tmp/time" timeout $((DUR + 20)) \
        taskset -c 1 "${cmd[@]}" >"$out" 2>"$err" || rc=$?
    fail() {
        echo "floor.sh: $who: $1" >&2
        cat "$out" "$err" >&2
        exit 1
    }
    [ "$rc" = 0 ] || fail "exit status $rc"
    local n bad
    case $who in
        wrk)
            n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$out")
            bad=$(grep -E 'Non-2xx|Socket errors' "$out" || true) ;;
        h2load)
            n=$(sed -n 's/^requests: .* \([0-9]*\) succeeded, \([0-9]*\) failed, \([0-9]*\) errored.*/\1/p' "$out")
            bad=$(sed -n 's/^requests: .* succeeded, \([0-9]*\) failed, \([0-9]*\) errored.*/\1 \2/p' "$out")
            [ "$bad" = "0 0" ] && bad= ;;
        floor | uring) n=$(sed -n 's/^responses \([0-9]*\) .*/\1/p' "$out") ;;
        tressi)
            n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"]["completed"])' "$out")
            bad=$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
other = {k: v for k, v in d["status"].items() if k != "200"}
if d["requests"]["failed"] or other: print(d["requests"]["failed"], "failed;", other)' "$out") ;;
    esac
    [ -n "$n" ] && [ "$n" -gt 0 ] || fail "no response count"
    [ -z "${bad:-}" ] || fail "errors or non-200 responses: $bad"
    local u s
    read -r u s < <(tail -n 1 "$tmp/time")
    echo "$n $(python3 -c "print($u + $s)")"
}

for case in $CASES; do
    case $case in
        nginx-p1 | target-p1) peer=wrk depth=1 ;;
        target-p16) peer=h2load depth=16 ;;
        *) echo "floor.sh: unknown case $case" >&2; exit 2 ;;
    esac
    if [[ $case == nginx-* ]]; then
        # Started (and stopped at the end) only when not already running.
        if ! "$BENCH/server.sh" status >/dev/null 2>&1; then
            "$BENCH/server.sh" start >/dev/null
            nginx_started=1
        fi
        addr=127.0.0.1:18080
    else
        if [ -z "$target_pid" ]; then
            start_target "$TRESSI"
            taskset -cp 0 "$target_pid" >/dev/null
        fi
        addr=$target_addr
    fi
    : >"$tmp/$peer" && : >"$tmp/floor" && : >"$tmp/uring" && : >"$tmp/tressi"
    for r in $(seq "$ROUNDS"); do
        for who in $peer floor uring tressi; do
            res=$(run "$who" "$addr" "$depth") || exit 1
            read -r n cpu <<<"$res"
            us=$(python3 -c "print(f'{$cpu / $n * 1e6:.3f}')")
            printf '%-10s round %d  %-6s %9d responses  %6.2f s CPU  %s µs/response\n' \
                "$case" "$r" "$who" "$n" "$cpu" "$us"
            echo "$us" >>"$tmp/$who"
            sleep 1
        done
    done
    python3 - "$case" "$peer" "$tmp/$peer" "$tmp/floor" "$tmp/uring" "$tmp/tressi" <<'EOF'
import statistics, sys
case, peer, files = sys.argv[1], sys.argv[2], sys.argv[3:]
vals = [[float(l) for l in open(f) if l.strip()] for f in files]
p, f, u, t = (statistics.median(v) for v in vals)
show = lambda v: " ".join(f"{x:.2f}" for x in v)
print(f"{case}: median µs/response {peer} {p:.2f} ({show(vals[0])}), floor {f:.2f} "
      f"({show(vals[1])}), floor --uring {u:.2f} ({show(vals[2])}), tressi {t:.2f} "
      f"({show(vals[3])}); floor/{peer} {f / p:.2f}, uring/{peer} {u / p:.2f}, "
      f"tressi/{peer} {t / p:.2f}, tressi/floor {t / f:.2f}")
EOF
done
