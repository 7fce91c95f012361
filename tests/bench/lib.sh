# Shared by the benchmarks: processes stopped by pid (never by name),
# whole process trees measured through /proc, free ports. Sourced; needs
# log() from the caller.

# Fields of /proc/PID/stat after the "(comm)" field: $1 = state (field 3),
# $2 = ppid, $12 = utime, $13 = stime, $20 = starttime.
proc_fields() {
    local s
    { read -r s < "/proc/$1/stat"; } 2>/dev/null || return 1
    printf '%s\n' "${s##*) }"
}

proc_start() { local f; f=$(proc_fields "$1") || return 1; set -- $f; echo "${20}"; }

# All descendants of PID, found by walking /proc (never by name).
descendants() {
    local root=$1 f s pid depth=0 p c
    local -A kids=()
    for f in /proc/[0-9]*/stat; do
        { read -r s < "$f"; } 2>/dev/null || continue
        pid=${f#/proc/}; pid=${pid%/stat}
        s=${s##*) }
        set -- $s
        kids[$2]+="$pid "
    done
    local queue=("$root") next out=()
    while (( ${#queue[@]} > 0 && depth < 16 )); do
        next=()
        for p in "${queue[@]}"; do
            for c in ${kids[$p]:-}; do out+=("$c"); next+=("$c"); done
        done
        queue=("${next[@]}")
        depth=$((depth + 1))
    done
    echo "${out[@]}"
}

alive() { # pid starttime: true while that very process exists and is not a zombie
    local want=$2 f
    f=$(proc_fields "$1") || return 1
    set -- $f
    [[ $1 != Z && ${20} == "$want" ]]
}

# Stop PID and its descendants: SIGTERM to PID; once PID is gone, SIGTERM to
# descendants left behind; after 10 s in all, SIGKILL to whichever of them
# (same pid and start time) is still there.
stop_tree() {
    local root=$1 p i any orphans_told=0
    local -a pids starts
    [[ -d /proc/$root ]] || { wait "$root" 2>/dev/null; return 0; }
    read -ra pids <<< "$root $(descendants "$root")"
    for p in "${pids[@]}"; do starts+=("$(proc_start "$p" || echo x)"); done
    kill -TERM "$root" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        any=0
        for p in "${!pids[@]}"; do alive "${pids[$p]}" "${starts[$p]}" && { any=1; break; }; done
        (( any )) || break
        if (( !orphans_told )) && ! alive "$root" "${starts[0]}"; then
            orphans_told=1
            for p in "${!pids[@]}"; do
                alive "${pids[$p]}" "${starts[$p]}" && kill -TERM "${pids[$p]}" 2>/dev/null
            done
        fi
        sleep 0.1
    done
    for p in "${!pids[@]}"; do
        if alive "${pids[$p]}" "${starts[$p]}"; then
            log "pid ${pids[$p]} still running after SIGTERM; SIGKILL"
            kill -KILL "${pids[$p]}" 2>/dev/null
        fi
    done
    wait "$root" 2>/dev/null
    return 0
}


forget() { # drop a pid from STARTED once stopped
    local p keep=()
    for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    STARTED=("${keep[@]}")
}

# Sum of VmRSS (kB) of PID and its descendants.
tree_rss_kb() {
    local p kb total=0
    for p in "$1" $(descendants "$1"); do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
        total=$(( total + ${kb:-0} ))
    done
    echo "$total"
}

# Sum of utime+stime (clock ticks) of PID and its descendants.
tree_cpu_ticks() {
    local p f total=0
    for p in "$1" $(descendants "$1"); do
        f=$(proc_fields "$p") || continue
        set -- $f
        total=$(( total + ${12} + ${13} ))
    done
    echo "$total"
}

# N free TCP ports on 127.0.0.1, all bound at once so they are distinct.
# They are taken below the ephemeral range when there is room: tens of
# thousands of client connections (ours, or anyone's on this machine) take
# ephemeral ports, and one of them could take a picked port before the
# server binds it (EADDRINUSE).
free_ports() {
    python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
try:
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except Exception:
    lo = 0
socks = []
cands = list(range(10000, lo)) if lo > 12000 else []
random.shuffle(cands)
for port in cands[:2000]:
    if len(socks) == n:
        break
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        s.close()
while len(socks) < n:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# pushpin_conf DIR PUSH_HTTP_PORT P1 P2 P4 RUNNER_LINE...: a pushpin.conf on
# stdout for a benchmark: rundir and logdir in DIR, ZeroMQ and control
# ports given, RUNNER_LINEs (http_port=..., https_ports=...) in [runner].
pushpin_conf() {
    local dir=$1 p3=$2 p1=$3 p2=$4 p4=$5
    shift 5
    local ports
    ports=$(printf '%s\n' "$@")
    # Debian's pushpin 1.36 sends backend requests to a system-wide zurl
    # (ipc:///var/run/zurl/...): run a private one under the runner instead.
    local services zurl_specs=""
    if command -v zurl >/dev/null; then
        services=condure,zurl,pushpin-proxy,pushpin-handler
        zurl_specs="zurl_out_specs=ipc://{rundir}/{ipc_prefix}zurl-in
zurl_out_stream_specs=ipc://{rundir}/{ipc_prefix}zurl-in-stream
zurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out"
    else
        services=condure,pushpin-proxy,pushpin-handler
    fi
    services=${PUSHPIN_SERVICES:-$services}
    cat <<EOF
# generated by tests/bench/$(basename "$0")
[global]
include={libdir}/internal.conf
rundir=$dir/run
ipc_prefix=bench-
port_offset=0
stats_connection_ttl=120

[runner]
services=$services
$ports
logdir=$dir/log
log_level=1
client_buffer_size=8192
client_maxconn=100000
condure_bin=condure
zurl_bin=zurl

[proxy]
routesfile=routes
$zurl_specs
updates_check=off
sig_iss=pushpin
sig_key=changeme

[handler]
push_in_spec=tcp://127.0.0.1:$p1
push_in_sub_specs=tcp://127.0.0.1:$p2
push_in_http_addr=127.0.0.1
push_in_http_port=$p3
stats_spec=ipc://{rundir}/{ipc_prefix}stats
command_spec=tcp://127.0.0.1:$p4
EOF
}
