//! Billing (issue 13): the webhook's inbox of Stripe events (each row also the durable job that
//! applies it), the subscriptions with the `created` of the newest event applied to each, the
//! account's Stripe customer and its grace period after a failed payment.

use hookvault_core::ids::UserId;
use hookvault_core::stored::BillingEventStatus;
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::StoreError;

/// An event claimed by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    pub event_id: String,
    pub kind: String,
    pub created: i64,
    pub payload: Option<serde_json::Value>,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// One row of `hookvault admin billing-events`.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub event_id: String,
    pub kind: String,
    pub created: i64,
    pub status: BillingEventStatus,
    pub attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub outcome: Option<String>,
    pub received_at: OffsetDateTime,
}

/// What the billing page shows about an account.
#[derive(Debug, Clone)]
pub struct AccountBilling {
    pub customer_id: Option<String>,
    pub grace_until: Option<OffsetDateTime>,
    /// The newest subscription's status, if any.
    pub subscription_status: Option<String>,
}

/// Records a verified event under its unique id before anything else happens. `pending`
/// queues it for the job; `ignored` records a type the job does not act on. Returns false for
/// a duplicate delivery (nothing changes then).
pub async fn insert_event(
    ex: impl PgExecutor<'_>,
    event_id: &str,
    kind: &str,
    created: i64,
    payload: &serde_json::Value,
    handled: bool,
) -> Result<bool, StoreError> {
    let status = if handled {
        BillingEventStatus::Pending
    } else {
        BillingEventStatus::Ignored
    };
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO billing_events (event_id, type, created, payload, status, outcome,
                                       finished_at)
           VALUES ($1, $2, $3, $4, $5,
                   CASE WHEN $5 = 'ignored' THEN 'type not handled; acknowledged' END,
                   CASE WHEN $5 = 'ignored' THEN now() END)
           ON CONFLICT ON CONSTRAINT billing_events_event_id_key DO NOTHING
           RETURNING 1 AS "one!""#,
        event_id,
        kind,
        created,
        payload,
        status as _
    )
    .fetch_optional(ex)
    .await?;
    Ok(inserted.is_some())
}

/// Claims the oldest due event (`FOR UPDATE SKIP LOCKED`, so workers of every process share the
/// queue): its next attempt moves `lease_secs` ahead, so no other worker takes it meanwhile and
/// no transaction stays open while the job calls Stripe. A worker that dies leaves the event to
/// be claimed again when the lease ends.
pub async fn claim_due_event(
    ex: impl PgExecutor<'_>,
    lease_secs: f64,
) -> Result<Option<ClaimedEvent>, StoreError> {
    Ok(sqlx::query_as!(
        ClaimedEvent,
        r#"UPDATE billing_events
           SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $1)
           WHERE event_id = (
               SELECT event_id FROM billing_events
               WHERE status = 'pending' AND next_attempt_at <= now()
               ORDER BY next_attempt_at LIMIT 1
               FOR UPDATE SKIP LOCKED)
           RETURNING event_id, type AS kind, created, payload, attempts"#,
        lease_secs
    )
    .fetch_optional(ex)
    .await?)
}

