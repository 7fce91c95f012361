#!/usr/bin/env bash
# Run Tether in the foreground for development, with service/tether.conf:
#
#   ./service/run-dev.sh                 # from anywhere; builds <repo>/build first
#   ./service/run-dev.sh --log-level 3   # extra arguments go to `tether run`
#
# Installs missing build packages when root (like tests/run.sh), builds only
# the tether target, then replaces itself with the server (Ctrl-C stops it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build}
CONF=service/tether.conf

# The build dependencies of tests/run.sh's list (not its test-only tools).
PACKAGES=(cmake make gcc libc6-dev pkg-config libuv1-dev libmbedtls-dev libsqlite3-dev
    libcjson-dev zlib1g-dev node-llhttp)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "run-dev.sh: missing packages: ${missing[*]}" >&2
        echo "  install them as root: apt-get install --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "run-dev.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The same flags as tests/run.sh, so both share build/ without rebuilding all.
cmake -S . -B "$BUILD_DIR" -DTETHER_WERROR=ON >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target tether
if [[ ! -f $CONF ]]; then
    echo "run-dev.sh: $ROOT/$CONF not found" >&2
    exit 1
fi
exec "$BUILD_DIR/bin/tether" run -c "$CONF" "$@"
