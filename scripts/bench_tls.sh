#!/usr/bin/env bash
# The `tls` scenario of scripts/bench.sh: wrk over https against tressi over https, the
# same method as ../shared/bench/peers.sh (which only speaks http): nginx with TLS
# (self-signed ECDSA P-256 certificate made by the openssl CLI, TLS 1.3, keep-alive
# without limit) pinned to CPU $SERVER_CPU, each client pinned to CPU $CLIENT_CPU and run
# under /usr/bin/time -v, the client core's busy time from /proc/stat, runs alternating
# between the peers, $REPEAT rounds. Prints one row per run:
#   peer  conns  req/s  core µs/req  CPU µs/req  max RSS MiB
# "core µs/req" (busy jiffies of the client's core per response, softirq included) is
# the figure to compare; "CPU µs/req" is the process's user+sys per response.
#
#   TRESSI=target/release/tressi scripts/bench_tls.sh
#   DUR=2 REPEAT=1 CONNS_LIST=50 scripts/bench_tls.sh      # a smoke run
#
# Loopback only (127.0.0.1:18443); every run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
TRESSI="${TRESSI:-$PWD/target/release/tressi}"
DUR="${DUR:-5}"
REPEAT="${REPEAT:-3}"
CONNS_LIST="${CONNS_LIST:-50}"
CLIENT_CPU="${CLIENT_CPU:-1}"
SERVER_CPU="${SERVER_CPU:-0}"
COOLDOWN="${COOLDOWN:-2}"
PORT="${TLS_PORT:-18443}"
PEERS="${TLS_PEERS:-wrk tressi}"
PREFIX="${TLS_PREFIX:-/tmp/tressi-bench-nginx-tls}"
OUT="${OUT:-/tmp/tressi-bench-results/tls-$(date +%Y%m%d-%H%M%S)}"
URL="https://127.0.0.1:$PORT/"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"

for tool in openssl taskset /usr/bin/time "$NGINX" "$TRESSI"; do
    command -v "$tool" >/dev/null || { echo "bench_tls: $tool is missing" >&2; exit 1; }
done
mkdir -p "$PREFIX"/{logs,tmp} "$OUT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -keyout "$PREFIX/server.key" -out "$PREFIX/server.pem" 2>/dev/null
cat > "$PREFIX/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 65536;
pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections 16384; multi_accept on; use epoll; }
http {
    access_log off;
    server_tokens off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    server {
        listen 127.0.0.1:$PORT ssl backlog=4096;
        ssl_certificate server.pem;
        ssl_certificate_key server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        default_type text/plain;
        location = / { return 200 "hello, world\n"; }
    }
}
EOF
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$NGINX" -t -q -p "$PREFIX/" -c "$PREFIX/nginx.conf"
taskset -c "$SERVER_CPU" "$NGINX" -p "$PREFIX/" -c "$PREFIX/nginx.conf"
trap 'kill -QUIT "$(cat "$PREFIX/nginx.pid")" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

core_ticks() {  # busy and total jiffies of one core
    awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6}' /proc/stat
}

echo "results: $OUT"
printf '%-8s %6s %10s %12s %11s %8s\n' peer conns req/s "core µs/req" "CPU µs/req" "RSS MiB" | tee "$OUT/results.txt"
for rep in $(seq "$REPEAT"); do
    for c in $CONNS_LIST; do
        for p in $PEERS; do
            case "$p" in
                wrk) argv=(wrk -t1 -c"$c" -d"${DUR}s" "$URL") ;;
                tressi) argv=("$TRESSI" "$URL" -c "$c" -d "$DUR" -t 1 --insecure --no-ui --json) ;;
                *) echo "bench_tls: unknown peer $p" >&2; exit 2 ;;
            esac
            command -v "${argv[0]}" >/dev/null || { echo "skip $p (not installed)"; continue; }
            f="$OUT/${p}_c${c}_r${rep}"
            b0="$(core_ticks "$CLIENT_CPU")"
            timeout -k 5 $(( DUR + 30 )) taskset -c "$CLIENT_CPU" \
                /usr/bin/time -v -o "$f.time" "${argv[@]}" > "$f.out" 2> "$f.err" < /dev/null || true
            b1="$(core_ticks "$CLIENT_CPU")"
            python3 - "$p" "$c" "$f" "$(( b1 - b0 ))" "$(getconf CLK_TCK)" <<'PY' | tee -a "$OUT/results.txt"
import json, re, sys
peer, conns, f, busy, tck = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
out = open(f + ".out").read()
if peer == "wrk":
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
else:
    s = json.loads(out)
    n, rps = s["requests"]["completed"], s["rps"]
    errors = sum(s["errors"].values())
t = open(f + ".time").read()
cpu = sum(float(re.search(k + r".*?: ([\d.]+)", t).group(1)) for k in ("User time", "System time"))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
us = lambda sec: sec * 1e6 / max(n, 1)
note = f"  ({errors} errors)" if errors else ""
print(f"{peer:<8} {conns:>6} {rps:>10.0f} {us(busy / tck):>12.2f} {us(cpu):>11.2f} {rss:>8.1f}{note}")
PY
            sleep "$COOLDOWN"
        done
    done
done
