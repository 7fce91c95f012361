#!/usr/bin/env bash
# Cross-builds libuv, mbedtls, cJSON and sqlite3 as static x86_64-w64-mingw32
# libraries from Debian bookworm *source packages* (which carry Debian's
# security patches) into WIN_DEPS_PREFIX. Nothing is copied into this
# repository; llhttp is compiled by our own CMake from node-llhttp's sources
# (see Deps.cmake). Recipe and measurements: shared/docs/WINDOWS.md §2.
#
#   third_party/build-mingw-deps.sh          # ~2 min the first time, then a no-op
#   FORCE=1 third_party/build-mingw-deps.sh  # rebuild
#
# Environment: WIN_DEPS_PREFIX (default /opt/win-deps/x86_64-w64-mingw32),
# WIN_DEPS_WORK (default /var/tmp/win-deps, ~260 MB of sources and objects),
# TOOLCHAIN_FILE, DEB_SOURCES, JOBS, FORCE.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TC=${TOOLCHAIN_FILE:-$HERE/toolchain-mingw-w64.cmake}
PREFIX=${WIN_DEPS_PREFIX:-/opt/win-deps/x86_64-w64-mingw32}
WORK=${WIN_DEPS_WORK:-/var/tmp/win-deps}
JOBS=${JOBS:-$(nproc)}
# Bump the version in the stamp name when this script changes what it builds.
STAMP="$PREFIX/.built-by-build-mingw-deps-v1"

if [[ -f "$STAMP" && -z "${FORCE:-}" ]]; then
    echo "win deps already in $PREFIX ($(head -1 "$STAMP"))"
    exit 0
fi

# Host packages this script needs: the cross compiler, cmake, dpkg-source
# (dpkg-dev), and a native gcc + tclsh to generate the sqlite amalgamation.
NEEDED=(gcc-mingw-w64-x86-64 cmake make gcc libc6-dev dpkg-dev tcl)
missing=()
for p in "${NEEDED[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "build-mingw-deps: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "build-mingw-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$WORK" "$PREFIX"
# Two builds at once (say run.sh and CI) would trample the same work dir.
exec 9>"$WORK/.lock"
flock 9
if [[ -f "$STAMP" && -z "${FORCE:-}" ]]; then # built while we waited
    echo "win deps already in $PREFIX ($(head -1 "$STAMP"))"
    exit 0
fi

T0=$(date +%s)
B="$WORK/build"
LOG="$WORK/build.log"
mkdir -p "$WORK/apt/lists/partial" "$WORK/src" "$B"
: >"$WORK/times.log"
: >"$LOG"

# run LABEL CMD...: runs CMD with its output in $LOG, records its time, and on
# failure shows the end of the log (the full log stays in $WORK).
run() {
    local label=$1 s rc=0
    shift
    s=$(date +%s)
    echo "== $label: $*" >>"$LOG"
    "$@" >>"$LOG" 2>&1 || rc=$?
    echo "[time] $(($(date +%s) - s))s: $label" >>"$WORK/times.log"
    if ((rc)); then
        echo "build-mingw-deps: '$label' failed (rc=$rc); last lines of $LOG:" >&2
        tail -n 40 "$LOG" >&2
        exit "$rc"
    fi
}

# A deb-src twin of the machine's own apt sources in a private apt state
# dir, so the system's apt configuration is left untouched and no host name
# is written here. Handles the deb822 file and the classic sources.list.
APT_DIR="$WORK/apt"
rm -f "$APT_DIR"/*.sources "$APT_DIR"/*.list
DEB_SOURCES=${DEB_SOURCES:-/etc/apt/sources.list.d/debian.sources}
if [[ -f "$DEB_SOURCES" ]]; then
    sed -E 's/^Types:.*/Types: deb-src/' "$DEB_SOURCES" >"$APT_DIR/deb-src.sources"
else
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -E 's/^deb /deb-src /' >"$APT_DIR/deb-src.list"
fi
APT=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$APT_DIR"
    -o Dir::State::Lists="$APT_DIR/lists")
