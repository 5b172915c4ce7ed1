//! `ANY /in/{token}` and `ANY /in/{token}/{*rest}`: store the request verbatim, answer after
//! the commit. No session layer runs here, and no cookie is ever set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use hookvault_core::headers::{self, RawHeader};
use hookvault_core::ids::RequestId;
use hookvault_core::provider;
use hookvault_core::response;
use hookvault_core::secretbox::SecretKey;
use hookvault_core::signing;
use hookvault_store::endpoints::CaptureRoute;
use hookvault_store::requests::{NewCapture, StripeFacts};
use hookvault_store::PgPool;
use ipnet::IpNet;
use time::OffsetDateTime;

use crate::body::{self, BodyBudget, BodyError};
use crate::quota::Quota;
use crate::rawhead::RawHead;
use crate::routes::RouteCache;
use crate::writer::{WriteError, Writer};

/// Capture settings.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// Largest body accepted; larger ones get 413 and nothing is stored.
    pub max_body_bytes: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// A body must be complete this long after its head (else 408 and the connection closes).
    pub body_deadline: Duration,
    /// Captures of accounts whose email is not verified wait for it: 503 with `Retry-After`
    /// (issue 13).
    pub require_verified_email: bool,
}

/// A capture is answered within this long whatever the database does: 503 + `Retry-After`
/// when the route lookup or the commit does not finish in time.
pub const CAPTURE_DEADLINE: Duration = Duration::from_secs(8);

/// Shared state of the capture routes.
#[derive(Clone)]
pub struct CaptureState {
    pub pool: PgPool,
    pub writer: Writer,
    pub routes: RouteCache,
    pub config: Arc<CaptureConfig>,
    pub secret_key: SecretKey,
    /// Per-endpoint capture quota.
    pub quota: Arc<Quota>,
    /// Bytes of bodies buffered at once by this process.
    pub budget: BodyBudget,
}

/// The capture routes. Every response they give (captures, 404, 413, 429, 503 and custom
/// responses) is made inert by [`inert`].
pub fn router(state: CaptureState) -> Router {
    Router::new()
        // `/in` and `/in/` name no endpoint: 404 from the capture handler, inert like the rest.
        .route("/in", any(capture))
        .route("/in/", any(capture))
        .route("/in/{token}", any(capture))
        .route("/in/{token}/{*rest}", any(capture))
        .layer(axum::middleware::map_response(inert))
        .with_state(state)
}

/// `/healthz` (the process is up) and `/readyz` (the database answers) for a process or host
/// that serves only capture, answering like the dashboard's.
pub fn health_router(pool: PgPool) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route(
            "/readyz",
            axum::routing::get(move || {
                let pool = pool.clone();
                async move {
                    if hookvault_store::ping(&pool).await {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
                    }
                }
            }),
        )
}

