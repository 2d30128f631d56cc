#!/usr/bin/env bash
# Run a command against a private DynamoDB Local, e.g.
#   scripts/with-dynamodb-local.sh cargo test --workspace
# The command sees UCC_TEST_DYNAMODB_ENDPOINT and UCC_REQUIRE_DYNAMODB=1 (so DynamoDB tests
# fail instead of skipping). DynamoDB Local is stopped afterwards whatever happens, and the
# script exits with the command's status.

set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# A private state directory, so that concurrent runs (several engineers, several
# terminals) each start and stop only their own instance.
UCC_DYNAMODB_LOCAL_STATE=$(mktemp -d "${TMPDIR:-/tmp}/ucc-dynamodb-local.XXXXXX")
export UCC_DYNAMODB_LOCAL_STATE

cleanup() {
    "$here/dynamodb-local.sh" stop || true
    rm -rf "$UCC_DYNAMODB_LOCAL_STATE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

endpoint=$("$here/dynamodb-local.sh" start)
export UCC_TEST_DYNAMODB_ENDPOINT="$endpoint"
export UCC_REQUIRE_DYNAMODB=1

status=0
"$@" || status=$?
exit "$status"
