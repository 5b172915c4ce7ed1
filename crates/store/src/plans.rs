//! Plans, usage, suspension and retention (issue 12).
//!
//! Counting is done by the statements that do the counted thing, on one row per account and
//! period, so every process on the database shares one exact count:
//! - captures: [`crate::requests::insert_captures_counted`] adds a batch to the account's
//!   `capture_usage` row of the month and stores only what the plan still allows;
//! - replays: [`insert_replays_within_plan`](crate::replays::insert_replays_within_plan) adds to
//!   the `replay_usage` row of the day only when the whole batch fits;
//! - endpoints: [`insert_endpoint_within_plan`] counts under a lock on the account row.

use hookvault_core::ids::{EndpointId, UserId};
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::StoreError;

/// A plan's limits.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub name: String,
    pub endpoints: i32,
    pub captures_per_month: i64,
    pub retention_days: i32,
    pub max_body_bytes: i32,
    pub replays_per_day: i32,
    pub listen_streams: i32,
}

/// An account with its plan and usage (the account API, the dashboard meters, `admin accounts`).
#[derive(Debug, Clone)]
pub struct AccountUsage {
    pub id: UserId,
    pub email: String,
    pub suspended_reason: Option<String>,
    pub plan: Plan,
    pub captures_this_period: i64,
    pub period_resets_at: OffsetDateTime,
    pub endpoints: i64,
    pub replays_today: i64,
    pub storage_bytes: i64,
}

/// Inserts or updates a plan (the operator's plans file).
pub async fn upsert_plan(ex: impl PgExecutor<'_>, p: &Plan) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO plans (name, endpoints, captures_per_month, retention_days, max_body_bytes,
                            replays_per_day, listen_streams)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name) DO UPDATE SET endpoints = excluded.endpoints,
             captures_per_month = excluded.captures_per_month,
             retention_days = excluded.retention_days, max_body_bytes = excluded.max_body_bytes,
             replays_per_day = excluded.replays_per_day, listen_streams = excluded.listen_streams",
        p.name,
        p.endpoints,
        p.captures_per_month,
        p.retention_days,
        p.max_body_bytes,
        p.replays_per_day,
        p.listen_streams
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Every plan, by name.
pub async fn list_plans(ex: impl PgExecutor<'_>) -> Result<Vec<Plan>, StoreError> {
    Ok(sqlx::query_as!(
        Plan,
        "SELECT name, endpoints, captures_per_month, retention_days, max_body_bytes,
                replays_per_day, listen_streams
         FROM plans ORDER BY name"
    )
    .fetch_all(ex)
    .await?)
}

/// One account's plan and usage; `None` for an unknown id.
pub async fn account_usage(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Option<AccountUsage>, StoreError> {
    Ok(accounts_usage(ex, Some(user_id)).await?.into_iter().next())
}

/// Every account's plan and usage (`None`), or one account's.
pub async fn accounts_usage(
    ex: impl PgExecutor<'_>,
    user_id: Option<UserId>,
) -> Result<Vec<AccountUsage>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT u.id, u.email, u.suspended_reason,
                  p.name, p.endpoints AS plan_endpoints, p.captures_per_month, p.retention_days,
                  p.max_body_bytes, p.replays_per_day, p.listen_streams,
                  COALESCE((SELECT cu.captures FROM capture_usage cu WHERE cu.user_id = u.id
                            AND cu.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date),
                           0) AS "captures!",
                  (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')
                      AT TIME ZONE 'UTC' AS "resets!",
                  (SELECT count(*) FROM endpoints e WHERE e.user_id = u.id) AS "endpoints!",
                  COALESCE((SELECT ru.replays FROM replay_usage ru WHERE ru.user_id = u.id
                            AND ru.day = (now() AT TIME ZONE 'UTC')::date), 0) AS "replays!",
                  COALESCE((SELECT sum(r.body_size::int8 + octet_length(r.headers))
                            FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
                            WHERE e.user_id = u.id), 0)::int8 AS "storage!"
           FROM users u JOIN plans p ON p.name = u.plan
           WHERE $1::uuid IS NULL OR u.id = $1
           ORDER BY u.email"#,
        user_id as _
    )
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AccountUsage {
            id: r.id.into(),
            email: r.email,
            suspended_reason: r.suspended_reason,
            plan: Plan {
                name: r.name,
                endpoints: r.plan_endpoints,
                captures_per_month: r.captures_per_month,
                retention_days: r.retention_days,
                max_body_bytes: r.max_body_bytes,
                replays_per_day: r.replays_per_day,
                listen_streams: r.listen_streams,
            },
            captures_this_period: r.captures,
            period_resets_at: r.resets,
            endpoints: r.endpoints,
            replays_today: r.replays,
            storage_bytes: r.storage,
        })
        .collect())
}

