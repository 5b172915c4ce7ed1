//! A local stand-in for Stripe's API (a real HTTP server on 127.0.0.1:0) and Stripe-signed
//! billing events.
//!
//! The stand-in answers the calls Hookvault's billing makes the way Stripe does — Checkout
//! Sessions whose `url` is a checkout page of the stand-in, billing-portal sessions,
//! subscriptions read, listed by customer and cancelled, errors as `{"error":{"message",…}}` — and records every
//! request. Tests can make the next calls fail, or hold subscription reads until released.
//!
//! Events are signed with Hookvault's signer, and [`assert_official`] checks the very same
//! headers with Stripe's official library (`stripe.Webhook.construct_event` in
//! `target/test-venv`), so the tests do not trust our signer alone.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const SECRET_KEY: &str = "sk_test_hookvault_standin_key";
pub const PRICE_ID: &str = "price_test_pro_monthly";
pub const WEBHOOK_SECRET: &str = "whsec_hookvault_billing_test_secret";

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: String,
    /// The form fields, in order.
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    base: Mutex<String>,
    requests: Mutex<Vec<Recorded>>,
    /// The next API calls answer these errors (status, message).
    failures: Mutex<VecDeque<(u16, String)>>,
    /// While set, subscription reads wait.
    hold: AtomicBool,
    /// Status of subscriptions read that were not added with their customer.
    subscription_status: Mutex<String>,
    /// Subscriptions added by the test: (id, customer, status); listed by customer, read and
    /// cancelled (their status becomes `canceled`).
    subscriptions: Mutex<Vec<(String, String, String)>>,
    ids: AtomicUsize,
}

/// The running stand-in.
#[derive(Clone)]
pub struct StripeStandIn {
    pub base: String,
    inner: Arc<Inner>,
}

impl StripeStandIn {
    pub async fn start() -> StripeStandIn {
        let inner = Arc::new(Inner::default());
        *inner.subscription_status.lock().unwrap() = "active".into();
        let app = Router::new()
            .route("/v1/checkout/sessions", post(checkout_session))
            .route("/v1/billing_portal/sessions", post(portal_session))
            .route("/v1/subscriptions", get(list_subscriptions))
            .route(
                "/v1/subscriptions/{id}",
                get(read_subscription).delete(cancel_subscription),
            )
            .route("/checkout/{id}", get(checkout_page))
            .route("/portal/{id}", get(portal_page))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        *inner.base.lock().unwrap() = base.clone();
        tokio::spawn(async move { axum::serve(listener, app).await });
        StripeStandIn { base, inner }
    }

    /// The billing settings pointing at this stand-in.
    pub fn config(&self, grace: Duration) -> hookvault_web::BillingConfig {
        hookvault_web::BillingConfig {
            secret_key: SECRET_KEY.into(),
            price_id: PRICE_ID.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            api_base: self.base.clone(),
            grace,
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Requests with this method and path.
    pub fn calls(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// The next API call answers `status` with Stripe's error shape and this message.
    pub fn fail_next(&self, status: u16, message: &str) {
        self.inner
            .failures
            .lock()
            .unwrap()
            .push_back((status, message.into()));
    }

    /// Subscription reads wait until [`release`](Self::release).
    pub fn hold(&self) {
        self.inner.hold.store(true, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.inner.hold.store(false, Ordering::SeqCst);
    }

    pub fn set_subscription_status(&self, status: &str) {
        *self.inner.subscription_status.lock().unwrap() = status.into();
    }

    /// A subscription of `customer` that Stripe knows (listed, read, cancelled by id).
    pub fn add_subscription(&self, id: &str, customer: &str, status: &str) {
        self.inner
            .subscriptions
            .lock()
            .unwrap()
            .push((id.into(), customer.into(), status.into()));
    }

    /// The status of a subscription added with [`add_subscription`](Self::add_subscription).
    pub fn status_of(&self, id: &str) -> Option<String> {
        self.inner
            .subscriptions
            .lock()
            .unwrap()
            .iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, _, s)| s.clone())
    }
}

fn record(inner: &Inner, method: Method, path: String, headers: &HeaderMap, body: &[u8]) {
    let form = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    inner.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        form,
    });
}

