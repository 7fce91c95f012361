#!/usr/bin/env bash
# HTTP proxy benchmark: throughput and latency of a static backend reached
# directly, through Tether, through nginx (proxy_pass + upstream keepalive)
# and through Pushpin, side by side in one run. It prints figures; it is not
# a test and has no pass/fail. See tests/bench/README.md for the knobs.
#
# Everything runs on 127.0.0.1 with ports picked free at start. Every process
# the script starts is stopped by process id on exit, and its temp dir removed.

set -u -o pipefail

# ---------------------------------------------------------------- settings
THREADS=${THREADS:-1}             # wrk -t
CONNECTIONS=${CONNECTIONS:-50}    # wrk -c
DURATION=${DURATION:-10s}         # wrk -d of the measured run
WARMUP=${WARMUP:-2s}              # wrk -d of the warm-up run before it (0 = none)
ROUNDS=${ROUNDS:-1}               # measured runs per target; the median (by req/s) is reported
URL_PATH=${URL_PATH:-/}           # path requested
TARGETS=${TARGETS:-"direct tether nginx pushpin"}
NGINX_WORKERS=${NGINX_WORKERS:-1}       # proxy nginx worker_processes (a number or auto)
BACKEND_WORKERS=${BACKEND_WORKERS:-1}   # backend nginx worker_processes
POOL=${POOL:-}                    # idle backend connections kept (nginx keepalive, tether backend_pool_size)
PIN=${PIN:-0}                     # 1: proxy on CPU 1, wrk + backend on CPU 0
READY_TIMEOUT=${READY_TIMEOUT:-10}      # seconds to wait for a proxy to answer 200
KEEP_TMP=${KEEP_TMP:-0}           # 1: keep the temp dir (configs, logs, wrk output)
PUSHPIN=${PUSHPIN:-pushpin}
NGINX=${NGINX:-}
RESULTS=${RESULTS:-}              # also write the Markdown table to this file

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -z $POOL ]]; then POOL=$(( CONNECTIONS > 32 ? CONNECTIONS : 32 )); fi

# ---------------------------------------------------------------- tools
command -v wrk >/dev/null || die "wrk not found (apt-get install -y wrk)"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found (used to pick free ports)"
if [[ -z $NGINX ]]; then
    NGINX=$(command -v nginx || true)
    [[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
fi
[[ -n $NGINX && -x $NGINX ]] || die "nginx not found (apt-get install -y nginx-light); it is also the backend"

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# seconds in a wrk duration ("10s", "2m", "1h", bare = seconds)
to_seconds() {
    local d=$1
    case $d in
        *h) echo $(( ${d%h} * 3600 )) ;;
        *m) echo $(( ${d%m} * 60 )) ;;
        *s) echo "${d%s}" ;;
        *) echo "$d" ;;
    esac
}
DUR_S=$(to_seconds "$DURATION") || die "bad DURATION=$DURATION"
WARM_S=$(to_seconds "$WARMUP") || die "bad WARMUP=$WARMUP"
[[ $DUR_S =~ ^[0-9]+$ && $DUR_S -gt 0 ]] || die "DURATION must be whole seconds/minutes/hours, got '$DURATION'"
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be 1..99, got '$ROUNDS'"
[[ $WARM_S =~ ^[0-9]+$ ]] || die "WARMUP must be whole seconds/minutes/hours, got '$WARMUP'"

CPU_LOAD=() CPU_PROXY=()
if [[ $PIN == 1 ]]; then
    command -v taskset >/dev/null || die "PIN=1 needs taskset"
    CPU_LOAD=(taskset -c 0) CPU_PROXY=(taskset -c 1)
fi

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tether-bench.XXXXXX") || die "mktemp failed"
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