/// Adds the headers that keep a capture response from doing anything in a browser, whatever
/// its content type and body: a sandboxing CSP that loads nothing and cannot be framed, and
/// `nosniff`. Public so that other responses given on the capture origin can use it too.
pub async fn inert(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(response::CAPTURE_CSP),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn capture(state: State<CaptureState>, req: Request) -> Response {
    let resp = store_capture(state, req).await;
    count(&resp);
    resp
}

/// Counts a capture answer in the metrics: stored (it carries its request id, whatever
/// status the endpoint is configured to answer) or rejected, by reason.
fn count(resp: &Response) {
    if resp.headers().contains_key("x-hookvault-request-id") {
        hookvault_metrics::capture_accepted();
        return;
    }
    hookvault_metrics::capture_rejected(match resp.status() {
        StatusCode::NOT_FOUND => "unknown_endpoint",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::REQUEST_TIMEOUT => "too_slow",
        StatusCode::TOO_MANY_REQUESTS => "quota",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "other",
    });
}

async fn store_capture(State(state): State<CaptureState>, req: Request) -> Response {
    let started = tokio::time::Instant::now();
    let received_at = OffsetDateTime::now_utc();
    let (mut parts, body) = req.into_parts();
    let mut raw = parts.extensions.remove::<RawHead>();
    let target = match raw.as_mut() {
        Some(h) => std::mem::take(&mut h.target),
        None => parts.uri.to_string(),
    };
    let Some((token, path, query)) = split_target(&target) else {
        return plain(StatusCode::NOT_FOUND, "unknown capture URL");
    };

    let lookup = state.routes.get(&state.pool, token);
    let route = match tokio::time::timeout(CAPTURE_DEADLINE, lookup).await {
        Ok(Ok(Some(route))) => route,
        Ok(Ok(None)) => return plain(StatusCode::NOT_FOUND, "unknown capture URL"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "capture route lookup failed");
            return unavailable();
        }
        Err(_) => {
            tracing::warn!("capture route lookup timed out");
            return unavailable();
        }
    };

    if let Some(reason) = &route.suspended_reason {
        return suspended(reason);
    }
    if state.config.require_verified_email && !route.owner_verified {
        return unverified();
    }

    if let Err(wait) = state
        .quota
        .take(route.endpoint_id, std::time::Instant::now())
    {
        return over_quota(wait);
    }

    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The smaller of this process's limit and the account's plan's.
    let max_body = state.config.max_body_bytes.min(route.max_body_bytes);
    let read = body::read(
        body,
        max_body,
        declared,
        state.config.body_deadline,
        &state.budget,
    )
    .await;
    let body = match read {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(max_body),
        Err(BodyError::TooSlow) => return too_slow(state.config.body_deadline),
        Err(BodyError::BudgetFull) => {
            tracing::warn!("capture body budget full");
            return unavailable();
        }
        Err(BodyError::Broken) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
        }
    };

    let (version, mut header_list) = match raw {
        Some(h) => (h.version.to_string(), h.headers),
        None => (
            format!("{:?}", parts.version),
            parts
                .headers
                .iter()
                .map(|(n, v)| RawHeader::new(n.as_str(), v.as_bytes()))
                .collect(),
        ),
    };
    // A logged-in dashboard user who follows a link to this URL may have sent their session
    // cookie (same origin, or a shared host); it must never land in someone's captures.
    if headers::remove_session_cookies(&mut header_list) {
        tracing::debug!(endpoint.id = %route.endpoint_id, "dashboard session cookie removed from a capture");
    }
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let remote_addr = client_addr(peer, &header_list, &state.config.trusted_proxies);
    let content_type = headers::find(&header_list, "content-type")
        .map(|v| String::from_utf8_lossy(v).into_owned());

    let detected = provider::detect(&header_list, &body.bytes, content_type.as_deref());
    let verification = verify(&state, &route, &header_list, &body.bytes, received_at);

    let id = RequestId::now_v7();
    let capture = NewCapture {
        id,
        endpoint_id: route.endpoint_id,
        received_at,
        method: parts.method.as_str().to_string(),
        path: path.to_string(),
        query: query.map(str::to_string),
        http_version: version,
        remote_addr,
        headers: headers::encode(&header_list),
        content_type,
        body: body.bytes.clone(),
        provider: detected.provider,
        event_type: detected.event_type,
        event_id: detected.event_id,
        stripe: detected.stripe.map(|m| StripeFacts {
            livemode: m.livemode,
            api_version: m.api_version,
            event_created: m.created,
            object_id: m.object_id,
            object_type: m.object_type,
        }),
        signature_scheme: verification.as_ref().map(|v| v.scheme),
        signature_status: verification.as_ref().map(|v| v.status),
        signature_reason: verification.map(|v| v.reason),
    };
    let left = CAPTURE_DEADLINE.saturating_sub(started.elapsed());
    let written = tokio::time::timeout(left, state.writer.write(capture))
        .await
        .unwrap_or(Err(WriteError::TimedOut));
    drop(body);
    match written {
        Ok(_) => {}
        Err(WriteError::Unavailable) => return unavailable(),
        Err(WriteError::TimedOut) => {
            tracing::warn!(endpoint.id = %route.endpoint_id, "capture not committed in time");
            return unavailable();
        }
        Err(WriteError::OverQuota) => return over_monthly_quota(received_at),
        Err(WriteError::EndpointGone) => {
            state.routes.invalidate(token);
            return plain(StatusCode::NOT_FOUND, "unknown capture URL");
        }
        Err(WriteError::Failed(e)) => {
            tracing::error!(error = %e, endpoint.id = %route.endpoint_id, "capture not stored");
            return unavailable();
        }
    }
    tracing::debug!(endpoint.id = %route.endpoint_id, request.id = %id, "captured");
    configured_response(&route, id).await
}

