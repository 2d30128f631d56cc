#!/usr/bin/env bash
# Run a command against a private moto server (AWS Secrets Manager emulator), e.g.
#   scripts/with-moto.sh cargo test -p ucc-tests --test secret_refs
# The command sees UCC_TEST_MOTO_ENDPOINT and UCC_REQUIRE_MOTO=1 (so `aws-sm:` tests fail
# instead of skipping). moto is stopped afterwards whatever happens, and the script exits
# with the command's status.

set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UCC_MOTO_STATE=$(mktemp -d "${TMPDIR:-/tmp}/ucc-moto.XXXXXX")
export UCC_MOTO_STATE

cleanup() {
    "$here/moto.sh" stop || true
    rm -rf "$UCC_MOTO_STATE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

endpoint=$("$here/moto.sh" start)
export UCC_TEST_MOTO_ENDPOINT="$endpoint"
export UCC_REQUIRE_MOTO=1

status=0
"$@" || status=$?
exit "$status"
