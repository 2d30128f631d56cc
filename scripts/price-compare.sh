#!/usr/bin/env bash
# Whole-process pricing, side by side (make bench): `ucc price --tariff T --cdrs FILE` and
# the `ocpi-tariffs` 0.48 pricer (bench/src/bin/ocpi-tariffs-price.rs) on the same 20,000
# CDRs, each process started 7 times, alternating; then both once more under callgrind on
# the first 2,000 CDRs for instruction counts, which do not depend on the machine's load.
# Prints JSON. Needs target/release/{ucc,ocpi-tariffs-price} (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/bench/price-compare
python3 scripts/gen-cdrs.py "$dir" 20000
head -n 2000 "$dir/cdrs.ndjson" > "$dir/cdrs-2k.ndjson"
ucc=(target/release/ucc price --tariff "$dir/tariff.json" --tz Europe/Oslo --cdrs)
ref=(target/release/ocpi-tariffs-price "$dir/tariff.json")

seconds() { # command... → wall seconds; output to /dev/null
  local t0 t1
  t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N)
  python3 -c "print(round($t1 - $t0, 4))"
}
ucc_s=(); ref_s=()
for _ in 1 2 3 4 5 6 7; do
  ucc_s+=("$(seconds "${ucc[@]}" "$dir/cdrs.ndjson")")
  ref_s+=("$(seconds "${ref[@]}" "$dir/cdrs.ndjson" Europe/Oslo)")
done
lines=$("${ucc[@]}" "$dir/cdrs.ndjson" | wc -l)

instructions() { # command... → instructions callgrind counted
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
ucc_i=""; ref_i=""
if command -v valgrind >/dev/null; then
  ucc_i=$(instructions "${ucc[@]}" "$dir/cdrs-2k.ndjson")
  ref_i=$(instructions "${ref[@]}" "$dir/cdrs-2k.ndjson" Europe/Oslo)
fi
cat <<JSON
{"cdrs": 20000, "ucc_lines": $lines, "ucc_seconds": [$(IFS=,; echo "${ucc_s[*]}")],
 "ocpi_tariffs_seconds": [$(IFS=,; echo "${ref_s[*]}")],
 "callgrind_cdrs": 2000, "ucc_instructions": ${ucc_i:-null}, "ocpi_tariffs_instructions": ${ref_i:-null}}
JSON
