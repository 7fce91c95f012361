#!/usr/bin/env bash
# TLS benchmark: full handshakes per second and memory per held TLS
# connection, for Tether, nginx, Nchan and Pushpin side by side in one run.
# It prints figures; it is not a test and has no pass/fail. See
# tests/bench/README.md for the knobs.
#
# A throwaway CA and a certificate for localhost (EC P-256; RSA 2048 too
# with KEYS="ec rsa") are made with the openssl CLI in the temp dir.
# Handshakes: `openssl s_time -new` (CLIENTS of them at once). Held
# connections: tests/bench/tlshold.py (python3 asyncio + ssl).
# Everything runs on 127.0.0.1 with ports picked free at start. Every
# process the script starts is stopped by process id on exit, and its temp
# dir removed.

set -u -o pipefail

# ---------------------------------------------------------------- settings
KEYS=${KEYS:-ec}                  # certificate keys, one row per target and key: ec (P-256), rsa (2048)
TARGETS=${TARGETS:-"tether nginx nchan pushpin"}
CONNS=${CONNS:-1000}              # TLS connections held for the memory figure
DURATION=${DURATION:-10}          # seconds of s_time per row
CLIENTS=${CLIENTS:-4}             # s_time processes at once
WARMUP=${WARMUP:-1}               # seconds of s_time before the measured run (0 = none)
TLS=${TLS:-1.2}                   # 1.2: TLS 1.2 and one cipher per key type for all; auto: the client's highest
PLAIN=${PLAIN:-1}                 # 1: also the memory of CONNS plain-HTTP held connections, for comparison
HOLD=${HOLD:-3}                   # seconds the connections are held idle before the memory reading
CONC=${CONC:-64}                  # connections of the holding client being set up at once
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-120} # seconds for all CONNS to be held
NGINX_WORKERS=${NGINX_WORKERS:-1} # nginx (and Nchan) worker_processes
READY_TIMEOUT=${READY_TIMEOUT:-10}      # seconds for a target to serve over TLS (Pushpin gets 5 more)
OTHERS_MAX=${OTHERS_MAX:-30}      # % of a core used by anything else during a handshake run before the row says so
KEEP_TMP=${KEEP_TMP:-0}           # 1: keep the temp dir (certificates, configs, logs)
PUSHPIN=${PUSHPIN:-pushpin}
NGINX=${NGINX:-}
RESULTS=${RESULTS:-}              # also write the Markdown table to this file

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build-rel}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}

