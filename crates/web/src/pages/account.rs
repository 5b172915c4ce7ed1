//! Account lifecycle (issue 13): email verification, password reset, change of email, export
//! of one's data and deletion of the account.
//!
//! Links sent by mail carry a token of 256 random bits; only its SHA-256 is stored, and using a
//! link deletes it (single use). Opening a link shows a page with a button: the token is used by
//! that form's POST, so a mail scanner fetching the link uses nothing up.

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hookvault_store::accounts::{self, Purpose};
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::{password, too_many_logins, CheckedForm, ClientIp, CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::ops::links::{new_token, send_verification};
use crate::ops::tokens::hash_token;
use crate::state::AppState;
use crate::throttle::wait_in_words;
use crate::views::{render, Page};

/// A password-reset link works for an hour.
const RESET_SECS: i64 = 60 * 60;

/// Pages reachable without signing in (links from mails, the forgotten-password form).
pub(crate) fn public_router() -> Router<AppState> {
    Router::new()
        .route("/verify-email", get(verify_page).post(verify))
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/reset", get(reset_page).post(reset))
}

/// Settings of the signed-in account.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/email/resend", post(resend))
        .route("/settings/email", post(change_email))
        .route("/settings/export.ndjson", get(export))
        .route(
            "/settings/delete",
            get(super::delete_account::page).post(delete),
        )
}

#[derive(Template)]
#[template(path = "account/notice.html")]
struct NoticePage {
    page: Page,
    heading: String,
    message: String,
    error: bool,
    next_href: &'static str,
    next_label: &'static str,
}

#[derive(Template)]
#[template(path = "account/link.html")]
struct LinkPage {
    page: Page,
    heading: &'static str,
    action: &'static str,
    token: String,
    with_password: bool,
    button: &'static str,
}

#[derive(Template)]
#[template(path = "account/forgot.html")]
struct ForgotPage {
    page: Page,
}

