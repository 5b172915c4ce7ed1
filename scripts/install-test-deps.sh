#!/usr/bin/env bash
# Installs what the test suite needs from Debian packages, only when missing:
#   - chromium + chromium-driver (the real-browser tests in crates/server/tests/it/)
#   - PostgreSQL server binaries (the embedded test cluster needs initdb/postgres)
#   - curl
# Idempotent: with everything present it changes nothing and needs no network.
# Runs as root (CI is root) or through sudo when that is available.
set -euo pipefail

say() { printf 'install-test-deps: %s\n' "$*"; }
fail() { printf 'install-test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

packages=()

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    say "chromium and chromedriver present"
else
    say "chromium or chromedriver missing: will install chromium chromium-driver"
    packages+=(chromium chromium-driver)
fi

have_initdb() {
    command -v initdb >/dev/null 2>&1 && return 0
    local f
    for f in /usr/lib/postgresql/*/bin/initdb; do
        [[ -x "$f" ]] && return 0
    done
    return 1
}
if have_initdb; then
    say "PostgreSQL server binaries (initdb) present"
else
    say "initdb not found on PATH nor under /usr/lib/postgresql/*/bin: will install postgresql"
    packages+=(postgresql)
fi

if command -v curl >/dev/null 2>&1; then
    say "curl present"
else
    say "curl missing: will install curl"
    packages+=(curl)
fi

# The official webhook verifiers (stripe, standardwebhooks, slack_sdk in a FastAPI app) that the
# replay and listen tests send to, in a virtualenv under target/ (from PyPI, pinned).
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$repo_root/target/test-venv"
requirements="$repo_root/crates/server/tests/receivers/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    say "python verifiers present in target/test-venv"
else
    say "installing python verifiers into target/test-venv (pip, pinned versions)"
    command -v python3 >/dev/null 2>&1 || fail "python3 not found; install python3 and python3-venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || fail "python3 -m venv failed (install python3-venv)"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" \
        || fail "pip install of the official verifiers failed"
    echo "$want" > "$stamp"
fi

if [[ ${#packages[@]} -eq 0 ]]; then
    say "nothing to install"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 \
    || fail "apt-get not found; install these packages by hand: ${packages[*]}"

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
    say "not root: using sudo"
else
    fail "must run as root (or with sudo available) to install: ${packages[*]}"
fi

export DEBIAN_FRONTEND=noninteractive
say "running apt-get update"
"${as_root[@]}" apt-get update -q >/dev/null \
    || fail "apt-get update failed"
say "installing ${packages[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null \
    || fail "apt-get install ${packages[*]} failed"

# Check the result rather than trusting the exit code.
for p in "${packages[@]}"; do
    case "$p" in
        chromium) [[ -x /usr/bin/chromium ]] || fail "/usr/bin/chromium still missing after install" ;;
        chromium-driver) [[ -x /usr/bin/chromedriver ]] || fail "/usr/bin/chromedriver still missing after install" ;;
        postgresql) have_initdb || fail "initdb still missing after installing postgresql" ;;
        curl) command -v curl >/dev/null 2>&1 || fail "curl still missing after install" ;;
    esac
done
say "done"