log() { printf '[tls] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

isnum() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in CONNS DURATION CLIENTS WARMUP HOLD CONC CONNECT_TIMEOUT READY_TIMEOUT OTHERS_MAX; do
    isnum "${!v}" || die "$v must be a whole number, got '${!v}'"
done
(( CONNS >= 1 && CONNS <= 18000 )) || die "CONNS: 1..18000 (the open-file limit is shared by the client)"
(( DURATION >= 1 && DURATION <= 600 )) || die "DURATION: 1..600 seconds"
(( CLIENTS >= 1 && CLIENTS <= 16 )) || die "CLIENTS: 1..16"
(( WARMUP <= 60 && HOLD <= 600 )) || die "WARMUP at most 60, HOLD at most 600"
(( CONC >= 1 )) || die "CONC must be at least 1"
[[ $TLS == 1.2 || $TLS == auto ]] || die "TLS is 1.2 or auto"
for k in $KEYS; do [[ $k == ec || $k == rsa ]] || die "KEYS: ec and/or rsa, got '$k'"; done

# ---------------------------------------------------------------- tools
command -v openssl >/dev/null || die "openssl not found (apt-get install -y openssl)"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found (the holding client, free ports)"
if [[ -z $NGINX ]]; then
    NGINX=$(command -v nginx || true)
    [[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
fi

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# The client side of every handshake: TLS 1.2 and one AEAD suite per key
# type, the same for every target, unless TLS=auto.
S_OPTS=() PY_OPTS=(--tls "$TLS")
if [[ $TLS == 1.2 ]]; then
    CIPHERS=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256
    S_OPTS=(-tls1_2 -cipher "$CIPHERS")
    PY_OPTS+=(--ciphers "$CIPHERS")
fi

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tether-tls.XXXXXX") || die "mktemp failed"
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

running() { [[ -d /proc/$1 ]] && [[ $(proc_fields "$1" | cut -d' ' -f1) != Z ]]; }

# ---------------------------------------------------------------- certificates
# A CA (EC P-256) and, per key type, a certificate for localhost and
# 127.0.0.1 signed by it: $TMP/pki/{ca,ec,rsa}.{crt,key}.
make_pki() {
    local d=$TMP/pki k
    mkdir -p "$d"
    chmod 755 "$d"
    {
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj '/CN=tether tls bench CA' \
            -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' &&
        printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
            'extendedKeyUsage=serverAuth' 'subjectAltName=DNS:localhost,IP:127.0.0.1' > "$d/ext.cnf"
    } > "$d/openssl.log" 2>&1 || return 1
    for k in $KEYS; do
        local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
        [[ $k == rsa ]] && newkey=(-newkey rsa:2048)
        {
            openssl req -new "${newkey[@]}" -nodes -keyout "$d/$k.key" -out "$d/$k.csr" -subj '/CN=localhost' &&
            openssl x509 -req -in "$d/$k.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
                -out "$d/$k.crt" -days 2 -extfile "$d/ext.cnf" &&
            openssl verify -CAfile "$d/ca.crt" "$d/$k.crt"
        } >> "$d/openssl.log" 2>&1 || return 1
        chmod 644 "$d/$k.key"   # nginx reads it as the user that started it; the dir is ours
    done
}
make_pki || { sed 's/^/    /' "$TMP/pki/openssl.log" >&2; die "could not make the certificates with openssl"; }
CA=$TMP/pki/ca.crt

# ---------------------------------------------------------------- the target under test
# start_<target> DIR KEY sets: T_PID, T_PORT (TLS), T_PLAIN_PORT, T_PATH,
# T_MARKER (the first bytes of a held response), T_ACCEPT, T_HOLD (what is held).
T_WHY= T_PID= T_PORT= T_PLAIN_PORT= T_PATH= T_MARKER= T_ACCEPT= T_HOLD= T_LOGS=()

# Why a target did not come up: its state, then the tails of its logs.
not_started() { # PID LOG...
    local pid=$1 rc; shift
    if running "$pid"; then
        log "    pid $pid is running but did not serve over TLS in time"
    else
        wait "$pid" 2>/dev/null; rc=$?
        log "    pid $pid exited with status $rc"
    fi
    tail -n 15 "$@" 2>/dev/null | sed 's/^/    /' >&2
}

# GET over TLS with SNI localhost, the certificate checked against our CA.
tls_get() { # MAX_TIME
    local -a hdr=()
    [[ -n $T_ACCEPT ]] && hdr=(-H "Accept: $T_ACCEPT")
    curl -sN --max-time "$1" --cacert "$CA" --resolve "localhost:$T_PORT:127.0.0.1" "${hdr[@]}" \
        "https://localhost:$T_PORT$T_PATH" 2>/dev/null
}

# Poll until a GET over TLS shows the marker, at most TIMEOUT s; fail early if PID exits.
wait_tls() { # PID TIMEOUT
    local pid=$1 timeout=$2 i
    for ((i = 0; i < timeout * 5; i++)); do
        # (not a pipe: with pipefail, curl's timeout would fail it)
        grep -qF -- "$T_MARKER" < <(tls_get 0.5) && return 0
        running "$pid" || return 1
        sleep 0.1
    done
    return 1
}

TETHER_BUILT=0 TETHER_NOTED=0
start_tether() { # DIR KEY
    local dir=$1 key=$2 bin="$BUILD/bin/tether" port plain push
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
    if (( !TETHER_NOTED )); then
        TETHER_NOTED=1
        [[ -n $(find "$REPO/src" -newer "$bin" -name '*.[ch]' 2>/dev/null | head -n 1) ]] &&
            log "tether: note: $bin is older than src/ (cmake --build $BUILD --target tether)"
        local btype
        btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
        [[ -n $btype && $btype != Release ]] && log "tether: note: $BUILD is a $btype build, not Release"
    fi
    read -r port plain push < <(free_ports 3) || return 1
    # Pushpin's layout: runner/certs beside the config (Tether's default certs_dir)
    mkdir -p "$dir/runner/certs"
    cp "$TMP/pki/$key.crt" "$dir/runner/certs/localhost.crt"
    cp "$TMP/pki/$key.key" "$dir/runner/certs/localhost.key"
    cp "$TMP/pki/$key.crt" "$dir/runner/certs/default.crt"   # clients without SNI (s_time)
    cp "$TMP/pki/$key.key" "$dir/runner/certs/default.key"
    cat > "$dir/tether.conf" <<EOF
# generated by tests/bench/tls.sh
[runner]
http_port=127.0.0.1:$plain
https_ports=127.0.0.1:$port
log_level=1
client_maxconn=100000

[proxy]
routesfile=routes

[handler]
push_in_http_addr=127.0.0.1
push_in_http_port=$push
EOF
    echo '* test' > "$dir/routes"
    "$bin" run -c "$dir/tether.conf" > "$dir/tether.log" 2>&1 &
    T_PID=$!
    STARTED+=("$T_PID")
    T_PORT=$port T_PLAIN_PORT=$plain T_PATH=/stream T_MARKER='[stream open]' T_ACCEPT=
    T_HOLD="GET /stream of the test target" T_LOGS=("$dir/tether.log")
    wait_tls "$T_PID" "$READY_TIMEOUT" || { not_started "$T_PID" "${T_LOGS[@]}"; return 1; }
}

nginx_conf() { # DIR KEY PORT PLAIN [nchan]: nginx.conf on stdout
    local dir=$1 key=$2 port=$3 plain=$4 nchan=${5:-} t nofile wconn loc
    nofile=$(( CONNS * 2 + 1024 )); (( nofile > 19000 )) && nofile=19000
    wconn=$(( nofile - 100 ))
    [[ -n $nchan ]] && echo "load_module $NCHAN_MODULE;"
    if [[ -n $nchan ]]; then
        loc='location = /sub {
            nchan_subscriber eventsource;
            nchan_channel_id test;
            nchan_subscriber_first_message newest;
        }'
    else
        loc='location / {
            default_type text/plain;
            return 200 "hello world\n";
        }'
    fi
    cat <<EOF
# generated by tests/bench/tls.sh
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
    keepalive_timeout 600s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    server {
        listen 127.0.0.1:$port ssl backlog=4096;
        listen 127.0.0.1:$plain backlog=4096;
        ssl_certificate $TMP/pki/$key.crt;
        ssl_certificate_key $TMP/pki/$key.key;
        $loc
    }
}
EOF
}

