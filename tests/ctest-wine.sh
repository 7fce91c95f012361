#!/usr/bin/env bash
# Runs ctest on a mingw cross build under wine:
#
#   tests/ctest-wine.sh BUILD_DIR [ctest args...]    e.g. tests/ctest-wine.sh build-win -R config_ -j2
#
# The toolchain file sets wine as CMAKE_CROSSCOMPILING_EMULATOR, so ctest
# already runs `wine64 tt_tests.exe NAME`; this wrapper adds what makes that
# fast and reliable (shared/docs/WINDOWS.md §5):
# - a private WINEPREFIX inside the build dir (~700 MB, made once, 6-10 s),
#   created before any `ctest -j` so parallel tests never race to create it;
# - a persistent wineserver, so each test costs 0.1-0.2 s instead of ~1.4 s
#   of wine start-up, and services.exe is not torn down between commands;
# - wine always shut down at the end, whatever ctest did.
# The exit status is ctest's.
set -uo pipefail
if [[ $# -lt 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR [ctest args...]" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
shift
export WINEPREFIX=${WINEPREFIX:-$BUILD/wineprefix} WINEDEBUG=${WINEDEBUG:--all} WINEARCH=win64
# No desktop menu entries, and no prompts to download Mono or Gecko.
export WINEDLLOVERRIDES="winemenubuilder.exe=d;mscoree=d;mshtml=d"
# Headless: nothing here needs X, and a stray DISPLAY only slows wine down.
unset DISPLAY WAYLAND_DISPLAY

# wineserver is per prefix, so this -k stops only the one of this prefix.
# The timeouts only guard CI against a wedged wine; each step takes seconds.
trap 'wineserver -k 2>/dev/null; timeout 60 wineserver -w 2>/dev/null' EXIT
if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    echo "ctest-wine: creating WINEPREFIX $WINEPREFIX"
    if ! timeout 300 wine wineboot --init </dev/null >/dev/null 2>&1; then
        echo "ctest-wine: wineboot failed; remove $WINEPREFIX and retry" >&2
        exit 1
    fi
    timeout 120 wineserver -w
fi
wineserver -p </dev/null >/dev/null 2>&1 # persistent until -k
# Start services.exe and friends now with stdio on /dev/null. If the first
# test started them they would inherit ctest's output pipe and, kept alive
# by -p, that test would hang until its timeout.
timeout 120 wine cmd /c exit </dev/null >/dev/null 2>&1

ctest --test-dir "$BUILD" --output-on-failure "$@"
