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
        .route("/requests/{id}/pane", get(pane))
}

#[derive(Template)]
#[template(path = "requests/show.html")]
struct ShowPage {
    page: Page,
    r: RequestView,
    insight: super::insight::Insight,
    /// When retention deletes this capture (receive time + the plan's retention).
    expires_at: String,
    /// False: the full page (no "open as a page" link).
    pane: bool,
    /// The one-click replays and the token their forms carry.
    replay_to: OneClick,
    csrf: String,
}

/// The same content as the request page, without the layout: the inspector pane of the
/// endpoint page loads it when a row is opened (and renders it for `?r=`).
#[derive(Template)]
#[template(path = "requests/_detail.html")]
pub(crate) struct DetailPane {
    r: RequestView,
    insight: super::insight::Insight,
    expires_at: String,
    pane: bool,
    replay_to: OneClick,
    csrf: String,
}

/// The one-click replays of a capture: to the developer's dev server while a `hookvault
/// listen` is connected to the endpoint (`mode=cli`; the listener signs with its `--sign`),
/// and to the endpoint's last replay target ("Replay to …", `mode=last`) when one is remembered.
pub(crate) struct OneClick {
    /// What the connected `hookvault listen` forwards to.
    pub dev_server: Option<String>,
    /// The remembered last target's label.
    pub last: Option<String>,
    /// The scheme the capture's signature headers show (sent with the dev-server form).
    pub scheme: String,
}

async fn replay_to(
    state: &AppState,
    user: &CurrentUser,
    req: &StoredRequest,
) -> Result<OneClick, AppError> {
    let detected = hookvault_core::signing::detect_scheme(&req.headers).unwrap_or(Scheme::Original);
    Ok(OneClick {
        dev_server: crate::ops::replays::connected_listener(state, user.id, req.endpoint_id)
            .await?,
        last: crate::ops::last_target::find(state, user.id, req.endpoint_id)
            .await?
            .map(|l| l.label),
        scheme: detected.as_str().to_string(),
    })
}

impl DetailPane {
    /// One of the user's captures as the pane shows it.
    pub(crate) async fn load(
        state: &AppState,
        user: &CurrentUser,
        id: RequestId,
    ) -> Result<DetailPane, AppError> {
        let (req, url) = load_request(state, user, id).await?;
        let r = view(&req, &url)?;
        let insight = super::insight::Insight::load(state, user.id, &req).await?;
        let expires_at = expires_at(state, user, &req).await?;
        Ok(DetailPane {
            replay_to: replay_to(state, user, &req).await?,
            csrf: crate::auth::csrf_token(&user.session).await?,
            r,
            insight,
            expires_at,
            pane: true,
        })
    }

    pub(crate) fn endpoint_id(&self) -> EndpointId {
        self.r.endpoint_id
    }
}

/// Everything the request page shows, already turned into text.
pub struct RequestView {
    pub id: RequestId,
    /// What the capture is, for page titles: `checkout.session.completed · Stripe`, or the
    /// method and path when no event was detected.
    pub title: String,
    /// The URL it was sent to.
    pub url: String,
    /// The headers as `Name: value` lines, for copying.
    pub headers_text: String,
    /// The capture this one is an edited copy of.
    pub edited_from: Option<RequestId>,
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
    let expires_at = expires_at(&state, &user, &req).await?;
    render_page(&ShowPage {
        replay_to: replay_to(&state, &user, &req).await?,
        csrf: crate::auth::csrf_token(&user.session).await?,
        expires_at,
        page: Page::for_user(view.title.clone(), &user).await?,
        r: view,
        insight,
        pane: false,
    })
}

/// The inspector pane's content for one capture (an HTML fragment, escaped like every page).
async fn pane(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    render_page(&DetailPane::load(&state, &user, id).await?)
}

/// When retention deletes a capture, RFC 3339 (empty when the plan keeps captures forever).
async fn expires_at(
    state: &AppState,
    user: &CurrentUser,
    req: &StoredRequest,
) -> Result<String, AppError> {
    Ok(
        hookvault_store::plans::capture_expires_at(&state.pool, user.id, req.received_at)
            .await?
            .map(|t| crate::views::rfc3339(&t))
            .unwrap_or_default(),
    )
}

/// A capture's title: its event type and provider when detected, else its method and path.
pub(crate) fn capture_title(
    method: &str,
    path: &str,
    provider: Option<Provider>,
    event_type: Option<&str>,
) -> String {
    match (event_type.filter(|t| !t.is_empty()), provider) {
        (Some(t), Some(p)) => format!("{t} · {}", p.label()),
        (Some(t), None) => t.to_string(),
        (None, _) => format!("{method} {}", if path.is_empty() { "/" } else { path }),
    }
}

/// [`capture_title`] of a stored capture.
pub(crate) fn title_of(req: &StoredRequest) -> String {
    capture_title(
        &req.method,
        &req.path,
        req.provider,
        req.event_type.as_deref(),
    )
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
    let hs = &req.headers;
    let body = &req.body;
    let kind = render::body_kind(req.content_type.as_deref(), body);
    let shown = &body[..body.len().min(VIEW_LIMIT)];
    let json_html = (kind == BodyKind::Json && body.len() <= VIEW_LIMIT)
        .then(|| render::json_pretty_html(body))
        .flatten();
    let text = matches!(kind, BodyKind::Json | BodyKind::Form | BodyKind::Text)
        .then(|| String::from_utf8_lossy(shown).into_owned());
    let hex = (kind == BodyKind::Binary).then(|| render::hex_dump(body, 64 * 1024));
    let headers_text = hs
        .iter()
        .map(|h| format!("{}: {}", h.name, h.value_lossy()))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(RequestView {
        id: req.id,
        title: title_of(req),
        url: url.to_string(),
        headers_text,
        edited_from: req.edited_from,
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
        session_removed: headers::has_session_marker(hs),
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
        curl: render::curl_command(&req.method, url, hs, body),
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
