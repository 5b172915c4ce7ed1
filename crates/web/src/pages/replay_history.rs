//! Replay history as the pages show it: the rows of a capture's or an endpoint's history,
//! rendered with the replay pages and alone (`…/replays/rows`) for the pages' script to refresh
//! while a replay is pending — one renderer for both.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_core::stored::ReplayStatus;
use hookvault_store::replays::{self as store, ReplaySummary};

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, rfc3339};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}/replays/rows", get(request_history_rows))
        .route("/endpoints/{id}/replays/rows", get(endpoint_history_rows))
}

/// A replay in a history table.
pub struct ReplayRow {
    pub request_id: RequestId,
    pub created_at: String,
    pub target: String,
    pub scheme: String,
    pub status: ReplayStatus,
    pub outcome: String,
    pub duration: String,
    pub excerpt: String,
}

impl From<ReplaySummary> for ReplayRow {
    fn from(r: ReplaySummary) -> Self {
        let outcome = match (&r.last_status_code, &r.last_error) {
            (_, Some(e)) => e.clone(),
            (Some(code), None) => code.to_string(),
            (None, None) => String::new(),
        };
        ReplayRow {
            request_id: r.request_id,
            created_at: rfc3339(&r.created_at),
            target: if r.to_cli && r.target_url.is_empty() {
                "hookvault listen (waiting for one to connect; expires a day after it was asked)"
                    .to_string()
            } else if r.to_cli {
                format!("hookvault listen → {}", r.target_url)
            } else {
                r.target_url
            },
            scheme: r.scheme.to_string(),
            status: r.status,
            outcome,
            duration: r
                .last_duration_ms
                .map(|d| format!("{d} ms"))
                .unwrap_or_default(),
            excerpt: r
                .last_response_excerpt
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
        }
    }
}

/// How many replays a history shows: a capture's last 50, an endpoint's last 100 (the page
/// and its refreshed rows alike).
fn history_limit(scope: store::HistoryScope) -> i64 {
    match scope {
        store::HistoryScope::Request(_) => 50,
        store::HistoryScope::Endpoint(_) => 100,
    }
}

/// A capture's or an endpoint's replay history as the page shows it, newest first.
pub(super) async fn history(
    state: &AppState,
    user_id: UserId,
    scope: store::HistoryScope,
) -> Result<Vec<ReplayRow>, AppError> {
    Ok(
        store::list_replays(&state.pool, user_id, scope, None, history_limit(scope))
            .await?
            .into_iter()
            .map(ReplayRow::from)
            .collect(),
    )
}

/// The rows of a replay history alone (`_history.html` renders the same rows with the page).
#[derive(Template)]
#[template(path = "replays/_history_rows.html")]
struct HistoryRows {
    history: Vec<ReplayRow>,
}

/// `GET /requests/{id}/replays/rows`: a capture's replay history rows, for the page's script
/// to refresh them while replays are pending.
async fn request_history_rows(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    store::find_request_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let history = history(&state, user.id, store::HistoryScope::Request(id)).await?;
    render(&HistoryRows { history })
}

/// `GET /endpoints/{id}/replays/rows`: an endpoint's replay history rows.
async fn endpoint_history_rows(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
) -> Result<Response, AppError> {
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let history = history(&state, user.id, store::HistoryScope::Endpoint(id)).await?;
    render(&HistoryRows { history })
}
