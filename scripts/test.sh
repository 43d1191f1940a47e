#!/usr/bin/env bash
# Every check CI runs, in one command: installs nginx and chromium when missing (the
# end-to-end tests use them; as root via apt-get), then format, lints, benches build, all tests, and
# the static-build check (scripts/static.sh: glibc static release binary, `file`/`ldd`,
# size, smoke runs).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
    else
        echo "test.sh: nginx is not installed and we are not root; nginx tests will be skipped" >&2
    fi
fi
# Debian's package starts a system nginx on port 80; the tests start their own.
# tests/report.rs renders report.html in headless Chromium (Debian's chromium package);
# without it that test is skipped, and fails under CI=true.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
    else
        echo "test.sh: chromium is not installed and we are not root; the HTML rendering test will be skipped" >&2
    fi
fi

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo bench --no-run --quiet
cargo test --quiet
scripts/static.sh
