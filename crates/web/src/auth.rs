//! Accounts: sign-up, log-in, log-out, the signed-in user extractor, CSRF tokens, password
//! hashing and the login rate limiter.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::Engine;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tower_sessions::Session;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, Page};

const USER_KEY: &str = "user_id";
const CSRF_KEY: &str = "csrf";

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
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    page: Page,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Credentials {
    /// Missing counts as empty, so the request is refused as a CSRF failure (403).
    #[serde(default)]
    csrf: String,
    email: String,
    password: String,
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
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let email = form.email.trim().to_string();
    let problem = if !valid_email(&email) {
        Some("Enter a valid email address.")
    } else if form.password.chars().count() < 8 {
        Some("Choose a password of at least 8 characters.")
    } else if form.password.len() > 1024 {
        Some("Choose a password of at most 1024 bytes.")
    } else {
        None
    };
    if let Some(problem) = problem {
        return signup_error(&session, email, problem).await;
    }
    let hash = hash_password(&state, form.password).await?;
    let id = Uuid::now_v7();
    match hookvault_store::users::insert_user(&state.pool, id, &email, &hash).await {
        Ok(()) => {}
        Err(hookvault_store::StoreError::Conflict(_)) => {
            return signup_error(
                &session,
                email,
                "An account with this email already exists. Log in instead.",
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user.id = %id, "account created");
    start_session(&session, id).await?;
    Ok(Redirect::to("/").into_response())
}

async fn signup_error(session: &Session, email: String, error: &str) -> Result<Response, AppError> {
    let page = Page::anonymous("Sign up", session).await?;
    let mut resp = render(&SignupPage {
        page,
        email,
        error: Some(error.to_string()),
    })?;
    *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(resp)
}

async fn login_page(session: Session) -> Result<Response, AppError> {
    let page = Page::anonymous("Log in", &session).await?;
    render(&LoginPage {
        page,
        email: String::new(),
        error: None,
    })
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let email = form.email.trim().to_string();
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    if let Some(wait) = state.limiter.blocked(&email, &ip) {
        return Err(AppError::TooManyRequests(format!(
            "Too many failed logins. Try again in {} minutes.",
            wait.as_secs().div_ceil(60)
        )));
    }
    match authenticate(&state, &email, form.password).await? {
        Some(user_id) => {
            state.limiter.succeeded(&email);
            start_session(&session, user_id).await?;
            Ok(Redirect::to("/").into_response())
        }
        None => {
            state.limiter.record_failure(&email, &ip);
            let page = Page::anonymous("Log in", &session).await?;
            let mut resp = render(&LoginPage {
                page,
                email,
                error: Some("Email or password is incorrect.".into()),
            })?;
            *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(resp)
        }
    }
}

/// A form that carries nothing but its CSRF token (delete and revoke buttons, log-out).
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    /// Missing counts as empty, so the request is refused as a CSRF failure (403).
    #[serde(default)]
    pub csrf: String,
}

async fn logout(session: Session, Form(form): Form<CsrfForm>) -> Result<Response, AppError> {
    check_csrf(&session, &form.csrf).await?;
    session.flush().await?;
    Ok(Redirect::to("/login").into_response())
}

/// Checks email and password. Unknown emails cost the same hashing work as wrong passwords, so
/// neither the answer nor its timing tells whether an account exists.
pub(crate) async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<Option<Uuid>, AppError> {
    let user = hookvault_store::users::find_user_by_email(&state.pool, email).await?;
    let (hash, id) = match user {
        Some(u) => (Some(u.password_hash), Some(u.id)),
        None => (None, None),
    };
    let _permit = state
        .hashing
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let ok = tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(if ok { id } else { None })
}

/// A real argon2id hash (default parameters) of a random password, verified against for
/// unknown emails so that they cost the same work as known ones.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let password: [u8; 16] = rand::random();
        Argon2::default()
            .hash_password(&password, &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

async fn hash_password(state: &AppState, password: String) -> Result<String, AppError> {
    let _permit = state
        .hashing
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("hashing: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Signs the user in: a new session id (the old one is discarded) and a new CSRF token.
async fn start_session(session: &Session, user_id: Uuid) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.insert(USER_KEY, user_id).await?;
    session.insert(CSRF_KEY, new_csrf_token()).await?;
    Ok(())
}

fn valid_email(email: &str) -> bool {
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

fn new_csrf_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The session's CSRF token, created on first use.
pub(crate) async fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session.get::<String>(CSRF_KEY).await? {
        return Ok(t);
    }
    let t = new_csrf_token();
    session.insert(CSRF_KEY, &t).await?;
    Ok(t)
}

/// Rejects a state-changing request whose token does not match the session's.
pub(crate) async fn check_csrf(session: &Session, submitted: &str) -> Result<(), AppError> {
    let expected = session
        .get::<String>(CSRF_KEY)
        .await?
        .ok_or(AppError::Csrf)?;
    if expected.as_bytes().ct_eq(submitted.as_bytes()).into() {
        Ok(())
    } else {
        Err(AppError::Csrf)
    }
}

/// The signed-in user of a page request; anonymous visitors are sent to `/login`.
pub struct CurrentUser {
    pub id: Uuid,
    pub email: String,
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
        let to_login = || Redirect::to("/login").into_response();
        let user_id = session
            .get::<Uuid>(USER_KEY)
            .await
            .map_err(|e| AppError::from(e).into_response())?
            .ok_or_else(to_login)?;
        let user = hookvault_store::users::find_user(&state.pool, user_id)
            .await
            .map_err(|e| AppError::from(e).into_response())?
            .ok_or_else(to_login)?;
        Ok(CurrentUser {
            id: user.id,
            email: user.email,
            session,
        })
    }
}

/// The peer address of the connection, when the server loop recorded it.
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The user id of a signed-in session, if any (for the API and live updates).
pub(crate) async fn session_user(session: &Session) -> Option<Uuid> {
    session.get::<Uuid>(USER_KEY).await.ok().flatten()
}

/// Fails logins per email and per client address: after 10 failures in 15 minutes, further
/// attempts are refused until the window passes. Kept in memory per process.
#[derive(Clone, Default)]
pub struct LoginLimiter {
    inner: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
}

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_FAILURES: u32 = 10;

impl LoginLimiter {
    fn keys(email: &str, ip: &str) -> [String; 2] {
        [
            format!("email:{}", email.to_lowercase()),
            format!("ip:{ip}"),
        ]
    }

    /// How long until a login for this email or address may be tried again, if blocked.
    pub fn blocked(&self, email: &str, ip: &str) -> Option<Duration> {
        let map = self.inner.lock().ok()?;
        Self::keys(email, ip).iter().find_map(|k| {
            let (n, since) = map.get(k)?;
            let elapsed = since.elapsed();
            (*n >= MAX_FAILURES && elapsed < WINDOW).then(|| WINDOW - elapsed)
        })
    }

    pub(crate) fn record_failure(&self, email: &str, ip: &str) {
        if let Ok(mut map) = self.inner.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (_, since)| since.elapsed() < WINDOW);
            }
            for k in Self::keys(email, ip) {
                let e = map.entry(k).or_insert((0, Instant::now()));
                if e.1.elapsed() >= WINDOW {
                    *e = (0, Instant::now());
                }
                e.0 += 1;
            }
        }
    }

    fn succeeded(&self, email: &str) {
        if let Ok(mut map) = self.inner.lock() {
            map.remove(&format!("email:{}", email.to_lowercase()));
        }
    }
}
