-- wrk script for the capture benchmark: a ~4 KB Stripe-like JSON event with 15 headers, as
-- Stripe sends them. The body is read from $HV_BODY_FILE (written by scripts/bench.sh).
local f = assert(io.open(os.getenv("HV_BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json; charset=utf-8"
wrk.headers["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
wrk.headers["Accept"] = "*/*; q=0.5, application/xml"
wrk.headers["Cache-Control"] = "no-cache"
wrk.headers["Stripe-Signature"] = "t=1700000000,v1=76517ec43404cf1686cbde0e5311d072a618851233b8d6ad5ee6e038949fbe1e,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
wrk.headers["Accept-Encoding"] = "gzip"
wrk.headers["X-Request-Id"] = "req_8f2b1c0d9e7a6b5c"
wrk.headers["X-Forwarded-Proto"] = "https"
wrk.headers["X-Stripe-Client-User-Agent"] = "{\"bindings_version\":\"7.0.0\",\"lang\":\"ruby\"}"
wrk.headers["Traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
wrk.headers["X-Amzn-Trace-Id"] = "Root=1-5f84c3a2-7d3e1c2b4a5f6e7d8c9b0a1f"
wrk.headers["Via"] = "1.1 stripe-webhooks"