/// Marks an event applied (in the transaction that applied it), with what it did in words.
pub async fn finish_event(
    ex: impl PgExecutor<'_>,
    event_id: &str,
    user_id: Option<UserId>,
    outcome: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE billing_events SET status = 'done', outcome = $2, user_id = $3,
                last_error = NULL, finished_at = now()
         WHERE event_id = $1",
        event_id,
        outcome,
        user_id as _
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried in `retry_in_secs`, or given up (`None`: status `failed`).
pub async fn fail_event(
    ex: impl PgExecutor<'_>,
    event_id: &str,
    error: &str,
    retry_in_secs: Option<f64>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE billing_events
         SET last_error = $2,
             status = CASE WHEN $3::float8 IS NULL THEN 'failed' ELSE 'pending' END,
             next_attempt_at = now() + make_interval(secs => COALESCE($3, 0)),
             finished_at = CASE WHEN $3::float8 IS NULL THEN now() END
         WHERE event_id = $1",
        event_id,
        error,
        retry_in_secs
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Queues a `failed` event again, as if just received (attempts from zero, due now), for an
/// operator who fixed its cause. False when no failed event has this id.
pub async fn retry_failed_event(
    ex: impl PgExecutor<'_>,
    event_id: &str,
) -> Result<bool, StoreError> {
    let moved = sqlx::query!(
        "UPDATE billing_events
         SET status = 'pending', attempts = 0, next_attempt_at = now(), finished_at = NULL
         WHERE event_id = $1 AND status = 'failed'",
        event_id
    )
    .execute(ex)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// The newest events (all, or only those still pending or failed), for operators.
pub async fn list_events(
    ex: impl PgExecutor<'_>,
    only_unfinished: bool,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as!(
        EventRow,
        r#"SELECT event_id, type AS kind, created, status AS "status: _", attempts, next_attempt_at,
                  last_error, outcome, received_at
           FROM billing_events
           WHERE NOT $1 OR status IN ('pending', 'failed')
           ORDER BY received_at DESC, event_id LIMIT $2"#,
        only_unfinished,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// The status of one event (tests and operators).
pub async fn event_status(
    ex: impl PgExecutor<'_>,
    event_id: &str,
) -> Result<Option<BillingEventStatus>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT status AS "status: BillingEventStatus" FROM billing_events WHERE event_id = $1"#,
        event_id
    )
    .fetch_optional(ex)
    .await?)
}

/// The account with this id, if it exists and is not being deleted.
pub async fn find_account(ex: impl PgExecutor<'_>, id: UserId) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 1 AS "one!" FROM users WHERE id = $1 AND deleting_at IS NULL"#,
        id as _
    )
    .fetch_optional(ex)
    .await?
    .is_some())
}

/// The account a subscription or a customer belongs to, as far as Hookvault knows.
pub async fn find_account_of(
    ex: impl PgExecutor<'_>,
    subscription: Option<&str>,
    customer: Option<&str>,
) -> Result<Option<UserId>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT id AS "id!: UserId" FROM (
               SELECT user_id AS id, 1 AS rank FROM billing_subscriptions
               WHERE subscription_id = $1
               UNION ALL
               SELECT id, 2 FROM users WHERE stripe_customer_id = $2
           ) found ORDER BY rank LIMIT 1"#,
        subscription,
        customer
    )
    .fetch_optional(ex)
    .await?)
}

/// Links the account to its Stripe customer.
pub async fn link_customer(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    customer: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE users SET stripe_customer_id = $2 WHERE id = $1",
        user_id as _,
        customer
    )
    .execute(ex)
    .await
    .map_err(crate::conflict)?;
    Ok(())
}

/// Whether [`apply_subscription`] stored the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Yes,
    /// A newer event was applied already: nothing changed.
    Older,
    /// The last event applied has the same `created` (whole seconds): nothing changed, and
    /// which of the two is newer cannot be told from them (re-read the subscription).
    Tie,
}

/// Stores a subscription's state if `created` is newer than the last event applied to it (or,
/// with `or_equal`, as new: for a state read from the API, which is at least as new as any
/// event of the same second).
pub async fn apply_subscription(
    ex: impl PgExecutor<'_>,
    subscription: &str,
    user_id: UserId,
    customer: Option<&str>,
    status: &str,
    created: i64,
    or_equal: bool,
) -> Result<Applied, StoreError> {
    let row = sqlx::query!(
        r#"WITH up AS (
               INSERT INTO billing_subscriptions
                   (subscription_id, user_id, customer_id, status, last_event_created)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (subscription_id) DO UPDATE
               SET status = excluded.status, last_event_created = excluded.last_event_created,
                   customer_id = COALESCE(excluded.customer_id, billing_subscriptions.customer_id),
                   updated_at = now()
               WHERE billing_subscriptions.last_event_created < excluded.last_event_created
                  OR ($6 AND billing_subscriptions.last_event_created = excluded.last_event_created)
               RETURNING 1)
           SELECT EXISTS (SELECT 1 FROM up) AS "applied!",
                  (SELECT last_event_created FROM billing_subscriptions
                   WHERE subscription_id = $1) AS "last?""#,
        subscription,
        user_id as _,
        customer,
        status,
        created,
        or_equal
    )
    .fetch_one(ex)
    .await?;
    Ok(if row.applied {
        Applied::Yes
    } else if row.last == Some(created) {
        Applied::Tie
    } else {
        Applied::Older
    })
}

