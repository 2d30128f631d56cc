# Sourced by scripts that need a pinned Python tool (moto.sh, schemathesis.sh):
#
#   pyvenv_install VENV CACHE LABEL CHECK_BIN PIP_SPEC
#
# installs PIP_SPEC once into the virtualenv VENV (under CACHE, outside the repository), under
# a lock so that concurrent runs do not install over each other, and checks that
# VENV/bin/CHECK_BIN exists. Diagnostics go to stderr; on failure it exits with a message.

pyvenv_install() {
    local venv="$1" cache="$2" label="$3" bin="$4" spec="$5"
    [[ -x "$venv/bin/$bin" ]] && return 0
    command -v python3 >/dev/null 2>&1 || {
        echo "$label: ERROR: python3 is not installed or not on PATH (Python 3.9 or later)" >&2
        exit 1
    }
    mkdir -p "$cache"
    exec 9>"$cache/.fetch.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 600 9 || {
            echo "$label: ERROR: timed out waiting for another install of $spec" >&2
            exit 1
        }
    fi
    if [[ -x "$venv/bin/$bin" ]]; then
        exec 9>&-
        return 0
    fi
    echo "$label: installing $spec into $venv (once)" >&2
    local tmp="$cache/.venv.tmp.$$"
    rm -rf "$tmp"
    if ! python3 -m venv "$tmp" >&2; then
        rm -rf "$tmp"
        echo "$label: ERROR: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
    if ! "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2; then
        rm -rf "$tmp"
        echo "$label: ERROR: pip install $spec failed (is PyPI reachable?)" >&2
        exit 1
    fi
    # A venv records its own path in its scripts: rename, then rewrite the paths.
    rm -rf "$venv"
    mv "$tmp" "$venv"
    grep -rlF "$tmp" "$venv/bin" 2>/dev/null | while read -r f; do
        sed -i "s#$tmp#$venv#g" "$f"
    done
    [[ -x "$venv/bin/$bin" ]] || {
        echo "$label: ERROR: $spec installed no $bin" >&2
        exit 1
    }
    exec 9>&-
}