start_nginx() { # DIR KEY
    local dir=$1 key=$2 port plain
    [[ -n $NGINX && -x $NGINX ]] || { T_WHY="skipped: nginx not installed"; return 1; }
    read -r port plain < <(free_ports 2) || return 1
    nginx_conf "$dir" "$key" "$port" "$plain" > "$dir/nginx.conf"
    "$NGINX" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" > "$dir/stdout.log" 2>&1 &
    T_PID=$!
    STARTED+=("$T_PID")
    T_PORT=$port T_PLAIN_PORT=$plain T_PATH=/ T_MARKER='hello world' T_ACCEPT=
    T_HOLD="idle keep-alive after one GET / (return 200)" T_LOGS=("$dir/error.log" "$dir/stdout.log")
    wait_tls "$T_PID" "$READY_TIMEOUT" || { not_started "$T_PID" "${T_LOGS[@]}"; return 1; }
}

start_nchan() { # DIR KEY
    local dir=$1 key=$2 port plain
    [[ -n $NGINX && -x $NGINX ]] || { T_WHY="skipped: nginx not installed"; return 1; }
    [[ -f $NCHAN_MODULE ]] || { T_WHY="skipped: $NCHAN_MODULE missing (libnginx-mod-nchan)"; return 1; }
    read -r port plain < <(free_ports 2) || return 1
    nginx_conf "$dir" "$key" "$port" "$plain" nchan > "$dir/nginx.conf"
    "$NGINX" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" > "$dir/stdout.log" 2>&1 &
    T_PID=$!
    STARTED+=("$T_PID")
    T_PORT=$port T_PLAIN_PORT=$plain T_PATH=/sub T_MARKER=': hi' T_ACCEPT=text/event-stream
    T_HOLD="EventSource GET /sub (nchan_subscriber)" T_LOGS=("$dir/error.log" "$dir/stdout.log")
    wait_tls "$T_PID" "$READY_TIMEOUT" || { not_started "$T_PID" "${T_LOGS[@]}"; return 1; }
}

