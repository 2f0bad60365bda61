#!/usr/bin/env bash
# The main job: the `hello` module on a transaction log on local disk.
# Builds the modules, then publishes `hello` (first run only), calls
# hello(NAME), prints the greetings and shuts down. Run it again and the
# state comes back from the log, without re-running anything.
# Usage: scripts/demo.sh [LOG_DIR] [NAME]   (defaults ./demo-log, world)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (rustup) and re-run" >&2
    exit 1
fi

./scripts/build-modules.sh
cargo run --release --locked -q -p interstice-core --example hello -- "${1:-demo-log}" "${2:-world}"
