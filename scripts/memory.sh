#!/usr/bin/env bash
# Memory per connection (issue 6, target 3): the client's max RSS with LOW (100) and with
# HIGH (10,000) open keep-alive connections to the built-in target, and
#   KiB per connection = (RSS_HIGH - RSS_LOW) / (HIGH - LOW)      target: <= 1 KiB
# plus wrk's max RSS at HIGH connections for the ratio           target: <= 0.5x wrk's.
#
#   scripts/memory.sh                     # 100 vs 10,000 connections, 3 s each
#   HIGH=5000 DUR=5s REPEAT=3 scripts/memory.sh
#
# Max RSS is GNU time's %M (KiB). The target (`tressi target --threads 1`) runs in its
# own process on an ephemeral loopback port, so its memory is not counted. The script
# raises `ulimit -n` to 65536 or the hard limit (client and target each need HIGH
# descriptors). Each run also prints how many connections were really established
# (tressi's JSON `connections.established`): a run that did not open them all is not
# a measurement of HIGH connections. Everything stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

TRESSI="${TRESSI:-target/release/tressi}"
LOW="${LOW:-100}"
HIGH="${HIGH:-10000}"
DUR="${DUR:-3s}"
REPEAT="${REPEAT:-1}"
WRK="${WRK:-$(command -v wrk || true)}"

[ -x "$TRESSI" ] || cargo build --release --quiet
[ -x /usr/bin/time ] || { echo "memory.sh: needs GNU time (/usr/bin/time; apt-get install time)" >&2; exit 2; }

hard=$(ulimit -Hn)
want=65536
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want"
if [ "$want" -lt $((HIGH + 100)) ]; then
    echo "memory.sh: open-file limit $want is too low for $HIGH connections" >&2
    exit 2
fi

. "$(dirname "$0")/lib/target.sh"
start_target "$TRESSI"
url="http://$target_addr/"

# tressi_rss N -> prints "RSS_KiB ESTABLISHED REQUESTS"
tressi_rss() {
    /usr/bin/time -f %M -o "$tmp/time" \
        "$TRESSI" "$url" -c "$1" -t 1 -d "$DUR" --no-ui --json >"$tmp/out" 2>"$tmp/err" || {
        echo "memory.sh: tressi -c $1 failed:" >&2
        cat "$tmp/err" >&2
        exit 1
    }
    local est req
    est=$(jq -r '.connections.established' "$tmp/out" 2>/dev/null || echo '?')
    req=$(jq -r '.requests.completed' "$tmp/out" 2>/dev/null || echo '?')
    echo "$(tail -n1 "$tmp/time") $est $req"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# client: $TRESSI ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), target $url, $DUR per run, ulimit -n $want"
echo "# run  connections  max_RSS_KiB  established  responses"
low_all=() high_all=()
for r in $(seq "$REPEAT"); do
    read -r rss est req < <(tressi_rss "$LOW")
    printf 'tressi %d %6d %10d %10s %12s\n' "$r" "$LOW" "$rss" "$est" "$req"
    low_all+=("$rss")
    read -r rss est req < <(tressi_rss "$HIGH")
    printf 'tressi %d %6d %10d %10s %12s\n' "$r" "$HIGH" "$rss" "$est" "$req"
    [ "$est" = "$HIGH" ] || echo "memory.sh: warning: only $est of $HIGH connections established" >&2
    high_all+=("$rss")
done
low=$(printf '%s\n' "${low_all[@]}" | median)
high=$(printf '%s\n' "${high_all[@]}" | median)
per=$(awk -v h="$high" -v l="$low" -v H="$HIGH" -v L="$LOW" 'BEGIN {printf "%.3f", (h - l) / (H - L)}')
echo "tressi: RSS($LOW) = $low KiB, RSS($HIGH) = $high KiB -> $per KiB per connection (target <= 1)"

if [ -n "$WRK" ]; then
    wrk_all=()
    for r in $(seq "$REPEAT"); do
        /usr/bin/time -f %M -o "$tmp/time" "$WRK" -t1 -c"$HIGH" -d"$DUR" "$url" >"$tmp/wrk.out" 2>&1 || true
        rss=$(tail -n1 "$tmp/time")
        errs=$(grep -o 'Socket errors:.*' "$tmp/wrk.out" || echo 'no socket errors')
        printf 'wrk    %d %6d %10d   (%s)\n' "$r" "$HIGH" "$rss" "$errs"
        wrk_all+=("$rss")
    done
    wrk_rss=$(printf '%s\n' "${wrk_all[@]}" | median)
    ratio=$(awk -v t="$high" -v w="$wrk_rss" 'BEGIN {printf "%.2f", t / w}')
    echo "wrk: RSS($HIGH) = $wrk_rss KiB -> tressi/wrk = $ratio (target <= 0.5)"
else
    echo "wrk not installed: no ratio (../shared/bench/install.sh installs it)"
fi
