"""The mixed-load benchmark's driver (run by scripts/bench-mixed.sh, which starts the server).

Account A's capture rate is measured with wrk alone, then again while account B searches its
50,000 captures from 16 clients and bulk-replays 1,000 of them, and account C captures to
endpoints that are not yet in the route cache. Prints one line per figure.
"""

import argparse
import base64
import http.cookiejar
import http.server
import json
import os
import re
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SEARCH_CLIENTS = 16
BULK = 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rows-b", type=int, default=50000)
    ap.add_argument("psql", nargs="+", help="the psql command line for the server's database")
    args = ap.parse_args()
    base = args.base

    a, b, c = (Account(base, f"{n}@example.com") for n in ("mixed-a", "mixed-b", "mixed-c"))
    a_endpoint = a.call("POST", "/api/v1/endpoints", {"name": "a"})
    b_endpoint = b.call("POST", "/api/v1/endpoints", {"name": "b"})

    body = open(args.body, "rb").read()
    # One real capture of B's, then ROWS_B copies of it (each with its own event id) by SQL:
    # minutes of capturing would measure nothing more.
    post(b_endpoint["url"] + "/stripe", body)
    started = time.monotonic()
    sql = f"""
INSERT INTO requests (id, endpoint_id, received_at, method, path, query, http_version,
       remote_addr, headers, content_type, body, body_size, provider, event_type, event_id,
       signature_scheme, signature_status, signature_reason, livemode, api_version,
       event_created, object_id, object_type)
SELECT gen_random_uuid(), r.endpoint_id, now() - make_interval(secs => g), r.method, r.path, r.query,
       r.http_version, r.remote_addr, r.headers, r.content_type,
       convert_to(replace(convert_from(r.body, 'UTF8'), '"id": "evt_', '"id": "evt_' || g || '_'), 'UTF8'),
       r.body_size, r.provider, r.event_type, r.event_id || '_' || g, r.signature_scheme,
       r.signature_status, r.signature_reason, r.livemode, r.api_version, r.event_created,
       r.object_id, r.object_type
FROM (SELECT * FROM requests WHERE endpoint_id = '{b_endpoint["id"]}' LIMIT 1) r,
     generate_series(1, {args.rows_b - 1}) g;
VACUUM ANALYZE requests;
"""
    subprocess.run(args.psql, input=sql.encode(), check=True, stdout=subprocess.DEVNULL)
    # B's captures are old ones: wait until the search indexer has caught up with them, as it
    # would have long before (the time it took is printed: it is the indexer's rate).
    while True:
        behind = int(subprocess.run(args.psql, input=b"SELECT count(*) FROM requests r WHERE (r.xid, r.seq) > (SELECT xid, seq FROM search_progress);",
                                    check=True, capture_output=True).stdout.decode().strip() or 0)
        if behind == 0:
            break
        time.sleep(1)
    stored = [e["request_count"] for e in b.call("GET", "/api/v1/endpoints")["endpoints"] if e["id"] == b_endpoint["id"]][0]
    print(f"== account B: {stored} captures stored and indexed for search ({time.monotonic() - started:.0f} s), ~{len(body)} bytes each")

    print(f"== phase 1: account A alone, {args.duration} s, {args.connections} connections")
    alone = wrk(a_endpoint["url"] + "/stripe", args, "alone")
    print(f"   A alone: {alone['rate']:.0f} captures/s, p99 {alone['p99']:.1f} ms, non-2xx {alone['non2xx']}")

    print(f"== phase 2: the same, while B runs {SEARCH_CLIENTS} free-text search clients and a {BULK}-capture bulk replay,")
    print("   and C captures to endpoints that are not yet in the route cache")
    stop = threading.Event()
    searches = Tally()
    # MIXED_PARTS (comma-separated) runs only some of phase 2's loads, to see what each costs.
    parts = set(os.environ.get("MIXED_PARTS", "search,replay,fresh").split(","))
    threads = []
    if "search" in parts:
        threads += [threading.Thread(target=search_loop, args=(b, b_endpoint["id"], stop, searches)) for _ in range(SEARCH_CLIENTS)]
    target = Target()
    replay = {}
    if "replay" in parts:
        threads.append(threading.Thread(target=bulk_replay, args=(b, b_endpoint["id"], target, replay)))
    fresh = Tally()
    if "fresh" in parts:
        threads.append(threading.Thread(target=fresh_endpoints, args=(c, body, stop, fresh)))
    for t in threads:
        t.start()
    time.sleep(2)  # B's load is running before A's measurement starts
    loaded = wrk(a_endpoint["url"] + "/stripe", args, "loaded")
    stop.set()
    for t in threads:
        t.join()
    target.close()

    ratio = loaded["rate"] / alone["rate"]
    print(f"   A under load: {loaded['rate']:.0f} captures/s, p99 {loaded['p99']:.1f} ms, non-2xx {loaded['non2xx']}")
    print(f"   B searches: {searches.summary()}")
    print(f"   B bulk replay: {replay.get('status')} queued {BULK}; {target.count} delivered to the target "
          f"in {replay.get('elapsed', float('nan')):.1f} s")
    print(f"   C first captures to new endpoints: {fresh.summary()}")
    print(f"== A under load / A alone: {ratio:.2f} (goal >= 0.70); A's p99 under load {loaded['p99']:.1f} ms (goal <= 100 ms); "
          f"C all 200: {fresh.statuses == {200: fresh.n}}")


