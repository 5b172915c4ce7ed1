#!/usr/bin/env bash
# Regenerates the committed query cache (.sqlx/) after a change to SQL in crates/store or to
# migrations/, so that the build needs no database (SQLX_OFFLINE=true).
#
#   ADMIN_URL=postgres://user@host/postgres bash scripts/sqlx-prepare.sh
#
# ADMIN_URL is any PostgreSQL server on which the user may create databases (for example the
# test cluster: postgres://hookvault@localhost/postgres?host=$TMPDIR/hookvault-test-cluster/pg).
# A scratch database gets every migration, the store crate is checked against it, and .sqlx/ is
# replaced by exactly the queries the code has now.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ADMIN_URL:?set ADMIN_URL to a PostgreSQL server URL (see the comment at the top)}"

name="hv_prepare_$$"
db_url="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$ADMIN_URL" "$name")"
psql -q "$ADMIN_URL" -c "CREATE DATABASE \"$name\""
trap 'psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$name\"" >/dev/null' EXIT
for m in migrations/*.sql; do
  psql -q -v ON_ERROR_STOP=1 "$db_url" -f "$m" >/dev/null
done

out="$(mktemp -d)"
touch crates/store/src/lib.rs
SQLX_OFFLINE=false DATABASE_URL="$db_url" SQLX_OFFLINE_DIR="$out" cargo check -p hookvault-store --all-targets
rm -f .sqlx/query-*.json
cp "$out"/query-*.json .sqlx/
rm -rf "$out"
echo "$(ls .sqlx | wc -l) queries cached in .sqlx/"
