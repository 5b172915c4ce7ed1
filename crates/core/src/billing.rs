//! Hookvault's own billing events (issue 13): what a verified Stripe event means for an
//! account, decided without I/O. The webhook parses the event's head ([`EventHead`]); the job
//! that applies it reads the parts it needs ([`BillingEvent::from_event`]) and maps a
//! subscription's status to a plan ([`PlanEffect::of_status`]).

use std::time::Duration;

use serde_json::Value;

/// The plan a paying account is on.
pub const PAID_PLAN: &str = "pro";
/// The plan an account goes back to.
pub const FREE_PLAN: &str = "free";

/// The event types the job acts on; every other type is acknowledged and ignored.
pub const HANDLED_TYPES: &[&str] = &[
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
];

/// What every Stripe event carries: its id, type and creation time (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHead {
    pub id: String,
    pub kind: String,
    pub created: i64,
    /// `livemode`, when the event says.
    pub livemode: Option<bool>,
}

/// Whether a Stripe API key is for live mode (`sk_live_…`, `rk_live_…`) or test mode
/// (`sk_test_…`, `rk_test_…`); `None` when its prefix says neither.
pub fn key_is_live(key: &str) -> Option<bool> {
    if key.starts_with("sk_live_") || key.starts_with("rk_live_") {
        Some(true)
    } else if key.starts_with("sk_test_") || key.starts_with("rk_test_") {
        Some(false)
    } else {
        None
    }
}

impl EventHead {
    /// Reads the head of a Stripe event, or says in one line why the JSON is not one.
    pub fn parse(event: &Value) -> Result<EventHead, &'static str> {
        if event.get("object").and_then(Value::as_str) != Some("event") {
            return Err("the body is not a Stripe event (\"object\" is not \"event\")");
        }
        let id = event
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.len() <= 255)
            .ok_or("the event has no usable \"id\"")?;
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.len() <= 255)
            .ok_or("the event has no usable \"type\"")?;
        let created = event
            .get("created")
            .and_then(Value::as_i64)
            .ok_or("the event has no integer \"created\"")?;
        Ok(EventHead {
            id: id.to_string(),
            kind: kind.to_string(),
            created,
            livemode: event.get("livemode").and_then(Value::as_bool),
        })
    }

    /// Whether the event is of the key's mode (live or test). An event or key whose mode is
    /// unknown is taken as matching.
    pub fn matches_mode(&self, key_live: Option<bool>) -> bool {
        match (self.livemode, key_live) {
            (Some(event), Some(key)) => event == key,
            _ => true,
        }
    }

    /// Whether the job acts on this type (others are recorded as ignored).
    pub fn is_handled(&self) -> bool {
        HANDLED_TYPES.contains(&self.kind.as_str())
    }
}

/// A handled event, reduced to what the job needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingEvent {
    /// `checkout.session.completed`: the account (`client_reference_id`) bought a subscription.
    CheckoutCompleted {
        account_id: Option<String>,
        customer: Option<String>,
        subscription: Option<String>,
    },
    /// `customer.subscription.created|updated|deleted`: the subscription's new state.
    Subscription {
        id: String,
        customer: Option<String>,
        status: String,
        /// `metadata.hookvault_account_id`, set through the Checkout Session.
        account_id: Option<String>,
        deleted: bool,
    },
    /// `invoice.paid`: ends a grace period.
    InvoicePaid {
        customer: Option<String>,
        subscription: Option<String>,
    },
    /// `invoice.payment_failed`: starts a grace period.
    PaymentFailed {
        customer: Option<String>,
        subscription: Option<String>,
    },
    /// Any other type.
    Ignored,
}

/// A string field, or the `id` of an expanded object in that field.
fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

impl BillingEvent {
    /// Reads a handled event's object (`data.object`); a missing part is an error in words.
    pub fn from_event(kind: &str, event: &Value) -> Result<BillingEvent, String> {
        let object = event
            .pointer("/data/object")
            .filter(|o| o.is_object())
            .ok_or("the event has no data.object")?;
        let field = |name: &str| id_of(object.get(name));
        Ok(match kind {
            "checkout.session.completed" => BillingEvent::CheckoutCompleted {
                account_id: field("client_reference_id"),
                customer: field("customer"),
                subscription: field("subscription"),
            },
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted" => BillingEvent::Subscription {
                id: field("id").ok_or("the subscription has no id")?,
                customer: field("customer"),
                status: object
                    .get("status")
                    .and_then(Value::as_str)
                    .ok_or("the subscription has no status")?
                    .to_string(),
                account_id: id_of(object.pointer("/metadata/hookvault_account_id")),
                deleted: kind == "customer.subscription.deleted",
            },
            "invoice.paid" | "invoice.payment_failed" => {
                let customer = field("customer");
                // Before API version 2025-03-31 the invoice names its subscription directly;
                // since then under parent.subscription_details.
                let subscription = field("subscription")
                    .or_else(|| id_of(object.pointer("/parent/subscription_details/subscription")));
                if kind == "invoice.paid" {
                    BillingEvent::InvoicePaid {
                        customer,
                        subscription,
                    }
                } else {
                    BillingEvent::PaymentFailed {
                        customer,
                        subscription,
                    }
                }
            }
            _ => BillingEvent::Ignored,
        })
    }
}

