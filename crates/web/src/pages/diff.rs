//! Comparing two captures: `GET /requests/{a}/diff/{b}` shows what changed going from `a` to
//! `b` — headers by name, JSON bodies by path. Both must belong to the user (else 404).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use hookvault_core::diff::{self, BodyDiff, HeaderChange, JsonChange};
use hookvault_core::ids::RequestId;
use hookvault_store::requests::{find_request, StoredRequest};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, rfc3339_ms, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}/diff", get(pick))
        .route("/requests/{a}/diff/{b}", get(show))
}

#[derive(Deserialize)]
struct PickQuery {
    #[serde(default)]
    with: String,
}

/// The "compare with request id" form: redirects to the diff page.
async fn pick(Path(id): Path<RequestId>, Query(q): Query<PickQuery>) -> Result<Response, AppError> {
    let other: RequestId = q
        .with
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("That is not a request id."))?;
    Ok(Redirect::to(&format!("/requests/{id}/diff/{other}")).into_response())
}

/// One side of the comparison.
struct Side {
    id: RequestId,
    label: String,
}

#[derive(Template)]
#[template(path = "requests/diff.html")]
struct DiffPage {
    page: Page,
    a: Side,
    b: Side,
    headers: Vec<HeaderChange>,
    body_identical: bool,
    json_changes: Option<Vec<JsonChange>>,
    truncated: bool,
    /// (old size, new size) when the bodies are not both JSON and differ.
    byte_sizes: Option<(usize, usize)>,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((a, b)): Path<(RequestId, RequestId)>,
) -> Result<Response, AppError> {
    let ra = find_request(&state.pool, user.id, a).await?;
    let ra = crate::usage::found(&state, user.id, a, ra).await?;
    let rb = find_request(&state.pool, user.id, b).await?;
    let rb = crate::usage::found(&state, user.id, b, rb).await?;
    let (body_identical, json_changes, truncated, byte_sizes) = match diff::body(&ra.body, &rb.body)
    {
        BodyDiff::Identical => (true, None, false, None),
        BodyDiff::Json { changes, truncated } => (false, Some(changes), truncated, None),
        BodyDiff::Bytes { old_size, new_size } => (false, None, false, Some((old_size, new_size))),
    };
    render(&DiffPage {
        page: Page::for_user(
            format!(
                "Compare · {} with {}",
                super::requests::title_of(&ra),
                super::requests::title_of(&rb)
            ),
            &user,
        )
        .await?,
        a: side(&ra),
        b: side(&rb),
        headers: diff::headers(&ra.headers, &rb.headers),
        body_identical,
        json_changes,
        truncated,
        byte_sizes,
    })
}

fn side(r: &StoredRequest) -> Side {
    let mut label = format!(
        "{} {}",
        r.method,
        if r.path.is_empty() { "/" } else { &r.path }
    );
    if let Some(t) = &r.event_type {
        label.push_str(" · ");
        label.push_str(t);
    }
    label.push_str(" · ");
    label.push_str(&rfc3339_ms(&r.received_at));
    Side { id: r.id, label }
}
