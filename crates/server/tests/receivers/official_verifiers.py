"""A FastAPI app that verifies webhooks with the providers' official libraries and documented
checks. Hookvault's tests replay captures to it and expect 200 from every route.

The /audit/* routes are webhook handlers written to the production checklist, which the
`hookvault audit` tests check; `?mode=` turns one into a flawed variant (see below).

Secrets come from the environment (STRIPE_SECRET, STANDARD_WEBHOOKS_SECRET, GITHUB_SECRET,
SHOPIFY_SECRET, SLACK_SECRET). Run: python official_verifiers.py PORT
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys

import slack_sdk.signature
import standardwebhooks
import stripe
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()
received = []


def ok(kind, detail=None):
    return JSONResponse({"ok": True, "verified_by": kind, "detail": detail})


def rejected(kind, err):
    return JSONResponse({"ok": False, "verified_by": kind, "error": str(err)}, status_code=400)


@app.post("/webhooks/stripe")
async def stripe_webhook(request: Request):
    payload = await request.body()
    received.append(("stripe", payload))
    try:
        # The official check, with its default 300 s tolerance.
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("stripe-signature", ""), os.environ["STRIPE_SECRET"]
        )
    except Exception as e:  # noqa: BLE001 - report any rejection to the test
        return rejected("stripe.Webhook.construct_event", e)
    return ok("stripe.Webhook.construct_event", event["id"])


@app.post("/webhooks/standard")
async def standard_webhook(request: Request):
    payload = await request.body()
    try:
        wh = standardwebhooks.Webhook(os.environ["STANDARD_WEBHOOKS_SECRET"])
        wh.verify(payload, dict(request.headers))
    except Exception as e:  # noqa: BLE001
        return rejected("standardwebhooks.Webhook.verify", e)
    return ok("standardwebhooks.Webhook.verify")


@app.post("/webhooks/github")
async def github_webhook(request: Request):
    # GitHub's documented check (docs: validating webhook deliveries).
    payload = await request.body()
    secret = os.environ["GITHUB_SECRET"].encode("utf-8")
    expected = "sha256=" + hmac.new(secret, payload, hashlib.sha256).hexdigest()
    got = request.headers.get("x-hub-signature-256", "")
    if not hmac.compare_digest(expected, got):
        return rejected("github documented check", "signatures do not match")
    return ok("github documented check")


@app.post("/webhooks/shopify")
async def shopify_webhook(request: Request):
    # Shopify's documented check: base64 HMAC-SHA256 of the raw body with the app secret.
    payload = await request.body()
    secret = os.environ["SHOPIFY_SECRET"].encode("utf-8")
    expected = base64.b64encode(hmac.new(secret, payload, hashlib.sha256).digest()).decode()
    got = request.headers.get("x-shopify-hmac-sha256", "")
    if not hmac.compare_digest(expected, got):
        return rejected("shopify documented check", "hmac does not match")
    return ok("shopify documented check")


@app.post("/webhooks/slack")
async def slack_webhook(request: Request):
    payload = await request.body()
    verifier = slack_sdk.signature.SignatureVerifier(os.environ["SLACK_SECRET"])
    if not verifier.is_valid_request(payload, dict(request.headers)):
        return rejected("slack_sdk SignatureVerifier", "invalid request")
    return ok("slack_sdk SignatureVerifier")


# --- Handlers for `hookvault audit` ----------------------------------------------------------
# Written as the providers' docs recommend: the official check over the raw body, 400 for a
# signature or parse error, the event id recorded so a repeat is acknowledged without redoing
# the work, unknown event types acknowledged and ignored. `?mode=` picks a variant:
#   fast (default)      the above;
#   skip-verification   parses the body without checking the signature;
#   dup-500             answers 500 to an event id it has already seen;
#   slow                does three seconds of work before answering.

audit_seen = set()
AUDIT_KNOWN_TYPES = {"invoice.paid", "contact.created", "issues"}


def audit_bad_request(err):
    return JSONResponse({"error": str(err)}, status_code=400)


async def audit_handle(scheme, mode, event_id, event_type):
    key = (scheme, mode, event_id)
    if key in audit_seen:
        if mode == "dup-500":
            raise RuntimeError(f"duplicate key {event_id}")
        return JSONResponse({"ok": True, "duplicate": True})
    audit_seen.add(key)
    if mode == "slow":
        await asyncio.sleep(3)
    return JSONResponse({"ok": True, "handled": event_type in AUDIT_KNOWN_TYPES})


@app.exception_handler(RuntimeError)
async def audit_crash(request: Request, exc: RuntimeError):
    return JSONResponse({"error": "internal error"}, status_code=500)


@app.post("/audit/stripe")
async def audit_stripe(request: Request, mode: str = "fast"):
    payload = await request.body()
    try:
        if mode == "skip-verification":
            event = json.loads(payload)
        else:
            event = stripe.Webhook.construct_event(
                payload, request.headers.get("stripe-signature", ""), os.environ["STRIPE_SECRET"]
            )
    except ValueError as e:  # invalid payload
        return audit_bad_request(e)
    except stripe.SignatureVerificationError as e:  # invalid signature
        return audit_bad_request(e)
    return await audit_handle("stripe", mode, event["id"], event["type"])


@app.post("/audit/standard")
async def audit_standard(request: Request, mode: str = "fast"):
    payload = await request.body()
    try:
        if mode == "skip-verification":
            event = json.loads(payload)
        else:
            wh = standardwebhooks.Webhook(os.environ["STANDARD_WEBHOOKS_SECRET"])
            event = wh.verify(payload, dict(request.headers))
    except (ValueError, standardwebhooks.WebhookVerificationError) as e:
        return audit_bad_request(e)
    return await audit_handle("standard", mode, request.headers["webhook-id"], event.get("type"))


@app.post("/audit/github")
async def audit_github(request: Request, mode: str = "fast"):
    payload = await request.body()
    if mode != "skip-verification":
        secret = os.environ["GITHUB_SECRET"].encode("utf-8")
        expected = "sha256=" + hmac.new(secret, payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            return audit_bad_request("signatures do not match")
    try:
        json.loads(payload)
    except ValueError as e:
        return audit_bad_request(e)
    return await audit_handle(
        "github",
        mode,
        request.headers.get("x-github-delivery", ""),
        request.headers.get("x-github-event", ""),
    )


@app.get("/audit/seen")
async def audit_seen_ids():
    return {"ids": [event_id for (_, _, event_id) in audit_seen]}


@app.get("/received")
async def list_received():
    return {"count": len(received), "bodies": [base64.b64encode(b).decode() for _, b in received]}


if __name__ == "__main__":
    port = int(sys.argv[1])
    print(json.dumps({"listening": port}), flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
