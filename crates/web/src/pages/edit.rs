//! "Edit and replay": a capture's body and headers edited on a page, checked (JSON when the
//! content type says so), stored as an edited copy beside the original, and replayed re-signed
//! to the chosen target (`crate::ops::edits`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use hookvault_core::ids::RequestId;
use serde::Deserialize;

use super::replays::{choices, form_target, FormChoices, ReplayForm};
use crate::auth::{CheckedForm, CurrentUser};
use crate::error::{AppError, Invalid};
use crate::ops::edits::{self, EditError, MAX_EDIT_BYTES};
use crate::state::AppState;
use crate::views::{render, Page};

pub fn router() -> Router<AppState> {
    Router::new().route("/requests/{id}/edit", get(edit_page).post(send_edit))
}

#[derive(Template)]
#[template(path = "requests/edit.html")]
struct EditPage {
    page: Page,
    request_id: RequestId,
    summary: String,
    /// Why this capture cannot be edited here (binary or too large a body).
    not_editable: Option<String>,
    headers: String,
    body: String,
    headers_error: Option<String>,
    body_error: Option<String>,
    form: FormChoices,
}

#[derive(Deserialize)]
struct EditForm {
    #[serde(default)]
    headers: String,
    #[serde(default)]
    body: String,
    #[serde(flatten)]
    target: ReplayForm,
}

/// What the page shows when nothing was sent yet (the capture as stored) or after a refusal
/// (the input as sent, with the errors next to their fields).
struct Shown<'a> {
    headers: String,
    body: String,
    headers_error: Option<String>,
    body_error: Option<String>,
    target_error: Option<Invalid>,
    form: Option<&'a ReplayForm>,
}

async fn render_edit(
    state: &AppState,
    user: &CurrentUser,
    id: RequestId,
    shown: Option<Shown<'_>>,
) -> Result<Response, AppError> {
    let (req, _) = super::requests::load_request(state, user, id).await?;
    let hs = &req.headers;
    let detected = hookvault_core::signing::detect_scheme(hs);
    let not_editable = match std::str::from_utf8(&req.body) {
        Err(_) => Some("This capture's body is not text (not UTF-8), so it cannot be edited here; download it, edit it and send it with the replay fixture instead.".to_string()),
        Ok(_) if req.body.len() > MAX_EDIT_BYTES => Some(format!("This capture's body is larger than {MAX_EDIT_BYTES} bytes, too large to edit here.")),
        Ok(_) => None,
    };
    let refused = shown.is_some();
    let shown = shown.unwrap_or_else(|| Shown {
        headers: hs
            .iter()
            .filter(|h| !h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| format!("{}: {}", h.name, h.value_lossy()))
            .collect::<Vec<_>>()
            .join("\n"),
        body: String::from_utf8_lossy(&req.body).into_owned(),
        headers_error: None,
        body_error: None,
        target_error: None,
        form: None,
    });
    let mut resp = render(&EditPage {
        page: Page::for_user(format!("Edit · {}", super::requests::title_of(&req)), user).await?,
        request_id: id,
        summary: format!(
            "{} {}",
            req.method,
            if req.path.is_empty() { "/" } else { &req.path }
        ),
        not_editable,
        headers: shown.headers,
        body: shown.body,
        headers_error: shown.headers_error,
        body_error: shown.body_error,
        form: choices(
            state,
            user.id,
            req.endpoint_id,
            shown.target_error,
            shown.form,
            detected,
        )
        .await?,
    })?;
    if refused {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

async fn edit_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> Result<Response, AppError> {
    render_edit(&state, &user, id, None).await
}

async fn send_edit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
    CheckedForm(form): CheckedForm<EditForm>,
) -> Result<Response, AppError> {
    let (original, _) = super::requests::load_request(&state, &user, id).await?;
    let refuse = |field: EditError| Shown {
        headers: form.headers.clone(),
        body: form.body.clone(),
        headers_error: match &field {
            EditError::Headers(m) => Some(m.clone()),
            EditError::Body(_) => None,
        },
        body_error: match field {
            EditError::Body(m) => Some(m),
            EditError::Headers(_) => None,
        },
        target_error: None,
        form: Some(&form.target),
    };
    let (hs, content_type) = match edits::check_edit(&form.body, &form.headers) {
        Ok(checked) => checked,
        Err(e) => return render_edit(&state, &user, id, Some(refuse(e))).await,
    };
    let endpoint_id = original.endpoint_id;
    let sent = async {
        let target = form_target(&state, user.id, endpoint_id, &form.target).await?;
        // Checked before anything is stored: a refused target leaves no copy behind.
        crate::ops::replays::resolve_target(&state, user.id, endpoint_id, &target).await?;
        let copy = edits::store_copy(
            &state,
            &original,
            &hs,
            content_type,
            form.body.clone().into_bytes(),
        )
        .await?;
        crate::ops::replays::queue_one(&state, user.id, endpoint_id, copy, &target).await?;
        crate::ops::last_target::remember(&state, user.id, endpoint_id, &target).await?;
        Ok::<_, AppError>(copy)
    }
    .await;
    match sent {
        Ok(copy) => Ok(Redirect::to(&format!("/requests/{copy}/replay")).into_response()),
        Err(AppError::Unprocessable(msg)) => {
            let mut shown = refuse(EditError::Body(String::new()));
            shown.body_error = None;
            shown.target_error = Some(msg);
            render_edit(&state, &user, id, Some(shown)).await
        }
        Err(e) => Err(e),
    }
}
