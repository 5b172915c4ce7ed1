#!/usr/bin/env bash
# Capture benchmark: a release build of Hookvault with its embedded PostgreSQL, and wrk posting
# a ~4 KB Stripe-like event with 15 headers from 64 concurrent connections for DURATION seconds
# (default 60), all on this machine. Reports throughput and latency percentiles, then checks
# that every 2xx answer corresponds to a stored row (durability, not just speed).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-60}"
CONNECTIONS="${CONNECTIONS:-64}"
PORT="${PORT:-8199}"

source scripts/bench-common.sh
bench_tools
# HOOKVAULT_BIN runs another build (e.g. an older commit's, for a side-by-side comparison).
bench_build
bench_workdir hookvault-bench
python3 bench/stripe_event.py > "$work/body.json"
# The replay part measures the pipeline, so the per-host replay rate limit is off.
# Plan quotas (PLAN_QUOTAS=true, the default, or false): the bench account is on `free`, raised by
# a plans file so the run never reaches a limit while every capture is still counted.
PLAN_QUOTAS="${PLAN_QUOTAS:-true}"
printf '[plans.free]\ncaptures_per_month = 1000000000\nreplays_per_day = 1000000\n' > "$work/plans.toml"
plan_args=()
# Builds from before plans existed have no such options.
if "$BIN" serve --help | grep -q -- '--plans'; then
  plan_args=(--plans "$work/plans.toml" --plan-quotas "$PLAN_QUOTAS")
else
  PLAN_QUOTAS="n/a (a build without plans)"
