//! Replay pages: the replay form and history of one capture, bulk replay of selected captures,
//! and an endpoint's replay history, saved targets and connected CLIs.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hookvault_core::ids::{BatchId, EndpointId, RequestId, TargetId, UserId};
use hookvault_core::signing::Scheme;
use hookvault_store::replays as store;
use serde::Deserialize;

use super::replay_history::{history, ReplayRow};
use crate::auth::{CheckedForm, CurrentUser};
use crate::error::{AppError, Invalid};
use crate::ops::last_target;
use crate::ops::replays::{queue_one, save_target, SigningBody, TargetBody};
use crate::state::AppState;
use crate::views::{render, rfc3339, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}/replay", get(request_page).post(replay_one))
        .route("/endpoints/{id}/replays", get(endpoint_page))
        .route("/endpoints/{id}/targets", post(create_target))
        .route(
            "/targets/{id}/delete",
            get(delete_target_page).post(delete_target),
        )
}

/// A saved target as a choice.
pub struct TargetRow {
    pub id: TargetId,
    pub name: String,
    pub url: String,
    pub scheme: String,
    pub max_attempts: i32,
}

/// A connected `hookvault listen`.
pub struct CliRow {
    pub forward_to: String,
    pub connected_at: String,
}

/// What the replay form offers (shared by the single and the bulk form).
pub struct FormChoices {
    pub schemes: Vec<(&'static str, &'static str)>,
    pub targets: Vec<TargetRow>,
    pub clis: Vec<CliRow>,
    /// The refusal, with the field it is shown next to (`target_url`, `scheme`, `secret`,
    /// `target_id`, or `""` for the form as a whole).
    pub error: Option<Invalid>,
    /// `url`, `saved` or `cli`: which "Send to" choice is ticked — what was sent back with an
    /// error, else the connected `hookvault listen` when there is one, else the last target.
    pub mode: String,
    pub target_url: String,
    /// The saved target chosen (when `mode` is `saved`).
    pub target_id: String,
    pub scheme: String,
    /// A secret is remembered for the pre-filled URL and scheme.
    pub secret_remembered: bool,
    /// "Replay to …": the endpoint's last target, when one is remembered.
    pub last_label: Option<String>,
}

/// What the replay form offers and holds: the form as sent back (after an error), else the
/// endpoint's last target pre-filled, with the scheme of the capture's detected provider
/// (`detected`) or else the last target's.
pub(super) async fn choices(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    error: Option<Invalid>,
    form: Option<&ReplayForm>,
    detected: Option<Scheme>,
) -> Result<FormChoices, AppError> {
    let targets = store::list_replay_targets(&state.pool, user_id, endpoint_id)
        .await?
        .into_iter()
        .map(|t| TargetRow {
            id: t.id,
            name: t.name,
            url: t.url,
            scheme: t.scheme.to_string(),
            max_attempts: t.max_attempts,
        })
        .collect();
    let clis: Vec<CliRow> =
        hookvault_store::cli::list_cli_sessions(&state.pool, user_id, endpoint_id)
            .await?
            .into_iter()
            .map(|c| CliRow {
                forward_to: c.forward_to,
                connected_at: rfc3339(&c.connected_at),
            })
            .collect();
    let last = last_target::find(state, user_id, endpoint_id).await?;
    let (mode, target_url, target_id, scheme) = match (form, &last) {
        (Some(f), _) if f.mode != "last" => (
            f.mode.clone(),
            f.target_url.clone(),
            f.target_id.clone(),
            f.scheme.clone(),
        ),
        (_, Some(l)) => match l.target_id {
            Some(id) => (
                "saved".to_string(),
                String::new(),
                id.to_string(),
                detected.unwrap_or(l.scheme).as_str().to_string(),
            ),
            None => (
                "url".to_string(),
                l.url.clone(),
                String::new(),
                detected.unwrap_or(l.scheme).as_str().to_string(),
            ),
        },
        _ => (
            "url".to_string(),
            String::new(),
            String::new(),
            detected.unwrap_or(Scheme::Original).as_str().to_string(),
        ),
    };
    // While a `hookvault listen` is connected, "my dev server" is the default target (the
    // last URL stays pre-filled beside it).
    let mode = match (form, mode.as_str()) {
        (Some(f), _) if f.mode != "last" => match f.mode.as_str() {
            m @ ("url" | "saved" | "cli") => m.to_string(),
            _ => "url".to_string(),
        },
        _ if !clis.is_empty() => "cli".to_string(),
        (_, m) => m.to_string(),
    };
    let secret_remembered = last.as_ref().is_some_and(|l| {
        l.secret_set && l.target_id.is_none() && l.url == target_url && l.scheme.as_str() == scheme
    });
    let error = error.map(|e| Invalid {
        field: form.map_or("", |f| super::replay_fields::replay_form_field(f, e.field)),
        ..e
    });
    Ok(FormChoices {
        schemes: Scheme::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        targets,
        clis,
        error,
        mode,
        target_url,
        target_id,
        scheme,
        secret_remembered,
        last_label: last.map(|l| l.label),
    })
}