start_pushpin() { # DIR KEY
    local dir=$1 key=$2 bin port plain p1 p2 p3 p4
    bin=$(command -v "$PUSHPIN") || { T_WHY="skipped: pushpin not installed"; return 1; }
    mkdir -p "$dir/run" "$dir/log" "$dir/runner/certs"
    read -r port plain p1 p2 p3 p4 < <(free_ports 6) || return 1
    # Pushpin 1.36 hands https_ports to condure with --tls-identities-dir=
    # <config dir>/runner/certs: <host>.crt/.key by SNI, and
    # default_<port>.crt/.key for clients that send no SNI (s_time).
    cp "$TMP/pki/$key.crt" "$dir/runner/certs/localhost.crt"
    cp "$TMP/pki/$key.key" "$dir/runner/certs/localhost.key"
    cp "$TMP/pki/$key.crt" "$dir/runner/certs/default_$port.crt"
    cp "$TMP/pki/$key.key" "$dir/runner/certs/default_$port.key"
    pushpin_conf "$dir" "$p3" "$p1" "$p2" "$p4" "http_port=127.0.0.1:$plain" \
        "https_ports=127.0.0.1:$port" > "$dir/pushpin.conf"
    echo '* test' > "$dir/routes"
    (cd "$dir" && exec "$bin" --config "$dir/pushpin.conf") > "$dir/pushpin.out" 2>&1 &
    T_PID=$!
    STARTED+=("$T_PID")
    T_PORT=$port T_PLAIN_PORT=$plain T_PATH=/stream T_MARKER='[stream opened]' T_ACCEPT=
    T_HOLD="GET /stream of the test target" T_LOGS=("$dir/pushpin.out" "$dir"/log/*.log)
    wait_tls "$T_PID" $(( READY_TIMEOUT + 5 )) || { not_started "$T_PID" "$dir/pushpin.out" "$dir"/log/*.log; return 1; }
}

# ---------------------------------------------------------------- checks and measurements
# What s_time's handshakes negotiate: one s_client like them (no SNI, same
# options), the chain checked against our CA. Sets NEG ("TLSv1.2
# ECDHE-ECDSA-AES128-GCM-SHA256 X25519"); fails with NEG_WHY.
NEG= NEG_WHY=
negotiated() { # DIR
    local out=$1/s_client.txt proto cipher kx
    NEG= NEG_WHY=
    timeout 10 openssl s_client -connect "127.0.0.1:$T_PORT" "${S_OPTS[@]}" -CAfile "$CA" \
        -verify_return_error < /dev/null > "$out" 2>&1
    proto=$(sed -n 's/^ *Protocol *: *//p' "$out" | head -n 1)
    cipher=$(sed -n 's/^New, [^,]*, Cipher is //p' "$out" | head -n 1)
    kx=$(sed -n 's/^Server Temp Key: *\([^,]*\).*/\1/p' "$out" | head -n 1)
    [[ $kx == ECDH ]] && kx=$(sed -n 's/^Server Temp Key: ECDH, *\([^,]*\).*/\1/p' "$out" | head -n 1)
    if ! grep -q 'Verify return code: 0 (ok)' "$out" || [[ -z $cipher || $cipher == '(NONE)' ]]; then
        NEG_WHY=$(grep -m 1 -iE 'error|alert' "$out" | sed 's/.*SSL routines://; s/:\.\..*//' | cut -c1-80)
        NEG_WHY=${NEG_WHY:-no handshake}
        return 1
    fi
    NEG="$proto $cipher${kx:+ $kx}"
}

# Full handshakes: WARMUP s, then CLIENTS x `openssl s_time -new` for
# DURATION s. Sets HS_RATE, HS_CPU (% of one core), HS_MS (server CPU ms per
# handshake), HS_CLIENT (% of one core, all clients), HS_NOTE.
HS_RATE=- HS_CPU=- HS_MS=- HS_CLIENT=- HS_NOTE=
s_time() { # SECONDS OUTFILE
    timeout -k 5 $(( $1 + 20 )) openssl s_time -new -connect "127.0.0.1:$T_PORT" "${S_OPTS[@]}" \
        -no-CAfile -no-CApath -no-CAstore -time "$1" > "$2" 2>&1
}
handshakes() { # DIR
    local dir=$1 k c0 c1 n wall u s fails
    HS_RATE=- HS_CPU=- HS_MS=- HS_CLIENT=- HS_NOTE=
    (( WARMUP > 0 )) && s_time "$WARMUP" "$dir/s_time-warmup.txt"
    local -a st0 st1
    c0=$(tree_cpu_ticks "$T_PID")
    read -ra st0 < /proc/stat
    # The clients run in a background subshell that we `wait` for, so that a
    # signal to this script is handled at once; the subshell's `times`
    # gives the clients' CPU time.
    local t0=$EPOCHREALTIME t1 hpid
    (
        for ((k = 0; k < CLIENTS; k++)); do s_time "$DURATION" "$dir/s_time-$k.txt" & done
        wait
        times > "$dir/s_time-times.txt"
    ) &
    hpid=$!
    STARTED+=("$hpid")
    wait "$hpid"
    forget "$hpid"
    t1=$EPOCHREALTIME
    read -ra st1 < /proc/stat
    c1=$(tree_cpu_ticks "$T_PID")
    # (EPOCHREALTIME's decimal point follows the locale: compare microseconds)
    wall=$(awk -v us="$(( ${t1/[.,]/} - ${t0/[.,]/} ))" 'BEGIN {printf "%.3f", us / 1e6}')
    # times: the subshell's own user/system time, then its children's ("0m1.234s 0m0.056s")
    read -r u s < <(awk 'NR == 2 {
        for (i = 1; i <= 2; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); v[i] = p[1] * 60 + p[2] }
        print v[1], v[2] }' "$dir/s_time-times.txt")
    u=${u:-0} s=${s:-0}
    # CPU time of the whole machine (user, nice, system, irq, softirq, steal)
    # beyond the server's and the clients': other processes, and the kernel's
    # network work that no process is charged for.
    local others
    others=$(awk -v m="$(( (st1[1]+st1[2]+st1[3]+st1[6]+st1[7]+st1[8]) - (st0[1]+st0[2]+st0[3]+st0[6]+st0[7]+st0[8]) ))" \
        -v srv="$(( c1 - c0 ))" -v hz="$CLK_TCK" -v u="$u" -v s="$s" -v w="$wall" \
        'BEGIN {printf "%.0f", (w > 0 ? 100 * ((m - srv) / hz - u - s) / w : 0)}')
    others=${others:-0}
    # "N connections in S real seconds": s_time stops at a whole second of
    # the wall clock, so the rate is taken over the measured wall time.
    n=$(cat "$dir"/s_time-[0-9]*.txt | awk '/connections in [0-9]+ real seconds/ {n += $1} END {print n + 0}')
    fails=0
    for ((k = 0; k < CLIENTS; k++)); do
        grep -q 'real seconds' "$dir/s_time-$k.txt" || fails=$(( fails + 1 ))
    done
    if (( fails > 0 )); then
        HS_NOTE="$fails of $CLIENTS s_time failed: $(grep -m 1 -viE 'collecting|^$|connections' "$dir"/s_time-[0-9]*.txt | cut -d: -f2- | cut -c1-60)"
        log "handshakes: $HS_NOTE"
    fi
    (( n > 0 )) || return 1
    HS_RATE=$(awk -v n="$n" -v w="$wall" 'BEGIN {printf "%.0f", (w > 0 ? n / w : 0)}')
    HS_CPU=$(awk -v t="$(( c1 - c0 ))" -v hz="$CLK_TCK" -v w="$wall" 'BEGIN {printf "%.0f%%", 100 * t / hz / w}')
    HS_MS=$(awk -v t="$(( c1 - c0 ))" -v hz="$CLK_TCK" -v n="$n" 'BEGIN {printf "%.3f", 1000 * t / hz / n}')
    HS_CLIENT=$(awk -v u="$u" -v s="$s" -v w="$wall" 'BEGIN {printf "%.0f%%", 100 * (u + s) / w}')
    log "handshakes: $n in ${wall}s = $HS_RATE/s; server CPU $HS_CPU of a core ($HS_MS ms each); s_time clients $HS_CLIENT; the rest of the machine ${others}%"
    if (( others > OTHERS_MAX )); then
        HS_NOTE+="${HS_NOTE:+; }other CPU use ${others}% during the run"
        log "warning: ${others}% of a core went to other processes (or unattributed kernel work) during the run"
    fi
}