/// What Stripe ids name an account, besides its subscriptions' rows: its linked customer, the
/// customers and subscriptions that billing events name together with the account's id
/// (`client_reference_id`, `metadata.hookvault_account_id`) — also of events no job applied
/// yet (pending or failed).
#[derive(Debug, Clone, Default)]
pub struct StripeRefs {
    pub customers: Vec<String>,
    pub subscriptions: Vec<String>,
}

/// The Stripe ids that name the account (see [`StripeRefs`]).
pub async fn stripe_refs(pool: &crate::PgPool, user_id: UserId) -> Result<StripeRefs, StoreError> {
    let customers = sqlx::query_scalar!(
        r#"SELECT DISTINCT c AS "c!" FROM (
               SELECT stripe_customer_id AS c FROM users WHERE id = $1
               UNION ALL
               SELECT customer_id FROM billing_subscriptions WHERE user_id = $1
               UNION ALL
               SELECT payload #>> '{data,object,customer}' FROM billing_events
               WHERE payload #>> '{data,object,client_reference_id}' = $1::uuid::text
                  OR payload #>> '{data,object,metadata,hookvault_account_id}' = $1::uuid::text
           ) named WHERE c IS NOT NULL ORDER BY 1"#,
        user_id as _
    )
    .fetch_all(pool)
    .await?;
    let subscriptions = sqlx::query_scalar!(
        r#"SELECT DISTINCT s AS "s!" FROM (
               SELECT payload #>> '{data,object,subscription}' AS s FROM billing_events
               WHERE payload #>> '{data,object,client_reference_id}' = $1::uuid::text
               UNION ALL
               SELECT payload #>> '{data,object,id}' FROM billing_events
               WHERE payload #>> '{data,object,object}' = 'subscription'
                 AND payload #>> '{data,object,metadata,hookvault_account_id}' = $1::uuid::text
           ) named WHERE s IS NOT NULL ORDER BY 1"#,
        user_id as _
    )
    .fetch_all(pool)
    .await?;
    Ok(StripeRefs {
        customers,
        subscriptions,
    })
}

/// Whether the account has a subscription that pays for the paid plan (active or trialing).
pub async fn has_paying_subscription(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 1 AS "one!" FROM billing_subscriptions
           WHERE user_id = $1 AND status IN ('active', 'trialing') LIMIT 1"#,
        user_id as _
    )
    .fetch_optional(ex)
    .await?
    .is_some())
}

/// Subscriptions of the account that Stripe may still charge (to cancel before deleting it).
pub async fn live_subscriptions(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT subscription_id FROM billing_subscriptions
         WHERE user_id = $1 AND status NOT IN ('canceled', 'incomplete_expired')
         ORDER BY updated_at",
        user_id as _
    )
    .fetch_all(ex)
    .await?)
}

