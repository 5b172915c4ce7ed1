//! Runs [`detect`] over the webhook fixture corpus: the full shared corpus when it is
//! checked out next to the workspace (`../shared/fixtures/webhooks`, as in CI) and always
//! the licensed subset copied into the repository (`fixtures/webhooks`).

use std::path::{Path, PathBuf};

use hookvault_core::headers::{self, RawHeader};
use hookvault_core::provider::{detect, Detected, Provider};
use serde_json::Value;
use Provider::*;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Want {
    provider: Option<Provider>,
    ty: Option<&'static str>,
    id: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A payload, paired with `<stem>.headers.json` when that exists.
    Body,
    /// A header file with no payload of its own: detected with an empty body.
    HeadersOnly,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    path: &'static str,
    kind: Kind,
    /// Header file paired with this body when it is not `<stem>.headers.json`.
    headers: Option<&'static str>,
    want: Want,
    /// What the body alone (no headers, no content type) gives, for paired bodies.
    bare: Option<Want>,
    /// Capture envelopes (`{headers, payload}` / smee): the unwrapped delivery.
    envelope: Option<Want>,
    /// Stripe events: (api_version, data.object.object, data.object.id).
    stripe: Option<(Option<&'static str>, &'static str, &'static str)>,
}

fn w(provider: Option<Provider>, ty: Option<&'static str>, id: Option<&'static str>) -> Want {
    Want { provider, ty, id }
}

fn body(
    path: &'static str,
    p: Option<Provider>,
    ty: Option<&'static str>,
    id: Option<&'static str>,
) -> Case {
    Case {
        path,
        kind: Kind::Body,
        headers: None,
        want: w(p, ty, id),
        bare: None,
        envelope: None,
        stripe: None,
    }
}

fn headers_only(
    path: &'static str,
    p: Option<Provider>,
    ty: Option<&'static str>,
    id: Option<&'static str>,
) -> Case {
    Case {
        kind: Kind::HeadersOnly,
        ..body(path, p, ty, id)
    }
}

impl Case {
    fn headers(self, h: &'static str) -> Case {
        Case {
            headers: Some(h),
            ..self
        }
    }
    fn bare(self, p: Option<Provider>, ty: Option<&'static str>, id: Option<&'static str>) -> Case {
        Case {
            bare: Some(w(p, ty, id)),
            ..self
        }
    }
    fn envelope(
        self,
        p: Option<Provider>,
        ty: Option<&'static str>,
        id: Option<&'static str>,
    ) -> Case {
        Case {
            envelope: Some(w(p, ty, id)),
            ..self
        }
    }
    fn stripe(
        self,
        api: Option<&'static str>,
        object: &'static str,
        object_id: &'static str,
    ) -> Case {
        Case {
            stripe: Some((api, object, object_id)),
            ..self
        }
    }
}

/// The expectation for every fixture, written from reading each file.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    const EVT0: Option<&str> = Some("evt_000000000000000000000000");
    const RM: Option<&str> = Some("2020-08-27");
    const HD: Option<&str> = Some("2022-11-15");
    vec![
        // ---- GitHub
        headers_only("github/headers.github-docs-example-delivery.txt", Some(Github), Some("issues"), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")),
        body("github/hookdeck-capture/issue_comment.json", Some(Github), Some("issue_comment.created"), Some("52532040-bba9-11ed-8d48-6505df70907e"))
            .bare(Some(Github), Some("issue_comment.created"), None),
        body("github/hookdeck-capture/ping.json", Some(Github), Some("ping"), Some("b32b69a0-bba8-11ed-9346-ceb669efc942"))
            .bare(Some(Github), Some("ping"), None),
        body("github/hookdeck-capture/pull_request.json", Some(Github), Some("pull_request.labeled"), Some("a72db0d0-bba9-11ed-9c5c-e6ddbe2c4193"))
            .bare(Some(Github), Some("pull_request.labeled"), None),
        body("github/hookdeck-capture/push.json", Some(Github), Some("push"), Some("0aac0a4e-bbaa-11ed-9d55-67911e83930e"))
            .bare(Some(Github), Some("push"), None),
        body("github/hookdeck-capture/release.json", Some(Github), Some("release.released"), Some("205502b0-bbaa-11ed-99a9-7f9d2669503f"))
            .bare(Some(Github), Some("release.released"), None),
        body("github/octokit/check_run.completed.json", Some(Github), Some("check_run.completed"), None),
        body("github/octokit/delete.default.json", Some(Github), Some("delete"), None),
        body("github/octokit/dependabot_alert.created.json", Some(Github), Some("dependabot_alert.created"), None),
        body("github/octokit/github_app_authorization.revoked.json", Some(Github), Some("github_app_authorization.revoked"), None),
        body("github/octokit/installation.created.json", Some(Github), Some("installation.created"), None),
        body("github/octokit/issue_comment.created.json", Some(Github), Some("issue_comment.created"), None),
        body("github/octokit/issues.opened.json", Some(Github), Some("issues.opened"), None),
        body("github/octokit/ping.default.json", Some(Github), Some("ping"), None),
        body("github/octokit/pull_request.labeled.with-organization.json", Some(Github), Some("pull_request.labeled"), None),
        body("github/octokit/pull_request.opened.json", Some(Github), Some("pull_request.opened"), None),
        body("github/octokit/push.default.json", Some(Github), Some("push"), None),
        body("github/octokit/push.with-new-branch.json", Some(Github), Some("push"), None),
        body("github/octokit/release.published.json", Some(Github), Some("release.published"), None),
        // The dispatch's custom event_type travels in `action`.
        body("github/octokit/repository_dispatch.default.json", Some(Github), Some("repository_dispatch.on-demand-test"), None),
        body("github/octokit/star.created.json", Some(Github), Some("star.created"), None),
        body("github/octokit/workflow_job.completed.success.with-organization.json", Some(Github), Some("workflow_job.completed"), None),
        body("github/octokit/workflow_run.completed.with-pull-requests.json", Some(Github), Some("workflow_run.completed"), None),
        // ---- Mailgun (multipart; no event id in legacy posts; inbound routes carry no event name)
        body("mailgun/inbound-route-with-binary-jpeg.multipart", Some(Mailgun), None, None),
        body("mailgun/legacy-bounce-webhook.multipart", Some(Mailgun), Some("bounced"), None)
            .bare(Some(Mailgun), Some("bounced"), None),
        // ---- Mandrill (the JSON file is the value of the `mandrill_events` field)
        body("mandrill/inbound.mailbox-request.json", Some(Mandrill), Some("inbound"), None),
        body("mandrill/inbound.mailbox-request.wire.form", Some(Mandrill), Some("inbound"), None),
        // ---- misc
        body("misc/bitbucket/repo.push.json", Some(Bitbucket), Some("repo:push"), Some("831ba044-6864-4085-bf4c-ae829079e224"))
            .bare(Some(Bitbucket), Some("repo:push"), None),
        body("misc/gitlab/push-hook.json", Some(Gitlab), Some("push"), Some("5866755a-6a7d-430f-b7c3-bd29ec77e3f3"))
            .bare(Some(Gitlab), Some("push"), None),
        body("misc/paddle-billing/transaction.completed.json", Some(Paddle), Some("transaction.completed"), Some("evt_01j7br9myw2s8wzb7t8x73f7sn"))
            .bare(Some(Paddle), Some("transaction.completed"), Some("evt_01j7br9myw2s8wzb7t8x73f7sn")),
        body("misc/paddle-classic/payment_succeeded.form", Some(Paddle), Some("payment_succeeded"), Some("1367177662"))
            .bare(Some(Paddle), Some("payment_succeeded"), Some("1367177662")),
        body("misc/paypal/PAYMENT.SALE.COMPLETED.json", Some(Paypal), Some("PAYMENT.SALE.COMPLETED"), Some("WH-2WR32451HC0233532-67976317FL4543714"))
            .bare(Some(Paypal), Some("PAYMENT.SALE.COMPLETED"), Some("WH-2WR32451HC0233532-67976317FL4543714")),
        // A smee.io channel message is not a delivery: its sender is smee, not GitHub.
        // Unwrapped (flattened headers + `body`), it is GitHub issues.opened.
        body("misc/smee/issues.opened.smee-envelope.json", None, None, None)
            .envelope(Some(Github), Some("issues.opened"), Some("123")),
        // Topic and delivery id only travel in headers.
        body("misc/woocommerce/product.created.json", Some(Woocommerce), Some("product.created"), Some("21b86abacb3d422d88704501bd14f142"))
            .bare(Some(Woocommerce), None, None),
        // ---- SendGrid Inbound Parse (no event name or id in inbound mail posts)
        body("sendgrid/inbound-parse.default_data.multipart", Some(Sendgrid), None, None)
            .headers("sendgrid/inbound-parse.headers.json").bare(Some(Sendgrid), None, None),
        body("sendgrid/inbound-parse.raw_data.multipart", Some(Sendgrid), None, None)
            .headers("sendgrid/inbound-parse.headers.json").bare(Some(Sendgrid), None, None),
        body("sendgrid/inbound-parse.raw_data_with_attachments.crlf.multipart", Some(Sendgrid), None, None)
            .headers("sendgrid/inbound-parse.headers.json").bare(Some(Sendgrid), None, None),
        body("sendgrid/inbound-parse.raw_data_with_attachments.multipart", Some(Sendgrid), None, None)
            .headers("sendgrid/inbound-parse.headers.json").bare(Some(Sendgrid), None, None),
        // ---- Shopify (topic and ids only travel in headers)
        body("shopify/app_uninstalled.laravel-shopify.json", Some(Shopify), None, None),
        body("shopify/faucet-capture/products.update.json", Some(Shopify), Some("products/update"), Some("12815508-f11e-41d0-af97-dba11f47b294"))
            .bare(Some(Shopify), None, None),
        headers_only("shopify/faucet-capture/shop.update.headers-from-vegeta.json", Some(Shopify), Some("shop/update"), Some("08617ab5-ee6e-4d76-818d-1ba07255741e")),
        body("shopify/hookdeck-capture/app.uninstalled.json", Some(Shopify), Some("app/uninstalled"), Some("4d3ed0de-edc5-48dd-b110-fdff73769187"))
            .bare(Some(Shopify), None, None),
        body("shopify/hookdeck-capture/company_locations.create.json", Some(Shopify), Some("company_locations/create"), Some("1518c27b-12bf-4e6c-8647-1b40c130e733"))
            .bare(Some(Shopify), None, None),
        // Body alone has only nested gid strings: not claimed.
        body("shopify/hookdeck-capture/fulfillment_orders.moved.json", Some(Shopify), Some("fulfillment_orders/moved"), Some("809f3eb2-0afd-4c40-9a59-130a301bccb6"))
            .bare(None, None, None),
        // Its body was excluded from the corpus (64-bit ids truncated by the capture tool).
        headers_only("shopify/hookdeck-capture/orders.create.headers.json", Some(Shopify), Some("orders/create"), Some("64f9a71e-c088-4152-aa47-88251b634a99")),
        body("shopify/hookdeck-capture/returns.approve.json", Some(Shopify), Some("returns/approve"), Some("1a377d77-d2fc-44cb-a4d3-a3098da15dfd"))
            .bare(Some(Shopify), None, None),
        body("shopify/orders.sample-notification.laravel-shopify.json", Some(Shopify), None, None),
        // ---- Slack
        body("slack/events_api.app_mention.bolt-python.json", Some(Slack), Some("event_callback.app_mention"), Some("Ev111")),
        body("slack/events_api.message_file_share.bolt-python.json", Some(Slack), Some("event_callback.message"), Some("Ev111")),
        body("slack/events_api.url_verification.json", Some(Slack), Some("url_verification"), None),
        body("slack/interactivity.block_actions.bolt-python.form", Some(Slack), Some("block_actions"), None),
        body("slack/slash_command.enterprise.bolt-python.form", Some(Slack), Some("slash_command"), None),
        body("slack/slash_command.signing-test-vector.form", Some(Slack), Some("slash_command"), None)
            .bare(Some(Slack), Some("slash_command"), None),
        // ---- Standard Webhooks: only the headers say so; `{"type","timestamp","data"}` is too generic alone.
        body("standard-webhooks/sign-test-vector.json", Some(StandardWebhooks), None, Some("msg_p5jXN8AQM9LWM0D4loKWxJek"))
            .bare(None, None, None),
        body("standard-webhooks/spec-example-payload.json", Some(StandardWebhooks), Some("example.event"), Some("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"))
            .headers("standard-webhooks/spec-example-headers.txt").bare(None, None, None),
        // ---- Stripe
        // A Braze log entry `{headers, payload}`, not a delivery body; unwrapped it is Stripe.
        body("stripe/braze-docs-capture/charge.succeeded.capture.json", None, None, None)
            .envelope(Some(Stripe), Some("charge.succeeded"), Some("evt_3RTqw0RMEOaIvYpU1k2TFajH")),
        body("stripe/braze-docs-capture/charge.succeeded.stripe-wireformat.json", Some(Stripe), Some("charge.succeeded"), Some("evt_3RTqw0RMEOaIvYpU1k2TFajH"))
            .stripe(Some("2025-04-30.basil"), "charge", "ch_3RTqw0RMEOaIvYpU1M9ZYtjP"),
        body("stripe/charge.dispute.created.stripe-ruby-mock.json", Some(Stripe), Some("charge.dispute.created"), EVT0)
            .stripe(RM, "dispute", "dp_000000000000000000000000"),
        body("stripe/charge.refunded.stripe-ruby-mock.json", Some(Stripe), Some("charge.refunded"), EVT0)
            .stripe(RM, "charge", "ch_000000000000000000000000"),
        body("stripe/charge.succeeded.stripe_event-gem.json", Some(Stripe), Some("charge.succeeded"), Some("evt_charge_succeeded"))
            .stripe(None, "charge", "ch_00000000000000"),
        body("stripe/checkout.session.completed.stripe-ruby-mock.json", Some(Stripe), Some("checkout.session.completed"), EVT0)
            .stripe(RM, "checkout.session", "cs_test_0000000000000000000000000000000000000000000000000000000000"),
        body("stripe/customer.subscription.deleted.stripe-ruby-mock.json", Some(Stripe), Some("customer.subscription.deleted"), EVT0)
            .stripe(RM, "subscription", "sub_000000000000000000000000"),
        body("stripe/customer.subscription.updated.stripe-ruby-mock.json", Some(Stripe), Some("customer.subscription.updated"), EVT0)
            .stripe(RM, "subscription", "sub_000000000000000000000000"),
        headers_only("stripe/headers.stripe-cli-issue-909.json", Some(Stripe), None, None),
        body("stripe/hookdeck-capture/checkout.session.completed.json", Some(Stripe), Some("checkout.session.completed"), Some("evt_1MhUT6E0b6fckueSlc4GyvIi"))
            .bare(Some(Stripe), Some("checkout.session.completed"), Some("evt_1MhUT6E0b6fckueSlc4GyvIi"))
            .stripe(HD, "checkout.session", "cs_test_a1CagZ1XmCLIZb3ME6r06G1h8ygwbbbMw8Nqk0R86MWMT4dmCjDiUYfQDr"),
        body("stripe/hookdeck-capture/customer.subscription.created.json", Some(Stripe), Some("customer.subscription.created"), Some("evt_1MhUZtE0b6fckueSDaOf1oJ8"))
            .bare(Some(Stripe), Some("customer.subscription.created"), Some("evt_1MhUZtE0b6fckueSDaOf1oJ8"))
            .stripe(HD, "subscription", "sub_1MhUZrE0b6fckueSZfQ2Ytz6"),
        body("stripe/hookdeck-capture/invoice.paid.json", Some(Stripe), Some("invoice.paid"), Some("evt_1MhUT7E0b6fckueShdwYrsWN"))
            .bare(Some(Stripe), Some("invoice.paid"), Some("evt_1MhUT7E0b6fckueShdwYrsWN"))
            .stripe(HD, "invoice", "in_1MhUT5E0b6fckueSfPlY05Fw"),
        body("stripe/hookdeck-capture/invoice.payment_succeeded.json", Some(Stripe), Some("invoice.payment_succeeded"), Some("evt_1MhUT7E0b6fckueSTtEJC9R4"))
            .bare(Some(Stripe), Some("invoice.payment_succeeded"), Some("evt_1MhUT7E0b6fckueSTtEJC9R4"))
            .stripe(HD, "invoice", "in_1MhUT5E0b6fckueSfPlY05Fw"),
        body("stripe/hookdeck-capture/payment_method.attached.json", Some(Stripe), Some("payment_method.attached"), Some("evt_1MhUT6E0b6fckueSb5uPJGPA"))
            .bare(Some(Stripe), Some("payment_method.attached"), Some("evt_1MhUT6E0b6fckueSb5uPJGPA"))
            .stripe(HD, "payment_method", "pm_1MhUT1E0b6fckueSV6KgiBFn"),
        body("stripe/invoice.paid.stripe-ruby-mock.json", Some(Stripe), Some("invoice.paid"), EVT0)
            .stripe(RM, "invoice", "in_000000000000000000000000"),
        body("stripe/invoice.payment_failed.stripe-ruby-mock.json", Some(Stripe), Some("invoice.payment_failed"), EVT0)
            .stripe(RM, "invoice", "in_000000000000000000000000"),
        body("stripe/invoice.payment_succeeded.stripe-ruby-mock.json", Some(Stripe), Some("invoice.payment_succeeded"), EVT0)
            .stripe(RM, "invoice", "in_000000000000000000000000"),
        body("stripe/payment_intent.requires_action.stripe-ruby-mock.json", Some(Stripe), Some("payment_intent.requires_action"), EVT0)
            .stripe(RM, "payment_intent", "pi_000000000000000000000000"),
        body("stripe/payment_intent.succeeded.stripe-ruby-mock.json", Some(Stripe), Some("payment_intent.succeeded"), EVT0)
            .stripe(RM, "payment_intent", "pi_000000000000000000000000"),
        body("stripe/plan.created.stripe-openapi-fixture.json", Some(Stripe), Some("plan.created"), Some("evt_1Pgc76B7WZ01zgkWwyRHS12y"))
            .stripe(None, "plan", "price_1PgafmB7WZ01zgkW6dKueIc5"),
        // ---- Twilio (no event name or id in the body; the idempotency token header is absent here)
        // `Sid=CA123&SidAccount=AC123&Digits=…` is a signing vector with made-up keys:
        // nothing in it is Twilio-specific, so it is documented as unknowable.
        body("twilio/duplicate-keys.signing-test-vector.form", None, None, None),
        body("twilio/inbound_sms.twilio-monitor-alert.form", Some(Twilio), None, None),
        // `{"property": "value", "boolean": true}`: Twilio only says so in the URL query.
        body("twilio/json-body.bodySHA256-test-vector.json", None, None, None),
        body("twilio/voice.signing-test-vector.form", Some(Twilio), None, None)
            .bare(Some(Twilio), None, None),
        body("twilio/voice_client_incoming.twilio-monitor-alert.form", Some(Twilio), None, None),
        body("twilio/voice_outbound_api_status.twilio-monitor-alert.form", Some(Twilio), None, None),
    ]
}

/// Header files: JSON objects name → value (arrays = repeated headers; `_` keys are
/// annotations), JSON arrays of `[name, value]` / `{name, value}`, or text lines
/// `Name: value` (optionally curl-style `> ` prefixed; request lines are skipped).
fn load_headers(path: &Path) -> Vec<RawHeader> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => {
            for (k, v) in m.iter().filter(|(k, _)| !k.starts_with('_')) {
                let values: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    v => vec![v],
                };
                out.extend(
                    values
                        .into_iter()
                        .filter_map(scalar)
                        .map(|s| RawHeader::new(k.as_str(), s)),
                );
            }
        }
        Ok(Value::Array(items)) => {
            for item in items {
                let pair = match &item {
                    Value::Array(p) if p.len() == 2 => p.first().zip(p.get(1)),
                    Value::Object(o) => o.get("name").zip(o.get("value")),
                    _ => None,
                };
                if let Some((Value::String(k), v)) = pair {
                    out.extend(scalar(v).map(|s| RawHeader::new(k.as_str(), s)));
                }
            }
        }
        Ok(other) => panic!("{}: unexpected header file shape {other}", path.display()),
        Err(_) => {
            for line in String::from_utf8_lossy(&bytes).lines() {
                let line = line.trim_end_matches('\r');
                let line = line
                    .strip_prefix("> ")
                    .or_else(|| line.strip_prefix("< "))
                    .unwrap_or(line);
                if line.trim().is_empty() || line.contains(" HTTP/") || line.starts_with("HTTP/") {
                    continue;
                }
                let (k, v) = line
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{}: bad header line {line:?}", path.display()));
                out.push(RawHeader::new(k.trim(), v.trim()));
            }
        }
    }
    assert!(!out.is_empty(), "{}: no headers", path.display());
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(rel.join("/"));
        }
    }
}

