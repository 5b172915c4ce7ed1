//! Account operations that more than one caller shares: mailing the email-verification link
//! (sign-up and the settings page) and deleting an account (the settings page and a restart).

use base64::Engine as _;
use hookvault_core::ids::UserId;
use hookvault_store::accounts::{self, Purpose};

use crate::error::AppError;
use crate::state::AppState;

/// A verification link works for a day.
const VERIFY_SECS: i64 = 24 * 60 * 60;

/// A new mailed-link token (256 random bits) and the hash that is stored.
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

/// Rows deleted per statement when deleting an account (each its own short transaction).
const DELETE_BATCH: i64 = 1000;

/// Deletes an account (idempotent, resumable: also finishes a deletion that was cut short).
pub(crate) async fn delete_account(state: &AppState, user_id: UserId) -> Result<(), AppError> {
    let old_tokens = accounts::begin_deletion(&state.pool, user_id).await?;
    for token in old_tokens {
        hookvault_store::endpoints::notify_route_changed(&state.pool, &token).await?;
    }
    while accounts::delete_account_step(&state.pool, user_id, DELETE_BATCH).await? > 0 {}
    Ok(())
}

/// Finishes deletions that a stop interrupted (called once at start).
pub async fn resume_deletions(state: AppState) {
    let ids = match accounts::accounts_being_deleted(&state.pool).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "listing interrupted account deletions");
            return;
        }
    };
    for id in ids {
        if let Err(e) = delete_account(&state, id).await {
            tracing::warn!(user.id = %id, error = %e, "resuming an account deletion");
        }
    }
}
