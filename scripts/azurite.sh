#!/usr/bin/env bash
# Install (once), start and stop Microsoft's Azurite Table emulator for tests and local runs.
#
#   scripts/azurite.sh start   # prints the endpoint, e.g. http://127.0.0.1:41234/devstoreaccount1
#   scripts/azurite.sh stop
#   scripts/azurite.sh status  # prints the endpoint if running, exits 1 otherwise
#   scripts/azurite.sh crash   # SIGKILL, no shutdown: what a crashed host looks like
#
# The endpoint is the Table service of Azurite's well-known development account,
# devstoreaccount1 (its well-known key is in Microsoft's "Connect to Azurite" docs).
#
# Environment:
#   UCC_AZURITE_STATE       directory holding this instance's pid, port and log
#                           (default: <cache>/instance). Give each concurrent user its own
#                           directory; scripts/with-azurite.sh does.
#   UCC_AZURITE_DB_PATH     persist tables in this directory (--location) instead of memory,
#                           so a test can stop and restart Azurite and find its data again.
#                           Azurite saves every 5 s and on `stop`: after `crash` the last few
#                           seconds of writes are gone (unlike DynamoDB Local's -dbPath).
#   UCC_AZURITE_PORT        listen on this port instead of a free random one (a restart after
#                           `crash` passes the old port, so clients keep working).
#   UCC_AZURITE_ACCESS_LOG  1: keep Azurite's per-request access log in <state>/log (off by
#                           default: a soak run would write hundreds of MB of it).
#   XDG_CACHE_HOME          the install lives in ${XDG_CACHE_HOME:-$HOME/.cache}/ucc.
#
# Only the endpoint goes to stdout; every diagnostic goes to stderr.

set -euo pipefail

# 3.35.0 is the last release whose package.json accepts Node 20 (3.36 wants Node >= 21, 3.37
# Node >= 22); --skipApiVersionCheck lets newer client API versions through.
VERSION="3.35.0"
PACKAGE="azurite@$VERSION"
ACCOUNT="devstoreaccount1"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ucc/azurite"
# One directory per pinned version, so bumping VERSION installs afresh next to the old one.
DIST="$CACHE/$VERSION"
BIN="$DIST/node_modules/.bin/azurite-table"
STATE="${UCC_AZURITE_STATE:-$CACHE/instance}"
START_TIMEOUT_S=60

die() {
    echo "azurite: ERROR: $*" >&2
    exit 1
}
note() { echo "azurite: $*" >&2; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed or not on PATH; $2"
}

fetch() {
    [[ -x "$BIN" ]] && return 0
    need npm "it is needed once to install Azurite ($PACKAGE)"
    mkdir -p "$CACHE"
    # Two runs starting at once must not install over each other: the first installs, the
    # second waits for it and then finds the binary.
    exec 9>"$CACHE/.fetch.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 300 9 || die "timed out waiting for another install of $PACKAGE"
    fi
    if [[ -x "$BIN" ]]; then
        exec 9>&-
        return 0
    fi
    note "installing $PACKAGE into $DIST (once)"
    local tmp
    tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    # Installed into a scratch prefix and moved into place whole, so an interrupted install
    # never leaves a half-filled $DIST that looks complete. The .bin links are relative.
    if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
        "$PACKAGE" >"$tmp/install.out" 2>"$tmp/install.err"; then
        cat "$tmp/install.err" >&2 || true
        rm -rf "$tmp"
        die "npm install $PACKAGE failed (is the npm registry reachable?)"
    fi
    [[ -x "$tmp/node_modules/.bin/azurite-table" ]] || {
        rm -rf "$tmp"
        die "$PACKAGE no longer provides node_modules/.bin/azurite-table"
    }
    rm -f "$tmp/install.out" "$tmp/install.err"
    rm -rf "$DIST"
    mv "$tmp" "$DIST"
    exec 9>&-
}

# A killed Azurite stays a zombie until init reaps it (its parent, this script, is long
# gone), which can take over a second; kill -0 alone would count it as running.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    # The state is the field after the parenthesised command name.
    stat=${stat##*) }
    [[ "${stat:0:1}" != "Z" ]]
}

