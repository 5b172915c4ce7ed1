#!/usr/bin/env bash
# Search benchmark: a release build of Hookvault on its embedded PostgreSQL, ROWS stored captures
# (default 1,000,000) spread over four endpoints of one account, then the search API timed
# with curl: `GET /api/v1/endpoints/{id}/requests?q=…` — the same path the dashboard uses.
# Reports min / median / max over RUNS (default 7) runs of each query, after one warm-up run.
#
# The captures are inserted directly with SQL (`INSERT … SELECT generate_series`) so the
# benchmark takes minutes, not hours: Stripe-like invoice event bodies (~4 KB, six line items) with realistic
# event types, ids, customers and `created` times, plus some GitHub and plain requests, and
# the header blob of one real signed capture. The derived columns (provider, event type, event
# id, Stripe facts, signature status) are filled as the capture path would fill them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
RUNS="${RUNS:-7}"
PORT="${PORT:-8198}"
# REUSE=DIR times the queries again on the data directory of an earlier run kept with KEEP=1
# (its `…/data`), e.g. with another build (HOOKVAULT_BIN=…), without inserting or indexing again.
REUSE="${REUSE:-}"

command -v psql >/dev/null 2>&1 || { echo "psql is needed (apt-get install postgresql-client)" >&2; exit 1; }
bash scripts/pg-bin.sh >/dev/null || { echo "PostgreSQL server binaries are needed (apt-get install postgresql)" >&2; exit 1; }
source scripts/bench-common.sh
bench_build
bench_workdir hv-bsearch
data="${REUSE:-$work/data}"
# The captures span 29 days and the indexer takes a while: the bench account's plan keeps them
# (retention would otherwise delete three quarters of them during the run).
printf '[plans.free]\nretention_days = 365\n' > "$work/plans.toml"
KEPT_HINT="time it again with REUSE=$data"
# One account's searches are timed back to back: its share of the server's time for searches
# (0.1 s per second by default, see the README's "Under faults") would make them wait, then 429.
export HOOKVAULT_SEARCH_SHARE=1
bench_serve "$data" "$PORT" --plans "$work/plans.toml"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

token=$(bench_account bench@example.com)
if [ -z "$REUSE" ]; then
endpoints=()
for name in main staging github misc; do
  endpoints+=("$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$name\"}" "$base/api/v1/endpoints" | json '["id"]')")
done
main="${endpoints[0]}"
url=$(curl -s -H "Authorization: Bearer $token" "$base/api/v1/endpoints/$main" | json '["url"]')

# One real capture, for its header blob (Stripe-Signature, User-Agent, …).
body='{"id":"evt_seed","object":"event","type":"invoice.paid","created":1,"livemode":false,"data":{"object":{"id":"in_seed","object":"invoice"}}}'
curl -s -o /dev/null -H 'Content-Type: application/json; charset=utf-8' \
  -H 'User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)' \
  -H "Stripe-Signature: t=$(date +%s),v1=$(printf '%s' "x" | sha256sum | cut -d' ' -f1)" \
  --data-binary "$body" "$url"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== inserting $ROWS captures (40% main, 20% each other endpoint)…"
start=$(date +%s)
psql_hv <<SQL
\set rows $ROWS
\set lines '$(python3 -c '
import json
item = {"id": "il_@_N", "object": "line_item", "amount": 1000, "amount_excluding_tax": 1000, "currency": "usd",
        "description": "1 x Pro plan (at 10.00 USD / month)", "discount_amounts": [], "discountable": True, "discounts": [],
        "livemode": False, "metadata": {}, "period": {"end": 1702592000, "start": 1700000000},
        "plan": {"id": "price_BenchPro", "object": "plan", "active": True, "amount": 1000, "billing_scheme": "per_unit",
                 "currency": "usd", "interval": "month", "interval_count": 1, "product": "prod_BenchPro"},
        "proration": False, "quantity": 1, "subscription": "sub_@", "type": "subscription"}
print(",".join(json.dumps(item, separators=(",", ":")).replace("_N", "_%d" % i) for i in range(6)))
')'
CREATE TEMP TABLE ep (n int, id uuid, lo bigint, hi bigint);
INSERT INTO ep VALUES
  (0, '${endpoints[0]}', 0,              (:rows * 4) / 10),
  (1, '${endpoints[1]}', (:rows * 4) / 10, (:rows * 6) / 10),
  (2, '${endpoints[2]}', (:rows * 6) / 10, (:rows * 8) / 10),
  (3, '${endpoints[3]}', (:rows * 8) / 10, :rows);
