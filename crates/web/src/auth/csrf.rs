//! CSRF tokens: one per session, sent back by every form. The [`CheckedForm`] and
//! [`CheckedRawForm`] extractors refuse a form whose token does not match (403) before the
//! handler runs, so no handler checks by hand.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, RawForm, Request};
use axum::response::{IntoResponse, Response};
use axum::Form;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::error::AppError;

const CSRF_KEY: &str = "csrf";

/// The part of every form this module reads.
#[derive(Deserialize)]
struct Token {
    /// Missing counts as empty, so the request is refused as a CSRF failure (403).
    #[serde(default)]
    csrf: String,
}

pub(super) fn new_csrf_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Gives the session a new CSRF token (at sign-in).
pub(super) async fn renew(session: &Session) -> Result<(), AppError> {
    session.insert(CSRF_KEY, new_csrf_token()).await?;
    Ok(())
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

/// Rejects a state-changing request whose token does not match the session's (the JSON API's
/// cookie-authenticated calls send it in a header; forms go through the extractors below).
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

/// A url-encoded form whose CSRF token matched the session's.
pub(crate) struct CheckedForm<T>(pub T);

/// The raw body of a url-encoded form whose CSRF token matched (forms with repeated fields).
pub(crate) struct CheckedRawForm(pub Bytes);

/// Reads the body once, checks its `csrf` field against the session's token, and hands back a
/// request with the same head and body for the real extractor (so content type and body-limit
/// rejections are axum's own).
async fn checked<S: Send + Sync>(req: Request, state: &S) -> Result<Request, Response> {
    let (mut parts, body) = req.into_parts();
    let session = Session::from_request_parts(&mut parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let head = parts.clone();
    let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(IntoResponse::into_response)?;
    let again = |bytes: &Bytes| Request::from_parts(head.clone(), Body::from(bytes.clone()));
    let Form(token) = Form::<Token>::from_request(again(&bytes), state)
        .await
        .map_err(IntoResponse::into_response)?;
    check_csrf(&session, &token.csrf)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(again(&bytes))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let req = checked(req, state).await?;
        let Form(value) = Form::<T>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(CheckedForm(value))
    }
}

impl<S: Send + Sync> FromRequest<S> for CheckedRawForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let req = checked(req, state).await?;
        let RawForm(bytes) = RawForm::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(CheckedRawForm(bytes))
    }
}

#[cfg(test)]
mod tests {
    /// Every form handler goes through the checking extractors: no page takes axum's `Form`
    /// or `RawForm` directly (which would skip the CSRF check).
    #[test]
    fn no_handler_takes_an_unchecked_form() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("auth/csrf.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("read file");
                    for (n, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.contains("): Form<") || line.contains("): RawForm") {
                            offenders.push(format!("{}:{}: {line}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "unchecked forms: {offenders:#?}");
    }
}
