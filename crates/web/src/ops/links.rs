//! Links sent by mail: their tokens (256 random bits; only the SHA-256 is stored) and the
//! email-verification mail, which sign-up and the settings page both send.

use base64::Engine as _;
use hookvault_core::ids::UserId;
use hookvault_store::accounts::{self, Purpose};

use crate::error::AppError;
use crate::state::AppState;

/// A verification link works for a day.
const VERIFY_SECS: i64 = 24 * 60 * 60;

/// A new mailed-link token and the hash that is stored.
pub(crate) fn new_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = crate::ops::tokens::hash_token(&token);
    (token, hash)
}

/// Mails `email` a link that verifies it as the account's address (after sign-up, or for a
/// change of email); earlier verification links of the account stop working.
pub(crate) async fn send_verification(
    state: &AppState,
    user_id: UserId,
    email: &str,
) -> Result<(), AppError> {
    let (token, hash) = new_token();
    accounts::insert_token(
        &state.pool,
        user_id,
        Purpose::VerifyEmail,
        email,
        &hash,
        VERIFY_SECS,
    )
    .await?;
    let link = format!("{}/verify-email?token={token}", state.config.public_url);
    state.mailer.send(
        email,
        "Verify your email address for Hookvault",
        format!(
            "Open this link to verify {email} as your Hookvault address:\n\n{link}\n\n\
             It works once, for 24 hours. If you did not ask for this, ignore this mail.\n"
        ),
    );
    Ok(())
}