# Hold CONNS connections (TLS, or plain with MODE=plain), read the server's
# tree RSS before and after HOLD s idle. Sets MEM_KB, MEM_NOTE.
MEM_KB=- MEM_NOTE=
hold_mem() { # DIR MODE
    local dir=$1 mode=$2 rf gf cpid i rss0 rss1= res ready failed closed port
    local -a opts=(--cafile "$CA" "${PY_OPTS[@]}")
    MEM_KB=- MEM_NOTE=
    rf=$dir/ready-$mode gf=$dir/go-$mode port=$T_PORT
    [[ $mode == plain ]] && { opts=(--plain); port=$T_PLAIN_PORT; }
    [[ -n $T_ACCEPT ]] && opts+=(--accept "$T_ACCEPT")
    sleep 1
    rss0=$(tree_rss_kb "$T_PID")
    timeout -k 5 $(( CONNECT_TIMEOUT + HOLD + 400 )) python3 "$HERE/tlshold.py" --port "$port" \
        --path "$T_PATH" --marker "$T_MARKER" --conns "$CONNS" --conc "$CONC" "${opts[@]}" \
        --connect-timeout "$CONNECT_TIMEOUT" --ready-file "$rf" --go-file "$gf" --go-timeout 300 \
        > "$dir/hold-$mode.out" 2> "$dir/hold-$mode.err" &
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
    fi
    : > "$gf"
    for ((i = 0; i < 300; i++)); do running "$cpid" || break; sleep 0.1; done
    stop_tree "$cpid"; forget "$cpid"
    sed 's/^/    /' "$dir/hold-$mode.err" >&2
    res=$(grep '^RESULT ' "$dir/hold-$mode.out" | tail -n 1)
    if [[ -z $res || -z $rss1 ]]; then
        MEM_NOTE="$mode holding client failed"
        log "$MEM_NOTE"
        return 1
    fi
    ready=$(sed -n 's/.* ready=\([0-9]*\).*/\1/p' <<< "$res")
    failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<< "$res")
    closed=$(sed -n 's/.* closed=\([0-9]*\).*/\1/p' <<< "$res")
    (( ready > 0 )) && MEM_KB=$(awk -v a="$rss0" -v b="$rss1" -v n="$ready" 'BEGIN {printf "%.1f", (b - a) / n}')
    (( failed > 0 )) && MEM_NOTE+="$failed of $CONNS $mode did not connect; "
    (( closed > 0 )) && MEM_NOTE+="$closed $mode closed by the server while held; "
    MEM_NOTE=${MEM_NOTE%; }
    log "memory ($mode): RSS $rss0 KB before, $rss1 KB with $ready held = $MEM_KB KB each; client: ${res#RESULT }"
}

