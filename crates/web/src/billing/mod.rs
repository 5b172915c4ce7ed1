//! Billing (issue 13): the Pro plan bought through Stripe Checkout, and Hookvault's own Stripe
//! webhook, built to the checklist.
//!
//! - [`page`]: `/settings/billing` (plan and limits, **Upgrade** → a Checkout Session, **Manage
//!   billing** → a billing-portal session);
//! - [`webhook`]: `POST /billing/stripe/webhook` — signature over the raw body, the event id
//!   recorded under a unique key before any effect, a fast 2xx;
//! - [`jobs`]: the durable job that applies each event (retried with backoff, order-proof);
//! - [`stripe`]: the few Stripe API calls, with deadlines.

pub(crate) mod jobs;
pub(crate) mod page;
pub(crate) mod stripe;
pub(crate) mod webhook;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use jobs::run_worker;

/// Stripe settings given on the command line. Secrets are never printed (`Debug` hides them).
#[derive(Clone)]
pub struct BillingConfig {
    /// `sk_test_…` / `sk_live_…` (or a restricted key that may create Checkout and portal
    /// sessions and read and cancel subscriptions).
    pub secret_key: String,
    /// The recurring price of the Pro plan (`price_…`).
    pub price_id: String,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: String,
    /// Stripe's API, `https://api.stripe.com` (tests use a local stand-in).
    pub api_base: String,
    /// How long an account keeps its plan after a failed payment.
    pub grace: Duration,
}

impl std::fmt::Debug for BillingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingConfig")
            .field("secret_key", &"<hidden>")
            .field("price_id", &self.price_id)
            .field("webhook_secret", &"<hidden>")
            .field("api_base", &self.api_base)
            .field("grace", &self.grace)
            .finish()
    }
}

/// Billing at run time: the settings, the Stripe client and the worker's wake-up.
#[derive(Clone)]
pub struct Billing {
    pub config: Arc<BillingConfig>,
    pub(crate) stripe: stripe::StripeClient,
    /// Wakes this process's billing worker when the webhook queues an event.
    pub(crate) wake: Arc<Notify>,
    /// Where the billing page's forms may lead (its `form-action`): Stripe's hosted pages.
    pub(crate) form_targets: Arc<str>,
}

impl Billing {
    pub fn new(config: BillingConfig) -> anyhow::Result<Billing> {
        let stripe = stripe::StripeClient::new(&config.api_base, &config.secret_key)?;
        Ok(Billing {
            form_targets: form_targets(&config.api_base).into(),
            config: Arc::new(config),
            stripe,
            wake: Arc::new(Notify::new()),
        })
    }
}

/// Stripe's Checkout and billing-portal origins, and the API's own origin when it is not
/// Stripe's (a stand-in or a proxy serves its hosted pages there).
fn form_targets(api_base: &str) -> String {
    let mut targets = String::from("https://checkout.stripe.com https://billing.stripe.com");
    let (scheme, rest) = api_base.split_once("://").unwrap_or(("https", api_base));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let safe = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if safe && authority != "api.stripe.com" && matches!(scheme, "http" | "https") {
        targets.push_str(&format!(" {scheme}://{authority}"));
    }
    targets
}

/// Whether Stripe may still charge a subscription in this status.
fn is_live(status: &str) -> bool {
    !matches!(status, "canceled" | "incomplete_expired")
}

/// Cancels, through Stripe's API, every subscription of the account that Stripe may still
/// charge, before the account is deleted: first the live ones recorded here; then — since an
/// event may not have been applied yet (pending, failed) — every live subscription of the
/// customers linked to or named with the account (`GET /v1/subscriptions?customer=…`) and each
/// subscription that events name with the account's id, as the API says it is now.
/// `Ok(Err(why))`: the deletion must stop, and `why` says so in words (nothing has been
/// deleted then).
pub(crate) async fn cancel_subscriptions(
    state: &crate::state::AppState,
    user_id: hookvault_core::ids::UserId,
) -> Result<Result<(), String>, crate::error::AppError> {
    let recorded = hookvault_store::billing::live_subscriptions(&state.pool, user_id).await?;
    let Some(billing) = &state.billing else {
        if recorded.is_empty() {
            return Ok(Ok(()));
        }
        return Ok(Err(
            "your account has an active subscription, and billing is not configured on this \
             server, so it cannot be cancelled from here: ask the operator"
                .into(),
        ));
    };
    let mut cancelled = std::collections::BTreeSet::new();
    if let Err(why) = cancel_each(state, billing, user_id, recorded, &mut cancelled).await? {
        return Ok(Err(why));
    }
    let refs = hookvault_store::billing::stripe_refs(&state.pool, user_id).await?;
    let mut live = Vec::new();
    for customer in &refs.customers {
        match billing.stripe.list_subscriptions(customer).await {
            Ok(list) => live.extend(
                list.into_iter()
                    .filter(|(id, status)| is_live(status) && !cancelled.contains(id))
                    .map(|(id, _)| id),
            ),
            Err(e) => {
                tracing::warn!(user.id = %user_id, error = %e, "listing subscriptions failed");
                return Ok(Err(format!("your subscriptions could not be listed: {e}")));
            }
        }
    }
    for subscription in refs.subscriptions {
        if live.contains(&subscription) || cancelled.contains(&subscription) {
            continue;
        }
        match billing.stripe.retrieve_subscription(&subscription).await {
            Ok(s) if is_live(&s.status) => live.push(subscription),
            Ok(_) => {}
            Err(stripe::StripeError::Api { code: Some(c), .. }) if c == "resource_missing" => {}
            Err(e) => {
                tracing::warn!(user.id = %user_id, error = %e, "reading a subscription failed");
                return Ok(Err(format!("your subscription could not be read: {e}")));
            }
        }
    }
    cancel_each(state, billing, user_id, live, &mut cancelled).await
}

async fn cancel_each(
    state: &crate::state::AppState,
    billing: &Billing,
    user_id: hookvault_core::ids::UserId,
    subscriptions: Vec<String>,
    cancelled: &mut std::collections::BTreeSet<String>,
) -> Result<Result<(), String>, crate::error::AppError> {
    for subscription in subscriptions {
        if let Err(e) = billing.stripe.cancel_subscription(&subscription).await {
            tracing::warn!(user.id = %user_id, error = %e, "cancelling a subscription failed");
            return Ok(Err(format!(
                "your subscription could not be cancelled: {e}"
            )));
        }
        hookvault_store::billing::mark_canceled(&state.pool, &subscription).await?;
        tracing::info!(user.id = %user_id, "subscription cancelled before deleting the account");
        cancelled.insert(subscription);
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::form_targets;

    #[test]
    fn forms_may_lead_to_stripes_hosted_pages_and_a_stand_ins_origin() {
        assert_eq!(
            form_targets("https://api.stripe.com"),
            "https://checkout.stripe.com https://billing.stripe.com"
        );
        assert_eq!(
            form_targets("http://127.0.0.1:4242/"),
            "https://checkout.stripe.com https://billing.stripe.com http://127.0.0.1:4242"
        );
        assert_eq!(
            form_targets("http://evil; script-src *"),
            "https://checkout.stripe.com https://billing.stripe.com"
        );
    }
}
