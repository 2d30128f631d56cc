#!/usr/bin/env bash
# Static checks of the infrastructure code (`make infra-check`, part of `make test`):
#   1. terraform fmt -check -recursive infra/terraform (terraform is on the machine image;
#      providers cannot be downloaded here, so `terraform validate` is out of reach);
#   2. the Bicep subscription rule's SQL filter equals SPEC §3's text exactly;
#   3. checkov on infra/terraform and infra/bicep with zero failed checks. Every skipped check
#      is an inline `#checkov:skip=CKV_…:reason` comment next to the resource it concerns.
# checkov is installed once, pinned, from PyPI into a venv outside the repository
# ($UCC_CACHE, default ~/.cache/ucc); later runs reuse it.
set -euo pipefail

CHECKOV_VERSION=3.3.30
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${UCC_CACHE:-$HOME/.cache/ucc}"
VENV="$CACHE/checkov-$CHECKOV_VERSION"
PYTHON="${PYTHON:-python3}"

cd "$ROOT"
# A TF_CLI_CONFIG_FILE naming a missing file only makes terraform print a warning box.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then unset TF_CLI_CONFIG_FILE; fi

if ! command -v terraform >/dev/null 2>&1; then
  echo "infra-check: terraform is not on PATH" >&2
  exit 1
fi
echo "infra-check: terraform fmt -check -recursive infra/terraform"
terraform fmt -check -recursive -diff infra/terraform

echo "infra-check: the Service Bus SQL filter in infra/bicep equals SPEC §3"
"$PYTHON" scripts/infra-check-sql-filter.py

# Install checkov once (a stamp file marks a finished install; a lock keeps two concurrent
# runs from installing into the same directory).
mkdir -p "$CACHE"
exec 9>"$CACHE/checkov.lock"
flock 9
if [ ! -f "$VENV/.installed" ]; then
  echo "infra-check: installing checkov==$CHECKOV_VERSION into $VENV (first run only)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  touch "$VENV/.installed"
fi
flock -u 9

# --quiet prints failed checks only; --compact drops code blocks. Skips are summarised by
# the counts line checkov prints per framework. No network: no Bridgecrew/Prisma API key,
# no external module download, no version check.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
run_checkov() {
  "$VENV/bin/checkov" --directory "$1" --framework "$2" \
    --compact --quiet --skip-download --download-external-modules false \
    --output cli "${@:3}"
}
echo "infra-check: checkov $CHECKOV_VERSION on infra/terraform"
run_checkov infra/terraform terraform
echo "infra-check: checkov $CHECKOV_VERSION on infra/bicep"
run_checkov infra/bicep bicep
echo "infra-check: ok"
