#!/usr/bin/env bash
# Run a command against a private Azurite Table emulator, e.g.
#   scripts/with-azurite.sh cargo test --workspace
# The command sees UCC_TEST_AZURITE_ENDPOINT (http://127.0.0.1:PORT/devstoreaccount1) and
# UCC_REQUIRE_AZURITE=1 (so Azure Table tests fail instead of skipping). Azurite is stopped
# afterwards whatever happens, and the script exits with the command's status.
#
# It composes with scripts/with-dynamodb-local.sh; `make test` runs both emulators with
#   scripts/with-dynamodb-local.sh scripts/with-azurite.sh cargo test --workspace

set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# A private state directory, so that concurrent runs (several engineers, several
# terminals) each start and stop only their own instance.
UCC_AZURITE_STATE=$(mktemp -d "${TMPDIR:-/tmp}/ucc-azurite.XXXXXX")
export UCC_AZURITE_STATE

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    "$here/azurite.sh" stop || true
    rm -rf "$UCC_AZURITE_STATE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

endpoint=$("$here/azurite.sh" start)
export UCC_TEST_AZURITE_ENDPOINT="$endpoint"
export UCC_REQUIRE_AZURITE=1

status=0
"$@" || status=$?
exit "$status"
