//! Downloads: one capture as HAR 1.2 or as a replay fixture, and a whole endpoint as NDJSON
//! (one `GET /api/v1/requests/{id}` object per line, newest first, streamed page by page).

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hookvault_core::export::{self, Capture};
use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_store::export::list_request_sizes;
use hookvault_store::requests::find_requests_by_ids;
use hookvault_store::requests::StoredRequest;
use hookvault_store::PgPool;

use crate::auth::CurrentUser;
use crate::batch::by_bytes;
use crate::error::AppError;
use crate::live::STALL_LIMIT;
use crate::state::AppState;
use crate::views::rfc3339_ms;

/// Captures listed per page of an NDJSON export.
const EXPORT_PAGE: i64 = 500;
/// Body bytes fetched per query within a page, so huge bodies are not all in memory at once.
const EXPORT_CHUNK_BYTES: usize = 8 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}/har", get(har))
        .route("/requests/{id}/fixture", get(fixture))
        .route("/endpoints/{id}/export.ndjson", get(ndjson))
}

async fn har(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    let (req, url) = super::requests::load_request(&state, &user, id).await?;
    let received = rfc3339_ms(&req.received_at);
    let doc = export::har(&capture(&req, &url, &req.headers, &received));
    Ok(download(
        doc.to_string(),
        "application/json",
        &format!("request-{id}.har"),
    ))
}

async fn fixture(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    let (req, url) = super::requests::load_request(&state, &user, id).await?;
    let received = rfc3339_ms(&req.received_at);
    let doc = export::fixture(&capture(&req, &url, &req.headers, &received));
    Ok(download(
        doc.to_string(),
        "application/json",
        &format!("request-{id}.fixture.json"),
    ))
}

async fn ndjson(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
) -> Result<Response, AppError> {
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let slot = state.heavy.enter(user.id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let user_id = user.id;
    tokio::spawn(async move {
        if let Err(e) = stream_ndjson(slot.pool(), user_id, id, &tx).await {
            // The status line is gone already; cutting the body short tells the client.
            tracing::error!(endpoint.id = %id, error = %e, "NDJSON export failed");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut resp = body.into_response();
    set_download_headers(
        &mut resp,
        "application/x-ndjson",
        &format!("endpoint-{id}.ndjson"),
    );
    Ok(resp)
}

/// Sends the endpoint's captures newest first, one JSON line each. Stops quietly when the
/// client goes away.
pub(super) async fn stream_ndjson(
    pool: &PgPool,
    user_id: UserId,
    endpoint_id: EndpointId,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), AppError> {
    let mut before = None;
    loop {
        let page = list_request_sizes(pool, user_id, endpoint_id, before, EXPORT_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        before = Some(last.seq);
        // Runs of captures whose bodies together stay under the byte budget.
        for run in by_bytes(&page, EXPORT_CHUNK_BYTES, |r| {
            usize::try_from(r.body_size).unwrap_or(0)
        }) {
            let ids: Vec<RequestId> = run.iter().map(|r| r.id).collect();
            let rows = find_requests_by_ids(pool, user_id, &ids).await?;
            let mut out = Vec::new();
            for r in &rows {
                let line = crate::ops::requests::request_json(r)?;
                serde_json::to_writer(&mut out, &line).map_err(AppError::internal)?;
                out.push(b'\n');
            }
            // A client that stops reading for a minute is let go.
            let sent = tokio::time::timeout(STALL_LIMIT, tx.send(Ok(Bytes::from(out)))).await;
            if !matches!(sent, Ok(Ok(()))) {
                return Ok(());
            }
        }
        if (page.len() as i64) < EXPORT_PAGE {
            return Ok(());
        }
    }
}

fn capture<'a>(
    req: &'a StoredRequest,
    url: &'a str,
    hs: &'a [hookvault_core::headers::RawHeader],
    received_at: &'a str,
) -> Capture<'a> {
    Capture {
        method: &req.method,
        url,
        path: &req.path,
        query: req.query.as_deref(),
        http_version: &req.http_version,
        headers: hs,
        body: &req.body,
        content_type: req.content_type.as_deref(),
        received_at,
    }
}

fn download(body: String, content_type: &'static str, filename: &str) -> Response {
    let mut resp = body.into_response();
    set_download_headers(&mut resp, content_type, filename);
    resp
}

/// An attachment that no browser renders in our origin. File names are built from UUIDs only.
pub(super) fn set_download_headers(
    resp: &mut Response,
    content_type: &'static str,
    filename: &str,
) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
}
