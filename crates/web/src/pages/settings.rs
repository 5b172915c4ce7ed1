//! Settings: the password (change it: the current one is required, and every other session of
//! the account ends) and API tokens (create — shown once —, list, revoke).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hookvault_core::ids::TokenId;
use serde::Deserialize;

use crate::auth::{password, signin, too_many_logins, CheckedForm, ClientIp, CurrentUser, SignIn};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, rfc3339, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(show))
        .route("/settings/password", post(change_password))
        .route("/settings/tokens", post(create))
        .route(
            "/settings/tokens/{id}/revoke",
            get(revoke_page).post(revoke),
        )
}

pub struct TokenRow {
    pub id: TokenId,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: String,
}

#[derive(Template)]
#[template(path = "settings/show.html")]
struct SettingsPage {
    page: Page,
    tokens: Vec<TokenRow>,
    notices: Notices,
    usage: Option<crate::usage::UsageView>,
}

/// What the page reports about the form just sent.
#[derive(Default)]
struct Notices {
    /// A token just created, shown this once.
    new_token: Option<String>,
    password_changed: bool,
    /// A form refused, shown as typed with the reason next to the field.
    refusal: Option<crate::flash::Flash>,
}

async fn show(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    page(&state, &user, Notices::default()).await
}

/// The settings page with a form refused: as typed, the reason next to its field, `status`.
pub(super) async fn refused(
    state: &AppState,
    user: &CurrentUser,
    refusal: crate::flash::Flash,
    status: StatusCode,
) -> Result<Response, AppError> {
    let notices = Notices {
        refusal: Some(refusal),
        ..Notices::default()
    };
    let mut resp = page(state, user, notices).await?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    notices: Notices,
) -> Result<Response, AppError> {
    let tokens = hookvault_store::tokens::list_api_tokens(&state.pool, user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: rfc3339(&t.created_at),
            last_used_at: t
                .last_used_at
                .map(|t| rfc3339(&t))
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let mut page = Page::for_user("Settings", user).await?;
    if let Some(refusal) = notices.refusal.clone() {
        page.flash = refusal;
    }
    render(&SettingsPage {
        page,
        tokens,
        notices,
        usage: crate::usage::view(state, user.id).await?,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// Changes the password. The current one is checked like a login (and counts against the same
/// limit); on success the account starts a new session generation, which signs out every other
/// session (their live streams end within 30 s), while this one gets a fresh id and stays.
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    CheckedForm(form): CheckedForm<PasswordForm>,
) -> Result<Response, AppError> {
    // Passwords are never sent back; the reason shows next to the field it is about.
    let refuse = |field: &'static str, message: &str, status: StatusCode| {
        let refusal = crate::flash::Flash::refusal("password", field, message, &[]);
        refused(&state, &user, refusal, status)
    };
    if let Some(problem) = password::problem(&form.new_password) {
        return refuse("new_password", problem, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    // A signed-in browser: the account's known-device bucket.
    let attempt = match state.limiter.begin(&user.email, &ip, true) {
        Ok(a) => a,
        Err(wait) => {
            let message = too_many_logins(wait).to_string();
            return refuse("current_password", &message, StatusCode::TOO_MANY_REQUESTS).await;
        }
    };
    let current = hookvault_store::users::find_user_credentials(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !password::verify(&state, Some(current.password_hash), form.current_password).await? {
        attempt.failed();
        return refuse(
            "current_password",
            "The current password is incorrect.",
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    attempt.succeeded();
    let hash = password::hash(&state, form.new_password).await?;
    let generation = hookvault_store::users::update_password(&state.pool, user.id, &hash)
        .await?
        .ok_or(AppError::NotFound)?;
    // Keep this session: a new id, the new generation, the original sign-in time (the absolute
    // lifetime is not renewed by a password change).
    let at = SignIn::of(&user.session)
        .await?
        .map_or_else(|| SignIn::now(user.id, generation).at, |s| s.at);
    user.session.cycle_id().await?;
    user.session
        .insert(
            signin::AUTH_KEY,
            SignIn {
                user_id: user.id,
                generation,
                at,
            },
        )
        .await?;
    tracing::info!(user.id = %user.id, "password changed; other sessions ended");
    state.mailer.send(
        &user.email,
        "Your Hookvault password was changed",
        format!(
            "The password of your Hookvault account {} was changed, and every other session \
             of the account was signed out (API tokens keep working).\n\nIf that was not you, \
             reset your password now: {}/password/forgot\n",
            user.email, state.config.public_url
        ),
    );
    page(
        &state,
        &user,
        Notices {
            password_changed: true,
            ..Notices::default()
        },
    )
    .await
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    CheckedForm(form): CheckedForm<NameForm>,
) -> Result<Response, AppError> {
    let name = match crate::ops::endpoints::clean_name(&form.name) {
        Ok(name) => name,
        Err(AppError::Unprocessable(m)) => {
            let refusal =
                crate::flash::Flash::refusal("token", "name", m.message, &[("name", &form.name)]);
            return refused(&state, &user, refusal, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(e) => return Err(e),
    };
    let token = crate::ops::tokens::create_token(&state, user.id, &name)
        .await?
        .1;
    // The token is in this one response only; reloading shows the list without it.
    let notices = Notices {
        new_token: Some(token),
        ..Notices::default()
    };
    let mut resp = page(&state, &user, notices).await?;
    *resp.status_mut() = axum::http::StatusCode::CREATED;
    Ok(resp)
}

async fn revoke_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<TokenId>,
) -> Result<Response, AppError> {
    let token = hookvault_store::tokens::list_api_tokens(&state.pool, user.id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(AppError::NotFound)?;
    let message = format!(
        "The API token \"{}\" ({}…) stops working at once: scripts and hookvault listen using it get 401.",
        token.name, token.prefix
    );
    super::confirm::page(
        &user,
        super::confirm::Ask {
            heading: "Revoke this token?",
            message: &message,
            action: &format!("/settings/tokens/{id}/revoke"),
            button: "Revoke token",
            cancel: "/settings",
        },
    )
    .await
}

async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<TokenId>,
    CheckedForm(form): CheckedForm<super::confirm::ConfirmForm>,
) -> Result<Response, AppError> {
    if !hookvault_store::tokens::list_api_tokens(&state.pool, user.id)
        .await?
        .iter()
        .any(|t| t.id == id)
    {
        return Err(AppError::NotFound);
    }
    if !form.confirmed() {
        return Ok(super::confirm::ask_first(&format!(
            "/settings/tokens/{id}/revoke"
        )));
    }
    if !hookvault_store::tokens::delete_api_token(&state.pool, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    crate::flash::notice(&user.session, "Token revoked: it no longer works.").await?;
    Ok(Redirect::to("/settings").into_response())
}
