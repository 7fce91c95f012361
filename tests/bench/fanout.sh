#!/usr/bin/env bash
# Fan-out benchmark: N idle HTTP-stream / EventSource subscribers (MODE=ws:
# WebSocket subscribers) on one channel, held by Tether, Pushpin and Nchan
# side by side in one run. For each target and each N it measures the
# memory per held connection, the time from a publish to its last delivery
# (ROUNDS single publishes), and a burst of BURST publishes back to back
# (deliveries per second, lost). It prints figures; it is not a test and has
# no pass/fail. See tests/bench/README.md for the knobs.
#
# The load client is tests/bench/sseload.c, compiled at start; with MODE=ws
# the one-subscriber delivery check uses tests/bench/wsprobe.py. Everything
# runs on 127.0.0.1 with ports picked free at start. Every process the
# script starts is stopped by process id on exit, and its temp dir removed.

set -u -o pipefail

# ---------------------------------------------------------------- settings
SUBS=${SUBS:-"1000 10000"}        # subscriber counts, one row per target and count
MODE=${MODE:-${TRANSPORT:-sse}}   # sse: HTTP streams / EventSource; ws: WebSocket subscribers
ROUNDS=${ROUNDS:-20}              # single publishes, each waited for until delivered everywhere
BURST=${BURST:-100}               # messages of the burst (0 = no burst)
BURST_MODE=${BURST_MODE:-each}    # each: one POST per message; batch: one POST with all (GRIP targets)
TARGETS=${TARGETS:-"tether pushpin nchan"}
HOLD=${HOLD:-3}                   # seconds the N connections are held idle before the memory reading
PAYLOAD=${PAYLOAD:-32}            # padding bytes in each message after its token
GAP_MS=${GAP_MS:-100}             # pause between rounds
ROUND_TIMEOUT=${ROUND_TIMEOUT:-10}      # seconds a round waits for its last delivery
BURST_TIMEOUT=${BURST_TIMEOUT:-60}      # seconds the burst waits for its last delivery after its last publish
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-120} # seconds for all N to be subscribed
CONC=${CONC:-256}                 # connections of the client connecting at once
PER_PROC=${PER_PROC:-15000}       # connections per client process (open-file limit 20,000)
PER_SRC=${PER_SRC:-25000}         # connections per source address 127.0.0.x (ephemeral ports)
NGINX_WORKERS=${NGINX_WORKERS:-1} # Nchan's nginx worker_processes
READY_TIMEOUT=${READY_TIMEOUT:-10}      # seconds to wait for a target to serve its stream
KEEP_TMP=${KEEP_TMP:-0}           # 1: keep the temp dir (configs, logs, client output)
PUSHPIN=${PUSHPIN:-pushpin}
NGINX=${NGINX:-}
RESULTS=${RESULTS:-}              # also write the Markdown table to this file

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build-rel}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}

