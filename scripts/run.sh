#!/usr/bin/env bash
# The run command. On a fresh machine it installs PostgreSQL's binaries if they are missing,
# builds Hookvault (release, offline query cache) and serves the dashboard on
# http://127.0.0.1:8080 with a private PostgreSQL cluster in ./.hookvault. Extra arguments go to
# `hookvault serve` (e.g. --listen 0.0.0.0:8080 --public-url https://hooks.example.com).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! bash scripts/pg-bin.sh >/dev/null 2>&1 && [ -z "${DATABASE_URL:-}" ]; then
  echo "installing PostgreSQL server binaries (Debian package postgresql)…"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

export SQLX_OFFLINE=true
cargo build --release --locked --bin hookvault
exec ./target/release/hookvault serve "$@"
