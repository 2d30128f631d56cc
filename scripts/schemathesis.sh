#!/usr/bin/env bash
# The admin API's exact contract: schemathesis (pinned, in a virtualenv cached in
# ~/.cache/ucc) runs every check (scripts/schemathesis.toml) of docs/openapi.json against a real `ucc serve` on a store
# seeded by the example scenario, with the platform key. Any failure fails the script.
#
#   scripts/schemathesis.sh [fetch]     # fetch: only install
#
# Environment:
#   UCC_SCHEMATHESIS_EXAMPLES  examples per operation (default 30)
#   UCC_BIN                    the ucc binary (default: built with cargo into target/)
#   XDG_CACHE_HOME             the virtualenv lives in ${XDG_CACHE_HOME:-$HOME/.cache}/ucc
#
# Diagnostics go to stderr; schemathesis's report to stdout.

set -euo pipefail

# shellcheck source=scripts/pyvenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/pyvenv.sh"

SCHEMATHESIS_VERSION="4.32.5"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ucc/schemathesis"
VENV="$CACHE/venv-$SCHEMATHESIS_VERSION"
EXAMPLES="${UCC_SCHEMATHESIS_EXAMPLES:-30}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

die() {
    echo "schemathesis: ERROR: $*" >&2
    exit 1
}
note() { echo "schemathesis: $*" >&2; }

fetch() {
    pyvenv_install "$VENV" "$CACHE" schemathesis schemathesis "schemathesis==$SCHEMATHESIS_VERSION"
}

if [[ "${1:-}" == "fetch" ]]; then
    fetch
    exit 0
fi
fetch

if [[ -n "${UCC_BIN:-}" ]]; then
    ucc="$UCC_BIN"
else
    (cd "$root" && ${CARGO:-cargo} build --quiet -p ucc) || die "cargo build -p ucc failed"
    ucc="$root/target/debug/ucc"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ucc-schemathesis.XXXXXX")
serve_pid=""
cleanup() {
    if [[ -n "$serve_pid" ]]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export UCC_SECRET_NORDLYS=demo-secret-not-a-real-one UCC_SECRET_SVEA=demo-secret-not-a-real-one
unset UCC_STORE
store="$work/store"
"$ucc" --store "$store" run-scenario "$root/examples/nordlys" --uc-standin >/dev/null ||
    die "seeding the store with examples/nordlys failed"

# A random platform key for this run only; never printed.
platform_key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
UCC_ADMIN_KEY_REF=env:UCC_SCHEMATHESIS_PLATFORM_KEY UCC_SCHEMATHESIS_PLATFORM_KEY="$platform_key" \
    "$ucc" --store "$store" serve --no-timers --port "$port" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 300); do
    grep -q "listening on" "$work/serve.log" 2>/dev/null && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; die "ucc serve exited"; }
    sleep 0.1
done
grep -q "listening on" "$work/serve.log" || die "ucc serve did not start"

note "checking docs/openapi.json against ucc serve on port $port ($EXAMPLES examples per operation)"
t0=$SECONDS
status=0
# From the scratch directory: schemathesis keeps its cache of failures in ./.schemathesis.
(cd "$work" && "$VENV/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$root/docs/openapi.json" \
    --url "http://127.0.0.1:$port" \
    --header "x-api-key: $platform_key" \
    --max-examples "$EXAMPLES" \
    --seed 16 \
    --no-color \
    --suppress-health-check all \
    --workers 1) || status=$?
note "finished in $((SECONDS - t0)) s (exit $status)"
exit "$status"