/// A queued failure, answered the way Stripe answers errors.
fn failure(inner: &Inner) -> Option<Response> {
    let (status, message) = inner.failures.lock().unwrap().pop_front()?;
    let kind = if status >= 500 {
        "api_error"
    } else {
        "invalid_request_error"
    };
    Some(
        (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"error": {"type": kind, "message": message}})),
        )
            .into_response(),
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {SECRET_KEY}"))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})),
    )
        .into_response()
}

async fn checkout_session(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    record(
        &inner,
        Method::POST,
        "/v1/checkout/sessions".into(),
        &headers,
        &body,
    );
    if !authorized(&headers) {
        return unauthorized();
    }
    if let Some(f) = failure(&inner) {
        return f;
    }
    let id = format!("cs_test_{}", inner.ids.fetch_add(1, Ordering::SeqCst));
    let base = inner.base.lock().unwrap().clone();
    Json(
        json!({"id": id, "object": "checkout.session", "mode": "subscription",
                "url": format!("{base}/checkout/{id}")}),
    )
    .into_response()
}

async fn portal_session(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    record(
        &inner,
        Method::POST,
        "/v1/billing_portal/sessions".into(),
        &headers,
        &body,
    );
    if !authorized(&headers) {
        return unauthorized();
    }
    if let Some(f) = failure(&inner) {
        return f;
    }
    let id = format!("bps_{}", inner.ids.fetch_add(1, Ordering::SeqCst));
    let base = inner.base.lock().unwrap().clone();
    Json(json!({"id": id, "object": "billing_portal.session",
                "url": format!("{base}/portal/{id}")}))
    .into_response()
}

async fn read_subscription(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    record(
        &inner,
        Method::GET,
        format!("/v1/subscriptions/{id}"),
        &headers,
        b"",
    );
    while inner.hold.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !authorized(&headers) {
        return unauthorized();
    }
    if let Some(f) = failure(&inner) {
        return f;
    }
    let known = inner
        .subscriptions
        .lock()
        .unwrap()
        .iter()
        .find(|(i, _, _)| *i == id)
        .cloned();
    let (customer, status) = match known {
        Some((_, c, s)) => (c, s),
        None => (
            format!("cus_of_{id}"),
            inner.subscription_status.lock().unwrap().clone(),
        ),
    };
    Json(json!({"id": id, "object": "subscription", "status": status, "customer": customer}))
        .into_response()
}

/// `GET /v1/subscriptions?customer=…&status=all`: the added subscriptions of the customer.
async fn list_subscriptions(
    State(inner): State<Arc<Inner>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    record(
        &inner,
        Method::GET,
        "/v1/subscriptions".into(),
        &headers,
        query.as_bytes(),
    );
    if !authorized(&headers) {
        return unauthorized();
    }
    if let Some(f) = failure(&inner) {
        return f;
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let customer = param("customer").unwrap_or_default();
    let all = param("status").as_deref() == Some("all");
    let data: Vec<Value> = inner
        .subscriptions
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, c, s)| *c == customer && (all || s != "canceled"))
        .map(|(i, c, s)| json!({"id": i, "object": "subscription", "customer": c, "status": s}))
        .collect();
    Json(json!({"object": "list", "url": "/v1/subscriptions", "has_more": false, "data": data}))
        .into_response()
}

async fn cancel_subscription(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    record(
        &inner,
        Method::DELETE,
        format!("/v1/subscriptions/{id}"),
        &headers,
        b"",
    );
    if !authorized(&headers) {
        return unauthorized();
    }
    if let Some(f) = failure(&inner) {
        return f;
    }
    for s in inner.subscriptions.lock().unwrap().iter_mut() {
        if s.0 == id {
            s.2 = "canceled".into();
        }
    }
    Json(json!({"id": id, "object": "subscription", "status": "canceled"})).into_response()
}

async fn checkout_page(Path(id): Path<String>) -> Html<String> {
    Html(format!(
        "<!doctype html><title>Stand-in Checkout</title><h1 id=\"standin-checkout\">Stand-in Stripe Checkout {id}</h1>"
    ))
}

async fn portal_page(Path(id): Path<String>) -> Html<String> {
    Html(format!(
        "<!doctype html><title>Stand-in portal</title><h1 id=\"standin-portal\">Stand-in billing portal {id}</h1>"
    ))
}

// ---- events -------------------------------------------------------------------------------

