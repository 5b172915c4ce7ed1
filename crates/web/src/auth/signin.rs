//! What a signed-in session holds and when it stops holding, and the device cookie that marks a
//! browser which signed in to an account before.
//!
//! A session is signed in while its [`SignIn`] holds: the account still exists, its session
//! generation has not moved on (a password change starts a new one, which signs out every other
//! session), and the sign-in is younger than [`ABSOLUTE_LIFETIME`], however active the session
//! is (its cookie also expires after 7 days without use). Pages, the API and the live streams
//! all ask [`SignIn::user`].

use axum::http::{header, HeaderMap};
use base64::Engine;
use hookvault_core::ids::UserId;
use hookvault_store::users::User;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::error::AppError;
use crate::state::AppState;

/// The session key holding the [`SignIn`].
pub(crate) const AUTH_KEY: &str = "auth";

/// A session ends this long after its sign-in, however active it is.
pub(crate) const ABSOLUTE_LIFETIME: time::Duration = time::Duration::days(30);

/// Who signed in, under which session generation, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignIn {
    pub(crate) user_id: UserId,
    /// The user's session generation at sign-in.
    pub(crate) generation: i64,
    /// Unix seconds of the sign-in (a password change keeps it: the lifetime is not renewed).
    pub(crate) at: i64,
}

impl SignIn {
    pub(crate) fn now(user_id: UserId, generation: i64) -> Self {
        SignIn {
            user_id,
            generation,
            at: OffsetDateTime::now_utc().unix_timestamp(),
        }
    }

    /// The session's sign-in, if it has one.
    pub(crate) async fn of(session: &Session) -> Result<Option<SignIn>, AppError> {
        Ok(session.get::<SignIn>(AUTH_KEY).await?)
    }

    fn within_lifetime(&self, now: i64) -> bool {
        now.saturating_sub(self.at) < ABSOLUTE_LIFETIME.whole_seconds()
    }

    /// The signed-in user, if this sign-in still holds.
    pub(crate) async fn user(&self, state: &AppState) -> Result<Option<User>, AppError> {
        if !self.within_lifetime(OffsetDateTime::now_utc().unix_timestamp()) {
            return Ok(None);
        }
        let user = hookvault_store::users::find_user(&state.pool, self.user_id).await?;
        Ok(user.filter(|u| u.session_generation == self.generation))
    }
}

/// Kept for half a year; renewed at each sign-in.
const DEVICE_MAX_AGE_SECS: u32 = 180 * 24 * 60 * 60;

/// The device cookie is sent only to `/login` (never to capture URLs, which may share the
/// dashboard's origin and store every header); so it cannot have the `__Host-` prefix, which
/// requires `Path=/`, and takes `__Secure-` on https.
fn device_cookie_name(state: &AppState) -> &'static str {
    if state.config.public_url.starts_with("https://") {
        "__Secure-hookvault-device"
    } else {
        "hookvault-device"
    }
}

/// What the device cookie's seal is bound to: it opens only for this email.
fn device_binding(email: &str) -> Vec<u8> {
    let mut ad = b"hookvault known device\0".to_vec();
    ad.extend_from_slice(email.trim().to_lowercase().as_bytes());
    ad
}

/// Whether the request comes from a browser that signed in as `email` before (its device cookie
/// is sealed under the server key for that email, so nobody else can make one).
pub(crate) fn is_known_device(state: &AppState, headers: &HeaderMap, email: &str) -> bool {
    let name = device_cookie_name(state);
    let binding = device_binding(email);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .filter_map(|(_, v)| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v)
                .ok()
        })
        .any(|blob| state.secret_key.open(&blob, &binding).is_ok())
}

/// The `Set-Cookie` value marking this browser as one that signed in as `email`.
pub(crate) fn device_cookie(state: &AppState, email: &str) -> String {
    let sealed = state.secret_key.seal(b"", &device_binding(email));
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed);
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={value}; Path=/login; Max-Age={DEVICE_MAX_AGE_SECS}; HttpOnly; SameSite=Strict{secure}",
        device_cookie_name(state)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_holds_for_thirty_days_and_not_a_second_longer() {
        let s = SignIn {
            user_id: UserId::nil(),
            generation: 0,
            at: 1_000_000,
        };
        let day = 24 * 60 * 60;
        assert!(s.within_lifetime(1_000_000 + 30 * day - 1));
        assert!(!s.within_lifetime(1_000_000 + 30 * day));
    }
}