/// Splits a raw request-target into (token, rest-of-path, query). Accepts origin-form
/// (`/in/t/x?q`) and absolute-form (`http://host/in/t/x?q`).
fn split_target(target: &str) -> Option<(&str, &str, Option<&str>)> {
    let origin = match target.find("://") {
        Some(i) => {
            let after = &target[i + 3..];
            &after[after.find('/')?..]
        }
        None => target,
    };
    let (path, query) = match origin.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (origin, None),
    };
    let rest = path.strip_prefix("/in/")?;
    let (token, suffix) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    (!token.is_empty()).then_some((token, suffix, query))
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy (the one rule, in core).
fn client_addr(peer: Option<SocketAddr>, headers: &[RawHeader], trusted: &[IpNet]) -> String {
    let Some(peer) = peer else {
        return String::new();
    };
    let forwarded = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("x-forwarded-for"))
        .map(|h| h.value.as_slice());
    hookvault_core::client_addr::client_ip(peer.ip(), forwarded, trusted).to_string()
}

/// Checks the signature when the endpoint has a scheme and secret.
fn verify(
    state: &CaptureState,
    route: &CaptureRoute,
    headers: &[RawHeader],
    body: &[u8],
    received_at: OffsetDateTime,
) -> Option<signing::Verification> {
    let scheme = route.signing_scheme?;
    let sealed = route.signing_secret_sealed.as_deref()?;
    let secret = state
        .secret_key
        .open(sealed, route.endpoint_id.as_bytes())
        .ok()
        .and_then(|s| String::from_utf8(s).ok())?;
    Some(signing::verify(
        scheme,
        headers,
        body,
        &secret,
        received_at.unix_timestamp(),
    ))
}