/// What a subscription's status means for the account's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanEffect {
    /// `active`, `trialing`: the paid plan.
    Paid,
    /// `canceled`, `unpaid`, `incomplete_expired`, or deleted: back to free.
    Ended,
    /// `past_due`, `incomplete`, `paused`…: no change (a failed payment has its grace period).
    Unchanged,
}

impl PlanEffect {
    pub fn of_status(status: &str, deleted: bool) -> PlanEffect {
        if deleted {
            return PlanEffect::Ended;
        }
        match status {
            "active" | "trialing" => PlanEffect::Paid,
            "canceled" | "unpaid" | "incomplete_expired" => PlanEffect::Ended,
            _ => PlanEffect::Unchanged,
        }
    }
}

/// Parses a duration such as `7d`, `36h`, `30m`, `45s` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 7d, 36h, 30m or 45s"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_head_needs_an_id_a_type_and_an_integer_created() {
        let e = json!({"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1764500000});
        let head = EventHead::parse(&e).unwrap();
        assert_eq!(head.id, "evt_1");
        assert!(head.is_handled());
        assert!(EventHead::parse(&json!({"id": "evt_1", "object": "event", "type": "x"})).is_err());
        assert!(EventHead::parse(&json!({"id": "evt_1", "type": "x", "created": 1})).is_err());
        assert!(EventHead::parse(&json!({"object": "event", "type": "x", "created": 1})).is_err());
    }

    #[test]
    fn unknown_types_are_not_handled() {
        let e = json!({"id": "evt_1", "object": "event", "type": "charge.refunded", "created": 1});
        assert!(!EventHead::parse(&e).unwrap().is_handled());
        assert_eq!(
            BillingEvent::from_event("charge.refunded", &json!({"data": {"object": {}}})).unwrap(),
            BillingEvent::Ignored
        );
    }

    #[test]
    fn a_subscription_event_carries_its_status_and_the_account_from_metadata() {
        let e = json!({"data": {"object": {"id": "sub_1", "object": "subscription",
            "customer": "cus_1", "status": "active",
            "metadata": {"hookvault_account_id": "0190"}}}});
        assert_eq!(
            BillingEvent::from_event("customer.subscription.updated", &e).unwrap(),
            BillingEvent::Subscription {
                id: "sub_1".into(),
                customer: Some("cus_1".into()),
                status: "active".into(),
                account_id: Some("0190".into()),
                deleted: false,
            }
        );
    }

    #[test]
    fn an_invoice_names_its_subscription_in_either_api_version() {
        let old = json!({"data": {"object": {"customer": "cus_1", "subscription": "sub_1"}}});
        let new = json!({"data": {"object": {"customer": {"id": "cus_1"},
            "parent": {"subscription_details": {"subscription": "sub_1"}}}}});
        for e in [old, new] {
            assert_eq!(
                BillingEvent::from_event("invoice.payment_failed", &e).unwrap(),
                BillingEvent::PaymentFailed {
                    customer: Some("cus_1".into()),
                    subscription: Some("sub_1".into())
                }
            );
        }
    }

    #[test]
    fn statuses_map_to_plans() {
        assert_eq!(PlanEffect::of_status("active", false), PlanEffect::Paid);
        assert_eq!(PlanEffect::of_status("trialing", false), PlanEffect::Paid);
        assert_eq!(PlanEffect::of_status("active", true), PlanEffect::Ended);
        for s in ["canceled", "unpaid", "incomplete_expired"] {
            assert_eq!(PlanEffect::of_status(s, false), PlanEffect::Ended);
        }
        assert_eq!(
            PlanEffect::of_status("past_due", false),
            PlanEffect::Unchanged
        );
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("36h").unwrap(), Duration::from_secs(129_600));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("7w").is_err());
        assert!(parse_duration("d").is_err());
    }
}