# Prints the pid recorded in STATE if that process is still our Azurite.
running_pid() {
    local pid
    [[ -f "$STATE/pid" ]] || return 1
    pid=$(<"$STATE/pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    # Guards against a recycled pid: never signal a process that is not Azurite.
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'azurite-table' || return 1
    fi
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Any HTTP answer (Azurite replies 403 to an unsigned GET) means it is serving.
answers() {
    if command -v curl >/dev/null 2>&1; then
        local code
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' \
            "http://127.0.0.1:$1/$ACCOUNT/Tables" 2>/dev/null) || true
        [[ -n "$code" && "$code" != "000" ]]
    else
        port_open "$1"
    fi
}

pick_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! port_open "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "found no free loopback port"
}

endpoint() {
    echo "http://127.0.0.1:$1/$ACCOUNT"
}

start() {
    local pid
    if pid=$(running_pid); then
        local port
        port=$(<"$STATE/port")
        if answers "$port"; then
            note "already running (pid $pid)"
            endpoint "$port"
            return 0
        fi
        # Ours but not serving (still starting, or hung): starting another one beside it
        # would forget this pid and leave it running for good.
        note "pid $pid is not answering on port $port; killing it"
        kill -9 "$pid" 2>/dev/null || true
    fi
    need node "Azurite needs Node.js (20 works)"
    fetch
    mkdir -p "$STATE"
    STATE=$(cd "$STATE" && pwd)
    rm -f "$STATE/pid" "$STATE/port"

    # In memory Azurite writes no files; it still runs in the state directory rather than the
    # caller's (Azurite refuses --location together with --inMemoryPersistence).
    local storage=(--inMemoryPersistence)
    if [[ -n "${UCC_AZURITE_DB_PATH:-}" ]]; then
        mkdir -p "$UCC_AZURITE_DB_PATH"
        storage=(--location "$(cd "$UCC_AZURITE_DB_PATH" && pwd)")
    fi
    local logging=(--silent)
    if [[ "${UCC_AZURITE_ACCESS_LOG:-}" == "1" ]]; then
        logging=()
    fi

    # Another process can take the port between the probe and Node binding it; then Azurite
    # exits at once (EADDRINUSE) and we try another port.
    local attempt port started
    local t0=${EPOCHREALTIME/[.,]/}
    for attempt in 1 2 3; do
        if [[ -n "${UCC_AZURITE_PORT:-}" ]]; then
            [[ "$UCC_AZURITE_PORT" =~ ^[0-9]+$ ]] || die "UCC_AZURITE_PORT must be a port number"
            port=$UCC_AZURITE_PORT
        else
            port=$(pick_port)
        fi
        # --skipApiVersionCheck: accept whatever x-ms-version the client SDK sends;
        # --loose: ignore headers and parameters Azurite does not implement instead of 400;
        # --disableTelemetry: no data sent anywhere from a test run.
        (cd "$STATE" && exec setsid "$BIN" --tableHost 127.0.0.1 --tablePort "$port" \
            "${storage[@]}" --skipApiVersionCheck --loose --disableTelemetry "${logging[@]}" \
            </dev/null >"$STATE/log" 2>&1) &
        pid=$!
        echo "$pid" >"$STATE/pid"
        echo "$port" >"$STATE/port"
        started=0
        local deadline=$((SECONDS + START_TIMEOUT_S))
        while ((SECONDS < deadline)); do
            if ! alive "$pid"; then
                break
            fi
            # Its own log line too: with UCC_AZURITE_PORT, whatever else holds that port
            # would answer as well while Azurite dies of EADDRINUSE.
            if grep -q 'successfully started' "$STATE/log" && answers "$port"; then
                started=1
                break
            fi
            sleep 0.2
        done
        if ((started)); then
            local ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
            note "started on port $port (pid $pid) in ${ms} ms; log: $STATE/log"
            endpoint "$port"
            return 0
        fi
        if alive "$pid"; then
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$STATE/pid" "$STATE/port"
            tail -n 20 "$STATE/log" >&2 || true
            die "Azurite did not answer on port $port within ${START_TIMEOUT_S} s"
        fi
        rm -f "$STATE/pid" "$STATE/port"
        if ! grep -q EADDRINUSE "$STATE/log"; then
            tail -n 20 "$STATE/log" >&2 || true
            die "Azurite exited at start (see $STATE/log)"
        fi
        note "attempt $attempt: port $port was taken after all"
        tail -n 5 "$STATE/log" >&2 || true
    done
    die "Azurite could not start (see $STATE/log)"
}

stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$STATE/pid" "$STATE/port"
        note "not running"
        return 0
    fi
    # SIGINT, not SIGTERM: only on SIGINT does azurite-table close its server and save its
    # database (UCC_AZURITE_DB_PATH); on SIGTERM Node dies without saving anything.
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/pid" "$STATE/port"
    note "stopped (pid $pid)"
}

# No graceful shutdown: Azurite gets no chance to save anything, as when a host dies. With
# UCC_AZURITE_DB_PATH it saves every 5 s, so the last few seconds of writes are lost.
crash() {
    local pid
    pid=$(running_pid) || die "not running, nothing to crash"
    kill -9 "$pid"
    for _ in $(seq 1 100); do
        alive "$pid" || break
        sleep 0.05
    done
    alive "$pid" && die "pid $pid survived SIGKILL"
    rm -f "$STATE/pid"
    note "crashed (SIGKILL to pid $pid)"
}

status() {
    local pid
    if pid=$(running_pid) && answers "$(<"$STATE/port")"; then
        endpoint "$(<"$STATE/port")"
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