#[derive(Template)]
#[template(path = "replays/request.html")]
struct RequestPage {
    page: Page,
    request_id: RequestId,
    endpoint_id: EndpointId,
    summary: String,
    form: FormChoices,
    history: Vec<ReplayRow>,
    history_source: String,
    pending: bool,
    /// A freshly signed curl command for the chosen target ("Copy as curl").
    signed_curl: Option<String>,
}

async fn request_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    render_request_page(&state, &user, id, None, None, None).await
}

async fn render_request_page(
    state: &AppState,
    user: &CurrentUser,
    id: RequestId,
    error: Option<Invalid>,
    form: Option<&ReplayForm>,
    signed_curl: Option<String>,
) -> Result<Response, AppError> {
    let req = hookvault_store::requests::find_request(&state.pool, user.id, id).await?;
    let req = crate::usage::found(state, user.id, id, req).await?;
    let detected = hookvault_core::signing::detect_scheme(&req.headers);
    let history = history(state, user.id, store::HistoryScope::Request(id)).await?;
    let failed = error.is_some();
    let mut resp = render(&RequestPage {
        page: Page::for_user(
            format!("Replay · {}", super::requests::title_of(&req)),
            user,
        )
        .await?,
        request_id: id,
        endpoint_id: req.endpoint_id,
        summary: format!(
            "{} {}{}",
            req.method,
            if req.path.is_empty() { "/" } else { &req.path },
            req.event_type
                .as_deref()
                .map(|t| format!(" · {t}"))
                .unwrap_or_default()
        ),
        form: choices(state, user.id, req.endpoint_id, error, form, detected).await?,
        signed_curl,
        history_source: format!("/requests/{id}/replays/rows"),
        pending: history.iter().any(|r| !r.status.is_finished()),
        history,
    })?;
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// The replay form: where to (a URL, a saved target or the connected CLI) and how to sign.
#[derive(Deserialize, Default)]
pub(super) struct ReplayForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) mode: String,
    #[serde(default)]
    pub(super) target_url: String,
    #[serde(default)]
    pub(super) scheme: String,
    #[serde(default)]
    pub(super) secret: String,
    #[serde(default)]
    pub(super) target_id: String,
    #[serde(default)]
    pub(super) order: String,
    /// `curl`: show a freshly signed curl command instead of sending.
    #[serde(default)]
    pub(super) action: String,
}

impl ReplayForm {
    fn target(&self) -> Result<TargetBody, AppError> {
        Ok(match self.mode.as_str() {
            "cli" => TargetBody {
                to_cli: true,
                ..TargetBody::default()
            },
            "saved" => TargetBody {
                target_id: Some(
                    self.target_id
                        .parse()
                        .map_err(|_| AppError::invalid("Choose a saved target."))?,
                ),
                ..TargetBody::default()
            },
            _ => TargetBody {
                target_url: Some(self.target_url.trim().to_string()),
                signing: Some(SigningBody {
                    scheme: Some(self.scheme.clone()).filter(|s| !s.is_empty()),
                    secret: Some(self.secret.clone()).filter(|s| !s.is_empty()),
                }),
                ..TargetBody::default()
            },
        })
    }
}

/// The target a page form names: the endpoint's last target (`mode=last`, "Replay to …"), or
/// the form's choice, using the remembered secret for the remembered URL and scheme.
pub(super) async fn form_target(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    form: &ReplayForm,
) -> Result<TargetBody, AppError> {
    let last = last_target::find(state, user_id, endpoint_id).await?;
    if form.mode == "last" {
        return last
            .ok_or_else(|| {
                AppError::invalid(
                    "No target is remembered for this endpoint yet: choose one below.",
                )
            })?
            .body(state);
    }
    let mut target = form.target()?;
    if let Some(last) = last {
        last.fill_secret(state, &mut target)?;
    }
    Ok(target)
}

async fn replay_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
    CheckedForm(form): CheckedForm<ReplayForm>,
) -> Result<Response, AppError> {
    let endpoint_id = store::find_request_endpoint(&state.pool, user.id, id).await?;
    let endpoint_id = crate::usage::found(&state, user.id, id, endpoint_id).await?;
    let done = async {
        let target = form_target(&state, user.id, endpoint_id, &form).await?;
        if form.action == "curl" {
            return Ok(Some(
                signed_curl(&state, &user, endpoint_id, id, &target).await?,
            ));
        }
        queue_one(&state, user.id, endpoint_id, id, &target).await?;
        last_target::remember(&state, user.id, endpoint_id, &target).await?;
        Ok(None)
    }
    .await;
    match done {
        Ok(None) => Ok(Redirect::to(&format!("/requests/{id}/replay")).into_response()),
        Ok(Some(curl)) => {
            render_request_page(&state, &user, id, None, Some(&form), Some(curl)).await
        }
        Err(AppError::Unprocessable(msg)) => {
            render_request_page(&state, &user, id, Some(msg), Some(&form), None).await
        }
        Err(e) => Err(e),
    }
}

