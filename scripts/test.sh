#!/usr/bin/env bash
# Runs every test of the workspace, setting up what they need first.
# Works on a fresh machine with a Rust toolchain (cargo) installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (rustup) and re-run" >&2
    exit 1
fi

# The end-to-end tests run the modules under modules/: build them (cargo
# rebuilds only what is missing or stale).
./scripts/build-modules.sh

# The graph's page is opened in a real browser (headless Chromium), and
# the terminal debugger is driven through tmux.
./scripts/test-tools.sh

# The S3 backend's tests run against real servers (Garage and moto) on
# 127.0.0.1; this installs what is missing and starts them.
./scripts/s3-servers.sh start

# INTERSTICE_HEAVY=1 runs the reliability tests' long variants: 500 kill -9
# cycles, 20000 power losses, 100000 fuzz cases, 64 x 5000 calls on disk
# (about 15 minutes more).
# Each variable can also be set on its own.
if [ "${INTERSTICE_HEAVY:-}" = 1 ]; then
    export INTERSTICE_LOAD_CALLS="${INTERSTICE_LOAD_CALLS:-5000}"
    export INTERSTICE_CRASH_CYCLES="${INTERSTICE_CRASH_CYCLES:-500}"
    export INTERSTICE_POWER_TRIALS="${INTERSTICE_POWER_TRIALS:-20000}"
    export INTERSTICE_FUZZ_CASES="${INTERSTICE_FUZZ_CASES:-100000}"
fi

# The reliability tests write what they injected and counted here.
report_dir="${CARGO_TARGET_DIR:-target}/tmp/reliability"
rm -rf "$report_dir"

log="$(mktemp)"
trap 'rm -f "$log"; ./scripts/s3-servers.sh stop >/dev/null' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

if [ -d "$report_dir" ]; then
    echo
    echo "reliability (docs/reliability.md):"
    cat "$report_dir"/*.txt | sed 's/^/  /'
fi

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "all tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
exit "$status"