fn is_support_file(rel: &str) -> bool {
    matches!(rel, "MANIFEST.md" | "manifest.json" | "NOTICE.md") || rel.starts_with("LICENSES/")
}

fn is_header_file(rel: &str) -> bool {
    rel.rsplit('/')
        .next()
        .is_some_and(|name| name.contains("headers"))
}

/// `a/b/name.ext` → `a/b/name.headers.json`.
fn stem_headers(rel: &str) -> String {
    let stem = rel.rsplit_once('.').map_or(rel, |(s, _)| s);
    format!("{stem}.headers.json")
}

fn compare(errors: &mut Vec<String>, what: &str, d: &Detected, want: Want) {
    let got = (d.provider, d.event_type.as_deref(), d.event_id.as_deref());
    if got != (want.provider, want.ty, want.id) {
        errors.push(format!(
            "{what}: got {got:?}, want {:?}",
            (want.provider, want.ty, want.id)
        ));
    }
}

/// Turns a capture envelope into (headers, body): `{"headers":{..},"payload":{..}}` or
/// smee's flattened lower-case headers next to `"body"`.
fn unwrap_envelope(bytes: &[u8]) -> (Vec<RawHeader>, Vec<u8>) {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    let m = v.as_object().unwrap();
    let (hdrs, payload) = match (m.get("headers"), m.get("payload"), m.get("body")) {
        (Some(Value::Object(h)), Some(p), _) => (h.clone(), p),
        (_, _, Some(b)) => (m.clone(), b),
        _ => panic!("not an envelope"),
    };
    let headers = hdrs
        .iter()
        .filter_map(|(k, v)| Some(RawHeader::new(k.as_str(), v.as_str()?)))
        .collect();
    (headers, serde_json::to_vec(payload).unwrap())
}

