# Shared set-up of the benchmark scripts (sourced by bench.sh, bench-mixed.sh, bench-search.sh):
# the tools, the build, one `hookvault serve` with its embedded PostgreSQL, psql to it, and an
# account with an API token.

# bench_tools: wrk and GNU time (Debian's packages) when missing, and what the tests need
# (PostgreSQL's binaries).
bench_tools() {
  if ! command -v wrk >/dev/null 2>&1 || [ ! -x /usr/bin/time ]; then
    echo "installing wrk and time (Debian packages)…"
    local sudo=sudo
    [ "$(id -u)" = 0 ] && sudo=""
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk time >/dev/null
  fi
  bash scripts/install-test-deps.sh >/dev/null
}

# bench_build: sets BIN to HOOKVAULT_BIN (another build, e.g. an older commit's, for a side by
# side comparison), else to a fresh release build of this tree.
bench_build() {
  BIN="${HOOKVAULT_BIN:-}"
  if [ -z "$BIN" ]; then
    SQLX_OFFLINE=true cargo build --release --locked --bin hookvault
    BIN=./target/release/hookvault
  fi
}

# bench_workdir PREFIX: sets `work` to a fresh directory in /tmp (readable by the postgres user).
bench_workdir() {
  work="$(mktemp -d "/tmp/$1.XXXXXX")"
  chmod 755 "$work"
}

# bench_serve DATA PORT [SERVE_OPTIONS…]: starts `$BIN serve` on DATA (log in $work/server.log),
# stops it and removes $work at exit (KEEP=1 keeps it; KEPT_HINT is printed then), and waits
# until it is ready. Sets `server` (its pid), `base` (its URL) and `pgsock` (the cluster's
# socket directory).
bench_serve() {
  local data="$1" port="$2"
  shift 2
  "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" "$@" > "$work/server.log" 2>&1 &
  server=$!
  trap bench_cleanup EXIT
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 120); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  pgsock="$(sed -n '5p' "$data/pg/postmaster.pid")"
}

bench_cleanup() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "== kept $work${KEPT_HINT:+ ($KEPT_HINT)}"; fi
}

# psql_hv [PSQL_OPTIONS…]: psql to the server's database as `hookvault` (run as the postgres
# user when root, like the cluster), quiet, unaligned, stopping at the first error.
psql_hv() {
  local pgbin psql_bin
  pgbin="$(bash scripts/pg-bin.sh)"
  psql_bin="$pgbin/psql"
  [ -x "$psql_bin" ] || psql_bin="$(command -v psql)"
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$psql_bin" -X -h "$pgsock" -U hookvault -d hookvault -qAt -v ON_ERROR_STOP=1 "$@"
  else
    "$psql_bin" -X -h "$pgsock" -U hookvault -d hookvault -qAt -v ON_ERROR_STOP=1 "$@"
  fi
}

# bench_account EMAIL: signs up in the browser's way (a fresh cookie jar, the form's CSRF
# token) and prints a new API token of the account.
bench_account() {
  local jar="$work/cookies-$1"
  curl -s -c "$jar" -b "$jar" -o /dev/null --data-urlencode "csrf=$(curl -s -c "$jar" -b "$jar" "$base/signup" \
    | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)" \
    --data-urlencode "email=$1" --data-urlencode "password=benchmark-password" "$base/signup"
  curl -s -u "$1:benchmark-password" -H 'Content-Type: application/json' \
    -d '{"name":"bench"}' "$base/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
