#!/usr/bin/env bash
# The test command. On a fresh machine it installs what the tests need (PostgreSQL binaries,
# Chromium and chromedriver from Debian's packages), then runs every test of the workspace
# against real PostgreSQL (an embedded cluster in $TMPDIR/hookvault-test-cluster unless DATABASE_URL is
# set), real HTTP servers and a real headless browser. The build needs no database: the query
# cache in .sqlx/ is used (SQLX_OFFLINE=true).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

export SQLX_OFFLINE=true
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

stop_test_cluster() {
  local dir="${TMPDIR:-/tmp}/hookvault-test-cluster/pg"
  [ -f "$dir/postmaster.pid" ] || return 0
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$(bash scripts/pg-bin.sh)/pg_ctl" -D "$dir" stop -m fast >/dev/null 2>&1 || true
  else
    "$(bash scripts/pg-bin.sh)/pg_ctl" -D "$dir" stop -m fast >/dev/null 2>&1 || true
  fi
}
trap stop_test_cluster EXIT

log="$(mktemp)"
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run (cargo prints one per test binary, the last of which is
# often an empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) g += $(i-1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, g }' "$log"
rm -f "$log"
exit "$status"
