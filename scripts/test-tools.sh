#!/usr/bin/env bash
# Installs the programs some tests drive, when they are missing: a headless
# browser (Debian's chromium, and its chromedriver for the web console's
# WebDriver test) for the pages, tmux for the terminal debugger's
# end-to-end test, and Node.js with npm for the generated TypeScript
# client, whose type checker (typescript, pinned in
# clients/typescript/package-lock.json) comes from the npm registry.
# Does nothing when all are there already.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

typescript() {
    local dir
    dir="$(dirname "$0")/../clients/typescript"
    if [ ! -x "$dir/node_modules/.bin/tsc" ]; then
        echo "test-tools: installing typescript for clients/typescript (once)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

if [ ${#missing[@]} -eq 0 ]; then
    typescript
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
typescript
