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
/// kind that still has some, children before their parents so that no cascade deletes more
/// (replay attempts, replays, audits, search documents, captures, CLI sessions, last targets,
/// signature re-checks, replay targets, endpoints, usage counters, the payloads of the billing
/// events that name the account, subscriptions, tokens, sessions), and finally the account
/// itself. Each call is its own short transaction.
pub async fn delete_account_step(
    ex: impl PgExecutor<'_> + Copy,
    user_id: UserId,
    limit: i64,
) -> Result<DeleteStep, StoreError> {
    let steps = [
        sqlx::query!(
            "DELETE FROM replay_attempts WHERE id IN (
                 SELECT a.id FROM replay_attempts a JOIN replays r ON r.id = a.replay_id
                 WHERE r.user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
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
            "DELETE FROM request_search WHERE request_id IN (
                 SELECT s.request_id FROM request_search s
                 WHERE s.endpoint_id IN (SELECT id FROM endpoints WHERE user_id = $1)
                 LIMIT $2)",
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
            "DELETE FROM endpoint_last_targets WHERE endpoint_id IN (
                 SELECT endpoint_id FROM endpoint_last_targets WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM signature_rechecks WHERE endpoint_id IN (
                 SELECT r.endpoint_id FROM signature_rechecks r
                 JOIN endpoints e ON e.id = r.endpoint_id WHERE e.user_id = $1 LIMIT $2)",
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
        sqlx::query!(
            "DELETE FROM capture_usage WHERE (user_id, month) IN (
                 SELECT user_id, month FROM capture_usage WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM replay_usage WHERE (user_id, day) IN (
                 SELECT user_id, day FROM replay_usage WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        // Billing events keep their id (a redelivery is still recognized) but lose their
        // payload, which holds the customer's details: every event linked to the account, and
        // every event whose object names it (its Stripe customers, its id as
        // client_reference_id or in metadata, one of its subscriptions) — ignored, pending and
        // failed ones too, which no job linked.
        sqlx::query!(
            "UPDATE billing_events SET payload = NULL, user_id = NULL WHERE event_id IN (
                 SELECT e.event_id FROM billing_events e, users u
                 WHERE u.id = $1 AND (e.user_id = u.id OR (e.payload IS NOT NULL AND (
                     e.payload #>> '{data,object,customer}' = u.stripe_customer_id
                     OR e.payload #>> '{data,object,customer,id}' = u.stripe_customer_id
                     OR e.payload #>> '{data,object,customer}' IN (
                         SELECT customer_id FROM billing_subscriptions WHERE user_id = u.id)
                     OR e.payload #>> '{data,object,client_reference_id}' = u.id::text
                     OR e.payload #>> '{data,object,metadata,hookvault_account_id}' = u.id::text
                     OR e.payload #>> '{data,object,subscription}' IN (
                         SELECT subscription_id FROM billing_subscriptions WHERE user_id = u.id)
                     OR (e.payload #>> '{data,object,object}' = 'subscription'
                         AND e.payload #>> '{data,object,id}' IN (
                             SELECT subscription_id FROM billing_subscriptions
                             WHERE user_id = u.id)))))
                 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM billing_subscriptions WHERE subscription_id IN (
                 SELECT subscription_id FROM billing_subscriptions WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM api_tokens WHERE id IN (SELECT id FROM api_tokens WHERE user_id = $1 LIMIT $2)",
            user_id as _,
            limit
        ),
        sqlx::query!(
            "DELETE FROM account_tokens WHERE token_hash IN (
                 SELECT token_hash FROM account_tokens WHERE user_id = $1 LIMIT $2)",
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
            return Ok(DeleteStep::Rows(n));
        }
    }
    let n = sqlx::query!("DELETE FROM users WHERE id = $1", user_id as _)
        .execute(ex)
        .await?
        .rows_affected();
    Ok(if n > 0 {
        DeleteStep::AccountDeleted
    } else {
        DeleteStep::Gone
    })
}

/// What one step of [`delete_account_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteStep {
    /// Deleted (or, for billing events' payloads, cleared) this many rows of one kind, at most
    /// the step's limit.
    Rows(u64),
    /// Deleted the account's own row: the deletion is complete.
    AccountDeleted,
    /// The account was gone already (another process finished it).
    Gone,
}

/// An account whose deletion started and did not finish.
#[derive(Debug, Clone)]
pub struct BeingDeleted {
    pub id: UserId,
    /// Where the confirmation goes when it is done.
    pub email: String,
}

/// Accounts whose deletion started and did not finish (resumed at start).
pub async fn accounts_being_deleted(
    ex: impl PgExecutor<'_>,
) -> Result<Vec<BeingDeleted>, StoreError> {
    Ok(sqlx::query_as!(
        BeingDeleted,
        r#"SELECT id AS "id: UserId", email FROM users WHERE deleting_at IS NOT NULL"#
    )
    .fetch_all(ex)
    .await?)
}
