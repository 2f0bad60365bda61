#!/usr/bin/env bash
# Builds every module under modules/ to wasm32-unknown-unknown (release,
# panic=abort, stripped) and prints each .wasm file and its size.
#
# Uses rustup's wasm32-unknown-unknown target where it is installed.
# Otherwise it takes the Debian route (see docs/modules.md): Debian's
# rustc with its standard library source builds std for wasm32, linked by
# wasm-ld; the packages are installed if missing (root or sudo needed).
# Cargo rebuilds only what changed, so running it again is cheap.
#
# modules/ledger holds one module in three versions, each a package of
# its own named `ledger` (outside the workspace, which cannot hold three
# packages of one name): each is built alone and copied to
# ledger_v1.wasm, ledger_v2.wasm, ledger_v3.wasm. modules/chat_next is
# chat 0.2.0, built the same way to chat_next.wasm.
set -euo pipefail
cd "$(dirname "$0")/../modules"
# The tests and the demo read the modules from modules/target, wherever
# the caller's CARGO_TARGET_DIR points the main workspace.
export CARGO_TARGET_DIR="$PWD/target"

out=target/wasm32-unknown-unknown/release

if command -v rustup >/dev/null 2>&1 &&
    rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "build-modules: using rustup's wasm32-unknown-unknown target"
    RUSTC_FOR_CLEAN=rustc
    build() { cargo build --release --locked --target wasm32-unknown-unknown "$@"; }
else
    if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ] ||
        ! command -v wasm-ld >/dev/null 2>&1; then
        if ! command -v apt-get >/dev/null 2>&1; then
            echo "error: no wasm32 toolchain: run 'rustup target add wasm32-unknown-unknown'" >&2
            exit 1
        fi
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        echo "build-modules: installing Debian's rustc-web, rust-web-src and lld"
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web rust-web-src lld >/dev/null
    fi
    echo "build-modules: using Debian's rustc ($(/usr/bin/rustc --version)) with -Zbuild-std"
    RUSTC_FOR_CLEAN=/usr/bin/rustc
    build() {
        RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
            CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
            cargo build --release --locked --target wasm32-unknown-unknown \
            -Zbuild-std=std,panic_abort "$@"
    }
fi
build "$@"
# The three share the target directory (std and the SDK are built once),
# but a cdylib's file has no hash in its name: each version's build would
# find its own fingerprint fresh and hand out whichever ledger.wasm was
# built last. So each is cleaned first (a few seconds each).
for dir in ledger/v*/; do
    version=$(basename "$dir")
    RUSTC="${RUSTC_FOR_CLEAN:-rustc}" cargo clean --quiet --manifest-path "$dir/Cargo.toml" \
        --release --target wasm32-unknown-unknown -p ledger
    build --manifest-path "$dir/Cargo.toml" "$@"
    cp "$out/ledger.wasm" "$out/ledger_$version.wasm"
done
rm -f "$out/ledger.wasm"
# chat_next is chat 0.2.0 (chat's source with the `next` feature): a
# package named chat too, so it builds into a target directory of its own.
CARGO_TARGET_DIR="$PWD/target/chat_next" build --manifest-path chat_next/Cargo.toml "$@"
cp target/chat_next/wasm32-unknown-unknown/release/chat.wasm "$out/chat_next.wasm"

shopt -s nullglob
built=("$out"/*.wasm)
if [ ${#built[@]} -eq 0 ]; then
    echo "error: the build made no .wasm file in modules/$out" >&2
    exit 1
fi
for f in "${built[@]}"; do
    printf 'build-modules: %-60s %8d bytes\n' "modules/$f" "$(wc -c <"$f")"
done
