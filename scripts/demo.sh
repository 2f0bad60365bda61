#!/usr/bin/env bash
# The main job: writes a transaction log on local disk, restarts, reads it
# back verified. Usage: scripts/demo.sh [LOG_DIR]   (default ./demo-log)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (rustup) and re-run" >&2
    exit 1
fi

cargo run --release --locked -q -p interstice-backend-fs --example demo -- "${1:-demo-log}"
