#!/usr/bin/env bash
# Install (once), start and stop moto's server (AWS Secrets Manager emulator) for tests.
#
#   scripts/moto.sh start   # prints the endpoint, e.g. http://127.0.0.1:41234
#   scripts/moto.sh stop
#   scripts/moto.sh status  # prints the endpoint if running, exits 1 otherwise
#   scripts/moto.sh fetch   # only install
#
# Environment:
#   UCC_MOTO_STATE   directory holding this instance's pid, port and log (default:
#                    <cache>/instance). Give each concurrent user its own directory;
#                    scripts/with-moto.sh does.
#   XDG_CACHE_HOME   the virtualenv lives in ${XDG_CACHE_HOME:-$HOME/.cache}/ucc/moto,
#                    outside the repository.
#
# Only the endpoint goes to stdout; every diagnostic goes to stderr.

set -euo pipefail

# shellcheck source=scripts/pyvenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/pyvenv.sh"

MOTO_VERSION="5.2.5"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ucc/moto"
VENV="$CACHE/venv-$MOTO_VERSION"
STATE="${UCC_MOTO_STATE:-$CACHE/instance}"
START_TIMEOUT_S=60

die() {
    echo "moto: ERROR: $*" >&2
    exit 1
}
note() { echo "moto: $*" >&2; }

fetch() {
    pyvenv_install "$VENV" "$CACHE" moto moto_server "moto[server]==$MOTO_VERSION"
}

running_pid() {
    local pid
    [[ -f "$STATE/pid" ]] || return 1
    pid=$(<"$STATE/pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guards against a recycled pid: never signal a process that is not our moto.
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'moto_server' || return 1
    fi
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

answers() {
    if command -v curl >/dev/null 2>&1; then
        local code
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/moto-api/" 2>/dev/null) || true
        [[ -n "$code" && "$code" != "000" ]]
    else
        port_open "$1"
    fi
}

pick_port() {
    local port i
    for i in $(seq 1 50); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! port_open "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "found no free loopback port"
}

start() {
    local pid
    if pid=$(running_pid); then
        local port
        port=$(<"$STATE/port")
        if answers "$port"; then
            note "already running (pid $pid)"
            echo "http://127.0.0.1:$port"
            return 0
        fi
    fi
    fetch
    mkdir -p "$STATE"
    rm -f "$STATE/pid" "$STATE/port"
    local attempt port started
    local t0=${EPOCHREALTIME/[.,]/}
    for attempt in 1 2 3; do
        port=$(pick_port)
        setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$STATE/log" 2>&1 &
        pid=$!
        echo "$pid" >"$STATE/pid"
        echo "$port" >"$STATE/port"
        started=0
        local deadline=$((SECONDS + START_TIMEOUT_S))
        while ((SECONDS < deadline)); do
            kill -0 "$pid" 2>/dev/null || break
            if answers "$port"; then
                started=1
                break
            fi
            sleep 0.2
        done
        if ((started)); then
            local ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
            note "started on port $port (pid $pid) in ${ms} ms; log: $STATE/log"
            echo "http://127.0.0.1:$port"
            return 0
        fi
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            rm -f "$STATE/pid" "$STATE/port"
            tail -n 20 "$STATE/log" >&2 || true
            die "moto did not answer on port $port within ${START_TIMEOUT_S} s"
        fi
        note "attempt $attempt: moto exited at start on port $port"
        tail -n 5 "$STATE/log" >&2 || true
        rm -f "$STATE/pid" "$STATE/port"
    done
    die "moto could not start (see $STATE/log)"
}

stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$STATE/pid" "$STATE/port"
        note "not running"
        return 0
    fi
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/pid" "$STATE/port"
    note "stopped (pid $pid)"
}

status() {
    local pid
    if pid=$(running_pid) && answers "$(<"$STATE/port")"; then
        echo "http://127.0.0.1:$(<"$STATE/port")"
        return 0
    fi
    note "not running"
    return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
fetch) fetch ;;
*)
    echo "usage: $0 start|stop|status|fetch" >&2
    exit 2
    ;;
esac
