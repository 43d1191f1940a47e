#!/usr/bin/env bash
# Every check CI runs, in one command: installs nginx, chromium and the openssl CLI when
# missing (the end-to-end tests use them; as root via apt-get), then format, lints (also
# of the build without the default `tls` feature), benches build, all tests (and the
# library's unit tests without `tls`), and
# the static-build check (scripts/static.sh: glibc static release binary, `file`/`ldd`,
# size, smoke runs).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    missing+=(nginx)
fi
if ! command -v openssl >/dev/null 2>&1; then
    missing+=(openssl)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "test.sh: ${missing[*]} not installed and we are not root; their tests will be skipped" >&2
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
# Without TLS the binary still builds (an https URL is then a set-up error).
cargo clippy --no-default-features --all-targets -- -D warnings
cargo bench --no-run --quiet
cargo test --quiet
# The library's unit tests without TLS too: among them, that an https URL is then a
# clear set-up error (that test exists only in this build).
cargo test --quiet --no-default-features --lib
scripts/static.sh
# The floor client that BENCHMARKS.md measures tressi against (scripts/floor.sh).
scripts/floor.sh --smoke