fn notice(
    page: Page,
    heading: &str,
    message: String,
    status: StatusCode,
    next: (&'static str, &'static str),
) -> Result<Response, AppError> {
    let mut resp = render(&NoticePage {
        page,
        heading: heading.to_string(),
        message,
        error: !status.is_success(),
        next_href: next.0,
        next_label: next.1,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

async fn verify_page(session: Session, Query(q): Query<TokenQuery>) -> Result<Response, AppError> {
    render(&LinkPage {
        page: Page::anonymous("Verify your email", &session).await?,
        heading: "Verify your email address",
        action: "/verify-email",
        token: q.token,
        with_password: false,
        button: "Verify my email address",
    })
}

async fn verify(
    State(state): State<AppState>,
    session: Session,
    CheckedForm(form): CheckedForm<TokenForm>,
) -> Result<Response, AppError> {
    let page = Page::anonymous("Verify your email", &session).await?;
    let taken =
        accounts::take_token(&state.pool, Purpose::VerifyEmail, &hash_token(&form.token)).await?;
    let Some(taken) = taken.filter(|t| !t.expired) else {
        return notice(
            page,
            "Link not valid",
            "This verification link is not valid: it was used already, replaced by a newer one, \
             or it expired. Sign in and send a new one."
                .into(),
            StatusCode::BAD_REQUEST,
            ("/settings", "Settings"),
        );
    };
    match accounts::set_verified_email(&state.pool, taken.user_id, &taken.email).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound),
        Err(hookvault_store::StoreError::Conflict(_)) => {
            return notice(
                page,
                "Address taken",
                "Another account uses this address now; it was not changed.".into(),
                StatusCode::CONFLICT,
                ("/settings", "Settings"),
            );
        }
        Err(e) => return Err(e.into()),
    }
    // Captures that waited for the verification (`--require-verified-email`) go through now.
    for token in accounts::endpoint_tokens(&state.pool, taken.user_id).await? {
        hookvault_store::endpoints::notify_route_changed(&state.pool, &token).await?;
    }
    tracing::info!(user.id = %taken.user_id, "email verified");
    notice(
        page,
        "Email verified",
        format!("Your email address {} is verified.", taken.email),
        StatusCode::OK,
        ("/", "To your endpoints"),
    )
}

async fn resend(
    State(state): State<AppState>,
    user: CurrentUser,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, AppError> {
    let page = Page::for_user("Verify your email", &user).await?;
    if user.email_verified {
        return notice(
            page,
            "Already verified",
            "Your email address is verified already.".into(),
            StatusCode::OK,
            ("/settings", "Settings"),
        );
    }
    if let Err(wait) = state.mail_throttle.attempt(&format!("verify:{}", user.id)) {
        return notice(
            page,
            "Please wait",
            format!(
                "A link was sent a moment ago. You can ask for another in {}.",
                wait_in_words(wait)
            ),
            StatusCode::TOO_MANY_REQUESTS,
            ("/settings", "Settings"),
        );
    }
    send_verification(&state, user.id, &user.email).await?;
    notice(
        page,
        "Link sent",
        format!("We sent a new verification link to {}.", user.email),
        StatusCode::OK,
        ("/", "To your endpoints"),
    )
}

async fn forgot_page(session: Session) -> Result<Response, AppError> {
    render(&ForgotPage {
        page: Page::anonymous("Reset your password", &session).await?,
    })
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// The same answer whether or not an account has this address (and whether or not a mail was
/// throttled); the mail is sent in the background, so the timing tells nothing either.
async fn forgot(
    State(state): State<AppState>,
    session: Session,
    CheckedForm(form): CheckedForm<ForgotForm>,
) -> Result<Response, AppError> {
    let email = form.email.trim().to_string();
    let user = hookvault_store::users::find_user_by_email(&state.pool, &email).await?;
    let allowed = state
        .mail_throttle
        .attempt(&format!("reset:{}", email.to_lowercase()))
        .is_ok();
    if let (Some(user), true) = (user, allowed) {
        let (token, hash) = new_token();
        accounts::insert_token(
            &state.pool,
            user.id,
            Purpose::ResetPassword,
            &user.email,
            &hash,
            RESET_SECS,
        )
        .await?;
        let link = format!("{}/password/reset?token={token}", state.config.public_url);
        state.mailer.send(
            &user.email,
            "Reset your Hookvault password",
            format!(
                "Open this link to set a new password for your Hookvault account:\n\n{link}\n\n\
                 It works once, for one hour. If you did not ask for this, ignore this mail: \
                 your password stays as it is.\n"
            ),
        );
    }
    notice(
        Page::anonymous("Reset your password", &session).await?,
        "Check your mail",
        "If an account uses this address, we sent it a link to set a new password. The link \
         works once, for one hour."
            .into(),
        StatusCode::OK,
        ("/login", "Log in"),
    )
}

async fn reset_page(session: Session, Query(q): Query<TokenQuery>) -> Result<Response, AppError> {
    render(&LinkPage {
        page: Page::anonymous("Set a new password", &session).await?,
        heading: "Set a new password",
        action: "/password/reset",
        token: q.token,
        with_password: true,
        button: "Set the new password",
    })
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    new_password: String,
}

/// Sets the new password: the link is used up, and every session of the account ends (a new
/// session generation), this browser's too.
async fn reset(
    State(state): State<AppState>,
    session: Session,
    CheckedForm(form): CheckedForm<ResetForm>,
) -> Result<Response, AppError> {
    let page = Page::anonymous("Set a new password", &session).await?;
    // Checked before the link is used, so a too-short password does not waste it.
    if let Some(problem) = password::problem(&form.new_password) {
        return notice(
            page,
            "Password not set",
            problem.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            ("/password/forgot", "Ask for a new link"),
        );
    }
    let taken = accounts::take_token(
        &state.pool,
        Purpose::ResetPassword,
        &hash_token(&form.token),
    )
    .await?;
    let Some(taken) = taken.filter(|t| !t.expired) else {
        return notice(
            page,
            "Link not valid",
            "This password-reset link is not valid: it was used already, replaced by a newer \
             one, or it expired. Ask for a new one."
                .into(),
            StatusCode::BAD_REQUEST,
            ("/password/forgot", "Reset your password"),
        );
    };
    let hash = password::hash(&state, form.new_password).await?;
    hookvault_store::users::update_password(&state.pool, taken.user_id, &hash)
        .await?
        .ok_or(AppError::NotFound)?;
    accounts::delete_tokens(&state.pool, taken.user_id, Purpose::ResetPassword).await?;
    session.flush().await?;
    tracing::info!(user.id = %taken.user_id, "password reset; every session ended");
    notice(
        Page::anonymous("Password set", &session).await?,
        "Password set",
        "Your new password is set. Every session of your account has been signed out: log in \
         with the new password."
            .into(),
        StatusCode::OK,
        ("/login", "Log in"),
    )
}

#[derive(Deserialize)]
struct PasswordCheckForm {
    #[serde(default)]
    new_email: String,
    current_password: String,
}

/// Checks the signed-in user's current password like a login (same limiter).
async fn check_password(
    state: &AppState,
    user: &CurrentUser,
    ip: Option<std::net::IpAddr>,
    given: String,
) -> Result<bool, AppError> {
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let attempt = state
        .limiter
        .begin(&user.email, &ip, true)
        .map_err(too_many_logins)?;
    let current = hookvault_store::users::find_user_credentials(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if password::verify(state, Some(current.password_hash), given).await? {
        attempt.succeeded();
        Ok(true)
    } else {
        attempt.failed();
        Ok(false)
    }
}

/// Starts a change of email: a link goes to the new address, which becomes the account's
/// (verified) address when it is opened.
async fn change_email(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    CheckedForm(form): CheckedForm<PasswordCheckForm>,
) -> Result<Response, AppError> {
    // A refusal: the settings page with the address as typed and the reason next to its field.
    let refuse = |field: &'static str, message: String, status: StatusCode| {
        let refusal = crate::flash::Flash::refusal(
            "email",
            field,
            message,
            &[("new_email", &form.new_email)],
        );
        super::settings::refused(&state, &user, refusal, status)
    };
    let new_email = form.new_email.trim().to_string();
    if !crate::auth::valid_email(&new_email) {
        return refuse(
            "new_email",
            "Enter a valid email address.".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match check_password(&state, &user, ip, form.current_password.clone()).await {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                "current_password",
                "The current password is incorrect.".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AppError::TooManyRequests(m)) => {
            return refuse("current_password", m, StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(e) => return Err(e),
    }
    if let Err(wait) = state
        .mail_throttle
        .attempt(&format!("email-change:{}", user.id))
    {
        return refuse(
            "new_email",
            format!(
                "A link was sent a moment ago. Try again in {}.",
                wait_in_words(wait)
            ),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    // A taken address gets no link (it could not become this account's); the answer is the
    // same, so the form tells nothing about other accounts.
    if hookvault_store::users::find_user_by_email(&state.pool, &new_email)
        .await?
        .is_none()
    {
        send_verification(&state, user.id, &new_email).await?;
    }
    notice(
        Page::for_user("Change email", &user).await?,
        "Check your mail",
        format!(
            "We sent a link to {new_email}. Your address changes to it when you open the link; \
             until then it stays {}.",
            user.email
        ),
        StatusCode::OK,
        ("/settings", "Settings"),
    )
}

/// Every endpoint of the account (one `{"type":"endpoint",…}` line each), each followed by its
/// captures (the API's capture objects, newest first), as NDJSON.
async fn export(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let slot = state.heavy.enter(user.id).await?;
    let endpoints = hookvault_store::endpoints::list_endpoints(&state.pool, user.id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let user_id = user.id;
    tokio::spawn(async move {
        for e in endpoints {
            let line = hookvault_core::api::ExportEndpointJson {
                kind: "endpoint".into(),
                id: e.id,
                name: e.name.clone(),
                url: state.capture_url(&e.token),
                created_at: crate::views::rfc3339_ms(&e.created_at),
            };
            let Ok(mut out) = serde_json::to_vec(&line) else {
                return;
            };
            out.push(b'\n');
            if tx.send(Ok(Bytes::from(out))).await.is_err() {
                return;
            }
            if let Err(err) = super::export::stream_ndjson(slot.pool(), user_id, e.id, &tx).await {
                tracing::error!(user.id = %user_id, error = %err, "account export failed");
                let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                return;
            }
        }
    });
    let mut resp =
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)).into_response();
    super::export::set_download_headers(
        &mut resp,
        "application/x-ndjson",
        &format!("hookvault-account-{user_id}.ndjson"),
    );
    Ok(resp)
}

#[derive(Deserialize)]
struct DeleteForm {
    /// `yes` from the confirmation page; without it the POST is sent there.
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    current_password: String,
}

/// Deletes the account once confirmed with the password on the confirmation page
/// (`delete_account`): a subscription Stripe may still charge is cancelled first; then, in one short transaction, it can no longer sign in nor
/// capture; its rows go in batches in a task of their own (so the deletion finishes when the
/// browser goes away), and a confirmation mail follows when it is done.
async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    CheckedForm(form): CheckedForm<DeleteForm>,
) -> Result<Response, AppError> {
    if form.confirm != "yes" {
        return Ok(super::confirm::ask_first("/settings/delete"));
    }
    // Refused: the confirmation page again, with the reason next to the password.
    let refusal = match check_password(&state, &user, ip, form.current_password).await {
        Ok(true) => None,
        Ok(false) => Some((
            "The current password is incorrect.".to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(AppError::TooManyRequests(m)) => Some((m, StatusCode::TOO_MANY_REQUESTS)),
        Err(e) => return Err(e),
    };
    if let Some(refusal) = refusal {
        return super::delete_account::render(&state, &user, Some(refusal)).await;
    }
    // Stripe must stop charging before anything is deleted (issue 13).
    if let Err(why) = crate::billing::cancel_subscriptions(&state, user.id).await? {
        return notice(
            Page::for_user("Delete account", &user).await?,
            "Account not deleted",
            format!(
                "Nothing was deleted: {}. Try again in a moment.",
                why.trim_end_matches('.')
            ),
            StatusCode::BAD_GATEWAY,
            ("/settings", "Settings"),
        );
    }
    crate::ops::accounts::start_deletion(&state, user.id, &user.email).await?;
    user.session.flush().await?;
    tracing::info!(user.id = %user.id, "account deletion started");
    notice(
        Page::anonymous("Account deleted", &user.session).await?,
        "Account deleted",
        "Your account is deleted: you are signed out and its capture URLs no longer work. Its \
         data is being removed now; we mail you a confirmation when the last of it is gone."
            .into(),
        StatusCode::OK,
        ("/signup", "Sign up"),
    )
}
