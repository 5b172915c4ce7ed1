//! Accounts: sign-up, log-in, log-out, the signed-in user extractor, CSRF tokens and the client
//! address. Passwords are in [`password`], what a signed-in session holds in [`signin`], the
//! login and sign-up throttles in `crate::throttle`.

pub(crate) mod csrf;
pub(crate) mod password;
pub(crate) mod signin;

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hookvault_core::ids::UserId;
use serde::Deserialize;
use tower_sessions::Session;

use crate::error::{AppError, Invalid};
use crate::state::AppState;
use crate::throttle::wait_in_words;
use crate::views::{render, Page};
pub(crate) use csrf::{check_csrf, csrf_token, CheckedForm, CheckedRawForm};
pub(crate) use signin::SignIn;

/// Routes for accounts.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signup", get(signup_page).post(signup))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "auth/signup.html")]
struct SignupPage {
    page: Page,
    email: String,
    /// The refusal, with the field it is shown next to (`email`, `password`, or `""` for the
    /// form).
    error: Option<Invalid>,
}

impl SignupPage {
    fn error_at(&self, field: &str) -> Option<&str> {
        self.error.as_ref()?.at(field)
    }
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    page: Page,
    email: String,
    error: Option<String>,
    /// Where to go after logging in (a same-origin path checked by [`safe_next`]).
    next: String,
}

/// The page to go to after logging in: `next` when it is a same-origin relative path (`/…`,
/// not `//host` nor `/\host`, no control characters or backslashes), else `/`.
pub(crate) fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2000
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with("/login")
        && !next.starts_with("/logout");
    if ok {
        next
    } else {
        "/"
    }
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub(crate) struct Credentials {
    email: String,
    password: String,
    /// The login form's page to return to (ignored by sign-up).
    #[serde(default)]
    next: String,
}

async fn signup_page(session: Session) -> Result<Response, AppError> {
    let page = Page::anonymous("Sign up", &session).await?;
    render(&SignupPage {
        page,
        email: String::new(),
        error: None,
    })
}