log() { printf '[fanout] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

isnum() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in ROUNDS BURST HOLD PAYLOAD GAP_MS ROUND_TIMEOUT BURST_TIMEOUT CONNECT_TIMEOUT CONC PER_PROC PER_SRC READY_TIMEOUT; do
    isnum "${!v}" || die "$v must be a whole number, got '${!v}'"
done
for n in $SUBS; do isnum "$n" && (( n >= 1 && n <= 200000 )) || die "SUBS: bad count '$n' (1..200000)"; done
(( ROUNDS <= 1000 && BURST <= 100000 )) || die "ROUNDS at most 1000, BURST at most 100000"
[[ $BURST_MODE == each || $BURST_MODE == batch ]] || die "BURST_MODE is each or batch"
[[ $MODE == sse || $MODE == ws ]] || die "MODE (or TRANSPORT) is sse or ws, got '$MODE'"

# ---------------------------------------------------------------- tools
command -v cc >/dev/null || die "cc not found"
command -v pkg-config >/dev/null && pkg-config --exists libuv ||
    die "libuv not found by pkg-config (apt-get install -y libuv1-dev pkg-config)"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found (used to pick free ports)"

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tether-fanout.XXXXXX") || die "mktemp failed"
chmod 755 "$TMP"   # nginx workers may run as nobody
STARTED=()         # pids of processes we started (top level)

cleanup() {
    local i
    trap - EXIT INT TERM
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        stop_tree "${STARTED[$i]}"
    done
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=tests/bench/lib.sh
source "$HERE/lib.sh"

# Busy and total clock ticks of the whole machine, from /proc/stat.
stat_ticks() {
    local a
    read -ra a < /proc/stat
    echo "$(( a[1] + a[2] + a[3] + a[6] + a[7] + a[8] )) $(( a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + a[8] ))"
}
NCPU_N=$(nproc 2>/dev/null || echo 1)

running() { [[ -d /proc/$1 ]] && [[ $(proc_fields "$1" | cut -d' ' -f1) != Z ]]; }

# Why a target did not come up: its state, then the tails of its logs.
not_started() { # PID LOG...
    local pid=$1 rc; shift
    if running "$pid"; then
        log "    pid $pid is running but did not serve its stream in time"
    else
        wait "$pid" 2>/dev/null; rc=$?
        log "    pid $pid exited with status $rc"
    fi
    tail -n 15 "$@" 2>/dev/null | sed 's/^/    /' >&2
}

# ---------------------------------------------------------------- the target under test
# start_<target> DIR sets: T_PID, T_SUB_URL (port, path), T_PUB (port, path),
# T_MODE (grip|raw), T_MARKER (the first bytes of a subscription), T_ACCEPT.
T_WHY= T_PID= T_SUB_PORT= T_SUB_PATH= T_PUB_PORT= T_PUB_PATH= T_MODE= T_MARKER= T_ACCEPT=

publish_body() { # TEXT: the body of a publish of TEXT, in the target's format
    if [[ $T_MODE == grip && $MODE == ws ]]; then
        printf '{"items":[{"channel":"test","formats":{"ws-message":{"content":"%s"}}}]}' "$1"
    elif [[ $T_MODE == grip ]]; then
        printf '{"items":[{"channel":"test","formats":{"http-stream":{"content":"%s\\n"}}}]}' "$1"
    else
        printf '%s' "$1"
    fi
}

publish_once() { # NAME TEXT: publish TEXT; prints the HTTP status
    publish_body "$2" | curl -s -o "$TMP/$1-verify-pub.out" -w '%{http_code}' \
        --max-time 10 -X POST -H "Content-Type: $([[ $T_MODE == grip ]] && echo application/json || echo text/plain)" \
        --data-binary @- "http://127.0.0.1:$T_PUB_PORT$T_PUB_PATH"
}

# MODE=ws: one WebSocket subscriber (wsprobe.py, which checks the handshake
# and decodes every frame); wait for OPEN, publish a random text, wait for it
# in a message. Everything bounded in time.
verify_delivery_ws() { # NAME
    local name=$1 out="$TMP/$1-verify.out" text="fanout-verify-$RANDOM$RANDOM" cpid i ok=0 code
    : > "$out"
    python3 "$HERE/wsprobe.py" --port "$T_SUB_PORT" --path "$T_SUB_PATH" --timeout 15 --out "$out" 2>> "$out" &
    cpid=$!
    STARTED+=("$cpid")
    for ((i = 0; i < 50; i++)); do
        grep -qE '^(OPEN|NOT-OPEN|ERROR)' "$out" 2>/dev/null && break
        sleep 0.1
    done
    if grep -q '^OPEN' "$out"; then
        code=$(publish_once "$name" "$text")
        for ((i = 0; i < 50; i++)); do
            grep -qF -- "MSG $text" "$out" && { ok=1; break; }
            sleep 0.1
        done
        log "$name: verify: WebSocket GET $T_SUB_PATH answered 101 with the right accept key, publish answered $code, message $([[ $ok == 1 ]] && echo 'delivered in a text frame' || echo 'NOT delivered')"
        (( ok )) || sed 's/^/    /' "$out" | head -n 5 >&2
    else
        log "$name: verify: no WebSocket on GET $T_SUB_PATH within 5 s: $(head -n 1 "$out")"
    fi
    stop_tree "$cpid"; forget "$cpid"
    (( ok ))
}

# Does a subscription deliver? One curl subscriber; wait for its first bytes,
# publish a random text, wait for the text. Everything bounded in time.
verify_delivery() { # NAME
    [[ $MODE == ws ]] && { verify_delivery_ws "$1"; return; }
    local name=$1 out="$TMP/$1-verify.out" text="fanout-verify-$RANDOM$RANDOM" cpid i ok=0 code
    local -a hdr=()
    [[ -n $T_ACCEPT ]] && hdr=(-H "Accept: $T_ACCEPT")
    curl -sN --max-time 15 "${hdr[@]}" "http://127.0.0.1:$T_SUB_PORT$T_SUB_PATH" > "$out" 2>/dev/null &
    cpid=$!
    STARTED+=("$cpid")
    for ((i = 0; i < 50; i++)); do
        grep -qF -- "$T_MARKER" "$out" 2>/dev/null && break
        sleep 0.1
    done
    if grep -qF -- "$T_MARKER" "$out"; then
        code=$(publish_once "$name" "$text")
        for ((i = 0; i < 50; i++)); do
            grep -qF -- "$text" "$out" && { ok=1; break; }
            sleep 0.1
        done
        log "$name: verify: subscribed (saw '$T_MARKER'), publish answered $code, message $([[ $ok == 1 ]] && echo delivered || echo 'NOT delivered')"
    else
        log "$name: verify: no '$T_MARKER' from GET $T_SUB_PATH within 5 s"
    fi
    stop_tree "$cpid"; forget "$cpid"
    (( ok ))
}

# Poll until GET of the stream shows the marker (the target is up), at most
# TIMEOUT s; fail early if PID exits.
wait_stream() { # PID TIMEOUT
    local pid=$1 timeout=$2 i
    local -a hdr=()
    [[ -n $T_ACCEPT ]] && hdr=(-H "Accept: $T_ACCEPT")
    if [[ $MODE == ws ]]; then # a WebSocket handshake accepted (101, right accept key)
        local end=$(( SECONDS + timeout + 1 ))
        for ((i = 0; i < timeout * 5 && SECONDS < end; i++)); do
            python3 "$HERE/wsprobe.py" --probe --timeout 1 --port "$T_SUB_PORT" --path "$T_SUB_PATH" \
                > /dev/null 2>&1 && return 0
            running "$pid" || return 1
            sleep 0.1
        done
        return 1
    fi
    for ((i = 0; i < timeout * 5; i++)); do
        # (not a pipe: with pipefail, curl's timeout would fail it)
        grep -qF -- "$T_MARKER" < <(curl -sN --max-time 0.5 "${hdr[@]}" \
            "http://127.0.0.1:$T_SUB_PORT$T_SUB_PATH" 2>/dev/null) && return 0
        running "$pid" || return 1
        sleep 0.1
    done
    return 1
}

TETHER_BUILT=0
start_tether() { # DIR
    local dir=$1 bin="$BUILD/bin/tether" sub push
    if [[ ! -x $bin ]]; then
        (( TETHER_BUILT )) && { T_WHY="build failed"; return 1; }
        TETHER_BUILT=1
        local fresh=0
        [[ -e $BUILD ]] || fresh=1
        log "tether: $bin missing; building it (log: $dir/build.log)"
        (cd "$REPO" && timeout 300 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTETHER_TESTS=OFF &&
            timeout 1200 cmake --build "$BUILD" -j2 --target tether) > "$dir/build.log" 2>&1
        if [[ ! -x $bin ]]; then
            grep -E 'error|Error' "$dir/build.log" | head -n 10 | sed 's/^/    /' >&2
            (( fresh )) && rm -rf "$BUILD"   # no half-built dir left behind by this run
            T_WHY="build failed"
            return 1
        fi
    fi
    local btype
    btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
    [[ -n $btype && $btype != Release ]] && log "tether: note: $BUILD is a $btype build, not Release"
    # a build of this checkout that is older than its sources: say so (not rebuilt)
    local home newer=
    home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
    [[ $home == "$REPO" ]] &&
        newer=$(find "$REPO/src" "$REPO/platform" -newer "$bin" -type f -name '*.[ch]' 2>/dev/null | head -n 1)
    [[ -n $newer ]] && log "tether: note: $bin is older than ${newer#"$REPO"/} (cmake --build $BUILD --target tether)"
    read -r sub push < <(free_ports 2) || return 1
    cat > "$dir/tether.conf" <<EOF
# generated by tests/bench/fanout.sh
[runner]
log_level=1
client_maxconn=100000

[proxy]
routesfile=routes

[handler]
push_in_http_addr=127.0.0.1
push_in_http_port=$push
EOF
    if [[ $MODE == ws ]]; then printf '*,proto=ws test\n* test\n'; else echo '* test'; fi > "$dir/routes"
    "$bin" run -c "$dir/tether.conf" --port "127.0.0.1:$sub" --port-file "$dir/ports" > "$dir/tether.log" 2>&1 &
    T_PID=$!
    STARTED+=("$T_PID")
    T_SUB_PORT=$sub T_SUB_PATH=/stream T_PUB_PORT=$push T_PUB_PATH=/publish/ T_MODE=grip
    T_MARKER='[stream open]' T_ACCEPT=
    [[ $MODE == ws ]] && T_SUB_PATH=/ws
    wait_stream "$T_PID" "$READY_TIMEOUT" || { not_started "$T_PID" "$dir/tether.log"; return 1; }
}

start_pushpin() { # DIR
    local dir=$1 bin port p1 p2 p3 p4
    bin=$(command -v "$PUSHPIN") || return 1
    mkdir -p "$dir/run" "$dir/log"
    read -r port p1 p2 p3 p4 < <(free_ports 5) || return 1
    pushpin_conf "$dir" "$p3" "$p1" "$p2" "$p4" "http_port=127.0.0.1:$port" > "$dir/pushpin.conf"
    echo '* test' > "$dir/routes"
    (cd "$dir" && exec "$bin" --config "$dir/pushpin.conf") > "$dir/pushpin.out" 2>&1 &
    T_PID=$!
    STARTED+=("$T_PID")
    T_SUB_PORT=$port T_SUB_PATH=/stream T_PUB_PORT=$p3 T_PUB_PATH=/publish/ T_MODE=grip
    T_MARKER='[stream opened]' T_ACCEPT=   # Pushpin's test target says "opened"
    [[ $MODE == ws ]] && T_SUB_PATH=/ws
    wait_stream "$T_PID" $(( READY_TIMEOUT + 5 )) ||
        { not_started "$T_PID" "$dir/pushpin.out" "$dir"/log/*.log; return 1; }
}

NCHAN_TRIED=0
nchan_available() {
    if [[ -z $NGINX ]]; then
        NGINX=$(command -v nginx || true)
        [[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
    fi
    if [[ ! -f $NCHAN_MODULE ]] && (( !NCHAN_TRIED )); then
        NCHAN_TRIED=1
        log "nchan: $NCHAN_MODULE missing; apt-get install -y libnginx-mod-nchan"
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y libnginx-mod-nchan > "$TMP/nchan-install.log" 2>&1 ||
            { timeout 600 apt-get update > /dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y libnginx-mod-nchan >> "$TMP/nchan-install.log" 2>&1; }
        [[ -z $NGINX ]] && NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    fi
    [[ -f $NCHAN_MODULE && -x ${NGINX:-/nonexistent} ]]
}

start_nchan() { # DIR
    local dir=$1 port t nofile wconn
    nchan_available || return 1
    read -r port < <(free_ports 1) || return 1
    nofile=19000 wconn=18000
    {
        echo "load_module $NCHAN_MODULE;"
        cat <<EOF
# generated by tests/bench/fanout.sh
worker_processes $NGINX_WORKERS;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
daemon off;
worker_rlimit_nofile $nofile;
events { worker_connections $wconn; }
http {
    access_log off;
$(for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $dir/${t}_temp;"; done)
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location = /sub {
            nchan_subscriber $([[ $MODE == ws ]] && echo websocket || echo eventsource);
            nchan_channel_id test;
            # new subscribers get new messages only (the default replays the buffer)
            nchan_subscriber_first_message newest;
        }
        location = /pub {
            nchan_publisher;
            nchan_channel_id test;
        }
    }
}
EOF
    } > "$dir/nginx.conf"
    "$NGINX" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" > "$dir/stdout.log" 2>&1 &
    T_PID=$!
    STARTED+=("$T_PID")
    T_SUB_PORT=$port T_SUB_PATH=/sub T_PUB_PORT=$port T_PUB_PATH=/pub T_MODE=raw
    T_MARKER=': hi' T_ACCEPT=text/event-stream
    [[ $MODE == ws ]] && T_ACCEPT=
    wait_stream "$T_PID" "$READY_TIMEOUT" || { not_started "$T_PID" "$dir/error.log"; return 1; }
}

# ---------------------------------------------------------------- results
ROWS=()   # target|N|kb|last_p50|last_p99|deliv_p99|rate|lost|note

skip() { # TARGET N NOTE
    log "$1 N=$2: $3"
    printf '%-8s %6s   %s\n' "$1" "$2" "$3"
    ROWS+=("$1|$2|-|-|-|-|-|-|$3")
}

res() { # KEY: from the RESULT line in $RESULT
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $RESULT"
}

RESULT=
measure() { # TARGET N DIR
    local name=$1 n=$2 dir=$3 out rf gf cpid i rss0 rss1 srcs cpu0 cpu1 tmo
    out="$dir/client.out" rf="$dir/ready" gf="$dir/go"
    srcs=$(( (n + PER_SRC - 1) / PER_SRC ))
    sleep 1
    rss0=$(tree_rss_kb "$T_PID")
    local -a acc=()
    [[ -n $T_ACCEPT ]] && acc=(--accept "$T_ACCEPT")
    tmo=$(( CONNECT_TIMEOUT + HOLD + 300 + ROUNDS * (ROUND_TIMEOUT + 1) + BURST_TIMEOUT * 5 + 60 ))
    log "$name N=$n: $n subscribers, then $ROUNDS rounds and a burst of $BURST ($BURST_MODE)"
    timeout -k 5 "$tmo" "$TMP/sseload" --port "$T_SUB_PORT" --path "$T_SUB_PATH" "${acc[@]}" \
        --ws "$([[ $MODE == ws ]] && echo 1 || echo 0)" \
        --marker "$T_MARKER" --conns "$n" --conc "$CONC" --per-proc "$PER_PROC" --src-count "$srcs" \
        --pub-port "$T_PUB_PORT" --pub-path "$T_PUB_PATH" --pub-mode "$T_MODE" \
        --rounds "$ROUNDS" --burst "$BURST" --burst-mode "$BURST_MODE" --payload "$PAYLOAD" \
        --connect-timeout "$CONNECT_TIMEOUT" --round-timeout "$ROUND_TIMEOUT" \
        --burst-timeout "$BURST_TIMEOUT" --gap "$GAP_MS" \
        --ready-file "$rf" --go-file "$gf" --go-timeout 300 > "$out" 2> "$dir/client.err" &
    cpid=$!
    STARTED+=("$cpid")
    for ((i = 0; i < (CONNECT_TIMEOUT + 30) * 10; i++)); do
        [[ -f $rf ]] && break
        running "$cpid" || break
        sleep 0.1
    done
    if [[ -f $rf ]]; then
        sleep "$HOLD"
        rss1=$(tree_rss_kb "$T_PID")
        if [[ -r /proc/$T_PID/smaps_rollup ]]; then
            { echo "# $name N=$n after $HOLD s idle: smaps_rollup of $T_PID and descendants"
              for p in "$T_PID" $(descendants "$T_PID"); do
                  echo "## pid $p $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-80)"
                  cat "/proc/$p/smaps_rollup" 2>/dev/null
              done; } > "$dir/smaps.txt"
        fi
    fi
    cpu0=$(tree_cpu_ticks "$T_PID")
    local cc0 sb0 st0 sb1 st1
    cc0=$(tree_cpu_ticks "$cpid")
    read -r sb0 st0 < <(stat_ticks)
    : > "$gf"
    wait "$cpid" 2>/dev/null
    local rc=$?
    forget "$cpid"
    cpu1=$(tree_cpu_ticks "$T_PID")
    read -r sb1 st1 < <(stat_ticks)
    sed 's/^/    /' "$dir/client.err" >&2
    RESULT=$(grep '^RESULT ' "$out" | tail -n 1)
    if [[ -z $RESULT ]]; then
        skip "$name" "$n" "client failed (exit $rc)"
        return
    fi
    local ready kb note=""
    ready=$(res ready)
    if [[ -n ${rss1:-} ]] && (( ready > 0 )); then
        kb=$(awk -v a="$rss0" -v b="$rss1" -v n="$ready" 'BEGIN {printf "%.1f", (b - a) / n}')
    else
        kb=-
    fi
    (( $(res failed) > 0 )) && note+="$(res failed) of $n did not subscribe; "
    (( $(res closed) > 0 )) && note+="$(res closed) closed by the server; "
    (( $(res round_lost) > 0 )) && note+="rounds lost $(res round_lost); "
    (( $(res burst_errors) > 0 )) && note+="$(res burst_errors) burst publishes failed; "
    (( $(res dups) > 0 )) && note+="$(res dups) duplicates; "
    (( $(res ws_close) > 0 )) && note+="$(res ws_close) close frames from the server; "
    (( $(res ws_bad) > 0 )) && note+="$(res ws_bad) bad frames; "
    # CPU time that neither the target nor the client used during the rounds
    # and the burst: other processes (a build, a test suite) skew the figures
    local other
    other=$(awk -v b="$(( sb1 - sb0 ))" -v w="$(( st1 - st0 ))" -v t="$(( cpu1 - cpu0 ))" \
        -v c="$(res client_cpu_s)" -v c0="$cc0" -v hz="$CLK_TCK" -v n="${NCPU_N:-1}" \
        'BEGIN { o = b - t - (c * hz - c0); if (o < 0) o = 0; printf "%.0f", (w > 0) ? 100 * o * n / w : 0 }')
    (( other > 15 )) && note+="other processes busy (~${other}% of a core); "
    note=${note%; }
    local rate lost
    rate=$(res burst_rate) lost=$(res burst_lost)
    (( BURST == 0 )) && rate=- lost=-
    ROWS+=("$name|$n|$kb|$(res last_p50_ms)|$(res last_p99_ms)|$(res deliv_p99_ms)|$rate|$lost|$note")
    printf '%-8s %6s   %7s KB/conn   last p50 %7s ms  p99 %7s ms   delivery p99 %7s ms   burst %8s/s  lost %s%s\n' \
        "$name" "$n" "$kb" "$(res last_p50_ms)" "$(res last_p99_ms)" "$(res deliv_p99_ms)" "$rate" "$lost" \
        "${note:+   ($note)}"
    log "$name N=$n: RSS $(( rss0 / 1024 )) MiB before, $(( ${rss1:-0} / 1024 )) MiB with $ready held;" \
        "proxy CPU $(awk -v t="$(( cpu1 - cpu0 ))" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t / hz}') s and client CPU $(res client_cpu_s) s over rounds+burst;" \
        "subscribed in $(res connect_s) s; publish answered p50 $(res answer_p50_ms) ms; burst published in $(res burst_pub_s) s;" \
        "CPU time of other processes meanwhile ~${other}% of a core"
}

run_target() { # TARGET N
    local name=$1 n=$2 dir="$TMP/$1-$2"
    mkdir -p "$dir"
    case $name in
        pushpin) command -v "$PUSHPIN" >/dev/null || { skip "$name" "$n" "skipped: pushpin not installed"; return; } ;;
        nchan) nchan_available || { skip "$name" "$n" "skipped: nchan (libnginx-mod-nchan) not available"; return; } ;;
        tether) ;;
        *) log "unknown target '$name' (tether pushpin nchan)"; return ;;
    esac
    if [[ $BURST_MODE == batch && $name == nchan ]]; then
        skip "$name" "$n" "skipped: BURST_MODE=batch needs a GRIP publish API"
        return
    fi
    local try ok=0
    T_WHY=
    for try in 1 2; do   # a second try with other ports
        T_PID=
        "start_$name" "$dir" && { ok=1; break; }
        [[ -n $T_WHY ]] && break
        [[ -n $T_PID ]] && { stop_tree "$T_PID"; forget "$T_PID"; }
        (( try == 1 )) && log "$name: did not start; trying once more"
    done
    if (( !ok )); then
        skip "$name" "$n" "${T_WHY:-$name did not start}"
        return
    fi
    if ! verify_delivery "$name"; then
        stop_tree "$T_PID"; forget "$T_PID"
        skip "$name" "$n" "did not deliver a published message"
        return
    fi
    measure "$name" "$n" "$dir"
    stop_tree "$T_PID"; forget "$T_PID"
}

# ---------------------------------------------------------------- client
cc -O2 -Wall -o "$TMP/sseload" "$HERE/sseload.c" $(pkg-config --cflags --libs libuv) -lm 2> "$TMP/cc.log" ||
    { sed 's/^/    /' "$TMP/cc.log" >&2; die "could not compile sseload.c"; }

# ---------------------------------------------------------------- header
NCPU=$(nproc 2>/dev/null || echo '?')
cpu_busy() {
    local a b
    read -ra a < /proc/stat; sleep 1; read -ra b < /proc/stat
    awk -v u="$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ))" \
        -v i="$(( (b[4]+b[5]) - (a[4]+a[5]) ))" 'BEGIN {printf "%.0f", (u + i) ? 100 * u / (u + i) : 0}'
}
BUSY=$(cpu_busy 2>/dev/null || echo 0)
echo "# Tether fan-out benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), repo commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), tether binary $BUILD/bin/tether"
echo "# machine: $NCPU cores, $(uname -sr); $([[ $MODE == ws ]] && echo 'WebSocket' || echo 'HTTP-stream/SSE') subscribers: $SUBS; $ROUNDS rounds; burst $BURST ($BURST_MODE); payload $PAYLOAD B"
PP_VER=$(command -v "$PUSHPIN" >/dev/null && "$PUSHPIN" --version 2>/dev/null | head -n 1)
NCHAN_VER=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)
echo "# tools: ${PP_VER:-pushpin not installed}, nchan ${NCHAN_VER:-not installed yet} ($NGINX_WORKERS nginx worker(s))"
if (( BUSY > 10 )); then
    echo "# WARNING: the CPU was ${BUSY}% busy before the runs: other processes compete with the benchmark"
    log "warning: CPU ${BUSY}% busy before start; figures will be slow and noisy"
fi

# ---------------------------------------------------------------- runs
for n in $SUBS; do
    for t in $TARGETS; do run_target "$t" "$n"; done
done

# ---------------------------------------------------------------- table
table() {
    local r
    echo "| Target | Subscribers | Memory per held conn | Publish→last p50 | Publish→last p99 | Per-delivery p99 | Burst deliveries/s | Burst lost | Note |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|---|"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r t n kb p50 p99 d99 rate lost note <<< "$r"
        [[ $kb != - ]] && kb="$kb KB"
        [[ $p50 != - ]] && p50="$p50 ms"
        [[ $p99 != - ]] && p99="$p99 ms"
        [[ $d99 != - ]] && d99="$d99 ms"
        echo "| $t | $n | $kb | $p50 | $p99 | $d99 | $rate | $lost | $note |"
    done
}
echo
printf '%-8s %6s %9s %10s %10s %10s %11s %8s  %s\n' target N KB/conn 'last p50' 'last p99' 'deliv p99' 'burst/s' lost note
for r in "${ROWS[@]}"; do
    IFS='|' read -r t n kb p50 p99 d99 rate lost note <<< "$r"
    printf '%-8s %6s %9s %10s %10s %10s %11s %8s  %s\n' "$t" "$n" "$kb" "$p50" "$p99" "$d99" "$rate" "$lost" "$note"
done
echo
echo "$([[ $MODE == ws ]] && echo 'WebSocket subscribers. ')$ROUNDS rounds of one publish each (p50/p99 over the rounds; ms); burst: $BURST messages, $([[ $BURST_MODE == each ]] && echo 'one POST each, the next sent when the previous is answered' || echo 'all in one POST'); deliveries/s = deliveries / (first publish → last delivery). KB per held conn = proxy RSS growth (all its processes) / subscribers."
echo
table
if [[ -n $RESULTS ]]; then table > "$RESULTS"; log "table written to $RESULTS"; fi
