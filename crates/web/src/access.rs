//! What let a long-running stream in, checked again while it runs: a stream opened with a
//! session ends within [`RECHECK`] of logout, of a password change that ends the session, or of
//! the session reaching its absolute lifetime; one opened with an API token ends within
//! [`RECHECK`] of the token's revocation. Streams use it as one more branch of their wait:
//! `() = access.revoked() => return`.

use std::time::Duration;

use hookvault_core::ids::UserId;
use tokio::time::Instant;
use tower_sessions::session::Id;
use tower_sessions::SessionStore;

use crate::auth::signin::{SignIn, AUTH_KEY};
use crate::state::AppState;

/// How often a stream's access is checked again (the promise is "within 30 s").
pub(crate) const RECHECK: Duration = Duration::from_secs(10);

/// The credential a request was authorised with.
#[derive(Clone)]
pub(crate) enum Grant {
    /// A browser session, by id.
    Session(Id),
    /// An API token, by its SHA-256 hash.
    Token(Vec<u8>),
}

/// A stream's access, re-checked every [`RECHECK`].
pub(crate) struct Access {
    state: AppState,
    user_id: UserId,
    grant: Grant,
    next: Instant,
}

impl Access {
    pub(crate) fn new(state: &AppState, user_id: UserId, grant: Grant) -> Self {
        Access {
            state: state.clone(),
            user_id,
            grant,
            next: Instant::now() + RECHECK,
        }
    }

    /// Resolves once the access no longer holds; pending while it does. Cancel-safe: the next
    /// check keeps its time when the future is dropped and made again.
    pub(crate) async fn revoked(&mut self) {
        loop {
            tokio::time::sleep_until(self.next).await;
            self.next = Instant::now() + RECHECK;
            if !self.holds().await {
                return;
            }
        }
    }

    /// Whether the grant still lets this user in. A failed check counts as revoked: the client
    /// reconnects and is let in again if it still may.
    async fn holds(&self) -> bool {
        match &self.grant {
            Grant::Token(hash) => {
                hookvault_store::tokens::find_token_owner(&self.state.pool, hash)
                    .await
                    .ok()
                    .flatten()
                    == Some(self.user_id)
            }
            Grant::Session(id) => {
                let Some(store) = &self.state.sessions else {
                    return false;
                };
                let Ok(Some(record)) = store.load(id).await else {
                    return false;
                };
                if record.expiry_date <= time::OffsetDateTime::now_utc() {
                    return false;
                }
                let Some(sign_in) = record
                    .data
                    .get(AUTH_KEY)
                    .and_then(|v| serde_json::from_value::<SignIn>(v.clone()).ok())
                    .filter(|s| s.user_id == self.user_id)
                else {
                    return false;
                };
                matches!(sign_in.user(&self.state).await, Ok(Some(_)))
            }
        }
    }
}
