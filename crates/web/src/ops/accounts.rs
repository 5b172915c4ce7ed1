//! Deleting an account: the part that the settings page and a restart share.
//!
//! [`start_deletion`] runs the deletion in a task of its own and waits only for its short first
//! part (the account can no longer sign in nor capture), so the deletion goes on when the
//! browser that asked for it goes away; the confirmation mail goes out when the account is
//! gone. A
//! deletion that a stop cut short is finished, and mailed, at the next start
//! ([`resume_deletions`]).

use std::time::Duration;

use hookvault_core::ids::UserId;
use hookvault_store::accounts::{self, DeleteStep};

use crate::error::AppError;
use crate::state::AppState;

/// Rows deleted per statement when deleting an account (each its own short transaction).
pub const DELETE_BATCH: i64 = 1000;
/// A failed step is tried again this often, this long apart, before the deletion is left to
/// the next start.
const STEP_RETRIES: u32 = 30;
const STEP_RETRY_DELAY: Duration = Duration::from_secs(2);

/// Starts deleting an account: at once it can no longer sign in (every session ends, its API
/// tokens and links are deleted) and its capture URLs stop working; its rows then go in
/// batches in the background, and `email` gets the confirmation when the account is gone.
/// All of it runs in a task of its own, which this waits for only until the first part is
/// done: a caller that goes away (the browser closed) cuts nothing short.
pub(crate) async fn start_deletion(
    state: &AppState,
    user_id: UserId,
    email: &str,
) -> Result<(), AppError> {
    let (begun_tx, begun) = tokio::sync::oneshot::channel();
    let state = state.clone();
    let email = email.to_owned();
    tokio::spawn(async move {
        let result = begin(&state, user_id).await;
        let ok = result.is_ok();
        let _ = begun_tx.send(result);
        if ok {
            finish_deletion(&state, user_id, &email, DELETE_BATCH).await;
        }
    });
    begun.await.map_err(|_| {
        AppError::Internal(anyhow::anyhow!(
            "the account deletion task ended before it began"
        ))
    })?
}

async fn begin(state: &AppState, user_id: UserId) -> Result<(), AppError> {
    let old_tokens = accounts::begin_deletion(&state.pool, user_id).await?;
    for token in old_tokens {
        hookvault_store::endpoints::notify_route_changed(&state.pool, &token).await?;
    }
    Ok(())
}

/// Deletes the account's rows `batch` at a time until the account is gone, then mails the
/// confirmation (only the process whose step deleted the account itself sends it).
async fn finish_deletion(state: &AppState, user_id: UserId, email: &str, batch: i64) {
    let mut failures = 0;
    loop {
        match accounts::delete_account_step(&state.pool, user_id, batch).await {
            Ok(DeleteStep::Rows(_)) => failures = 0,
            Ok(DeleteStep::AccountDeleted) => break,
            Ok(DeleteStep::Gone) => return,
            Err(e) => {
                failures += 1;
                if failures > STEP_RETRIES {
                    tracing::warn!(user.id = %user_id, error = %e,
                        "deleting an account failed; it is finished at the next start");
                    return;
                }
                tracing::warn!(user.id = %user_id, error = %e, "deleting an account: a step failed; retrying");
                tokio::time::sleep(STEP_RETRY_DELAY).await;
            }
        }
    }
    tracing::info!(user.id = %user_id, "account deleted");
    state.mailer.send(
        email,
        "Your Hookvault account was deleted",
        format!(
            "Your Hookvault account {email} and all its data (endpoints, captures, replays, API \
             tokens, sessions) were deleted, as you asked.\n"
        ),
    );
}

/// Finishes deletions that a stop interrupted, and mails their confirmations (called once at
/// start).
pub async fn resume_deletions(state: AppState) {
    let pending = match accounts::accounts_being_deleted(&state.pool).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "listing interrupted account deletions");
            return;
        }
    };
    for account in pending {
        if let Err(e) = begin(&state, account.id).await {
            tracing::warn!(user.id = %account.id, error = %e, "resuming an account deletion");
            continue;
        }
        finish_deletion(&state, account.id, &account.email, DELETE_BATCH).await;
    }
}