# ---------------------------------------------------------------- results
ROWS=()   # target|key|negotiated|rate|cpu|ms|client|tls_kb|plain_kb|note

skip() { # TARGET KEY NOTE
    log "$1 ($2): $3"
    printf '%-8s %-4s %s\n' "$1" "$2" "$3"
    ROWS+=("$1|$2|-|-|-|-|-|-|-|$3")
}

start_target() { # NAME DIR KEY: start it, once more with other ports if needed
    local name=$1 dir=$2 key=$3 try
    T_WHY=
    for try in 1 2; do
        T_PID=
        "start_$name" "$dir" "$key" && return 0
        [[ -n $T_WHY ]] && return 1
        [[ -n $T_PID ]] && { stop_tree "$T_PID"; forget "$T_PID"; }
        (( try == 1 )) && log "$name: did not start; trying once more"
    done
    T_WHY="$name did not serve over TLS"
    [[ $name == tether ]] && T_WHY+=" (a binary without TLS?)"
    return 1
}

run_target() { # NAME KEY
    local name=$1 key=$2 dir="$TMP/$1-$2" note=
    mkdir -p "$dir"
    case $name in tether|nginx|nchan|pushpin) ;; *) log "unknown target '$name' (tether nginx nchan pushpin)"; return ;; esac
    log "$name ($key): starting"
    start_target "$name" "$dir" "$key" || { skip "$name" "$key" "$T_WHY"; return; }
    if ! negotiated "$dir"; then
        stop_tree "$T_PID"; forget "$T_PID"
        skip "$name" "$key" "no TLS handshake like s_time's (no SNI): $NEG_WHY"
        return
    fi
    log "$name ($key): serves TLS ($NEG); holds: $T_HOLD"
    # memory first, on a fresh process; then the handshakes
    hold_mem "$dir" tls
    local tls_kb=$MEM_KB
    note=$MEM_NOTE
    handshakes "$dir"
    [[ -n $HS_NOTE ]] && note+="${note:+; }$HS_NOTE"
    stop_tree "$T_PID"; forget "$T_PID"
    local plain_kb=-
    if [[ $PLAIN == 1 ]]; then
        # a fresh process again, so that neither figure reuses the other's freed memory
        mkdir -p "$dir/plain"
        if start_target "$name" "$dir/plain" "$key"; then
            hold_mem "$dir/plain" plain
            plain_kb=$MEM_KB
            [[ -n $MEM_NOTE ]] && note+="${note:+; }$MEM_NOTE"
            stop_tree "$T_PID"; forget "$T_PID"
        else
            note+="${note:+; }plain: $T_WHY"
        fi
    fi
    ROWS+=("$name|$key|$NEG|$HS_RATE|$HS_CPU|$HS_MS|$HS_CLIENT|$tls_kb|$plain_kb|$note")
    local plain_shown=$plain_kb
    [[ $plain_kb != - ]] && plain_shown="$plain_kb KB"
    printf '%-8s %-4s %8s handshakes/s   server CPU %5s (%s ms each)   %8s KB per held TLS conn (plain %s)%s\n' \
        "$name" "$key" "$HS_RATE" "$HS_CPU" "$HS_MS" "$tls_kb" "$plain_shown" "${note:+   ($note)}"
}

