#!/usr/bin/env bash
# Mixed-load benchmark (issue 11): one account's captures, measured alone and then while a
# second account runs heavy work beside it, on one release build of Hookvault with its embedded
# PostgreSQL, everything on this machine.
#
#   account A  wrk posting a ~4 KB Stripe event to its endpoint, CONNECTIONS connections,
#              DURATION seconds — first alone, then during B's load (same run, same server)
#   account B  50,000 stored captures (ROWS_B); during the second phase 16 clients searching
#              them with free text in a loop (every search scans the endpoint's bodies), and a
#              1,000-capture bulk replay (scheme stripe) to a local HTTP target
#   account C  during the second phase, new endpoints, each captured to once: the first
#              capture of an endpoint is never in the route cache, so it needs the database
#
# Prints A's rate and p99 alone and under load, the ratio, what B's clients got (searches
# answered, refused with 429 by the per-account limit), how far B's replay got, and C's answers.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-30}"
CONNECTIONS="${CONNECTIONS:-32}"
ROWS_B="${ROWS_B:-50000}"
PORT="${PORT:-8197}"

source scripts/bench-common.sh
bench_tools
bench_build
bench_workdir hookvault-mixed
python3 bench/stripe_event.py > "$work/body.json"
# Quotas high enough that the run never reaches one; the replay rate limit per host is off so
# that B's bulk replay is as heavy as it can be.
printf '[plans.free]\ncaptures_per_month = 1000000000\nreplays_per_day = 1000000\nendpoints = 1000\n' > "$work/plans.toml"
bench_serve "$work/data" "$PORT" --replay-host-rate 0 --plans "$work/plans.toml"

# mixed.py runs psql itself: the command psql_hv runs, as an argument list.
pgbin="$(bash scripts/pg-bin.sh)"
psql_bin="$pgbin/psql"; [ -x "$psql_bin" ] || psql_bin="$(command -v psql)"
psql_cmd=("$psql_bin" -X -h "$pgsock" -U hookvault -d hookvault -qAt -v ON_ERROR_STOP=1)
[ "$(id -u)" = 0 ] && psql_cmd=(runuser -u postgres -- "${psql_cmd[@]}")

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
python3 bench/mixed.py --base "$base" --body "$work/body.json" --work "$work" \
  --duration "$DURATION" --connections "$CONNECTIONS" --rows-b "$ROWS_B" -- "${psql_cmd[@]}"