/// The plan of an account.
pub async fn user_plan(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Option<Plan>, StoreError> {
    Ok(sqlx::query_as!(
        Plan,
        "SELECT p.name, p.endpoints, p.captures_per_month, p.retention_days, p.max_body_bytes,
                p.replays_per_day, p.listen_streams
         FROM users u JOIN plans p ON p.name = u.plan WHERE u.id = $1",
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// What an admin change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminChange {
    Done,
    NoSuchAccount,
    NoSuchPlan,
}

/// Puts the account with this email (any case) on `plan`. Capture routes of its endpoints are
/// announced as changed, so every process applies the new body limit at once.
pub async fn set_plan(
    pool: &sqlx::PgPool,
    email: &str,
    plan: &str,
) -> Result<AdminChange, StoreError> {
    let exists = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM plans WHERE name = $1"#,
        plan
    )
    .fetch_one(pool)
    .await?;
    if exists == 0 {
        return Ok(AdminChange::NoSuchPlan);
    }
    let changed = sqlx::query_scalar!(
        r#"WITH changed AS (
               UPDATE users SET plan = $2 WHERE lower(email) = lower($1) RETURNING id
           ), announced AS (
               SELECT pg_notify($3, e.token) FROM endpoints e JOIN changed c ON c.id = e.user_id
           )
           SELECT count(*) AS "n!" FROM changed, (SELECT count(*) FROM announced) AS a"#,
        email,
        plan,
        crate::notify::ROUTE_CHANGED
    )
    .fetch_one(pool)
    .await?;
    Ok(if changed == 0 {
        AdminChange::NoSuchAccount
    } else {
        AdminChange::Done
    })
}

/// Suspends (`Some(reason)`) or unsuspends (`None`) the account with this email; its capture
/// routes are announced as changed so every process answers 403 (or captures again) at once.
pub async fn set_suspended(
    pool: &sqlx::PgPool,
    email: &str,
    reason: Option<&str>,
) -> Result<AdminChange, StoreError> {
    let changed = sqlx::query_scalar!(
        r#"WITH changed AS (
               UPDATE users SET suspended_reason = $2 WHERE lower(email) = lower($1) RETURNING id
           ), announced AS (
               SELECT pg_notify($3, e.token) FROM endpoints e JOIN changed c ON c.id = e.user_id
           )
           SELECT count(*) AS "n!" FROM changed, (SELECT count(*) FROM announced) AS a"#,
        email,
        reason,
        crate::notify::ROUTE_CHANGED
    )
    .fetch_one(pool)
    .await?;
    Ok(if changed == 0 {
        AdminChange::NoSuchAccount
    } else {
        AdminChange::Done
    })
}

/// Why this account is suspended, if it is (login says why).
pub async fn suspended_reason(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT suspended_reason FROM users WHERE id = $1",
        user_id as _
    )
    .fetch_optional(ex)
    .await?
    .flatten())
}

/// Creates an endpoint when the account's plan allows one more; false when it does not. The
/// count is taken under a lock on the account row, so concurrent creations cannot both pass.
pub async fn insert_endpoint_within_plan(
    pool: &sqlx::PgPool,
    id: EndpointId,
    user_id: UserId,
    name: &str,
    token: &str,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let limit = sqlx::query_scalar!(
        "SELECT p.endpoints FROM users u JOIN plans p ON p.name = u.plan
         WHERE u.id = $1 FOR NO KEY UPDATE OF u",
        user_id as _
    )
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(0);
    let have = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM endpoints WHERE user_id = $1"#,
        user_id as _
    )
    .fetch_one(&mut *tx)
    .await?;
    if have >= i64::from(limit) {
        return Ok(false);
    }
    crate::endpoints::insert_endpoint(&mut *tx, id, user_id, name, token).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes at most `limit` captures older than their account's retention, in one short
/// statement (its own transaction); returns how many. Run it in a loop until it returns less
/// than `limit`. Only one process deletes at a time (a transaction-level advisory lock: the
/// others delete nothing and return 0).
pub async fn delete_expired_batch(ex: impl PgExecutor<'_>, limit: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"WITH pruner AS MATERIALIZED (
               SELECT pg_try_advisory_xact_lock(7301120001) AS elected
           ), doomed AS (
               SELECT r.id FROM requests r
               JOIN endpoints e ON e.id = r.endpoint_id
               JOIN users u ON u.id = e.user_id
               JOIN plans p ON p.name = u.plan
               WHERE (SELECT elected FROM pruner)
                 AND r.received_at < now() - make_interval(days => p.retention_days)
                 AND r.received_at < now() - make_interval(days =>
                         (SELECT COALESCE(min(retention_days), 1) FROM plans))
               LIMIT $1
           ), gone AS (
               DELETE FROM requests WHERE id IN (SELECT id FROM doomed) RETURNING 1
           )
           SELECT count(*) AS "n!" FROM gone"#,
        limit
    )
    .fetch_one(ex)
    .await?)
}

/// When the capture `id` of this user expires (its receive time plus the plan's retention).
pub async fn capture_expires_at(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    received_at: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT $2::timestamptz + make_interval(days => p.retention_days) AS "at!"
           FROM users u JOIN plans p ON p.name = u.plan WHERE u.id = $1"#,
        user_id as _,
        received_at
    )
    .fetch_optional(ex)
    .await?)
}
