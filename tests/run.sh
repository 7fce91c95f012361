#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite with ctest:
#
#   ./tests/run.sh                  # from anywhere; builds into <repo>/build
#   ./tests/run.sh -R config_ -V    # extra arguments go to ctest
#
# Installing needs root (apt-get); as another user it only reports what is
# missing. Build dir and extra CMake flags can be changed with BUILD_DIR and
# TETHER_CMAKE_ARGS (e.g. TETHER_CMAKE_ARGS=-DTETHER_SANITIZE=ON).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build}

# Native build dependencies, Debian package names (kept in sync with
# service/run-dev.sh and .ci/run). libc6-dev is only a Recommends of gcc.
PACKAGES=(cmake make gcc libc6-dev pkg-config libuv1-dev libmbedtls-dev libsqlite3-dev
    libcjson-dev zlib1g-dev node-llhttp python3-websockets curl openssl)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "tests/run.sh: missing packages: ${missing[*]}" >&2
        echo "  install them as root: apt-get install --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "tests/run.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- npm: the GRIP client library for tests/integration/test-03-griplib.c ---
# Optional: without node/npm, or when `npm ci` fails, those tests report
# themselves skipped; nothing else depends on it.
GRIPLIB=tests/fixtures/griplib
if [[ ! -d $GRIPLIB/node_modules ]]; then
    if command -v node >/dev/null && command -v npm >/dev/null; then
        echo "tests/run.sh: npm ci in $GRIPLIB"
        if ! (cd "$GRIPLIB" && npm ci --no-audit --no-fund --loglevel=error); then
            rm -rf "$GRIPLIB/node_modules" # no half install: the tests skip cleanly
            echo "tests/run.sh: warning: npm ci failed in $GRIPLIB; the griplib_* tests will be skipped" >&2
        fi
    else
        echo "tests/run.sh: node/npm not found; the griplib_* tests will be skipped" >&2
    fi
fi
# --- end npm ---

# shellcheck disable=SC2086 # TETHER_CMAKE_ARGS is a list of flags
cmake -S . -B "$BUILD_DIR" -DTETHER_WERROR=ON ${TETHER_CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 "$@"
