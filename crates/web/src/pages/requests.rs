//! One capture: overview, headers in arrival order, query, body views, raw download, curl.

use askama::Template;
use axum::extract::{Path, State};
use hookvault_core::ids::{EndpointId, RequestId};
use hookvault_core::provider::Provider;
use hookvault_core::signing::Scheme;

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use hookvault_core::headers::{self, RawHeader};
use hookvault_core::render::{self, BodyKind};
use hookvault_store::requests::{find_request, StoredRequest};

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render as render_page, rfc3339_ms, Page};

/// Bodies above this size are not pretty-printed or dumped in full on the page.
const VIEW_LIMIT: usize = 256 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}", get(show))
        .route("/requests/{id}/raw", get(raw))
}

#[derive(Template)]
#[template(path = "requests/show.html")]
struct ShowPage {
    page: Page,
    r: RequestView,
    insight: super::insight::Insight,
    /// When retention deletes this capture (receive time + the plan's retention).
    expires_at: String,
}

/// Everything the request page shows, already turned into text.
pub struct RequestView {
    pub id: RequestId,
    pub endpoint_id: EndpointId,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub http_version: String,
    pub remote_addr: String,
    pub received_at: String,
    pub size: String,
    pub content_type: String,
    pub provider: String,
    pub event_type: String,
    pub event_id: String,
    pub signature: Option<(String, String, String)>,
    pub headers: Vec<(String, String)>,
    /// A dashboard session cookie was removed from the `Cookie` header before storage.
    pub session_removed: bool,
    pub query_params: Vec<(String, String)>,
    pub form_fields: Vec<(String, String)>,
    /// Escaped, highlighted HTML produced by `render::json_pretty_html`.
    pub json_html: Option<String>,
    pub text: Option<String>,
    pub hex: Option<String>,
    pub empty: bool,
    pub utf8_warning: bool,
    pub curl: String,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    let (req, url) = load_request(&state, &user, id).await?;
    let view = view(&req, &url)?;
    let insight = super::insight::Insight::load(&state, user.id, &req).await?;
    let expires_at =
        hookvault_store::plans::capture_expires_at(&state.pool, user.id, req.received_at)
            .await?
            .map(|t| crate::views::rfc3339(&t))
            .unwrap_or_default();
    render_page(&ShowPage {
        expires_at,
        page: Page::for_user(format!("{} {}", view.method, view.path), &user).await?,
        r: view,
        insight,
    })
}

/// One of the user's captures and the URL it was sent to.
pub(crate) async fn load_request(
    state: &AppState,
    user: &CurrentUser,
    id: RequestId,
) -> Result<(StoredRequest, String), AppError> {
    let req = find_request(&state.pool, user.id, id).await?;
    let req = crate::usage::found(state, user.id, id, req).await?;
    let token = hookvault_store::endpoints::find_endpoint(&state.pool, user.id, req.endpoint_id)
        .await?
        .map(|e| e.token)
        .unwrap_or_default();
    let url = full_url(&state.capture_url(&token), &req.path, req.query.as_deref());
    Ok((req, url))
}

/// `url` is the URL the capture was sent to.
fn view(req: &StoredRequest, url: &str) -> Result<RequestView, AppError> {
    let hs = headers::decode(&req.headers).map_err(AppError::internal)?;
    let body = &req.body;
    let kind = render::body_kind(req.content_type.as_deref(), body);
    let shown = &body[..body.len().min(VIEW_LIMIT)];
    let json_html = (kind == BodyKind::Json && body.len() <= VIEW_LIMIT)
        .then(|| render::json_pretty_html(body))
        .flatten();
    let text = matches!(kind, BodyKind::Json | BodyKind::Form | BodyKind::Text)
        .then(|| String::from_utf8_lossy(shown).into_owned());
    let hex = (kind == BodyKind::Binary).then(|| render::hex_dump(body, 64 * 1024));
    Ok(RequestView {
        id: req.id,
        endpoint_id: req.endpoint_id,
        method: req.method.clone(),
        path: if req.path.is_empty() {
            "/".into()
        } else {
            req.path.clone()
        },
        query: req.query.clone(),
        http_version: req.http_version.clone(),
        remote_addr: req.remote_addr.clone(),
        received_at: rfc3339_ms(&req.received_at),
        size: format!(
            "{} ({} bytes)",
            render::human_size(body.len() as u64),
            body.len()
        ),
        content_type: req.content_type.clone().unwrap_or_default(),
        provider: req
            .provider
            .map(Provider::as_str)
            .unwrap_or_default()
            .to_owned(),
        event_type: req.event_type.clone().unwrap_or_default(),
        event_id: req.event_id.clone().unwrap_or_default(),
        signature: req.signature_status.as_ref().map(|s| {
            (
                req.signature_scheme
                    .map(Scheme::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                s.as_str().to_owned(),
                req.signature_reason.clone().unwrap_or_default(),
            )
        }),
        headers: hs
            .iter()
            .map(|h: &RawHeader| (h.name.clone(), h.value_lossy().into_owned()))
            .collect(),
        session_removed: headers::has_session_marker(&hs),
        query_params: req
            .query
            .as_deref()
            .map(render::query_params)
            .unwrap_or_default(),
        form_fields: if kind == BodyKind::Form {
            render::form_fields(shown)
        } else {
            Vec::new()
        },
        json_html,
        text,
        hex,
        empty: body.is_empty(),
        utf8_warning: !body.is_empty() && std::str::from_utf8(body).is_err(),
        curl: render::curl_command(&req.method, url, &hs, body),
    })
}

/// The URL a capture was sent to: the capture URL plus the raw path suffix and query.
pub(crate) fn full_url(capture_url: &str, path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{capture_url}{path}?{q}"),
        None => format!("{capture_url}{path}"),
    }
}

/// The body bytes exactly, as a download that no browser renders in our origin.
async fn raw(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    let req = find_request(&state.pool, user.id, id).await?;
    let req = crate::usage::found(&state, user.id, id, req).await?;
    Ok(crate::views::raw_body_response(
        req.body,
        req.content_type.as_deref(),
        id,
    ))
}