# Poll URL until it answers 200, at most TIMEOUT s; fail early if PID exits.
wait_ready() {
    local url=$1 pid=$2 timeout=$3 i code
    for ((i = 0; i < timeout * 10; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null)
        [[ $code == 200 ]] && return 0
        [[ -d /proc/$pid ]] && [[ $(proc_fields "$pid" | cut -d' ' -f1) != Z ]] || return 1
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- results
ROWS=()   # name|rps|avg|p50|p99|rss|cpu|backend_conns|errors|note

# wrk time ("139.00us", "14.86ms", "1.02s", "2.00m") -> milliseconds, formatted
to_ms() {
    awk -v t="$1" 'BEGIN {
        if (t == "") { print "-"; exit }
        v = t; sub(/[a-z]+$/, "", v); u = substr(t, length(v) + 1); v += 0
        m = (u == "us") ? v / 1000 : (u == "ms") ? v : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : (u == "h") ? v * 3600000 : -1
        if (m < 0) { print t; exit }
        if (m < 1) printf "%.3f ms\n", m; else if (m < 100) printf "%.2f ms\n", m; else printf "%.0f ms\n", m
    }'
}

backend_accepts() { # accepted connections counter of the backend, or empty
    curl -s --max-time 2 "http://127.0.0.1:$BPORT/__bench_status" 2>/dev/null |
        awk 'NR == 3 {print $1}'
}

wrk_cmd() { # duration url
    timeout -k 5 $(( $(to_seconds "$1") + 30 )) "${CPU_LOAD[@]}" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" --latency "$2"
}

# measure NAME URL PID(proxy, or empty for direct)
measure() {
    local name=$1 url=$2 pid=$3 wout r rc fail=0
    local cpu0 cpu1 acc0 acc1 conns_sum=0 conns_ok=1
    local -a outs=()
    if (( WARM_S > 0 )); then
        log "$name: warm-up ${WARMUP}"
        wrk_cmd "$WARMUP" "$url" > "$TMP/wrk-$name-warmup.txt" 2>&1
    fi
    [[ -n $pid ]] && cpu0=$(tree_cpu_ticks "$pid")
    for ((r = 1; r <= ROUNDS; r++)); do
        wout="$TMP/wrk-$name-$r.txt"
        log "$name: measuring ${DURATION} (wrk -t$THREADS -c$CONNECTIONS), round $r/$ROUNDS"
        acc0=$(backend_accepts)
        wrk_cmd "$DURATION" "$url" > "$wout" 2>&1
        rc=$?
        acc1=$(backend_accepts)
        # the status request between the two reads accounts for one accept
        if [[ -n $acc0 && -n $acc1 ]]; then conns_sum=$(( conns_sum + acc1 - acc0 - 1 )); else conns_ok=0; fi
        if (( rc != 0 )) || ! grep -q '^Requests/sec:' "$wout"; then
            log "$name: wrk failed (exit $rc):"; sed 's/^/    /' "$wout" >&2
            fail=1
            break
        fi
        outs+=("$(awk '/^Requests\/sec:/ {print $2}' "$wout") $wout")
    done
    local rss=- cpu=- conns=-
    if [[ -n $pid ]]; then
        cpu1=$(tree_cpu_ticks "$pid")
        rss=$(awk -v k="$(tree_rss_kb "$pid")" 'BEGIN {printf "%.1f MiB", k / 1024}')
        cpu=$(awk -v d="$(( cpu1 - cpu0 ))" -v hz="$CLK_TCK" -v s="$(( DUR_S * ${#outs[@]} ))" \
            'BEGIN {printf "%.0f%%", s ? 100 * d / hz / s : 0}')
    fi
    (( conns_ok && ${#outs[@]} > 0 )) && conns=$(( conns_sum / ${#outs[@]} ))
    if (( fail )); then
        ROWS+=("$name|-|-|-|-|$rss|$cpu|$conns|-|wrk failed")
        return
    fi
    # the round with the median req/s gives the row's figures
    wout=$(printf '%s\n' "${outs[@]}" | sort -n | sed -n "$(( (${#outs[@]} + 1) / 2 ))p" | cut -d' ' -f2-)
    local rps avg p50 p99 errs
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$wout")
    avg=$(to_ms "$(awk '$1 == "Latency" && !seen {print $2; seen = 1}' "$wout")")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$wout")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$wout")")
    errs=$(awk '
        /Non-2xx or 3xx responses:/ {n += $NF}
        /Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10}
        END {print n + 0}' "$wout")
    ROWS+=("$name|$rps|$avg|$p50|$p99|$rss|$cpu|$conns|$errs|")
    if (( ROUNDS > 1 )); then
        log "$name: req/s of the rounds: $(printf '%s\n' "${outs[@]}" | cut -d' ' -f1 | tr '\n' ' ')"
    fi
    printf '%-8s %9s req/s   avg %-10s p50 %-10s p99 %-10s rss %-10s cpu %-5s backend conns %-6s errors %s\n' \
        "$name" "$rps" "$avg" "$p50" "$p99" "$rss" "$cpu" "$conns" "$errs"
}

skip() { # NAME NOTE
    log "$1: $2"
    printf '%-8s %s\n' "$1" "$2"
    ROWS+=("$1|-|-|-|-|-|-|-|-|$2")
}

# ---------------------------------------------------------------- ports
read -r BPORT TPORT TPUSH NPORT PPORT PP1 PP2 PP3 PP4 < <(free_ports 9) ||
    die "could not pick free ports"
[[ -n ${PP4:-} ]] || die "could not pick free ports"

NOFILE=$(( CONNECTIONS * 4 + 1024 )); (( NOFILE > 19000 )) && NOFILE=19000
WCONN=$(( NOFILE / 2 ))

nginx_common() { # DIR: lines shared by both nginx configs
    cat <<EOF
pid $1/nginx.pid;
error_log $1/error.log warn;
daemon off;
worker_rlimit_nofile $NOFILE;
events { worker_connections $WCONN; }
EOF
}
nginx_temp_paths() {
    local t
    for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $1/${t}_temp;"; done
}

start_nginx() { # DIR CPU... : starts nginx -p DIR -c DIR/nginx.conf, sets NGINX_PID
    local dir=$1; shift
    "$@" "$NGINX" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" > "$dir/stdout.log" 2>&1 &
    NGINX_PID=$!
    STARTED+=("$NGINX_PID")
}

# ---------------------------------------------------------------- backend
mkdir -p "$TMP/backend"
{
    echo "worker_processes $BACKEND_WORKERS;"
    nginx_common "$TMP/backend"
    cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$TMP/backend")
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$BPORT backlog=4096;
        location = /__bench_status { stub_status; }
        location / {
            default_type text/plain;
            return 200 "hello world\n";
        }
    }
}
EOF
} > "$TMP/backend/nginx.conf"
start_nginx "$TMP/backend" "${CPU_LOAD[@]}"
BACKEND_PID=$NGINX_PID
wait_ready "http://127.0.0.1:$BPORT/" "$BACKEND_PID" 10 ||
    { cat "$TMP/backend/error.log" >&2; die "backend nginx did not start"; }

# ---------------------------------------------------------------- header
NCPU=$(nproc 2>/dev/null || echo '?')
# CPU busy % over one second before the runs: anything else running skews the figures
cpu_busy() {
    local a b
    read -ra a < /proc/stat; sleep 1; read -ra b < /proc/stat
    awk -v u="$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ))" \
        -v i="$(( (b[4]+b[5]) - (a[4]+a[5]) ))" 'BEGIN {printf "%.0f", (u + i) ? 100 * u / (u + i) : 0}'
}
BUSY=$(cpu_busy 2>/dev/null || echo 0)
echo "# Tether proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $NCPU cores, $(uname -sr); load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP, $ROUNDS round(s)) on http://127.0.0.1:PORT$URL_PATH"
PP_VER=$(command -v "$PUSHPIN" >/dev/null && "$PUSHPIN" --version 2>/dev/null | head -n 1)
echo "# tools: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), ${PP_VER:-pushpin not installed}"
if (( BUSY > 10 )); then
    echo "# WARNING: the CPU was ${BUSY}% busy before the runs: other processes compete with the benchmark"
    log "warning: CPU ${BUSY}% busy before start; figures will be low and noisy"
fi
echo "# backend: nginx, $BACKEND_WORKERS worker(s), return 200 \"hello world\\n\"; proxy nginx: $NGINX_WORKERS worker(s), upstream keepalive $POOL; pinning: $([[ $PIN == 1 ]] && echo 'proxy on CPU 1, wrk + backend on CPU 0' || echo none)"

# ---------------------------------------------------------------- targets
run_direct() {
    measure direct "http://127.0.0.1:$BPORT$URL_PATH" ""
}

run_tether() {
    local bin="$BUILD/bin/tether" dir="$TMP/tether"
    mkdir -p "$dir"
    if [[ ! -x $bin ]]; then
        log "tether: $bin missing; building it (log in the temp dir, build.log)"
        local fresh=0 cfg=()
        [[ -e $BUILD ]] || fresh=1
        # a new build dir is configured as Release; an existing one keeps its settings
        [[ -f $BUILD/CMakeCache.txt ]] || cfg=(-DCMAKE_BUILD_TYPE=Release)
        (cd "$REPO" && timeout 300 cmake -S . -B "$BUILD" "${cfg[@]}" &&
            timeout 1200 cmake --build "$BUILD" -j2 --target tether) > "$dir/build.log" 2>&1
        if [[ ! -x $bin ]]; then
            grep -E 'error|Error' "$dir/build.log" | awk '!seen[$0]++' | head -n 10 | sed 's/^/    /' >&2
            # do not leave a half-configured build dir behind that this run created
            (( fresh )) && rm -rf "$BUILD"
            skip tether "build failed"
            return
        fi
    fi
    local btype
    btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
    [[ -n $btype && $btype != Release ]] && log "tether: note: $BUILD is a $btype build, not Release"
    cat > "$dir/tether.conf" <<EOF
# generated by tests/bench/proxy.sh
[runner]
http_port=127.0.0.1:$TPORT
log_level=1

[proxy]
routesfile=routes

[handler]
push_in_http_addr=127.0.0.1
push_in_http_port=$TPUSH

[tether]
backend_pool_size=$POOL
EOF
    echo "*,no_grip 127.0.0.1:$BPORT" > "$dir/routes"
    "${CPU_PROXY[@]}" "$bin" run -c "$dir/tether.conf" --port "127.0.0.1:$TPORT" > "$dir/tether.log" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    if ! wait_ready "http://127.0.0.1:$TPORT$URL_PATH" "$pid" "$READY_TIMEOUT"; then
        tail -n 15 "$dir/tether.log" | sed 's/^/    /' >&2
        stop_tree "$pid"; forget "$pid"
        skip tether "tether did not start"
        return
    fi
    measure tether "http://127.0.0.1:$TPORT$URL_PATH" "$pid"
    stop_tree "$pid"; forget "$pid"
}

run_nginx() {
    local dir="$TMP/nginx"
    mkdir -p "$dir"
    {
        echo "worker_processes $NGINX_WORKERS;"
        nginx_common "$dir"
        cat <<EOF
http {
    access_log off;
$(nginx_temp_paths "$dir")
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    upstream backend {
        server 127.0.0.1:$BPORT;
        keepalive $POOL;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$NPORT backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    } > "$dir/nginx.conf"
    start_nginx "$dir" "${CPU_PROXY[@]}"
    local pid=$NGINX_PID
    if ! wait_ready "http://127.0.0.1:$NPORT$URL_PATH" "$pid" "$READY_TIMEOUT"; then
        tail -n 15 "$dir/error.log" | sed 's/^/    /' >&2
        stop_tree "$pid"; forget "$pid"
        skip nginx "nginx did not start"
        return
    fi
    measure nginx "http://127.0.0.1:$NPORT$URL_PATH" "$pid"
    stop_tree "$pid"; forget "$pid"
}

run_pushpin() {
    local dir="$TMP/pushpin" bin
    bin=$(command -v "$PUSHPIN" || true)
    if [[ -z $bin ]]; then skip pushpin "skipped: pushpin not installed"; return; fi
    mkdir -p "$dir/run" "$dir/log"
    pushpin_conf "$dir" "$PP3" "$PP1" "$PP2" "$PP4" "http_port=127.0.0.1:$PPORT" > "$dir/pushpin.conf"
    echo "*,no_grip 127.0.0.1:$BPORT" > "$dir/routes"
    (cd "$dir" && exec "${CPU_PROXY[@]}" "$bin" --config "$dir/pushpin.conf") > "$dir/pushpin.out" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    if ! wait_ready "http://127.0.0.1:$PPORT$URL_PATH" "$pid" $(( READY_TIMEOUT + 5 )); then
        tail -n 15 "$dir/pushpin.out" "$dir"/log/*.log 2>/dev/null | sed 's/^/    /' >&2
        stop_tree "$pid"; forget "$pid"
        skip pushpin "pushpin did not start"
        return
    fi
    measure pushpin "http://127.0.0.1:$PPORT$URL_PATH" "$pid"
    stop_tree "$pid"; forget "$pid"
}

for t in $TARGETS; do
    case $t in
        direct|tether|nginx|pushpin) "run_$t" ;;
        *) log "unknown target '$t' (direct tether nginx pushpin)" ;;
    esac
done

# ---------------------------------------------------------------- table
table() {
    local r
    echo "| Target | Req/s | Avg latency | p50 | p99 | Proxy RSS | Proxy CPU | Backend conns | Errors | Note |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r n rps avg p50 p99 rss cpu conns errs note <<< "$r"
        echo "| $n | $rps | $avg | $p50 | $p99 | $rss | $cpu | $conns | $errs | $note |"
    done
}
echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION$( (( ROUNDS > 1 )) && echo ", median of $ROUNDS rounds"), $NCPU cores shared by wrk, backend and proxy; Proxy CPU = % of one core during the measured run; Backend conns = connections the backend accepted during a measured run."
echo
table
if [[ -n $RESULTS ]]; then table > "$RESULTS"; log "table written to $RESULTS"; fi