-- Stripe event types, weighted by repetition (invoice.* about 30%, disputes rare).
CREATE TEMP TABLE types AS SELECT array[
  'invoice.paid','invoice.payment_succeeded','invoice.created','invoice.finalized','invoice.updated',
  'customer.subscription.updated','customer.subscription.created','payment_intent.succeeded',
  'payment_intent.created','charge.succeeded','checkout.session.completed','customer.created',
  'customer.updated','payment_method.attached','charge.succeeded','payment_intent.succeeded',
  'invoice.payment_failed'] AS t;
INSERT INTO requests (id, endpoint_id, received_at, method, path, query, http_version, remote_addr,
    headers, content_type, body, body_size, provider, event_type, event_id, signature_scheme,
    signature_status, signature_reason, livemode, api_version, event_created, object_id, object_type)
SELECT gen_random_uuid(), ep.id,
       now() - make_interval(secs => (:rows - g) * 2.5),
       'POST', '', NULL, 'HTTP/1.1', '54.187.174.169',
       (SELECT headers FROM requests LIMIT 1),
       CASE WHEN kind = 'plain' THEN 'text/plain' ELSE 'application/json; charset=utf-8' END,
       body, length(body),
       CASE kind WHEN 'stripe' THEN 'stripe' WHEN 'github' THEN 'github' END,
       CASE kind WHEN 'stripe' THEN etype WHEN 'github' THEN 'push' END,
       CASE kind WHEN 'stripe' THEN 'evt_' || md5(g::text) WHEN 'github' THEN md5(g::text)::uuid::text END,
       CASE WHEN kind = 'stripe' THEN 'stripe' END,
       CASE WHEN kind <> 'stripe' THEN NULL WHEN g % 997 = 0 THEN 'invalid' WHEN g % 331 = 0 THEN 'valid_but_stale' ELSE 'valid' END,
       CASE WHEN kind <> 'stripe' THEN NULL WHEN g % 997 = 0 THEN 'no v1 signature matches this secret' WHEN g % 331 = 0 THEN 'signed 412 s before arrival (tolerance 300 s)' ELSE 'valid' END,
       CASE WHEN kind = 'stripe' THEN false END,
       CASE WHEN kind = 'stripe' THEN '2024-06-20' END,
       CASE WHEN kind = 'stripe' THEN created END,
       CASE WHEN kind = 'stripe' THEN oid END,
       CASE WHEN kind = 'stripe' THEN otype END
FROM (
  SELECT g, kind, etype, created, oid, otype,
    convert_to(CASE kind
      WHEN 'stripe' THEN format('{"id":"evt_%s","object":"event","api_version":"2024-06-20","created":%s,"data":{"object":{"id":"%s","object":"%s","account_country":"US","account_name":"Hookvault Benchmark Co.","amount":%s,"amount_due":%s,"amount_paid":%s,"amount_remaining":0,"attempt_count":1,"attempted":true,"billing_reason":"subscription_cycle","collection_method":"charge_automatically","currency":"usd","customer":"cus_%s","customer_email":"customer%s@example.com","customer_name":"Customer %s","hosted_invoice_url":"https://invoice.stripe.com/i/acct_bench/test_%s","invoice_pdf":"https://pay.stripe.com/invoice/acct_bench/test_%s/pdf","lines":{"object":"list","data":[%s],"has_more":false,"total_count":6,"url":"/v1/invoices/%s/lines"},"livemode":false,"metadata":{"order_id":"%s"},"number":"BENCH-%s","paid":true,"period_end":%s,"period_start":%s,"status":"%s","subtotal":6000,"total":6000}},"livemode":false,"pending_webhooks":1,"request":{"id":"req_%s","idempotency_key":null},"type":"%s"}',
                   md5(g::text), created, oid, otype, 500 + g % 20000, 500 + g % 20000, 500 + g % 20000,
                   g % 5000, g % 5000, g % 5000, md5(oid), md5(oid),
                   replace(:'lines', '@', left(md5(g::text), 12)), oid, g, g, created, created - 2592000,
                   'succeeded', left(md5(g::text), 14), etype)
      WHEN 'github' THEN format('{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"id":%s,"full_name":"octo/app"},"pusher":{"name":"octo"},"commits":[]}', md5(g::text), md5((g+1)::text), g % 100)
      ELSE format('plain request %s from a cron job', g) END, 'UTF8') AS body
  FROM (
    SELECT g,
      CASE WHEN g % 10 = 3 THEN 'github' WHEN g % 10 = 7 THEN 'plain' ELSE 'stripe' END AS kind,
      (SELECT t[1 + (g * 7) % array_length(t, 1)] FROM types) AS etype,
      1700000000 + g * 2 AS created,
      'in_' || (g / 3) AS oid,
      'invoice' AS otype
    FROM generate_series(1, :rows) AS g
  ) s
) x
JOIN ep ON x.g > ep.lo AND x.g <= ep.hi;
VACUUM ANALYZE requests;
SQL
echo "== inserted in $(( $(date +%s) - start )) s; rows: $(psql_hv -Atc 'SELECT count(*) FROM requests'); main endpoint: $(psql_hv -Atc "SELECT count(*) FROM requests WHERE endpoint_id = '$main'")"

