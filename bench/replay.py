"""The replay part of scripts/bench.sh: replays TOTAL captures of ENDPOINT in bulk batches of
1000 (scheme stripe, re-signed) to SINK, a capture endpoint of the same server (of another
account, whose token is SINK_TOKEN), once per order given (e.g. `received none`), and prints
each phase's rate: the time from the first batch queued until the sink has stored every replay
of the phase.

    replay.py BASE TOKEN ENDPOINT SINK_JSON SINK_TOKEN TOTAL "ORDER ..."
"""
import json
import sys
import time
import urllib.error
import urllib.request

base, token, endpoint, sink, sink_token = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
total, orders = int(sys.argv[6]), sys.argv[7].split()


def call(method, path, body=None, as_token=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + (as_token or token),
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def stored():
    endpoints = call("GET", "/api/v1/endpoints", as_token=sink_token)["endpoints"]
    return [e["request_count"] for e in endpoints if e["id"] == sink["id"]][0]


ids, cursor = [], None
while len(ids) < total:
    page = call("GET", f"/api/v1/endpoints/{endpoint}/requests?limit=500" + (f"&before={cursor}" if cursor else ""))
    ids += [r["id"] for r in page["requests"]]
    cursor = page["next"]
    if not cursor:
        break
ids = ids[:total]
how = {"none": "unordered (order none: sent concurrently)"}
for order in orders:
    before = stored()
    start = time.monotonic()
    try:
        for i in range(0, len(ids), 1000):
            call("POST", f"/api/v1/endpoints/{endpoint}/replays", {"request_ids": ids[i:i + 1000], "order": order,
                 "target_url": sink["url"] + "/replayed", "signing": {"scheme": "stripe", "secret": "whsec_bench"}})
    except urllib.error.HTTPError as e:
        # A build from before `order: none` refuses it (422).
        print(f"== replay, {how.get(order, 'ordered (' + order + ')')}: refused by this build ({e.code})")
        continue
    while stored() < before + len(ids):
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    print(f"== replay, {how.get(order, 'ordered (' + order + ')')}: {len(ids)} in {elapsed:.2f} s: "
          f"{len(ids) / elapsed:.0f} replays/s (queue, sign, send, record, target stores each)")
