//! The confirmation page in front of account deletion (`GET /settings/delete`): what goes, and
//! the current password; a wrong password comes back here with the reason next to the field.
//! The deletion itself is `account::delete`.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render as render_page, Page};

#[derive(Template)]
#[template(path = "settings/delete.html")]
struct DeletePage {
    page: Page,
    /// What goes, in words.
    what: String,
}

/// The confirmation page in front of account deletion (the password is asked there).
pub(super) async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    render(&state, &user, None).await
}

/// The confirmation page, with the refusal of the form just sent (its reason and status) if any.
pub(super) async fn render(
    state: &AppState,
    user: &CurrentUser,
    refusal: Option<(String, StatusCode)>,
) -> Result<Response, AppError> {
    let endpoints = hookvault_store::endpoints::list_endpoints(&state.pool, user.id)
        .await?
        .len();
    let tokens = hookvault_store::tokens::list_api_tokens(&state.pool, user.id)
        .await?
        .len();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut page = Page::for_user("Delete account", user).await?;
    let status = refusal.as_ref().map(|(_, status)| *status);
    if let Some((error, _)) = refusal {
        page.flash = crate::flash::Flash::refusal("delete", "current_password", error, &[]);
    }
    let mut resp = render_page(&DeletePage {
        page,
        what: format!(
            "{} with every capture and replay, your saved targets, {}, and every session",
            plural(endpoints, "endpoint", "endpoints"),
            plural(tokens, "API token", "API tokens"),
        ),
    })?;
    if let Some(status) = status {
        *resp.status_mut() = status;
    }
    Ok(resp)
}
