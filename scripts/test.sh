#!/usr/bin/env bash
# Runs every test of the workspace, setting up what they need first.
# Works on a fresh machine with a Rust toolchain (cargo) installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (rustup) and re-run" >&2
    exit 1
fi

cargo test --workspace --locked "$@"
