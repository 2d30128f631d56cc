#!/usr/bin/env bash
# Make sure headless Chromium and its WebDriver are installed (the browser tests drive the
# Integrations page in them). Idempotent: does nothing when both are on PATH.
#
#   scripts/chromium.sh          # install when missing, then print the two paths
#
# Debian/Ubuntu only (apt-get, as root or through sudo). Diagnostics go to stderr.

set -euo pipefail

have() { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }

if ! have; then
    echo "chromium: installing chromium and chromium-driver with apt-get (once)" >&2
    if [[ $(id -u) -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        echo "chromium: ERROR: need root or sudo to apt-get install chromium chromium-driver" >&2
        exit 1
    fi
    command -v apt-get >/dev/null 2>&1 || {
        echo "chromium: ERROR: no apt-get; install Chromium and its chromedriver and put both on PATH" >&2
        exit 1
    }
    # Several runs at once must not fight over dpkg's lock.
    exec 9>"${TMPDIR:-/tmp}/ucc-chromium-install.lock"
    command -v flock >/dev/null 2>&1 && flock -w 900 9
    if ! have; then
        export DEBIAN_FRONTEND=noninteractive
        "${SUDO[@]}" apt-get install -y -q chromium chromium-driver >&2 ||
            { "${SUDO[@]}" apt-get update -q >&2 && "${SUDO[@]}" apt-get install -y -q chromium chromium-driver >&2; }
    fi
    exec 9>&-
fi
have || { echo "chromium: ERROR: chromium or chromedriver still missing after install" >&2; exit 1; }
command -v chromium
command -v chromedriver
