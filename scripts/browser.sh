#!/usr/bin/env bash
# Installs a headless browser (Debian's chromium) for the tests that open
# pages in one (the graph's HTML); does nothing when it is there already.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: chromium missing, and no apt-get to install it with; install Chromium and put it on PATH" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
fi
echo "browser: installing chromium (once)"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