run "apt update (deb-src)" apt-get "${APT[@]}" -qq update
cd "$WORK/src"
rm -rf libuv1-* mbedtls-* sqlite3-* cjson-* ./*.dsc ./*.tar.* ./*.diff.gz
run "apt source" apt-get "${APT[@]}" -qq source libuv1 mbedtls sqlite3 cjson # applies Debian's patches
UV=$(ls -d "$WORK"/src/libuv1-*/)
MB=$(ls -d "$WORK"/src/mbedtls-*/)
SQ=$(ls -d "$WORK"/src/sqlite3-*/)
CJ=$(ls -d "$WORK"/src/cjson-*/)

rm -rf "${B:?}"/*
COMMON=(-DCMAKE_TOOLCHAIN_FILE="$TC" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX"
    -DWIN_DEPS_PREFIX="$PREFIX")

# libuv: builds libuv.dll and libuv_a.a; Tether links libuv_a.a.
run "libuv configure" cmake -S "$UV" -B "$B/libuv" "${COMMON[@]}" -DBUILD_TESTING=OFF
run "libuv build" cmake --build "$B/libuv" -j"$JOBS"
run "libuv install" cmake --install "$B/libuv"

# mbedtls 2.28 with upstream's default config. Debian's Linux package also
# enables THREADING_PTHREAD; this one has no threading layer, so a TLS
# context must stay on one thread (the loop thread) on Windows.
run "mbedtls configure" cmake -S "$MB" -B "$B/mbedtls" "${COMMON[@]}" -DENABLE_PROGRAMS=OFF \
    -DENABLE_TESTING=OFF -DMBEDTLS_FATAL_WARNINGS=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON \
    -DUSE_SHARED_MBEDTLS_LIBRARY=OFF
run "mbedtls build" cmake --build "$B/mbedtls" -j"$JOBS"
run "mbedtls install" cmake --install "$B/mbedtls"

# cJSON: its own -std=c89 -pedantic -Werror flags break on Windows' long long,
# and without CJSON_HIDE_SYMBOLS every cJSON_* function would be exported
# from our .exe.
run "cjson configure" cmake -S "$CJ" -B "$B/cjson" "${COMMON[@]}" -DBUILD_SHARED_LIBS=OFF \
    -DENABLE_CJSON_TEST=OFF -DENABLE_CJSON_UTILS=OFF -DENABLE_CUSTOM_COMPILER_FLAGS=OFF \
    -DCMAKE_C_FLAGS=-DCJSON_HIDE_SYMBOLS
run "cjson build" cmake --build "$B/cjson" -j"$JOBS"
run "cjson install" cmake --install "$B/cjson"

# sqlite3: Debian's source is the canonical tree without sqlite3.c, so the
# amalgamation is generated natively first (configure + make, needs tclsh).
mkdir -p "$B/sqlite-amalg" "$B/sqlite"
cd "$B/sqlite-amalg"
run "sqlite amalgamation configure" "$SQ/configure" --quiet
run "sqlite amalgamation" make -j"$JOBS" sqlite3.c
cat >"$B/sqlite/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(sqlite3_static C)
add_library(sqlite3 STATIC ${AMALG}/sqlite3.c)
target_compile_definitions(sqlite3 PRIVATE SQLITE_THREADSAFE=1 SQLITE_OMIT_LOAD_EXTENSION
  SQLITE_DQS=0 SQLITE_ENABLE_FTS5)
install(TARGETS sqlite3 ARCHIVE DESTINATION lib)
install(FILES ${AMALG}/sqlite3.h ${AMALG}/sqlite3ext.h DESTINATION include)
CM
run "sqlite configure" cmake -S "$B/sqlite" -B "$B/sqlite/build" "${COMMON[@]}" -DAMALG="$B/sqlite-amalg"
run "sqlite build" cmake --build "$B/sqlite/build" -j"$JOBS" # one 8.6 MB file: ~40 s on one core
run "sqlite install" cmake --install "$B/sqlite/build"

{
    echo "built $(date -u +%FT%TZ) with $(x86_64-w64-mingw32-gcc --version | head -1)"
    for d in "$UV" "$MB" "$SQ" "$CJ"; do basename "$d"; done
    dpkg-query -W -f='${Package} ${Version}\n' node-llhttp 2>/dev/null || true
} >"$STAMP"
echo "[time] total $(($(date +%s) - T0))s" >>"$WORK/times.log"
cat "$WORK/times.log" "$STAMP"