/// Records that a subscription was cancelled through the API (account deletion).
pub async fn mark_canceled(ex: impl PgExecutor<'_>, subscription: &str) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE billing_subscriptions SET status = 'canceled', updated_at = now()
         WHERE subscription_id = $1",
        subscription
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Puts the account on `plan` (the new limits apply at once: its capture routes are announced
/// as changed to every process when the transaction commits) when it is on one of the plans
/// billing manages (`hookvault_core::billing::FREE_PLAN`, `PAID_PLAN`); an account an
/// operator put on another plan (`hookvault admin set-plan`) keeps it. The grace period ends
/// either way. Returns the plan the account keeps, or `None` when it was moved.
pub async fn set_account_plan(
    tx: &mut crate::Tx,
    user_id: UserId,
    plan: &str,
) -> Result<Option<String>, StoreError> {
    let managed = [
        hookvault_core::billing::FREE_PLAN.to_owned(),
        hookvault_core::billing::PAID_PLAN.to_owned(),
    ];
    let row = sqlx::query!(
        r#"WITH old AS (SELECT id, plan FROM users WHERE id = $1 FOR UPDATE),
           changed AS (
               UPDATE users u
               SET plan = CASE WHEN old.plan = ANY($4) THEN $2 ELSE old.plan END,
                   billing_grace_until = NULL, billing_grace_created = NULL
               FROM old WHERE u.id = old.id
               RETURNING u.id, old.plan AS was, old.plan = ANY($4) AS moved
           )
           SELECT (SELECT was FROM changed) AS "was?", (SELECT moved FROM changed) AS "moved?",
                  (SELECT count(pg_notify($3, e.token))
                   FROM endpoints e JOIN changed c ON c.id = e.user_id) AS "n!""#,
        user_id as _,
        plan,
        crate::notify::ROUTE_CHANGED,
        &managed[..]
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(match (row.was, row.moved) {
        (Some(was), Some(false)) => Some(was),
        _ => None,
    })
}

/// Starts a grace period after a failed payment (unless one runs already), on an account that
/// is not on the free plan; returns the account's email and the end of the grace period when
/// one started now.
pub async fn start_grace(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    grace_secs: f64,
    created: i64,
    free_plan: &str,
) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
    let row = sqlx::query!(
        r#"UPDATE users SET billing_grace_until = now() + make_interval(secs => $2),
                            billing_grace_created = $3
           WHERE id = $1 AND billing_grace_until IS NULL AND plan <> $4
             AND (billing_grace_created IS NULL OR billing_grace_created < $3)
           RETURNING email, billing_grace_until AS "until!""#,
        user_id as _,
        grace_secs,
        created,
        free_plan
    )
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|r| (r.email, r.until)))
}

/// Ends the grace period, unless it was started by a failure newer than this payment. The
/// payment's `created` is kept, so a failure older than it, arriving late, starts none.
pub async fn end_grace(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    created: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "UPDATE users SET billing_grace_until = NULL, billing_grace_created = $2
         WHERE id = $1 AND billing_grace_until IS NOT NULL AND billing_grace_created <= $2",
        user_id as _,
        created
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Accounts whose grace period is over; each is moved by [`set_account_plan`].
pub async fn expired_graces(ex: impl PgExecutor<'_>) -> Result<Vec<(UserId, String)>, StoreError> {
    let rows = sqlx::query!(
        "SELECT id, email FROM users
         WHERE billing_grace_until <= now() AND deleting_at IS NULL
         ORDER BY billing_grace_until LIMIT 100"
    )
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id.into(), r.email)).collect())
}

/// Moves one account whose grace period is over to the free plan, if it still is over (another
/// process may have done it, or a payment ended it). Returns whether it was moved (an account
/// an operator put on a plan of their own keeps it; its grace period ends all the same).
pub async fn end_expired_grace(
    pool: &crate::PgPool,
    user_id: UserId,
    free_plan: &str,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query_scalar!(
        r#"SELECT 1 AS "one!" FROM users WHERE id = $1 AND billing_grace_until <= now()
           FOR UPDATE SKIP LOCKED"#,
        user_id as _
    )
    .fetch_optional(&mut *tx)
    .await?;
    if due.is_none() {
        return Ok(false);
    }
    let kept = set_account_plan(&mut tx, user_id, free_plan).await?;
    tx.commit().await?;
    Ok(kept.is_none())
}

/// The account's billing state, for its billing page.
pub async fn account_billing(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Option<AccountBilling>, StoreError> {
    Ok(sqlx::query_as!(
        AccountBilling,
        r#"SELECT u.stripe_customer_id AS customer_id, u.billing_grace_until AS grace_until,
                  (SELECT s.status FROM billing_subscriptions s WHERE s.user_id = u.id
                   ORDER BY s.updated_at DESC LIMIT 1) AS subscription_status
           FROM users u WHERE u.id = $1"#,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}
