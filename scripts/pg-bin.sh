#!/usr/bin/env bash
# Prints the directory holding PostgreSQL's initdb and pg_ctl (PATH first, then the newest
# /usr/lib/postgresql/*/bin), or fails.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
  dirname "$(readlink -f "$(command -v pg_ctl)")"
  exit 0
fi
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; exit 0; fi
done
echo "no PostgreSQL binaries found" >&2
exit 1
