//! The durable job behind the billing webhook: every recorded event is applied by a worker of
//! some server process (claimed with `FOR UPDATE SKIP LOCKED`), its effects and its "done" in
//! one transaction; a failed attempt is retried with backoff and, after [`MAX_ATTEMPTS`], left
//! `failed` for the operator (`hookvault admin billing-events`). The same loop ends grace
//! periods that ran out.
//!
//! Order-proof: a subscription's state is applied only when the event's `created` is newer than
//! the last one applied to it (`store::billing::apply_subscription`), so an older
//! `customer.subscription.updated` arriving after `customer.subscription.deleted` changes
//! nothing. `created` is in whole seconds: on a tie the subscription is read from the API and
//! that state applied. `checkout.session.completed` always reads the subscription from the API
//! and applies that state as of the read (as new as any event of that second).

use std::time::Duration;

use hookvault_core::billing::{BillingEvent, PlanEffect, FREE_PLAN, PAID_PLAN};
use hookvault_core::ids::UserId;
use hookvault_store::billing::{self as store, ClaimedEvent};

use super::Billing;
use crate::state::AppState;

/// Attempts before an event is left `failed`.
pub const MAX_ATTEMPTS: i32 = 15;
/// How long a claimed event is left to its worker before another may take it (longer than
/// any Stripe call).
const LEASE_SECS: f64 = 120.0;
/// How often the worker looks for due events when nothing woke it.
const POLL: Duration = Duration::from_secs(1);

/// Why an attempt failed: worth retrying, or not (the event itself is unusable).
enum JobError {
    Retry(String),
    Permanent(String),
}

impl From<hookvault_store::StoreError> for JobError {
    fn from(e: hookvault_store::StoreError) -> Self {
        JobError::Retry(format!("database: {e}"))
    }
}

impl From<hookvault_store::SqlxError> for JobError {
    fn from(e: hookvault_store::SqlxError) -> Self {
        JobError::Retry(format!("database: {e}"))
    }
}

/// Seconds before retry number `attempts` (1 s, 2 s, 4 s … at most an hour), or `None` when
/// the attempts are used up.
pub fn backoff_secs(attempts: i32) -> Option<f64> {
    (attempts < MAX_ATTEMPTS).then(|| 2f64.powi(attempts.clamp(1, 30) - 1).min(3600.0))
}