/// A curl command that sends the capture to the target with signature headers computed now.
async fn signed_curl(
    state: &AppState,
    user: &CurrentUser,
    endpoint_id: EndpointId,
    id: RequestId,
    target: &TargetBody,
) -> Result<String, AppError> {
    let req = hookvault_store::requests::find_request(&state.pool, user.id, id).await?;
    let req = crate::usage::found(state, user.id, id, req).await?;
    crate::ops::replays::signed_curl(state, user.id, endpoint_id, &req, target).await
}

/// A bulk replay on the endpoint's replay page.
pub struct BatchRow {
    pub id: BatchId,
    pub created_at: String,
    pub target: String,
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Failed and not retried yet.
    pub retryable: i64,
    pub pending: i64,
}

#[derive(Template)]
#[template(path = "replays/endpoint.html")]
struct EndpointPage {
    page: Page,
    batches: Vec<BatchRow>,
    endpoint_id: EndpointId,
    name: String,
    form: FormChoices,
    history: Vec<ReplayRow>,
    history_source: String,
    pending: bool,
}

async fn endpoint_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
) -> Result<Response, AppError> {
    render_endpoint_page(&state, &user, id, None).await
}

async fn render_endpoint_page(
    state: &AppState,
    user: &CurrentUser,
    id: EndpointId,
    refusal: Option<crate::flash::Flash>,
) -> Result<Response, AppError> {
    let endpoint = hookvault_store::endpoints::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let history = history(state, user.id, store::HistoryScope::Endpoint(id)).await?;
    let mut page = Page::for_user(format!("Replays · {}", endpoint.name), user).await?;
    if let Some(refusal) = refusal {
        page.flash = refusal;
    }
    let batches = store::list_endpoint_batches(&state.pool, user.id, id, 20)
        .await?
        .into_iter()
        .map(|b| BatchRow {
            id: b.batch_id,
            created_at: rfc3339(&b.created_at),
            target: b.target_url,
            total: b.total,
            succeeded: b.succeeded,
            failed: b.failed,
            retryable: b.retryable,
            pending: b.pending,
        })
        .collect();
    render(&EndpointPage {
        page,
        batches,
        endpoint_id: id,
        name: endpoint.name,
        form: choices(state, user.id, id, None, None, None).await?,
        history_source: format!("/endpoints/{id}/replays/rows"),
        pending: history.iter().any(|r| !r.status.is_finished()),
        history,
    })
}

#[derive(Deserialize)]
struct TargetForm {
    name: String,
    target_url: String,
    scheme: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    max_attempts: String,
}

async fn create_target(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(endpoint_id): Path<EndpointId>,
    CheckedForm(form): CheckedForm<TargetForm>,
) -> Result<Response, AppError> {
    let saved = async {
        let max_attempts = match form.max_attempts.trim() {
            "" => None,
            n => Some(n.parse::<i64>().map_err(|_| {
                AppError::invalid_field("max_attempts", "Attempts must be a number from 1 to 10.")
            })?),
        };
        save_target(
            &state,
            user.id,
            endpoint_id,
            Some(&form.name),
            &form.target_url,
            Some(&form.scheme),
            Some(&form.secret)
                .filter(|s| !s.is_empty())
                .map(String::as_str),
            max_attempts,
        )
        .await
    }
    .await;
    match saved {
        Ok(_) => {
            crate::flash::notice(&user.session, "Target saved.").await?;
            Ok(Redirect::to(&format!("/endpoints/{endpoint_id}/replays")).into_response())
        }
        Err(AppError::Unprocessable(msg)) => {
            // The form as typed (but the secret) with the reason next to its field.
            let field = super::replay_fields::url_field(&form.target_url, msg.field);
            let refusal = crate::flash::Flash::refusal(
                "target",
                field,
                msg.message,
                &[
                    ("name", &form.name),
                    ("target_url", &form.target_url),
                    ("scheme", &form.scheme),
                    ("max_attempts", &form.max_attempts),
                ],
            );
            let mut resp = render_endpoint_page(&state, &user, endpoint_id, Some(refusal)).await?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

async fn delete_target_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<TargetId>,
) -> Result<Response, AppError> {
    let target = store::find_replay_target(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let message = format!(
        "The saved target \"{}\" ({}) and its secret are deleted; replays already sent to it keep their history.",
        target.name, target.url
    );
    super::confirm::page(
        &user,
        super::confirm::Ask {
            heading: "Delete this saved target?",
            message: &message,
            action: &format!("/targets/{id}/delete"),
            button: "Delete target",
            cancel: &format!("/endpoints/{}/replays", target.endpoint_id),
        },
    )
    .await
}

async fn delete_target(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<TargetId>,
    CheckedForm(form): CheckedForm<super::confirm::ConfirmForm>,
) -> Result<Response, AppError> {
    let target = store::find_replay_target(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !form.confirmed() {
        return Ok(super::confirm::ask_first(&format!("/targets/{id}/delete")));
    }
    store::delete_replay_target(&state.pool, user.id, id).await?;
    crate::flash::notice(
        &user.session,
        format!("Saved target \"{}\" deleted.", target.name),
    )
    .await?;
    Ok(Redirect::to(&format!("/endpoints/{}/replays", target.endpoint_id)).into_response())
}
