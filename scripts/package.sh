#!/usr/bin/env bash
# `make package`: release builds of every Lambda function as a `bootstrap` in its own zip
# (target/lambda/<function>.zip) and the Azure Functions app (target/azure/functionapp.zip:
# host.json, one function.json per function, the `ucc` custom handler). Prints each
# artifact's size and the newest glibc symbol version each binary needs.
#
# Lambda functions are discovered, not listed: every workspace crate under functions/ whose
# binary has the crate's name and that depends on lambda_runtime or lambda_http. A new
# function crate is packaged (and gets a zip) without touching this script; give it a
# Lambda in infra/terraform/main.tf (local.all_functions).
#
# Target: the build host's (x86_64-unknown-linux-gnu here; no musl target is installed and
# none can be downloaded). provided.al2023 ships glibc 2.34: the script fails if a binary
# needs a newer GLIBC_ symbol version.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARGO="${CARGO:-cargo}"
AL2023_GLIBC="2.34"
cd "$ROOT"

mapfile -t FUNCTIONS < <("$CARGO" metadata --no-deps --format-version 1 | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
root = os.getcwd()
for p in sorted(meta["packages"], key=lambda p: p["name"]):
    rel = os.path.relpath(os.path.dirname(p["manifest_path"]), root)
    deps = {d["name"] for d in p["dependencies"] if d.get("kind") is None}
    bins = {t["name"] for t in p["targets"] if "bin" in t["kind"]}
    if rel.startswith("functions" + os.sep) and p["name"] in bins and deps & {"lambda_runtime", "lambda_http"}:
        print(p["name"])
')
[ "${#FUNCTIONS[@]}" -gt 0 ] || { echo "package: no Lambda function crates found" >&2; exit 1; }

echo "package: cargo build --release (${FUNCTIONS[*]} ucc)"
args=()
for f in "${FUNCTIONS[@]}" ucc; do args+=(-p "$f"); done
"$CARGO" build --release "${args[@]}"

REL="$ROOT/target/release"
python3 - "$ROOT" "$AL2023_GLIBC" "${FUNCTIONS[@]}" <<'PY'
import pathlib, re, subprocess, sys, zipfile

root = pathlib.Path(sys.argv[1])
al2023 = tuple(int(x) for x in sys.argv[2].split("."))
functions = sys.argv[3:]
release = root / "target" / "release"
# Fixed timestamps: the same binaries give byte-identical zips (stable source_code_hash).
STAMP = (2020, 1, 1, 0, 0, 0)


def add(z, name, data, mode):
    info = zipfile.ZipInfo(name, STAMP)
    info.external_attr = (0o100000 | mode) << 16  # regular file + permissions
    info.create_system = 3  # Unix, so the permissions are honoured
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data, compresslevel=9)


def glibc_needed(binary):
    try:
        out = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    versions = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)}
    return max(versions) if versions else (0,)


def human(n):
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


rows, too_new = [], []


def check(binary):
    need = glibc_needed(binary)
    if need is None:
        return "glibc: objdump unavailable"
    if need > al2023:
        too_new.append(binary.name)
    return "needs GLIBC_" + ".".join(map(str, need))


lambda_dir = root / "target" / "lambda"
lambda_dir.mkdir(parents=True, exist_ok=True)
for f in functions:
    binary = release / f
    artifact = lambda_dir / f"{f}.zip"
    tmp = artifact.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as z:
        add(z, "bootstrap", binary.read_bytes(), 0o755)
    tmp.replace(artifact)
    rows.append((artifact, binary, check(binary)))

# Azure Functions app: infra/azure-functionapp (host.json, one function.json per function;
# see its README) plus the ucc custom handler. The host runs the timers (timerTrigger), so
# host.json starts the handler with `serve --no-timers`.
layout = root / "infra" / "azure-functionapp"
azure_dir = root / "target" / "azure"
azure_dir.mkdir(parents=True, exist_ok=True)
app = azure_dir / "functionapp.zip"
tmp = app.with_suffix(".zip.tmp")
ucc = release / "ucc"
with zipfile.ZipFile(tmp, "w") as z:
    for path in sorted(layout.rglob("*.json")):
        add(z, path.relative_to(layout).as_posix(), path.read_bytes(), 0o644)
    add(z, "ucc", ucc.read_bytes(), 0o755)
tmp.replace(app)
rows.append((app, ucc, check(ucc)))

print()
print(f"{'artifact':<40} {'zip':>10} {'binary':>10}  glibc (provided.al2023 has {sys.argv[2]})")
for artifact, binary, glibc in rows:
    print(f"{str(artifact.relative_to(root)):<40} {human(artifact.stat().st_size):>10} {human(binary.stat().st_size):>10}  {glibc}")
if too_new:
    print(f"package: {', '.join(too_new)} need a glibc newer than provided.al2023's {sys.argv[2]}", file=sys.stderr)
    sys.exit(1)
PY
