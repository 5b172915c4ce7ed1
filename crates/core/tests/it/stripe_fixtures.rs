//! `stripe::object_summary` over the Stripe event fixtures in `fixtures/webhooks/stripe`.

use hookvault_core::stripe::{object_summary, ObjectSummary};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/webhooks/stripe")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn summary(name: &str) -> ObjectSummary {
    object_summary(&fixture(name)).unwrap_or_else(|| panic!("{name} has no summary"))
}

#[test]
fn invoice_summary_shows_amount_due_customer_and_status() {
    let s = summary("invoice.paid.stripe-ruby-mock.json");
    assert_eq!(s.object_type.as_deref(), Some("invoice"));
    assert_eq!(s.id.as_deref(), Some("in_000000000000000000000000"));
    assert_eq!(s.amount.as_deref(), Some("20.00 USD"));
    assert_eq!(s.customer.as_deref(), Some("cus_00000000000000"));
    assert_eq!(s.status.as_deref(), Some("paid"));
    let failed = summary("invoice.payment_failed.stripe-ruby-mock.json");
    assert_eq!(failed.status.as_deref(), Some("open"));
    assert_eq!(failed.amount.as_deref(), Some("20.00 USD"));
}

#[test]
fn checkout_session_summary_uses_amount_total() {
    let s = summary("checkout.session.completed.stripe-ruby-mock.json");
    assert_eq!(s.object_type.as_deref(), Some("checkout.session"));
    assert_eq!(s.amount.as_deref(), Some("30.00 USD"));
    assert_eq!(s.customer.as_deref(), Some("cus_00000000000000"));
    assert_eq!(s.status.as_deref(), Some("complete"));
}

#[test]
fn payment_intent_and_charge_summaries_use_amount() {
    let pi = summary("payment_intent.requires_action.stripe-ruby-mock.json");
    assert_eq!(pi.object_type.as_deref(), Some("payment_intent"));
    assert_eq!(pi.amount.as_deref(), Some("20.00 USD"));
    assert_eq!(pi.status.as_deref(), Some("requires_action"));
    let ch = summary("charge.succeeded.stripe_event-gem.json");
    assert_eq!(ch.object_type.as_deref(), Some("charge"));
    assert_eq!(ch.amount.as_deref(), Some("32.79 USD"));
    assert_eq!(ch.customer, None);
}

#[test]
fn subscription_summary_sums_its_items() {
    let s = summary("customer.subscription.updated.stripe-ruby-mock.json");
    assert_eq!(s.object_type.as_deref(), Some("subscription"));
    assert_eq!(s.amount.as_deref(), Some("15.00 USD"));
    assert_eq!(s.status.as_deref(), Some("active"));
    let deleted = summary("customer.subscription.deleted.stripe-ruby-mock.json");
    assert_eq!(deleted.status.as_deref(), Some("canceled"));
}