/// The endpoint's custom response. Stored responses were checked when they were saved, but the
/// rules may have tightened since: a status outside 200–599 becomes 200 and a header that is
/// no longer allowed is left out.
async fn configured_response(route: &CaptureRoute, id: RequestId) -> Response {
    let r = &route.response;
    if r.delay_ms > 0 {
        let delay = r.delay_ms.clamp(0, response::MAX_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(u64::try_from(delay).unwrap_or(0))).await;
    }
    let status = Some(r.status)
        .filter(|s| (response::MIN_STATUS..=response::MAX_STATUS).contains(s))
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut resp = Response::new(Body::from(r.body.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    for (name, value) in &r.headers {
        if response::check_header(name, value).is_err() {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    if let Ok(ct) = HeaderValue::from_str(&r.content_type) {
        h.insert(http::header::CONTENT_TYPE, ct);
    }
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        h.insert("x-hookvault-request-id", v);
    }
    resp
}

fn plain(status: StatusCode, msg: &'static str) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

fn too_large(limit: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("request body is larger than the limit of {limit} bytes; nothing was stored\n"),
    )
        .into_response()
}

/// 408, and the connection is closed: a sender this slow holds nothing of ours any longer.
fn too_slow(deadline: Duration) -> Response {
    (
        StatusCode::REQUEST_TIMEOUT,
        [
            (http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (http::header::CONNECTION, "close"),
        ],
        format!(
            "the request body did not arrive within {} s; nothing was stored\n",
            deadline.as_secs()
        ),
    )
        .into_response()
}

fn over_quota(wait: Duration) -> Response {
    let secs = wait.as_secs().max(1);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (
                http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (http::header::RETRY_AFTER, secs.to_string()),
        ],
        format!(
            "this endpoint's capture quota is used up; nothing was stored, retry in {secs} s\n"
        ),
    )
        .into_response()
}

/// Longest `Retry-After` given for a used-up monthly quota: senders such as Stripe keep
/// retrying for days, so they should come back within the hour rather than give up.
pub const MAX_QUOTA_RETRY_AFTER: i64 = 3600;

/// 429 for an account whose captures this month reached its plan's limit: `Retry-After` is the
/// time until the month (UTC) ends, at most [`MAX_QUOTA_RETRY_AFTER`].
fn over_monthly_quota(now: OffsetDateTime) -> Response {
    let secs = seconds_to_next_month(now).clamp(1, MAX_QUOTA_RETRY_AFTER);
    let body = format!(
        "{{\"error\":{{\"code\":\"quota_exceeded\",\"message\":\"this account's captures \
         for the month have reached its plan's limit; nothing was stored; retry in {secs} s \
         (the quota resets at the start of the next month, UTC)\"}}}}\n"
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (http::header::CONTENT_TYPE, "application/json".to_string()),
            (http::header::RETRY_AFTER, secs.to_string()),
        ],
        body,
    )
        .into_response()
}

/// Seconds from `now` to the first instant of the next calendar month, UTC.
fn seconds_to_next_month(now: OffsetDateTime) -> i64 {
    let now = now.to_offset(time::UtcOffset::UTC);
    let (year, month) = match now.month() {
        time::Month::December => (now.year() + 1, time::Month::January),
        m => (now.year(), m.next()),
    };
    time::Date::from_calendar_date(year, month, 1)
        .map(|d| (d.midnight().assume_utc() - now).whole_seconds())
        .unwrap_or(MAX_QUOTA_RETRY_AFTER)
}

/// 403 for a suspended account, with the operator's reason.
fn suspended(reason: &str) -> Response {
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect();
    (
        StatusCode::FORBIDDEN,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("this account is suspended: {reason}; nothing was stored\n"),
    )
        .into_response()
}

/// How long a sender is asked to wait before retrying a capture for an account whose email
/// is not verified yet.
const UNVERIFIED_RETRY_AFTER_SECS: u64 = 300;

/// 503 with `Retry-After` (`--require-verified-email`): the capture waits for the account's
/// verification. Nothing is stored; a sender that retries (Stripe and most providers retry
/// for days) gets it captured once the email is verified.
fn unverified() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (
                http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                http::header::RETRY_AFTER,
                UNVERIFIED_RETRY_AFTER_SECS.to_string(),
            ),
        ],
        "this endpoint's account has not verified its email address yet; nothing was stored, \
         retry later (captures are accepted once it is verified)\n",
    )
        .into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (http::header::RETRY_AFTER, "5"),
        ],
        "storage is unavailable; nothing was stored, please retry\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_with_suffix_and_raw_query_is_split_without_decoding() {
        assert_eq!(
            split_target("/in/tok/hooks/1/a%2Fb%20c?x=1&x=2&empty=&flag"),
            Some(("tok", "/hooks/1/a%2Fb%20c", Some("x=1&x=2&empty=&flag")))
        );
        assert_eq!(split_target("/in/tok"), Some(("tok", "", None)));
        assert_eq!(split_target("/in/tok?"), Some(("tok", "", Some(""))));
        assert_eq!(
            split_target("http://example.com/in/tok/a?b"),
            Some(("tok", "/a", Some("b")))
        );
        assert_eq!(split_target("/other"), None);
        assert_eq!(split_target("/in/"), None);
    }

    #[test]
    fn retry_after_counts_to_the_next_utc_month() {
        let t = time::macros::datetime!(2026-12-31 23:00 UTC);
        assert_eq!(seconds_to_next_month(t), 3600);
        let t = time::macros::datetime!(2026-02-28 23:59:59 UTC);
        assert_eq!(seconds_to_next_month(t), 1);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let hs = vec![RawHeader::new("X-Forwarded-For", "203.0.113.9, 10.0.0.2")];
        let proxy: SocketAddr = "10.0.0.1:443".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_addr(Some(proxy), &hs, &trusted), "203.0.113.9");
        assert_eq!(client_addr(Some(proxy), &hs, &[]), "10.0.0.1");
        let stranger: SocketAddr = "198.51.100.7:1234".parse().unwrap();
        assert_eq!(client_addr(Some(stranger), &hs, &trusted), "198.51.100.7");
    }
}