# The search indexer fills the search documents in the background (builds from before it
# existed have no search_progress table: nothing to wait for).
if [ "$(psql_hv -Atc "SELECT to_regclass('search_progress') IS NOT NULL")" = t ]; then
  t0=$(date +%s)
  until [ "$(psql_hv -Atc "SELECT (SELECT (xid, seq) FROM search_progress) >= (SELECT (xid, seq) FROM requests ORDER BY xid DESC, seq DESC LIMIT 1)")" = t ]; do sleep 2; done
  echo "== search documents written by the background indexer in $(( $(date +%s) - t0 )) s"
  psql_hv -Atc "VACUUM ANALYZE request_search"
  psql_hv -Atc "SELECT '== disk: requests ' || pg_size_pretty(pg_total_relation_size('requests'))
    || ', search documents ' || pg_size_pretty(pg_relation_size('request_search') + pg_relation_size(coalesce((SELECT reltoastrelid FROM pg_class WHERE relname = 'request_search'), 0)))
    || ' + JSON index ' || pg_size_pretty(pg_relation_size('request_search_doc_idx'))
    || ' + trigram index ' || pg_size_pretty(pg_relation_size('request_search_words_idx'))
    || ' + position index on requests ' || pg_size_pretty(pg_relation_size('requests_position_idx'))"
fi
else
  main=$(curl -s -H "Authorization: Bearer $token" "$base/api/v1/endpoints" \
    | python3 -c 'import json,sys; print([e["id"] for e in json.load(sys.stdin)["endpoints"] if e["name"] == "main"][0])')
  echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "== reusing $REUSE: rows: $(psql_hv -Atc 'SELECT count(*) FROM requests'); main endpoint: $(psql_hv -Atc "SELECT count(*) FROM requests WHERE endpoint_id = '$main'")"
fi
echo "== body size: $(psql_hv -Atc "SELECT round(avg(body_size)) FROM requests WHERE endpoint_id = '$main' AND provider = 'stripe'") bytes on average (Stripe events)"

# A mid-list cursor, to time a page deep in the history as well.
mid=$(psql_hv -Atc "SELECT seq FROM requests WHERE endpoint_id = '$main' ORDER BY seq DESC OFFSET 200000 LIMIT 1")

time_query() {
  local label="$1" q="$2" extra="${3:-}"
  local times=() n
  for i in $(seq 0 "$RUNS"); do
    t=$(curl -s -o "$work/out.json" -w '%{time_total}' -G -H "Authorization: Bearer $token" \
      --data-urlencode "q=$q" --data-urlencode "limit=50" $extra "$base/api/v1/endpoints/$main/requests")
    [ "$i" = 0 ] && continue # warm-up
    times+=("$t")
  done
  n=$(python3 -c "import json; d = json.load(open('$work/out.json')); print(len(d['requests']) if 'requests' in d else 'error: ' + json.dumps(d))")
  printf '%s\n' "${times[@]}" | LABEL="$label" N="$n" python3 -c '
import os, statistics, sys
t = sorted(float(x) * 1000 for x in sys.stdin.read().split())
label, n = os.environ["LABEL"], os.environ["N"]
print(f"{label:<52} min {t[0]:7.1f} ms  median {statistics.median(t):7.1f} ms  max {t[-1]:7.1f} ms  ({n} results)")
'
}


echo "== search on the main endpoint ($RUNS runs each, limit=50, after one warm-up)"
time_query "type:invoice.*" "type:invoice.*"
time_query "type:invoice.* (page 200,000 rows deep)" "type:invoice.*" "--data-urlencode before=$mid"
time_query "type:invoice.payment_failed (exact, ~6%)" "type:invoice.payment_failed"
time_query "provider:stripe type:*.succeeded" "provider:stripe type:*.succeeded"
time_query "sig:invalid (rare)" "sig:invalid"
evt=$(psql_hv -Atc "SELECT event_id FROM requests WHERE endpoint_id = '$main' AND provider = 'stripe' ORDER BY seq OFFSET 1000 LIMIT 1")
time_query "id:$evt (one event)" "id:$evt"
time_query "type:invoice.* data.object.customer:cus_42" "type:invoice.* data.object.customer:cus_42"
time_query "data.object.customer:cus_42" "data.object.customer:cus_42"
time_query "text: order_id 4242" '"\"order_id\":\"4242\""'
time_query "text: customer4242@example.com" "customer4242@example.com"
time_query "text: usd (in every Stripe event)" "usd"
time_query "text: \"Customer 42\" (common words)" '"Customer 42"'
time_query "data.object.currency:usd (every Stripe event)" "data.object.currency:usd"
time_query "no filter (plain list)" ""