class Account:
    """A user signed up through the pages, with an API token."""

    def __init__(self, base, email):
        self.base = base
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/signup").read().decode()
        csrf = re.search(r'name="csrf" value="([^"]*)"', page).group(1)
        form = urllib.parse.urlencode({"csrf": csrf, "email": email, "password": "benchmark-password"}).encode()
        opener.open(base + "/signup", form).read()
        basic = urllib.request.Request(base + "/api/v1/tokens", data=b'{"name":"bench"}', method="POST",
                                       headers={"Content-Type": "application/json"})
        basic.add_header("Authorization", "Basic " + base64.b64encode(f"{email}:benchmark-password".encode()).decode())
        with urllib.request.urlopen(basic) as r:
            self.token = json.load(r)["token"]

    def request(self, method, path, body=None, timeout=60):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def call(self, method, path, body=None):
        status, data = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
        return json.loads(data)


def post(url, body, timeout=30):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def wrk(url, args, label):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s", "bench/capture.lua", url],
        env={"HV_BODY_FILE": args.body, "PATH": "/usr/bin:/bin"}, check=True, capture_output=True, text=True).stdout
    open(f"{args.work}/wrk-{label}.txt", "w").write(out)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": rate, "p99": p99, "non2xx": int(non2xx.group(1)) if non2xx else 0}


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}
        self.ms = []
        self.n = 0

    def add(self, status, ms):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.ms.append(ms)
            self.n += 1

    def summary(self):
        if not self.ms:
            return "none"
        ms = sorted(self.ms)
        return (f"{self.n} answered {dict(sorted(self.statuses.items()))}, "
                f"median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms")


def search_loop(account, endpoint, stop, tally):
    # Free text that no capture contains: every search reads every body of the endpoint.
    path = f"/api/v1/endpoints/{endpoint}/requests?limit=50&q=" + urllib.parse.quote('"no capture has this text"')
    while not stop.is_set():
        t = time.monotonic()
        status, _ = account.request("GET", path)
        tally.add(status, (time.monotonic() - t) * 1000)
        if status == 429:
            time.sleep(0.05)  # a client told to wait comes back soon, as a busy script would


def bulk_replay(account, endpoint, target, result):
    ids, cursor = [], None
    while len(ids) < BULK:
        page = account.call("GET", f"/api/v1/endpoints/{endpoint}/requests?limit=500" + (f"&before={cursor}" if cursor else ""))
        ids += [r["id"] for r in page["requests"]]
        cursor = page.get("next")
        if not cursor:
            break
    started = time.monotonic()
    status, _ = account.request("POST", f"/api/v1/endpoints/{endpoint}/replays", {
        "request_ids": ids[:BULK], "order": "created", "target_url": target.url,
        "signing": {"scheme": "stripe", "secret": "whsec_mixed"}})
    result["status"] = status
    deadline = started + 600
    while target.count < len(ids[:BULK]) and time.monotonic() < deadline:
        time.sleep(0.1)
    result["elapsed"] = time.monotonic() - started


def fresh_endpoints(account, body, stop, tally):
    n = 0
    while not stop.is_set() and n < 200:
        n += 1
        url = account.call("POST", "/api/v1/endpoints", {"name": f"fresh {n}"})["url"]
        t = time.monotonic()
        status = post(url + "/stripe", body)
        tally.add(status, (time.monotonic() - t) * 1000)
        time.sleep(0.2)


class Target:
    """A local HTTP server that counts the replays it receives."""

    def __init__(self):
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    outer.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


if __name__ == "__main__":
    main()
