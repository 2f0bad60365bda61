#!/usr/bin/env bash
# Installs the programs some tests drive, when they are missing: a headless
# browser (Debian's chromium, and its chromedriver for the web console's
# WebDriver test) for the pages, and tmux for the terminal debugger's
# end-to-end test. Does nothing when all are there already.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${missing[*]} missing, and no apt-get to install them with; install them and put them on PATH" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
fi
echo "test-tools: installing ${missing[*]} (once)"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
