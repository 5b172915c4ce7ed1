//! "Audit a handler" on a capture's page: a form (the handler's URL, the signing scheme and
//! secret it verifies with), the capture's past audits, and one page per audit showing its
//! scorecard, which reloads itself (HTTP `Refresh`) while the probes are being sent.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use hookvault_core::audit::{Outcome, ProbeResult, Report};
use hookvault_core::ids::{AuditId, RequestId};
use hookvault_core::signing::Scheme;
use hookvault_core::stored::AuditStatus;
use hookvault_store::audits::{self as store, AuditRow};
use serde::Deserialize;

use crate::auth::{CheckedForm, CurrentUser};
use crate::error::{AppError, Invalid};
use crate::ops::audits::{report_of, start_audit};
use crate::state::AppState;
use crate::views::{render, rfc3339, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}/audit", get(request_page).post(start))
        .route("/audits/{id}", get(show))
}

/// A past audit in the capture's list.
struct AuditItem {
    id: AuditId,
    created_at: String,
    target: String,
    scheme: String,
    status: String,
    verdict: String,
}

impl AuditItem {
    fn from_row(r: &AuditRow) -> AuditItem {
        let verdict = match report_of(r) {
            Some(report) => hookvault_core::audit::summary_line(&report),
            None => r.error.clone().unwrap_or_default(),
        };
        AuditItem {
            id: r.id,
            created_at: rfc3339(&r.created_at),
            target: r.target_url.clone(),
            scheme: r.scheme.to_string(),
            status: r.status.to_string(),
            verdict,
        }
    }
}

#[derive(Template)]
#[template(path = "audits/request.html")]
struct RequestPage {
    page: Page,
    request_id: RequestId,
    summary: String,
    schemes: Vec<(&'static str, &'static str)>,
    scheme: String,
    target_url: String,
    /// The refusal, with the field it is shown next to (`target_url`, `scheme`, `secret`, or
    /// `""` for the form).
    error: Option<Invalid>,
    audits: Vec<AuditItem>,
}

impl RequestPage {
    /// The error, when it is about `field` (`""`: the form as a whole).
    fn error_at(&self, field: &str) -> Option<&str> {
        self.error.as_ref()?.at(field)
    }
}

async fn request_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    render_request_page(&state, &user, id, None, None).await
}

async fn render_request_page(
    state: &AppState,
    user: &CurrentUser,
    id: RequestId,
    error: Option<Invalid>,
    form: Option<&AuditForm>,
) -> Result<Response, AppError> {
    let found = hookvault_store::requests::find_request(&state.pool, user.id, id).await?;
    let req = crate::usage::found(state, user.id, id, found).await?;
    store::close_stale_audits(&state.pool, user.id).await?;
    let audits = store::list_request_audits(&state.pool, user.id, id, 20)
        .await?
        .iter()
        .map(AuditItem::from_row)
        .collect();
    // The scheme the capture was signed with is the likely one.
    let captured = req.signature_scheme.filter(|s| s.signs());
    let failed = error.is_some();
    let mut resp = render(&RequestPage {
        page: Page::for_user(format!("Audit · {}", super::requests::title_of(&req)), user).await?,
        request_id: id,
        summary: format!(
            "{} {}{}",
            req.method,
            if req.path.is_empty() { "/" } else { &req.path },
            req.event_type
                .as_deref()
                .map(|t| format!(" · {t}"))
                .unwrap_or_default()
        ),
        schemes: Scheme::ALL
            .iter()
            .filter(|s| s.signs())
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        scheme: form
            .map(|f| f.scheme.clone())
            .or(captured.map(|s| s.as_str().to_owned()))
            .unwrap_or_else(|| "stripe".to_owned()),
        target_url: form.map(|f| f.target_url.clone()).unwrap_or_default(),
        error: error.map(|e| Invalid {
            field: form.map_or("", |f| {
                super::replay_fields::url_field(&f.target_url, e.field)
            }),
            ..e
        }),
        audits,
    })?;
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

#[derive(Deserialize, Default)]
struct AuditForm {
    #[serde(default)]
    target_url: String,
    #[serde(default)]
    scheme: String,
    #[serde(default)]
    secret: String,
}

async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
    CheckedForm(form): CheckedForm<AuditForm>,
) -> Result<Response, AppError> {
    let started = start_audit(
        &state,
        user.id,
        id,
        &form.target_url,
        Some(form.scheme.as_str()).filter(|s| !s.is_empty()),
        Some(form.secret.as_str()).filter(|s| !s.is_empty()),
    )
    .await;
    match started {
        Ok(audit_id) => Ok(Redirect::to(&format!("/audits/{audit_id}")).into_response()),
        Err(AppError::Unprocessable(invalid)) => {
            render_request_page(&state, &user, id, Some(invalid), Some(&form)).await
        }
        Err(AppError::TooManyRequests(msg)) => {
            render_request_page(&state, &user, id, Some(msg.into()), Some(&form)).await
        }
        Err(e) => Err(e),
    }
}