# ---------------------------------------------------------------- header
NCPU=$(nproc 2>/dev/null || echo '?')
cpu_busy() {
    local a b
    read -ra a < /proc/stat; sleep 1; read -ra b < /proc/stat
    awk -v u="$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ))" \
        -v i="$(( (b[4]+b[5]) - (a[4]+a[5]) ))" 'BEGIN {printf "%.0f", (u + i) ? 100 * u / (u + i) : 0}'
}
BUSY=$(cpu_busy 2>/dev/null || echo 0)
echo "# Tether TLS benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), repo commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), tether binary $BUILD/bin/tether"
echo "# machine: $NCPU cores, $(uname -sr); keys: $KEYS; TLS: $([[ $TLS == 1.2 ]] && echo "1.2 only, $CIPHERS" || echo "client's highest")"
echo "# handshakes: $CLIENTS x openssl s_time -new for ${DURATION}s (no session resumption); held: $CONNS connections, idle ${HOLD}s"
PP_VER=$(command -v "$PUSHPIN" >/dev/null && "$PUSHPIN" --version 2>/dev/null | head -n 1)
MBED_VER=$(dpkg-query -W -f='${Version}' libmbedtls-dev 2>/dev/null)
NCHAN_VER=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)
echo "# tools: $(openssl version | cut -d' ' -f1-2), mbedtls ${MBED_VER:-?} (Tether), nginx $([[ -n $NGINX ]] && "$NGINX" -v 2>&1 | sed 's/.*nginx\///' || echo 'not installed') ($NGINX_WORKERS worker(s)), nchan ${NCHAN_VER:-not installed}, ${PP_VER:-pushpin not installed}"
if (( BUSY > 10 )); then
    echo "# WARNING: the CPU was ${BUSY}% busy before the runs: other processes compete with the benchmark"
    log "warning: CPU ${BUSY}% busy before start; figures will be low and noisy"