/// Checks one corpus directory; returns (bodies, header-only files) checked.
fn run_dir(root: &Path, table: &[Case], errors: &mut Vec<String>) -> (usize, usize) {
    let mut files = Vec::new();
    walk(root, root, &mut files);
    files.retain(|f| !is_support_file(f));
    let exists = |rel: &str| files.iter().any(|f| f == rel);
    let find = |rel: &str| table.iter().find(|c| c.path == rel);
    let mut used_headers: Vec<String> = Vec::new();
    let (mut bodies, mut header_only) = (0, 0);
    let at = root.display();

    for rel in files.iter().filter(|f| !is_header_file(f)) {
        let Some(case) = find(rel).filter(|c| c.kind == Kind::Body) else {
            errors.push(format!(
                "{at}/{rel}: payload without an expectation in cases()"
            ));
            continue;
        };
        let header_file = match case.headers {
            Some(h) if exists(h) => Some(h.to_owned()),
            Some(h) => {
                errors.push(format!("{at}/{rel}: paired header file {h} is missing"));
                None
            }
            None => Some(stem_headers(rel)).filter(|h| exists(h)),
        };
        let headers = header_file
            .as_ref()
            .map_or_else(Vec::new, |h| load_headers(&root.join(h)));
        used_headers.extend(header_file);
        let bytes = std::fs::read(root.join(rel)).unwrap();
        let ct = headers::find_str(&headers, "content-type");
        let d = detect(&headers, &bytes, ct);
        compare(errors, &format!("{at}/{rel}"), &d, case.want);
        bodies += 1;

        match (headers.is_empty(), case.bare) {
            (false, Some(bare)) => compare(
                errors,
                &format!("{at}/{rel} (body only)"),
                &detect(&[], &bytes, None),
                bare,
            ),
            (false, None) => errors.push(format!(
                "{at}/{rel}: paired with headers but no bare expectation"
            )),
            (true, Some(_)) => {
                errors.push(format!("{at}/{rel}: bare expectation but no headers found"))
            }
            (true, None) => {}
        }
        if let Some((api, object, object_id)) = case.stripe {
            let got = d.stripe.as_ref().map(|s| {
                (
                    s.livemode,
                    s.api_version.as_deref(),
                    s.object_type.as_deref(),
                    s.object_id.as_deref(),
                )
            });
            let want = Some((Some(false), api, Some(object), Some(object_id)));
            if got != want {
                errors.push(format!("{at}/{rel}: stripe meta {got:?}, want {want:?}"));
            }
            if d.stripe.as_ref().and_then(|s| s.created).is_none() {
                errors.push(format!("{at}/{rel}: stripe meta lacks `created`"));
            }
        } else if case.want.provider == Some(Stripe) {
            errors.push(format!(
                "{at}/{rel}: Stripe case without stripe meta expectation"
            ));
        }
        if let Some(want) = case.envelope {
            let (h, b) = unwrap_envelope(&bytes);
            let ct = headers::find_str(&h, "content-type");
            compare(
                errors,
                &format!("{at}/{rel} (unwrapped)"),
                &detect(&h, &b, ct),
                want,
            );
        }
    }

    for rel in files.iter().filter(|f| is_header_file(f)) {
        if used_headers.iter().any(|u| u == rel) {
            continue;
        }
        let Some(case) = find(rel).filter(|c| c.kind == Kind::HeadersOnly) else {
            errors.push(format!(
                "{at}/{rel}: header file neither paired nor listed as headers-only"
            ));
            continue;
        };
        let headers = load_headers(&root.join(rel));
        let ct = headers::find_str(&headers, "content-type");
        compare(
            errors,
            &format!("{at}/{rel} (headers only)"),
            &detect(&headers, b"", ct),
            case.want,
        );
        header_only += 1;
    }
    (bodies, header_only)
}

#[test]
fn fixture_corpus_is_detected_as_expected() {
    let table = cases();
    for (i, c) in table.iter().enumerate() {
        assert!(
            !table[..i].iter().any(|o| o.path == c.path),
            "duplicate case {}",
            c.path
        );
    }
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = manifest_dir.join("../../../shared/fixtures/webhooks");
    let in_repo = manifest_dir.join("../../fixtures/webhooks");
    assert!(in_repo.is_dir(), "{} is missing", in_repo.display());

    let mut errors = Vec::new();
    if shared.is_dir() {
        let (b, h) = run_dir(&shared, &table, &mut errors);
        eprintln!("shared corpus: {b} payloads + {h} header-only files checked");
        for c in &table {
            if !shared.join(c.path).is_file() {
                errors.push(format!("case {} has no file in the shared corpus", c.path));
            }
        }
    } else {
        eprintln!(
            "shared corpus not present at {}; checking the in-repo copy only",
            shared.display()
        );
    }
    let (b, h) = run_dir(&in_repo, &table, &mut errors);
    eprintln!("in-repo corpus: {b} payloads + {h} header-only files checked");
    assert!(b > 0, "in-repo corpus has no payloads");
    assert!(
        errors.is_empty(),
        "{} corpus mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
}
