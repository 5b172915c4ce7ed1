//! Deleting an account: the part that the settings page and a restart share.

use hookvault_core::ids::UserId;
use hookvault_store::accounts;

use crate::error::AppError;
use crate::state::AppState;

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
