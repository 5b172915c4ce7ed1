//! Account lifecycle (issue 13): links sent by mail (email verification, password reset),
//! verified emails, and deleting an account in bounded batches.

use hookvault_core::ids::UserId;
use sqlx::PgExecutor;

use crate::{conflict, StoreError};

/// What a mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 2] = [Purpose::VerifyEmail, Purpose::ResetPassword];

    /// The stored name (`account_tokens.purpose`).
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

/// A link's token, taken (so used up) from the store.
#[derive(Debug, Clone)]
pub struct TakenToken {
    pub user_id: UserId,
    /// The address the link was sent to.
    pub email: String,
    /// Past its expiry: it was deleted all the same and must be refused.
    pub expired: bool,
}

/// Stores a new link's token hash, replacing the account's earlier links of this purpose (only
/// the latest link works).
pub async fn insert_token(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    purpose: Purpose,
    email: &str,
    token_hash: &[u8],
    valid_for_secs: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "WITH earlier AS (DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2)
         INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at)
         VALUES ($3, $1, $2, $4, now() + make_interval(secs => $5))",
        user_id as _,
        purpose.as_str(),
        token_hash,
        email,
        valid_for_secs as f64
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Takes a link's token: deleted in the same statement that finds it, so it works once even
/// when used twice at the same time.
pub async fn take_token(
    ex: impl PgExecutor<'_>,
    purpose: Purpose,
    token_hash: &[u8],
) -> Result<Option<TakenToken>, StoreError> {
    Ok(sqlx::query_as!(
        TakenToken,
        r#"DELETE FROM account_tokens WHERE token_hash = $1 AND purpose = $2
           RETURNING user_id, email, expires_at <= now() AS "expired!""#,
        token_hash,
        purpose.as_str()
    )
    .fetch_optional(ex)
    .await?)
}

/// Deletes the account's links of this purpose.
pub async fn delete_tokens(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    purpose: Purpose,
) -> Result<(), StoreError> {
    sqlx::query!(
        "DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2",
        user_id as _,
        purpose.as_str()
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Makes `email` the account's verified address (a change of email takes effect here); a
/// taken address is [`StoreError::Conflict`]. False when the account is gone.
pub async fn set_verified_email(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    email: &str,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "UPDATE users SET email = $2, email_verified_at = now()
         WHERE id = $1 AND deleting_at IS NULL",
        user_id as _,
        email
    )
    .execute(ex)
    .await
    .map_err(conflict)?;
    Ok(r.rows_affected() == 1)
}

/// The capture tokens of the account's endpoints (their cached routes must be dropped when
/// the account's verification changes).
pub async fn endpoint_tokens(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT token FROM endpoints WHERE user_id = $1",
        user_id as _
    )
    .fetch_all(ex)
    .await?)
}

/// Starts deleting an account, in one short transaction's worth of work: the account can no
/// longer sign in (every session ends, its API tokens and links are deleted) and its capture
/// URLs stop working (each endpoint's token is replaced). Returns the old capture tokens, for
/// the route caches. Idempotent.
pub async fn begin_deletion(
    pool: &crate::PgPool,
    user_id: UserId,
) -> Result<Vec<String>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "UPDATE users SET deleting_at = COALESCE(deleting_at, now()),
                          session_generation = session_generation + 1
         WHERE id = $1",
        user_id as _
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM api_tokens WHERE user_id = $1", user_id as _)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "DELETE FROM account_tokens WHERE user_id = $1",
        user_id as _
    )
    .execute(&mut *tx)
    .await?;
    let tokens = sqlx::query_scalar!(
        r#"WITH old AS (SELECT id, token FROM endpoints WHERE user_id = $1 FOR UPDATE)
           UPDATE endpoints e SET token = 'deleted-' || e.id::text
           FROM old WHERE e.id = old.id AND old.token NOT LIKE 'deleted-%'
           RETURNING old.token AS "token!""#,
        user_id as _
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(tokens)
}

/// One bounded step of deleting an account's rows: deletes at most `limit` rows of the first
/// kind that still has some (replays with their attempts, audits, captures, CLI sessions,
/// replay targets, endpoints, billing events' payloads, sessions), and finally the account itself. Returns the rows
/// deleted; 0 means the account is gone. Each call is its own short transaction.
pub async fn delete_account_step(
    ex: impl PgExecutor<'_> + Copy,
    user_id: UserId,
    limit: i64,
) -> Result<u64, StoreError> {
    let steps = [
        sqlx::query!(
            "DELETE FROM replays WHERE id IN (SELECT id FROM replays WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM audits WHERE id IN (SELECT id FROM audits WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM requests WHERE id IN (
                 SELECT r.id FROM requests r
                 WHERE r.endpoint_id IN (SELECT id FROM endpoints WHERE user_id = $1)
                 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM cli_sessions WHERE id IN (
                 SELECT id FROM cli_sessions WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM replay_targets WHERE id IN (
                 SELECT id FROM replay_targets WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM endpoints WHERE id IN (SELECT id FROM endpoints WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        // Billing events that named the account keep their id (a redelivery is still
        // recognized) but lose their payload, which holds the customer's details.
        sqlx::query!(
            "UPDATE billing_events SET payload = NULL, user_id = NULL WHERE event_id IN (
                 SELECT event_id FROM billing_events WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        // A signed-in session holds the account id as text in its MessagePack data.
        sqlx::query!(
            "DELETE FROM tower_sessions.session WHERE id IN (
                 SELECT id FROM tower_sessions.session
                 WHERE position(convert_to($1::uuid::text, 'UTF8') in data) > 0 LIMIT $2)",
            user_id as _,
            limit
        ),
    ];
    for step in steps {
        let n = step.execute(ex).await?.rows_affected();
        if n > 0 {
            return Ok(n);
        }
    }
    let n = sqlx::query!("DELETE FROM users WHERE id = $1", user_id as _)
        .execute(ex)
        .await?
        .rows_affected();
    Ok(n)
}

/// Accounts whose deletion started and did not finish (resumed at start).
pub async fn accounts_being_deleted(ex: impl PgExecutor<'_>) -> Result<Vec<UserId>, StoreError> {
    Ok(
        sqlx::query_scalar!(
            r#"SELECT id AS "id: UserId" FROM users WHERE deleting_at IS NOT NULL"#
        )
        .fetch_all(ex)
        .await?,
    )
}
