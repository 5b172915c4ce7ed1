//! `POST /billing/stripe/webhook`: Hookvault's own Stripe webhook, built to the checklist.
//!
//! 1. The `Stripe-Signature` is checked over the **raw** body, with the same verifier that
//!    judges captures (`hookvault_core::signing`, 300 s tolerance); any failure — missing,
//!    malformed, wrong secret, stale — is `400` with a one-line reason, and nothing is stored.
//! 2. The event id is recorded under a unique key before any effect: a redelivery answers
//!    `200` and changes nothing.
//! 3. The answer comes at once; the work is a durable job ([`super::jobs`]), so a slow or
//!    failing step never makes Stripe time out.
//!
//! The route has no session and no CSRF check (Stripe is the caller, the signature is the
//! proof), a body-size limit and a deadline.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hookvault_core::billing::EventHead;
use hookvault_core::headers::RawHeader;
use hookvault_core::signing::{self, Scheme, SignatureStatus};

use crate::state::AppState;

/// Largest event accepted (Stripe's events are far smaller).
const MAX_EVENT_BYTES: usize = 512 * 1024;
/// The whole request (body and recording) must be done in this time.
const DEADLINE: Duration = Duration::from_secs(10);

/// The webhook route (mounted outside the session layer).
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/billing/stripe/webhook", post(receive))
}

fn answer(status: StatusCode, line: &str) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        format!("{line}\n"),
    )
        .into_response()
}

async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match tokio::time::timeout(DEADLINE, handle(&state, &headers, body)).await {
        Ok(resp) => resp,
        Err(_) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the event could not be recorded in time; Stripe will retry",
        ),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: Body) -> Response {
    let Some(billing) = &state.billing else {
        return answer(
            StatusCode::NOT_FOUND,
            "billing is not configured on this server",
        );
    };
    let body = match axum::body::to_bytes(body, MAX_EVENT_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the event is larger than 512 KiB or its body could not be read",
            )
        }
    };
    // The raw bytes, exactly as received, are what was signed.
    let signature: Vec<RawHeader> = headers
        .get("stripe-signature")
        .map(|v| RawHeader::new("Stripe-Signature", v.as_bytes().to_vec()))
        .into_iter()
        .collect();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verdict = signing::verify(
        Scheme::Stripe,
        &signature,
        &body,
        &billing.config.webhook_secret,
        now,
    );
    match verdict.status {
        SignatureStatus::Valid => {}
        SignatureStatus::ValidButStale => {
            tracing::warn!(reason = %verdict.reason, "billing webhook: stale signature");
            return answer(
                StatusCode::BAD_REQUEST,
                &format!("stale Stripe-Signature: {}", verdict.reason),
            );
        }
        _ => {
            tracing::warn!(reason = %verdict.reason, "billing webhook: signature refused");
            return answer(
                StatusCode::BAD_REQUEST,
                &format!("invalid Stripe-Signature: {}", verdict.reason),
            );
        }
    }
    let event: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return answer(StatusCode::BAD_REQUEST, "the body is not JSON"),
    };
    let head = match EventHead::parse(&event) {
        Ok(h) => h,
        Err(why) => return answer(StatusCode::BAD_REQUEST, why),
    };
    // An event of the other mode (a live event at a server with a test key, or the reverse)
    // is recorded but never acted on: its objects do not exist for our key.
    let same_mode = head.matches_mode(hookvault_core::billing::key_is_live(
        &billing.config.secret_key,
    ));
    if !same_mode {
        tracing::warn!(billing.event_id = %head.id, "billing event of the other mode (live/test) than the secret key; ignored");
    }
    let handled = head.is_handled() && same_mode;
    match hookvault_store::billing::insert_event(
        &state.pool,
        &head.id,
        &head.kind,
        head.created,
        &event,
        handled,
    )
    .await
    {
        Ok(true) => {
            tracing::info!(
                billing.event_id = %head.id,
                billing.event_type = %head.kind,
                billing.handled = handled,
                "billing event recorded"
            );
            if handled {
                billing.wake.notify_one();
            }
            answer(
                StatusCode::OK,
                if handled {
                    "received"
                } else if !same_mode {
                    "received; an event of the other mode (live/test) than this server's Stripe key is ignored"
                } else {
                    "received; this event type is ignored"
                },
            )
        }
        Ok(false) => {
            tracing::info!(billing.event_id = %head.id, "billing event delivered again; ignored");
            answer(StatusCode::OK, "received already; nothing changed")
        }
        Err(e) => {
            tracing::error!(error = %e, "recording a billing event failed");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event could not be recorded; Stripe will retry",
            )
        }
    }
}