/// A Stripe event body and its `Stripe-Signature`.
#[derive(Debug, Clone)]
pub struct Signed {
    pub id: String,
    pub body: String,
    pub header: String,
    /// The secret it was signed with.
    pub secret: String,
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An event of `kind` about `object`, created at `created`, pretty-printed as Stripe sends it;
/// returns its (new) id and body.
pub fn event(kind: &str, created: i64, object: Value) -> (String, String) {
    let id = format!("evt_test_{}", uuid::Uuid::new_v4().simple());
    let body = event_with_id(&id, kind, created, object);
    (id, body)
}

/// The body of an event with this id.
pub fn event_with_id(id: &str, kind: &str, created: i64, object: Value) -> String {
    serde_json::to_string_pretty(&json!({
        "id": id,
        "object": "event",
        "api_version": "2025-10-29.clover",
        "created": created,
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
    }))
    .unwrap()
}

/// Signs `body` at `t` with `secret`, as Stripe does.
pub fn sign_with(id: &str, body: &str, secret: &str, t: i64) -> Signed {
    Signed {
        id: id.to_string(),
        body: body.to_string(),
        header: hookvault_core::signing::stripe_header(secret, t, body.as_bytes()),
        secret: secret.to_string(),
    }
}

/// An event signed now with the webhook secret.
pub fn signed(kind: &str, created: i64, object: Value) -> Signed {
    let (id, body) = event(kind, created, object);
    sign_with(&id, &body, WEBHOOK_SECRET, now())
}

/// A subscription object.
pub fn subscription(id: &str, customer: &str, status: &str, account: &str) -> Value {
    json!({"id": id, "object": "subscription", "customer": customer, "status": status,
           "metadata": {"hookvault_account_id": account}})
}

/// Sends an event to the billing webhook with its signature.
pub async fn deliver(url: &str, e: &Signed) -> reqwest::Response {
    deliver_raw(url, e.body.as_bytes(), Some(&e.header)).await
}

/// Sends bytes to the billing webhook with this `Stripe-Signature` (or none).
pub async fn deliver_raw(url: &str, body: &[u8], header: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/billing/stripe/webhook"))
        .header("content-type", "application/json; charset=utf-8")
        .timeout(Duration::from_secs(30))
        .body(body.to_vec());
    if let Some(h) = header {
        req = req.header("Stripe-Signature", h);
    }
    req.send().await.expect("POST /billing/stripe/webhook")
}

/// Checks each (body, header, secret) with `stripe.Webhook.construct_event` and asserts the
/// official library's verdict: `true` = accepted. Skipped (with a note) only when the
/// virtualenv is missing and `HOOKVAULT_SKIP_OFFICIAL_TESTS=1`.
pub fn assert_official(cases: &[(&Signed, bool)]) {
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-venv/bin/python");
    let python = std::env::var_os("HOOKVAULT_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or(python);
    if !python.exists() {
        if std::env::var("HOOKVAULT_SKIP_OFFICIAL_TESTS").as_deref() == Ok("1") {
            eprintln!(
                "note: skipping the official stripe check ({} missing)",
                python.display()
            );
            return;
        }
        panic!(
            "{} is missing: run scripts/install-test-deps.sh",
            python.display()
        );
    }
    let items: Vec<Value> = cases
        .iter()
        .map(|(s, _)| json!({"body": s.body, "header": s.header, "secret": s.secret}))
        .collect();
    let script = r#"
import json, sys, stripe
out = []
for it in json.load(sys.stdin):
    try:
        stripe.Webhook.construct_event(it["body"], it["header"], it["secret"])
        out.append("accepted")
    except Exception as e:
        out.append(type(e).__name__ + ": " + str(e))
print(json.dumps(out))
"#;
    use std::io::Write;
    let mut child = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run the official stripe library");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&items).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("stripe check");
    assert!(
        out.status.success(),
        "the official stripe check failed to run"
    );
    let verdicts: Vec<String> = serde_json::from_slice(&out.stdout).expect("verdicts");
    for ((s, accepted), verdict) in cases.iter().zip(&verdicts) {
        assert_eq!(
            verdict == "accepted",
            *accepted,
            "stripe.Webhook.construct_event on {} with {:?}: {verdict}",
            s.id,
            s.header
        );
    }
}