fi

# ---------------------------------------------------------------- runs
for key in $KEYS; do
    for t in $TARGETS; do run_target "$t" "$key"; done
done

# ---------------------------------------------------------------- table
table() {
    local r
    echo "| Target | Key | Negotiated | Handshakes/s | Server CPU | Server CPU per handshake | Clients' CPU | Memory per held TLS conn | Same, plain HTTP | Note |"
    echo "|---|---|---|--:|--:|--:|--:|--:|--:|---|"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r t k neg rate cpu ms cl tkb pkb note <<< "$r"
        [[ $ms != - ]] && ms="$ms ms"
        [[ $tkb != - ]] && tkb="$tkb KB"
        [[ $pkb != - ]] && pkb="$pkb KB"
        echo "| $t | $k | $neg | $rate | $cpu | $ms | $cl | $tkb | $pkb | $note |"
    done
}
echo
printf '%-8s %-4s %12s %8s %12s %10s %12s %10s  %s\n' target key handshakes/s 'srv CPU' 'ms/handshake' 'client CPU' 'TLS KB/conn' 'plain KB' note
for r in "${ROWS[@]}"; do
    IFS='|' read -r t k neg rate cpu ms cl tkb pkb note <<< "$r"
    printf '%-8s %-4s %12s %8s %12s %10s %12s %10s  %s\n' "$t" "$k" "$rate" "$cpu" "$ms" "$cl" "$tkb" "$pkb" "$note"
done
echo
echo "Handshakes/s: full TLS handshakes (no resumption) by $CLIENTS openssl s_time -new clients over ${DURATION}s, which share the $NCPU cores with the server. Server CPU: the server's process tree, % of one core; per handshake: its CPU time / handshakes. Clients' CPU: all s_time processes, % of one core. Memory: (RSS of the server's tree with $CONNS held − before) / $CONNS; held = Tether and Pushpin GET /stream of the test target, nginx an idle keep-alive after one GET / (return 200), Nchan an EventSource subscription."
echo
table
if [[ -n $RESULTS ]]; then table > "$RESULTS"; log "table written to $RESULTS"; fi
