//! What every page template shares, and small formatting helpers for templates.

use askama::Template;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use hookvault_core::ids::RequestId;
use hookvault_core::signing::SignatureStatus;
use hookvault_store::requests::RequestSummary;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::auth::{csrf_token, CurrentUser};
use crate::error::AppError;

/// Layout data for `base.html`: the title, the signed-in user's email (for the header) and the
/// CSRF token forms must carry.
pub struct Page {
    pub title: String,
    pub email: Option<String>,
    pub csrf: String,
    /// The signed-in account's email is not verified yet: the layout shows a banner (issue 13).
    pub unverified: bool,
    /// A notice or a form's refusal carried from the previous request (`crate::flash`).
    pub flash: crate::flash::Flash,
}

impl Page {
    pub async fn anonymous(title: &str, session: &Session) -> Result<Self, AppError> {
        Ok(Page {
            title: title.to_string(),
            email: None,
            csrf: csrf_token(session).await?,
            unverified: false,
            flash: crate::flash::take(session).await?,
        })
    }

    pub async fn for_user(title: impl Into<String>, user: &CurrentUser) -> Result<Self, AppError> {
        Ok(Page {
            title: title.into(),
            email: Some(user.email.clone()),
            csrf: csrf_token(&user.session).await?,
            unverified: !user.email_verified,
            flash: crate::flash::take(&user.session).await?,
        })
    }
}

/// Renders a template into an HTML response.
pub fn render(t: &impl Template) -> Result<Response, AppError> {
    Ok(Html(t.render()?).into_response())
}

/// Percent-encodes a value for a URL query (everything but RFC 3986 unreserved characters).
pub fn url_component(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// RFC 3339 UTC, to the second.
pub fn rfc3339(t: &OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// RFC 3339 UTC with milliseconds (API).
pub fn rfc3339_ms(t: &OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let ms = t.millisecond();
    t.replace_nanosecond(u32::from(ms) * 1_000_000)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A capture as a row of the request list.
pub struct RequestRow {
    pub id: RequestId,
    pub seq: i64,
    pub method: String,
    pub path: String,
    pub size: String,
    pub content_type: String,
    pub received_at: String,
    pub event: String,
    /// Signature status (`valid`, …) and its reason; empty when the endpoint checks nothing.
    pub sig_status: String,
    pub sig_reason: String,
    /// An edited copy made in the dashboard.
    pub edited: bool,
}

impl From<RequestSummary> for RequestRow {
    fn from(r: RequestSummary) -> Self {
        let path = match &r.query {
            Some(q) => format!("{}?{q}", if r.path.is_empty() { "/" } else { &r.path }),
            None if r.path.is_empty() => "/".to_string(),
            None => r.path.clone(),
        };
        RequestRow {
            id: r.id,
            seq: r.seq,
            method: r.method,
            path,
            size: hookvault_core::render::human_size(u64::try_from(r.body_size).unwrap_or(0)),
            content_type: r.content_type.unwrap_or_default(),
            received_at: rfc3339(&r.received_at),
            event: r.event_type.unwrap_or_default(),
            sig_status: r
                .signature_status
                .map(SignatureStatus::as_str)
                .unwrap_or_default()
                .to_owned(),
            sig_reason: r.signature_reason.unwrap_or_default(),
            edited: r.edited_from.is_some(),
        }
    }
}

/// One row of the request list as HTML: the page renders its rows with the same template, so a
/// row that arrives live is identical to one that was there on load.
#[derive(Template)]
#[template(path = "endpoints/_row.html")]
pub struct RequestRowHtml {
    pub r: RequestRow,
}

impl From<RequestSummary> for RequestRowHtml {
    fn from(r: RequestSummary) -> Self {
        RequestRowHtml { r: r.into() }
    }
}

/// Serves captured body bytes unchanged, as a download (page and API alike: a browser that
/// opens the link must not render hostile bytes in our origin), sandboxed and never sniffed.
pub(crate) fn raw_body_response(
    body: Vec<u8>,
    content_type: Option<&str>,
    id: RequestId,
) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    let ct = content_type
        .and_then(|c| HeaderValue::from_str(c).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"request-{id}.bin\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
