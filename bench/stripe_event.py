"""Writes a ~4 KB Stripe-style event in Stripe's wire format (2-space indent, no trailing newline)."""
import json
import sys

event = {
    "id": "evt_1PgcBenchmarkEvent0001",
    "object": "event",
    "api_version": "2024-06-20",
    "created": 1700000000,
    "data": {
        "object": {
            "id": "in_1PgcBenchInvoice0001",
            "object": "invoice",
            "account_country": "US",
            "account_name": "Hookvault Benchmark Co.",
            "amount_due": 2000,
            "amount_paid": 2000,
            "amount_remaining": 0,
            "attempt_count": 1,
            "attempted": True,
            "billing_reason": "subscription_cycle",
            "collection_method": "charge_automatically",
            "currency": "usd",
            "customer": "cus_BenchCustomer0001",
            "customer_email": "jenny.rosen@example.com",
            "customer_name": "Jenny Rosen",
            "description": None,
            "hosted_invoice_url": "https://invoice.stripe.com/i/acct_bench/test_YWNjdF9iZW5jaA",
            "invoice_pdf": "https://pay.stripe.com/invoice/acct_bench/test_YWNjdF9iZW5jaA/pdf",
            "lines": {
                "object": "list",
                "data": [
                    {
                        "id": "il_1PgcBenchLine000%d" % i,
                        "object": "line_item",
                        "amount": 1000,
                        "currency": "usd",
                        "description": "1 x Pro plan (at $10.00 / month)",
                        "period": {"end": 1702592000, "start": 1700000000},
                        "plan": {"id": "price_BenchPro", "interval": "month", "product": "prod_BenchPro"},
                        "quantity": 1,
                        "type": "subscription",
                    }
                    for i in range(4)
                ],
                "has_more": False,
                "total_count": 4,
                "url": "/v1/invoices/in_1PgcBenchInvoice0001/lines",
            },
            "livemode": False,
            "metadata": {},
            "number": "BENCH-0001",
            "paid": True,
            "status": "paid",
            "subscription": "sub_BenchSubscription01",
            "subtotal": 2000,
            "total": 2000,
        }
    },
    "livemode": False,
    "pending_webhooks": 1,
    "request": {"id": None, "idempotency_key": None},
    "type": "invoice.paid",
}
text = json.dumps(event, indent=2)
while len(text) < 4000:
    event["data"]["object"]["metadata"]["pad%d" % len(event["data"]["object"]["metadata"])] = "x" * 40
    text = json.dumps(event, indent=2)
sys.stdout.write(text)
