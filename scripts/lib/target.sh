# Sourced by the scripts: starts the built-in target of the tressi binary $1 on an
# ephemeral loopback port and sets `target_addr` (host:port) and `target_port`.
# The target and a scratch directory `tmp` are removed when the calling script exits.
tmp=$(mktemp -d)
target_pid=
cleanup() {
    [ -n "$target_pid" ] && kill "$target_pid" 2>/dev/null && wait "$target_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

start_target() {
    "$1" target --listen 127.0.0.1:0 --threads 1 >"$tmp/target.out" 2>&1 &
    target_pid=$!
    for _ in $(seq 100); do
        grep -q '^listening on ' "$tmp/target.out" 2>/dev/null && break
        sleep 0.05
    done
    target_addr=$(sed -n 's/^listening on //p' "$tmp/target.out")
    target_port=${target_addr##*:}
    if [ -z "$target_addr" ]; then
        echo "$(basename "$0"): the target did not start: $(cat "$tmp/target.out")" >&2
        exit 1
    fi
}