/// Runs this process's billing worker until the task is aborted.
pub async fn run_worker(state: AppState) {
    let Some(billing) = state.billing.clone() else {
        return;
    };
    let mut last_sweep = std::time::Instant::now();
    loop {
        // Grace periods are checked at least every POLL, also while events keep coming.
        if last_sweep.elapsed() >= POLL {
            end_expired_graces(&state).await;
            last_sweep = std::time::Instant::now();
        }
        match store::claim_due_event(&state.pool, LEASE_SECS).await {
            Ok(Some(event)) => {
                process(&state, &billing, event).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "billing worker: claiming an event failed"),
        }
        tokio::select! {
            _ = billing.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn process(state: &AppState, billing: &Billing, event: ClaimedEvent) {
    let started = std::time::Instant::now();
    let result = apply(state, billing, &event).await;
    let (error, retry) = match result {
        Ok(outcome) => {
            tracing::info!(
                billing.event_id = %event.event_id,
                billing.event_type = %event.kind,
                duration_ms = started.elapsed().as_millis() as u64,
                outcome = %outcome,
                "billing event applied"
            );
            return;
        }
        Err(JobError::Retry(e)) => {
            let retry = backoff_secs(event.attempts);
            (e, retry)
        }
        Err(JobError::Permanent(e)) => (e, None),
    };
    tracing::warn!(
        billing.event_id = %event.event_id,
        billing.event_type = %event.kind,
        attempts = event.attempts,
        retry_in_s = retry,
        error = %error,
        "billing event failed"
    );
    if let Err(e) = store::fail_event(&state.pool, &event.event_id, &error, retry).await {
        // The lease runs out and the event is claimed again.
        tracing::warn!(error = %e, "billing worker: recording a failure failed");
    }
}

/// Applies one event; its effects and its "done" commit together. Returns what it did.
async fn apply(
    state: &AppState,
    billing: &Billing,
    event: &ClaimedEvent,
) -> Result<String, JobError> {
    let Some(payload) = event.payload.as_ref() else {
        // Only an account's deletion clears a payload (the event named that account), e.g.
        // while this event waited for a retry: there is nothing left to apply.
        return finish(
            state,
            event,
            None,
            "its account was deleted before it was applied; nothing to apply",
        )
        .await;
    };
    let parsed = BillingEvent::from_event(&event.kind, payload).map_err(JobError::Permanent)?;
    let pool = &state.pool;
    match parsed {
        BillingEvent::CheckoutCompleted {
            account_id,
            customer,
            subscription,
        } => {
            let Some(user) = known_account(state, account_id.as_deref()).await? else {
                return finish(
                    state,
                    event,
                    None,
                    "no Hookvault account in client_reference_id; ignored",
                )
                .await;
            };
            let Some(subscription) = subscription else {
                return finish(
                    state,
                    event,
                    Some(user),
                    "not a subscription checkout; ignored",
                )
                .await;
            };
            // The subscription's state now, from the API (the event only names it): newer
            // than any event of an earlier second, as new as one of the same second.
            let (current, read_at) = read_subscription(billing, &subscription, event).await?;
            let customer = customer.or(current.customer);
            let mut tx = pool.begin().await?;
            if let Some(c) = &customer {
                store::link_customer(&mut *tx, user, c).await?;
            }
            let outcome = apply_state(
                &mut tx,
                user,
                &subscription,
                customer.as_deref(),
                &current.status,
                false,
                read_at,
                true,
            )
            .await?
            .words();
            store::finish_event(&mut *tx, &event.event_id, Some(user), &outcome).await?;
            tx.commit().await?;
            Ok(outcome)
        }
        BillingEvent::Subscription {
            id,
            customer,
            status,
            account_id,
            deleted,
        } => {
            let user = match known_account(state, account_id.as_deref()).await? {
                Some(u) => Some(u),
                None => store::find_account_of(pool, Some(&id), customer.as_deref()).await?,
            };
            let Some(user) = user else {
                return finish(
                    state,
                    event,
                    None,
                    "no Hookvault account for this subscription; ignored",
                )
                .await;
            };
            let mut tx = pool.begin().await?;
            let mut outcome = apply_state(
                &mut tx,
                user,
                &id,
                customer.as_deref(),
                &status,
                deleted,
                event.created,
                false,
            )
            .await?;
            if let StateOutcome::Tie = outcome {
                // An event of the same second was applied: which one is newer cannot be told,
                // so the subscription's state now is read from the API and applied.
                drop(tx);
                let (current, read_at) = read_subscription(billing, &id, event).await?;
                tx = pool.begin().await?;
                outcome = apply_state(
                    &mut tx,
                    user,
                    &id,
                    customer.as_deref().or(current.customer.as_deref()),
                    &current.status,
                    false,
                    read_at,
                    true,
                )
                .await?;
                if let StateOutcome::Applied(words) = outcome {
                    outcome = StateOutcome::Applied(format!(
                        "{words} (read from the API: an event of the same second was applied)"
                    ));
                }
            }
            let outcome = outcome.words();
            store::finish_event(&mut *tx, &event.event_id, Some(user), &outcome).await?;
            tx.commit().await?;
            Ok(outcome)
        }
        BillingEvent::InvoicePaid {
            customer,
            subscription,
        } => {
            let Some(user) =
                store::find_account_of(pool, subscription.as_deref(), customer.as_deref()).await?
            else {
                return finish(
                    state,
                    event,
                    None,
                    "no Hookvault account for this invoice; ignored",
                )
                .await;
            };
            let mut tx = pool.begin().await?;
            let ended = store::end_grace(&mut *tx, user, event.created).await?;
            let outcome = if ended {
                "paid: the grace period ended"
            } else {
                "paid: no grace period to end"
            };
            store::finish_event(&mut *tx, &event.event_id, Some(user), outcome).await?;
            tx.commit().await?;
            Ok(outcome.to_string())
        }
        BillingEvent::PaymentFailed {
            customer,
            subscription,
        } => {
            let Some(user) =
                store::find_account_of(pool, subscription.as_deref(), customer.as_deref()).await?
            else {
                return finish(
                    state,
                    event,
                    None,
                    "no Hookvault account for this invoice; ignored",
                )
                .await;
            };
            let grace = billing.config.grace.as_secs_f64();
            let mut tx = pool.begin().await?;
            let started =
                store::start_grace(&mut *tx, user, grace, event.created, FREE_PLAN).await?;
            let outcome = match &started {
                Some((_, until)) => format!(
                    "payment failed: grace period until {}",
                    crate::views::rfc3339(until)
                ),
                None => {
                    "payment failed: a grace period runs already, or the account is on free".into()
                }
            };
            store::finish_event(&mut *tx, &event.event_id, Some(user), &outcome).await?;
            tx.commit().await?;
            // Mailed once the grace period and the event's "done" are committed.
            if let Some((email, until)) = started {
                mail_payment_failed(state, &email, &crate::views::rfc3339(&until));
            }
            Ok(outcome)
        }
        BillingEvent::Ignored => finish(state, event, None, "type not handled; acknowledged").await,
    }
}

async fn finish(
    state: &AppState,
    event: &ClaimedEvent,
    user: Option<UserId>,
    outcome: &str,
) -> Result<String, JobError> {
    store::finish_event(&state.pool, &event.event_id, user, outcome).await?;
    Ok(outcome.to_string())
}

/// The account an id names, if it is one of ours and not being deleted.
async fn known_account(state: &AppState, id: Option<&str>) -> Result<Option<UserId>, JobError> {
    let Some(id) = id.and_then(|i| i.parse::<UserId>().ok()) else {
        return Ok(None);
    };
    Ok(store::find_account(&state.pool, id).await?.then_some(id))
}

/// What [`apply_state`] did.
enum StateOutcome {
    /// Applied (or not, as an older event), in words.
    Applied(String),
    /// An event of the same second was applied already; nothing changed.
    Tie,
}

impl StateOutcome {
    fn words(self) -> String {
        match self {
            StateOutcome::Applied(w) => w,
            StateOutcome::Tie => "an event of the same second was applied already".into(),
        }
    }
}

/// Reads the subscription's state from the API; returns it with the `created` to apply it
/// under: the time the read started (or the event's, if later by the clocks).
async fn read_subscription(
    billing: &Billing,
    subscription: &str,
    event: &ClaimedEvent,
) -> Result<(super::stripe::Subscription, i64), JobError> {
    let read_at = time::OffsetDateTime::now_utc().unix_timestamp();
    let current = billing
        .stripe
        .retrieve_subscription(subscription)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    Ok((current, read_at.max(event.created)))
}

/// Stores a subscription's state if the event is newer than the last one applied (or as new,
/// with `or_equal`: a state read from the API), and moves the account's plan accordingly.
#[allow(clippy::too_many_arguments)]
async fn apply_state(
    tx: &mut hookvault_store::Tx,
    user: UserId,
    subscription: &str,
    customer: Option<&str>,
    status: &str,
    deleted: bool,
    created: i64,
    or_equal: bool,
) -> Result<StateOutcome, JobError> {
    let stored_status = if deleted { "canceled" } else { status };
    match store::apply_subscription(
        &mut **tx,
        subscription,
        user,
        customer,
        stored_status,
        created,
        or_equal,
    )
    .await?
    {
        store::Applied::Yes => {}
        store::Applied::Tie => return Ok(StateOutcome::Tie),
        store::Applied::Older => {
            return Ok(StateOutcome::Applied(format!(
                "subscription {subscription}: an event newer than this one was applied already; nothing changed"
            )))
        }
    }
    Ok(StateOutcome::Applied(match PlanEffect::of_status(status, deleted) {
        PlanEffect::Paid => match store::set_account_plan(tx, user, PAID_PLAN).await? {
            None => format!("subscription {subscription} {status}: plan {PAID_PLAN}"),
            Some(kept) => format!(
                "subscription {subscription} {status}: the account keeps plan {kept}, set by an operator"
            ),
        },
        PlanEffect::Ended => {
            if store::has_paying_subscription(&mut **tx, user).await? {
                format!("subscription {subscription} ended; another one still pays")
            } else {
                match store::set_account_plan(tx, user, FREE_PLAN).await? {
                    None => format!("subscription {subscription} ended: plan {FREE_PLAN}"),
                    Some(kept) => format!(
                        "subscription {subscription} ended: the account keeps plan {kept}, set by an operator"
                    ),
                }
            }
        }
        PlanEffect::Unchanged => format!("subscription {subscription} {status}: plan unchanged"),
    }))
}

/// Moves the accounts whose grace period ran out to the free plan, and tells them.
async fn end_expired_graces(state: &AppState) {
    let due = match store::expired_graces(&state.pool).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "billing worker: listing expired grace periods failed");
            return;
        }
    };
    for (user, email) in due {
        match store::end_expired_grace(&state.pool, user, FREE_PLAN).await {
            Ok(true) => {
                tracing::info!(user.id = %user, "grace period over: plan free");
                state.mailer.send(
                    &email,
                    "Your Hookvault account is on the free plan now",
                    format!(
                        "The payment for your Hookvault Pro subscription could not be \
                         collected, and the grace period is over: your account is on the free \
                         plan now, with its limits.\n\nTo upgrade again: {}/settings/billing\n",
                        state.config.public_url
                    ),
                );
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(user.id = %user, error = %e, "ending a grace period failed"),
        }
    }
}

fn mail_payment_failed(state: &AppState, email: &str, until: &str) {
    state.mailer.send(
        email,
        "Your Hookvault payment failed",
        format!(
            "Stripe could not collect the payment for your Hookvault Pro subscription.\n\n\
             Your account stays on Pro until {until} (UTC); then it moves to the free plan. \
             Update your payment method under Manage billing:\n\n{}/settings/billing\n",
            state.config.public_url
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn retries_back_off_and_stop() {
        assert_eq!(backoff_secs(1), Some(1.0));
        assert_eq!(backoff_secs(2), Some(2.0));
        assert_eq!(backoff_secs(14), Some(3600.0));
        assert_eq!(backoff_secs(15), None);
    }
}
