//! Hookvault's web face: dashboard pages, accounts and sessions, live updates and the JSON API.

mod access;
mod api;
mod api_audits;
pub(crate) mod api_replays;
mod auth;
mod batch;
mod cli_stream;
mod error;
mod heavy;
mod live;
mod pages;
mod security;
mod state;
mod throttle;
mod usage;
mod views;

pub use live::Hub;
pub use state::{AppState, WebConfig};

use axum::Router;
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
        .merge(api::router())
        .merge(cli_stream::router())
        .merge(api_replays::router())
        .merge(api_audits::router())
        .merge(usage::router())
        .layer(session_layer)
        .merge(security::static_router())
        .merge(security::health_router())
        .layer(axum::middleware::from_fn_with_state(
            security::Hsts(secure),
            security::headers,
        ))
        .with_state(state)
}