/// One probe as the page shows it.
struct ProbeLine {
    mark: &'static str,
    outcome: &'static str,
    number: u8,
    title: String,
    sent: String,
    status: String,
    latency: String,
    expected: String,
    /// The explanation of a failure, the warning of a pass, or why it was skipped.
    detail: Option<String>,
    warning: bool,
}

impl ProbeLine {
    fn from_result(r: &ProbeResult) -> ProbeLine {
        let (mark, outcome) = match r.outcome {
            Outcome::Pass => ("✔", "pass"),
            Outcome::Fail => ("✘", "fail"),
            Outcome::Skipped => ("–", "skipped"),
        };
        ProbeLine {
            mark,
            outcome,
            number: r.number,
            title: r.title.clone(),
            sent: r.sent.clone(),
            status: match (r.outcome, r.status, &r.error) {
                (Outcome::Skipped, _, _) => "skipped".to_owned(),
                (_, Some(s), _) => s.to_string(),
                (_, None, Some(e)) => format!("no answer: {e}"),
                _ => String::new(),
            },
            latency: r
                .latency_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_default(),
            expected: r.expected.clone(),
            detail: r
                .explanation
                .clone()
                .or_else(|| r.warning.clone())
                .or_else(|| r.skip_reason.clone()),
            warning: r.warning.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "audits/show.html")]
struct ShowPage {
    page: Page,
    request_id: RequestId,
    target: String,
    scheme: String,
    status: String,
    started: String,
    running: bool,
    error: Option<String>,
    event: String,
    requests: usize,
    spacing_ms: u64,
    probes: Vec<ProbeLine>,
    notes: Vec<String>,
    verdict: String,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<AuditId>,
) -> Result<Response, AppError> {
    store::close_stale_audits(&state.pool, user.id).await?;
    let row = store::find_audit(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let report: Option<Report> = report_of(&row);
    let running = row.status == AuditStatus::Running;
    let event = report
        .as_ref()
        .map(|r| {
            [
                r.event.provider.as_deref(),
                r.event.event_type.as_deref(),
                r.event.event_id.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
        })
        .unwrap_or_default();
    // Titled by the audited capture (while it is kept).
    let title = match hookvault_store::requests::find_request(&state.pool, user.id, row.request_id)
        .await?
    {
        Some(req) => format!("Audit result · {}", super::requests::title_of(&req)),
        None => "Audit result".to_string(),
    };
    let mut resp = render(&ShowPage {
        page: Page::for_user(title, &user).await?,
        request_id: row.request_id,
        target: row.target_url.clone(),
        scheme: row.scheme.to_string(),
        status: row.status.to_string(),
        started: rfc3339(&row.created_at),
        running,
        error: row.error.clone(),
        event,
        requests: report.as_ref().map_or(0, |r| r.requests),
        spacing_ms: report.as_ref().map_or(0, |r| r.spacing_ms),
        probes: report
            .as_ref()
            .map(|r| r.probes.iter().map(ProbeLine::from_result).collect())
            .unwrap_or_default(),
        notes: report.as_ref().map(|r| r.notes.clone()).unwrap_or_default(),
        verdict: report
            .as_ref()
            .map(hookvault_core::audit::summary_line)
            .unwrap_or_default(),
    })?;
    if running {
        // Reload until the report is there (works without JavaScript).
        resp.headers_mut()
            .insert(header::REFRESH, HeaderValue::from_static("2"));
    }
    Ok(resp)
}
