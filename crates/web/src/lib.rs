//! Hookvault's web face: dashboard pages, accounts and sessions, live updates and the JSON API.

mod access;
mod api;
mod api_audits;
mod api_extract;
pub(crate) mod api_replays;
pub mod api_routes;
mod auth;
mod batch;
mod billing;
mod cli_stream;
mod error;
mod flash;
mod heavy;
mod live;
mod mail;
pub mod openapi;
mod ops;
mod pages;
mod security;
mod state;
mod throttle;
mod usage;
mod views;

pub use billing::{run_worker as run_billing_worker, Billing, BillingConfig};
pub use heavy::HeavyShare;
pub use live::Hub;
pub use mail::{AccountsConfig, MailSetupError, Mailer};
pub use ops::accounts::resume_deletions;
pub use ops::rechecks::resume_rechecks;
pub use state::{AppState, WebConfig};

use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// Creates the session table if needed and starts the expired-session sweeper.
pub async fn session_store(
    pool: &hookvault_store::PgPool,
) -> Result<PostgresStore, sqlx_error::Error> {
    let store = PostgresStore::new(pool.clone());
    store.migrate().await?;
    Ok(store)
}

mod sqlx_error {
    pub use tower_sessions_sqlx_store::sqlx::Error;
}

/// The dashboard and API routes (everything but capture), with sessions and security headers.
pub fn router(mut state: AppState, sessions: PostgresStore) -> Router {
    let secure = state.config.public_url.starts_with("https://");
    state.sessions = Some(sessions.clone());
    let session_layer = SessionManagerLayer::new(sessions)
        // Capture replaces these cookies' values before storing a request
        // (`hookvault_core::headers::remove_session_cookies`), so keep the names there.
        .with_name(if secure {
            hookvault_core::headers::SESSION_COOKIES[1]
        } else {
            hookvault_core::headers::SESSION_COOKIES[0]
        })
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::days(7),
        ));
    Router::new()
        .merge(pages::router())
        .merge(auth::router())
        .merge(live::router())
        .merge(api_routes::api().into_router())
        .merge(billing::page::router())
        .layer(session_layer)
        // Stripe calls the billing webhook: no session, no CSRF; its signature is the proof.
        .merge(billing::webhook::router())
        .merge(security::static_router())
        .merge(security::health_router())
        .layer(axum::middleware::from_fn_with_state(
            security::Hsts(secure),
            security::headers,
        ))
        // Every dashboard and API request gets an id (`X-Request-Id`; one the client sent is
        // kept, as a correlation id only) and a span carrying it,
        // so every log line of the request says which request it belongs to. The query is
        // left out of the span: it may hold a search or a token.
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    request.id = %id,
                    http.method = %req.method(),
                    http.path = %req.uri().path(),
                )
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}