async fn signup(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    CheckedForm(form): CheckedForm<Credentials>,
) -> Result<Response, AppError> {
    let email = form.email.trim().to_string();
    let problem = if !valid_email(&email) {
        Some(Invalid::new("email", "Enter a valid email address."))
    } else {
        password::problem(&form.password).map(|p| Invalid::new("password", p))
    };
    if let Some(problem) = problem {
        return signup_error(&session, email, problem, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // Counted once the form is valid, before the (costly) hashing.
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    if let Err(wait) = state.signups.attempt(&ip) {
        tracing::warn!(client.ip = %ip, "sign-up throttled");
        let message = format!(
            "Too many sign-ups from your address. Try again in {}.",
            wait_in_words(wait)
        );
        return signup_error(
            &session,
            email,
            message.into(),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let hash = password::hash(&state, form.password).await?;
    let id = UserId::now_v7();
    match hookvault_store::users::insert_user(&state.pool, id, &email, &hash).await {
        Ok(()) => {}
        Err(hookvault_store::StoreError::Conflict(_)) => {
            return signup_error(
                &session,
                email,
                Invalid::new(
                    "email",
                    "An account with this email already exists. Log in instead.",
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user.id = %id, "account created");
    // Issue 13: the verification link (the account works meanwhile, with a banner).
    // Counts as the first mail of the account's resend throttle.
    let _ = state.mail_throttle.attempt(&format!("verify:{id}"));
    crate::ops::links::send_verification(&state, id, &email).await?;
    // A new account starts at session generation 0 (the column's default).
    start_session(&session, SignIn::now(id, 0)).await?;
    Ok((
        [(header::SET_COOKIE, signin::device_cookie(&state, &email))],
        Redirect::to("/"),
    )
        .into_response())
}

async fn signup_error(
    session: &Session,
    email: String,
    error: Invalid,
    status: StatusCode,
) -> Result<Response, AppError> {
    let page = Page::anonymous("Sign up", session).await?;
    let mut resp = render(&SignupPage {
        page,
        email,
        error: Some(error),
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn login_page(session: Session, Query(q): Query<NextQuery>) -> Result<Response, AppError> {
    let page = Page::anonymous("Log in", &session).await?;
    render(&LoginPage {
        page,
        email: String::new(),
        error: None,
        next: safe_next(&q.next).to_string(),
    })
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CheckedForm(form): CheckedForm<Credentials>,
) -> Result<Response, AppError> {
    let email = form.email.trim().to_string();
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let known_device = signin::is_known_device(&state, &headers, &email);
    let attempt = state
        .limiter
        .begin(&email, &ip, known_device)
        .map_err(too_many_logins)?;
    match authenticate(&state, &email, form.password).await? {
        Some(user) => {
            attempt.succeeded();
            // A suspended account (`hookvault admin suspend`) is told why instead of signed in.
            if let Some(reason) =
                hookvault_store::plans::suspended_reason(&state.pool, user.id).await?
            {
                let page = Page::anonymous("Log in", &session).await?;
                let mut resp = render(&LoginPage {
                    page,
                    email,
                    error: Some(format!("This account is suspended: {reason}")),
                    next: safe_next(&form.next).to_string(),
                })?;
                *resp.status_mut() = StatusCode::FORBIDDEN;
                return Ok(resp);
            }
            start_session(&session, SignIn::now(user.id, user.session_generation)).await?;
            Ok((
                [(header::SET_COOKIE, signin::device_cookie(&state, &email))],
                Redirect::to(safe_next(&form.next)),
            )
                .into_response())
        }
        None => {
            attempt.failed();
            let page = Page::anonymous("Log in", &session).await?;
            let mut resp = render(&LoginPage {
                page,
                email,
                error: Some("Email or password is incorrect.".into()),
                next: safe_next(&form.next).to_string(),
            })?;
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(resp)
        }
    }
}

/// The refusal of a login attempt that must wait.
pub(crate) fn too_many_logins(wait: std::time::Duration) -> AppError {
    AppError::TooManyRequests(format!(
        "Too many failed logins. Try again in {}.",
        wait_in_words(wait)
    ))
}

/// A form that carries nothing but its CSRF token (delete and revoke buttons, log-out).
#[derive(Deserialize)]
pub(crate) struct CsrfForm {}

async fn logout(
    session: Session,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, AppError> {
    session.flush().await?;
    Ok(Redirect::to("/login").into_response())
}

/// Checks email and password; the account when they match. Unknown emails cost the same
/// hashing work as wrong passwords, so neither the answer nor its timing tells whether an
/// account exists.
pub(crate) async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<Option<hookvault_store::users::UserCredentials>, AppError> {
    let user = hookvault_store::users::find_user_by_email(&state.pool, email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = password::verify(state, hash, password).await?;
    Ok(user.filter(|_| ok))
}

/// Signs the user in: a new session id (the old one is discarded) and a new CSRF token.
pub(crate) async fn start_session(session: &Session, sign_in: SignIn) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.insert(signin::AUTH_KEY, sign_in).await?;
    csrf::renew(session).await?;
    Ok(())
}

pub(crate) fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The signed-in user of a page request; anonymous visitors are sent to `/login`. A session
/// whose sign-in no longer holds (older than 30 days, or from before a password change) is
/// ended here.
pub struct CurrentUser {
    pub id: UserId,
    pub email: String,
    /// Whether the account's email is verified (issue 13).
    pub email_verified: bool,
    pub session: Session,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|e| e.into_response())?;
        match signed_in_user(state, &session).await {
            Ok(Some(user)) => Ok(CurrentUser {
                id: user.id,
                email: user.email,
                email_verified: user.email_verified,
                session,
            }),
            Ok(None) => Err(Redirect::to(&login_url(parts)).into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// Where an anonymous page request is sent: `/login`, with `?next=` the page asked for when it
/// was a GET of a page (not a live stream or a pane fragment).
fn login_url(parts: &Parts) -> String {
    let path = parts.uri.path();
    if parts.method != axum::http::Method::GET
        || path == "/"
        || path.ends_with("/live")
        || path.ends_with("/pane")
    {
        return "/login".to_string();
    }
    let wanted = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    format!("/login?next={}", crate::views::url_component(&wanted))
}

/// The user a session is signed in as, if its sign-in still holds; a session whose sign-in
/// expired or was ended is emptied.
pub(crate) async fn signed_in_user(
    state: &AppState,
    session: &Session,
) -> Result<Option<hookvault_store::users::User>, AppError> {
    let Some(sign_in) = SignIn::of(session).await? else {
        return Ok(None);
    };
    let user = sign_in.user(state).await?;
    if user.is_none() {
        session.flush().await?;
    }
    Ok(user)
}

/// The client's address: the connection's peer, or the address a trusted proxy
/// (`--trusted-proxies`) forwarded, as for captures (`hookvault_core::client_addr`).
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(peer.map(|peer| {
            hookvault_core::client_addr::client_ip(
                peer,
                parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .map(|v| v.as_bytes()),
                &state.config.trusted_proxies,
            )
        })))
    }
}

#[cfg(test)]
mod next_tests {
    use super::safe_next;

    #[test]
    fn only_same_origin_relative_paths_are_followed_after_login() {
        assert_eq!(safe_next("/endpoints/x?r=1"), "/endpoints/x?r=1");
        assert_eq!(safe_next("/settings"), "/settings");
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "/a\\b",
            "javascript:alert(1)",
            "/x\r\nSet-Cookie: a=b",
            "/login?next=/x",
            "/logout",
            "endpoints",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
