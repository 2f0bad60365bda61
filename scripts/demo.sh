#!/usr/bin/env bash
# The main job: the hello module on a transaction log on local disk, driven
# by the interstice command. Builds the modules and the CLI, publishes
# hello (first run only), calls it a few times, prints the table, replays
# the log and verifies every frame. Run it again: the greetings come back
# from the log and new ones are added.
# Usage: scripts/demo.sh [LOG_DIR]   (default ./demo-log)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (rustup) and re-run" >&2
    exit 1
fi

./scripts/build-modules.sh
# The first build takes minutes: cargo shows its progress.
echo "demo: building the interstice CLI (release)"
cargo build --release --locked -p interstice-cli
interstice="${CARGO_TARGET_DIR:-target}/release/interstice"
log="${1:-demo-log}"
hello=modules/target/wasm32-unknown-unknown/release/hello.wasm

run() {
    echo "\$ interstice $*"
    "$interstice" "$@"
    echo
}

# Publish hello unless the log has it. The whole listing is read before it
# is searched: a reader that stops early could kill `interstice` with
# SIGPIPE, and the demo would publish hello again.
schema="$("$interstice" schema "$log" 2>/dev/null || true)"
if ! grep -q '^module hello ' <<<"$schema"; then
    run publish "$log" "$hello"
fi
for name in world ada grace; do
    run call "$log" hello.hello "[\"$name\"]"
done
run query "$log" hello.greetings
run replay "$log"
run check-log "$log"
