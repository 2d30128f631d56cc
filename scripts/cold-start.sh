#!/usr/bin/env bash
# `make bench-coldstart`: cold start of each PACKAGED Lambda bootstrap: the time from process
# start to the first response it posts to a local Lambda Runtime API stand-in (loopback), for
# one event, with the embedded store. Runs the protocol tests of
# tests/tests/packaged_handlers.rs against the bootstraps unpacked from target/lambda/*.zip
# (UCC_BOOTSTRAP_DIR), one process at a time, RUNS times, and prints min / median / max.
# Run `make package` first.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO="${CARGO:-cargo}"
RUNS="${RUNS:-7}"
cd "$ROOT"

shopt -s nullglob
zips=(target/lambda/*.zip)
[ "${#zips[@]}" -gt 0 ] || { echo "cold-start: no target/lambda/*.zip; run make package first" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for z in "${zips[@]}"; do
  f="$(basename "$z" .zip)"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$z" "$work/$f"
  chmod +x "$work/$f/bootstrap"
done

"$CARGO" test --quiet -p ucc-tests --test packaged_handlers --no-run
for i in $(seq "$RUNS"); do
  UCC_BOOTSTRAP_DIR="$work" "$CARGO" test --quiet -p ucc-tests --test packaged_handlers \
    -- --nocapture --test-threads 1 _bootstrap_ 2>/dev/null | grep -o 'cold start .*' || true
done >"$work/lines"

python3 - "$work/lines" "$RUNS" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"cold start (\S+): ([\d.]+) ms", line)
    if m:
        runs.setdefault(m.group(1), []).append(float(m.group(2)))
print(f"{'bootstrap':<20} {'runs':>4} {'min ms':>8} {'median ms':>10} {'max ms':>8}")
for f, v in sorted(runs.items()):
    print(f"{f:<20} {len(v):>4} {min(v):>8.1f} {statistics.median(v):>10.1f} {max(v):>8.1f}")
if not runs:
    sys.exit("cold-start: no measurements (did the tests fail?)")
PY
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