fi
# SERVER_ARGS adds `serve` options. By default the replay limits are raised for the replay part
# (one account sending to one host, like a single developer's bulk replay): 128 chains in flight,
# 128 per account, 128 per host, so all five ordered batches are in flight at once and an
# unordered batch is sent 128 at a time. SERVER_ARGS="" runs with the server's defaults (16, 2, 4).
SERVER_ARGS="${SERVER_ARGS---replay-workers 128 --replay-account-concurrency 128 --replay-host-concurrency 128}"
read -r -a server_args <<< "$SERVER_ARGS"
# The run leaves a few GB of captures and WAL behind: they are removed at exit (KEEP=1 keeps
# them to inspect).
bench_serve "$work/data" "$PORT" --replay-host-rate 0 "${plan_args[@]}" "${server_args[@]}"
token=$(bench_account bench@example.com)
endpoint=$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name":"bench"}' "$base/api/v1/endpoints")
url=$(echo "$endpoint" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
id=$(echo "$endpoint" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== capture: ${DURATION}s, $CONNECTIONS connections, body $(wc -c < "$work/body.json") bytes, plan quotas $PLAN_QUOTAS"
# CPU time, which a busy machine disturbs much less than rates: clock ticks used by a process
# (`own`), or by it, its live children and its reaped children (PostgreSQL's exited backends
# count in the postmaster's cutime/cstime).
ticks() {
  local total=0 pid f children=""
  [ "${2:-}" = own ] || children=$(ps -o pid= --ppid "$1")
  for pid in "$1" $children; do
    f=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a f <<< "$f"
    if [ "${2:-}" = own ]; then
      total=$((total + f[11] + f[12]))
    else
      total=$((total + f[11] + f[12] + f[13] + f[14]))
    fi
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)
postmaster=$(head -1 "$work/data/pg/postmaster.pid")
pgbin="$(bash scripts/pg-bin.sh)"
as_pg=(); [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
# WAL written (records, full-page images, bytes) since the last call's reading: what a row costs
# the log, beside what the reference's row costs it.
wal() { psql_hv -F ' ' -c "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"; }
wal_per_row() { # BEFORE AFTER ROWS
  python3 -c "import sys; b, a, n = sys.argv[1].split(), sys.argv[2].split(), float(sys.argv[3]); print('%.1f records, %.2f full-page images, %d bytes' % tuple((float(y) - float(x)) / n for x, y in zip(b, a)))" "$1" "$2" "$3"
}
rows_before=$(curl -s -H "Authorization: Bearer $token" "$base/api/v1/endpoints" \
  | python3 -c "import json,sys; print([e['request_count'] for e in json.load(sys.stdin)['endpoints'] if e['id']=='$id'][0])")
hv_t0=$(ticks "$server" own); pg_t0=$(ticks "$postmaster"); wal0=$(wal)
# WAITS=1: every 50 ms during the run, the captures stored so far and what each backend running
# the capture statement waits on (bench/waits.py summarises them after the run).
if [ "${WAITS:-0}" != 0 ]; then
  psql_hv -F '|' > "$work/waits.txt" 2>&1 <<'SQL' &
SELECT clock_timestamp(), (SELECT last_value FROM requests_seq_seq),
       (SELECT string_agg(coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-'), ';')
        FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'WITH live AS%'
          AND pid <> pg_backend_pid()) \watch 0.05
SQL
  sampler=$!
fi
HV_BODY_FILE="$work/body.json" /usr/bin/time -o "$work/wrk.cpu" -f '%U %S' wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/capture.lua "$url/stripe" | tee "$work/wrk.txt"
hv_t1=$(ticks "$server" own); pg_t1=$(ticks "$postmaster"); wal1=$(wal)
if [ "${WAITS:-0}" != 0 ]; then
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  python3 bench/waits.py "$work/waits.txt"
fi

stored=$(curl -s -H "Authorization: Bearer $token" "$base/api/v1/endpoints" \
  | python3 -c "import json,sys; print([e['request_count'] for e in json.load(sys.stdin)['endpoints'] if e['id']=='$id'][0])")
answered=$(awk '/requests in/{print $1}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/{print $NF}' "$work/wrk.txt"); non2xx=${non2xx:-0}
echo "== stored rows: $stored; answered: $answered (non-2xx: $non2xx)"
captured=$((stored - rows_before))
cpu_us() { python3 -c "print(round(($2 - $1) / $hz / $3 * 1e6, 1))"; }
# wrk_cpu_us TIME_FILE N: wrk's user and system time (GNU time's output) per request, in µs.
wrk_cpu_us() { python3 -c "u, s = open('$1').read().split()[-2:]; print(round((float(u) + float(s)) / $2 * 1e6, 1))"; }
wrk_us=$(wrk_cpu_us "$work/wrk.cpu" "$captured")
# How far the search indexer kept up: captures of the run whose search documents were written
# by the time the load stopped (it rests while captures arrive, so it falls behind a flood).
behind=$(psql_hv -c "SELECT count(*) FROM requests r, search_progress p WHERE (r.xid, r.seq) > (p.xid, p.seq)")
echo "== search documents written during the run: $((captured - behind)) of $captured captures"
echo "== WAL per capture: $(wal_per_row "$wal0" "$wal1" "$captured")"
echo "== CPU per capture: hookvault $(cpu_us "$hv_t0" "$hv_t1" "$captured") µs, PostgreSQL $(cpu_us "$pg_t0" "$pg_t1" "$captured") µs, load generator (wrk) $wrk_us µs"
if [ "$stored" -lt "$((answered - non2xx))" ]; then
  echo "FAIL: fewer rows stored than 2xx answers" >&2; exit 1
fi

# The reference, measured in the same run on the same cluster: PostgreSQL alone inserting the
# same row (one of the captured rows, with its headers and body) into a table built like
# `requests` (its indexes, defaults, storage), in batches of 64 rows per transaction from 8
# clients, for the same duration. The ratio of the two rates is what carries over from one
# machine to another.
psql_hv -c "CREATE TABLE bench_requests (LIKE requests INCLUDING ALL);
            CREATE TABLE bench_row AS SELECT * FROM requests WHERE endpoint_id = '$id' LIMIT 1;"
cat > "$work/insert.sql" <<'SQL'
INSERT INTO bench_requests (id, endpoint_id, received_at, method, path, query, http_version,
       remote_addr, headers, content_type, body, body_size, provider, event_type, event_id,
       signature_scheme, signature_status, signature_reason, livemode, api_version,
       event_created, object_id, object_type)
SELECT gen_random_uuid(), r.endpoint_id, now(), r.method, r.path, r.query, r.http_version,
       r.remote_addr, r.headers, r.content_type, r.body, r.body_size, r.provider, r.event_type,
       r.event_id, r.signature_scheme, r.signature_status, r.signature_reason, r.livemode,
       r.api_version, r.event_created, r.object_id, r.object_type
FROM bench_row r, generate_series(1, 64);
SQL
chmod 644 "$work/insert.sql"
# PostgreSQL alone: the search indexer, which would otherwise work through the capture run's
# backlog beside the reference (flat out, since no captures arrive), is held meanwhile: it
# waits to move its progress row, which this session locks (reads go on; at most one batch
# is read before it waits). Builds without the indexer have nothing to hold.
hold=""
if [ "$(psql_hv -c "SELECT to_regclass('search_progress') IS NOT NULL")" = t ]; then
  psql_hv -c "SET application_name = 'bench-hold'; BEGIN; LOCK TABLE search_progress IN EXCLUSIVE MODE;
              SELECT pg_sleep($DURATION + 60); COMMIT;" >/dev/null 2>&1 &
  hold=$!
  until [ "$(psql_hv -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                         WHERE a.application_name = 'bench-hold' AND l.relation = 'search_progress'::regclass AND l.granted")" = 1 ]; do
    kill -0 "$hold" 2>/dev/null || { echo "FAIL: could not hold the search indexer" >&2; exit 1; }
    sleep 0.1
  done
fi
pg_t0=$(ticks "$postmaster"); wal0=$(wal)
tps=$("${as_pg[@]}" "$pgbin/pgbench" -h "$pgsock" -U hookvault -n -c 8 -j 2 -T "$DURATION" -f "$work/insert.sql" hookvault 2>/dev/null \
  | awk '/^tps = /{print $3}')
pg_rate=$(python3 -c "print(round(float('$tps') * 64))")
hv_rate=$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt")
pg_t1=$(ticks "$postmaster"); wal1=$(wal)
if [ -n "$hold" ]; then
  psql_hv -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench-hold'" >/dev/null
  wait "$hold" 2>/dev/null || true
fi
pg_rows=$(psql_hv -c "SELECT count(*) FROM bench_requests")
echo "== PostgreSQL alone, same row, batches of 64, 8 clients, ${DURATION}s: $pg_rate rows/s"
echo "== CPU per row, PostgreSQL alone: $(cpu_us "$pg_t0" "$pg_t1" "$pg_rows") µs"
echo "== WAL per row, PostgreSQL alone: $(wal_per_row "$wal0" "$wal1" "$pg_rows")"
echo "== capture / PostgreSQL alone: $(python3 -c "print(round(float('$hv_rate') / float('$pg_rate'), 2))") ($hv_rate / $pg_rate)"
psql_hv -c "DROP TABLE bench_requests; DROP TABLE bench_row;"

# Replay throughput: re-sign (scheme stripe) and send REPLAYS of the captures above to a local
# target — a second endpoint of this same server, so every replay is a real HTTP request that
# is itself durably stored — in bulk batches of 1000, and time until the target has them all:
# once with ordered batches (`received`: one send in flight per batch) and once unordered
# (`none`: sent concurrently up to the limits). REPLAY_ORDERS picks the phases.
REPLAYS="${REPLAYS:-5000}"
REPLAY_ORDERS="${REPLAY_ORDERS:-received none}"
# The sink belongs to an account of its own, so that waiting for it counts only its captures.
sink_token=$(bench_account sink@example.com)
sink=$(curl -s -H "Authorization: Bearer $sink_token" -H 'Content-Type: application/json' \
  -d '{"name":"replay sink"}' "$base/api/v1/endpoints")
echo "== replay: $REPLAYS captures, bulk batches of 1000, scheme stripe, to a local HTTP target (server options: ${SERVER_ARGS:-defaults})"
python3 bench/replay.py "$base" "$token" "$id" "$sink" "$sink_token" "$REPLAYS" "$REPLAY_ORDERS"

# The HTTP floor (FLOOR=0 skips it): the same wrk load against an axum server that reads each
# body and answers 200, storing nothing (crates/server/examples/http_floor.rs), run after
# Hookvault has stopped. It bounds what any capture path over HTTP can reach on this machine.
if [ "${FLOOR:-1}" != 0 ]; then
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  SQLX_OFFLINE=true cargo build --release --locked -q -p hookvault-server --example http_floor
  ./target/release/examples/http_floor "127.0.0.1:$PORT" &
  floor=$!
  for _ in $(seq 1 50); do curl -fs -o /dev/null -d x "http://127.0.0.1:$PORT/in/x" && break; sleep 0.1; done
  fl_t0=$(ticks "$floor" own)
  HV_BODY_FILE="$work/body.json" /usr/bin/time -o "$work/floor.cpu" -f '%U %S' wrk -t2 -c"$CONNECTIONS" \
    -d"${DURATION}s" --latency -s bench/capture.lua "http://127.0.0.1:$PORT/in/x/stripe" > "$work/floor.txt"
  fl_t1=$(ticks "$floor" own)
  kill "$floor"; wait "$floor" 2>/dev/null || true
  fl_rate=$(awk '/Requests\/sec/{print $2}' "$work/floor.txt")
  fl_n=$(awk '/requests in/{print $1}' "$work/floor.txt")
  fl_wrk=$(wrk_cpu_us "$work/floor.cpu" "$fl_n")
  echo "== HTTP floor (axum reading the body, storing nothing), ${DURATION}s: $fl_rate requests/s; CPU per request: server $(cpu_us "$fl_t0" "$fl_t1" "$fl_n") µs, load generator (wrk) $fl_wrk µs"
fi
