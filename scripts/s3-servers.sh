#!/usr/bin/env bash
# Starts (or stops) the S3-compatible servers the S3 backend's tests use,
# on 127.0.0.1 with fixed test credentials:
#   Garage  http://127.0.0.1:3900  region "garage"     (ignores If-None-Match)
#   moto    http://127.0.0.1:9561  region "us-east-1"  (enforces it)
# Both serve the bucket "interstice-test" to key GK0123456789abcdef01234567.
#
#   scripts/s3-servers.sh start   install what is missing, start, wait until both answer
#   scripts/s3-servers.sh stop    stop them and delete their data
#
# Garage is built with `cargo install` (about 8 minutes on 2 cores) into
# ${INTERSTICE_CACHE:-~/.cache/interstice}/garage, once; moto comes from PyPI.
set -euo pipefail

GARAGE_VERSION=2.5.0
KEY_ID=GK0123456789abcdef01234567
SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
BUCKET=interstice-test
cache="${INTERSTICE_CACHE:-$HOME/.cache/interstice}"
garage="$cache/garage/bin/garage"
state="${TMPDIR:-/tmp}/interstice-s3-servers"

python=python3
# The ports Garage (S3 API, RPC, admin) and moto listen on.
PORTS="3900 3901 3903 9561"

# Runs a command as root: directly when root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: installing packages needs root or sudo: $*" >&2
        exit 1
    fi
}

apt_install() { # package...
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: $* missing, and no apt-get to install it with" >&2
        exit 1
    fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Whether something accepts connections on 127.0.0.1:port.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# After our own servers are stopped, every port must be free: a server
# left by another run would answer the waits below and then fail later,
# obscurely.
check_ports() {
    for port in $PORTS; do
        if port_taken "$port"; then
            echo "error: 127.0.0.1:$port is taken by another process (an S3 server left from an earlier run?); 'ss -ltnp sport = :$port' names it; stop it and run again" >&2
            exit 1
        fi
    done
}

# moto and boto3: from the system's Python if it has them, else from a
# virtual environment of our own (which works where the system's pip is
# off limits, PEP 668).
find_moto() {
    if python3 -c "import moto.server, boto3" >/dev/null 2>&1; then
        return
    fi
    local venv="$cache/moto-venv"
    python="$venv/bin/python"
    if "$python" -c "import moto.server, boto3" >/dev/null 2>&1; then
        return
    fi
    echo "s3-servers: installing moto into $venv"
    if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$python" -m pip install --quiet "moto[server]" boto3
}

wait_for() { # url what
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "$1"; then return 0; fi
        sleep 0.2
    done
    echo "error: $2 did not start; see $state/*.log" >&2
    exit 1
}

start() {
    stop_quietly
    check_ports
    mkdir -p "$state"
    if ! command -v curl >/dev/null 2>&1; then
        apt_install curl
    fi
    if [ ! -x "$garage" ]; then
        echo "s3-servers: building Garage $GARAGE_VERSION (once; about 8 minutes)"
        cargo install garage --version "$GARAGE_VERSION" --locked --root "$cache/garage" --quiet
    fi
    find_moto

    cat >"$state/garage.toml" <<TOML
metadata_dir = "$state/garage-meta"
data_dir = "$state/garage-data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:3901"
rpc_public_addr = "127.0.0.1:3901"
rpc_secret = "$SECRET"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:3900"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:3903"
TOML
    g() { "$garage" -c "$state/garage.toml" "$@"; }
    "$garage" -c "$state/garage.toml" server >"$state/garage.log" 2>&1 &
    echo $! >"$state/garage.pid"
    "$python" -m moto.server -H 127.0.0.1 -p 9561 >"$state/moto.log" 2>&1 &
    echo $! >"$state/moto.pid"

    wait_for http://127.0.0.1:3900 Garage
    node=""
    for _ in $(seq 1 50); do
        node="$(g node id -q 2>/dev/null | cut -d@ -f1)" && [ -n "$node" ] && break
        sleep 0.2
    done
    if [ -z "$node" ]; then
        echo "error: Garage answered but never gave its node id; see $state/garage.log" >&2
        exit 1
    fi
    g layout assign -z dc1 -c 1G "$node" >/dev/null
    g layout apply --version 1 >/dev/null
    g key import --yes -n interstice-test "$KEY_ID" "$SECRET" >/dev/null
    g bucket create "$BUCKET" >/dev/null
    g bucket allow --read --write --owner "$BUCKET" --key interstice-test >/dev/null

    wait_for http://127.0.0.1:9561 moto
    "$python" - <<PY
import boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:9561", region_name="us-east-1",
                  aws_access_key_id="$KEY_ID", aws_secret_access_key="$SECRET")
s3.create_bucket(Bucket="$BUCKET")
PY
    echo "s3-servers: Garage on 127.0.0.1:3900 and moto on 127.0.0.1:9561, bucket $BUCKET"
}

stop_quietly() {
    for name in garage moto; do
        if [ -f "$state/$name.pid" ]; then
            pid="$(cat "$state/$name.pid")"
            kill "$pid" 2>/dev/null || true
            # Wait until it is gone, so its ports are free for a restart.
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$state/$name.pid"
        fi
    done
    rm -rf "$state"
}

case "${1:-}" in
start) start ;;
stop) stop_quietly && echo "s3-servers: stopped" ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
