//! Detection per provider: each provider's file holds its rules (by headers, by body shape)
//! and what it reads out of a delivery (event type, event id), with their tests. This file
//! holds the order in which the rules are tried: the first rule that matches names the
//! provider, headers before body.

use serde_json::{Map, Value};

use super::body::Parsed;
use super::form::Fields;
use super::header_view::HeaderView;
use super::{Detected, Provider};
use crate::headers::RawHeader;

mod bitbucket;
mod github;
mod gitlab;
mod mailgun;
mod mandrill;
mod paddle;
mod paypal;
mod sendgrid;
mod shopify;
mod slack;
mod standard_webhooks;
mod stripe;
mod twilio;
mod woocommerce;

type Rule<T> = (Provider, fn(&T) -> bool);
/// A rule on the delivery headers (for headers of any lifetime).
type HeaderRule = (Provider, fn(&HeaderView<'_>) -> bool);

/// Rules on the delivery headers (signature headers, event headers, user agents), in order.
const BY_HEADERS: [HeaderRule; 13] = [
    (Provider::Stripe, stripe::by_headers),
    (Provider::Github, github::by_headers),
    (Provider::Shopify, shopify::by_headers),
    (Provider::Slack, slack::by_headers),
    (Provider::Twilio, twilio::by_headers),
    (Provider::Paddle, paddle::by_headers),
    (Provider::Gitlab, gitlab::by_headers),
    (Provider::Bitbucket, bitbucket::by_headers),
    (Provider::Paypal, paypal::by_headers),
    (Provider::Woocommerce, woocommerce::by_headers),
    (Provider::Mandrill, mandrill::by_headers),
    (Provider::Sendgrid, sendgrid::by_headers),
    // Last: its headers are the most generic.
    (Provider::StandardWebhooks, standard_webhooks::by_headers),
];

/// Rules on a JSON object body, in order. A shape only counts when it is specific to one
/// provider.
const BY_OBJECT: [Rule<Map<String, Value>>; 10] = [
    (Provider::Stripe, stripe::by_object),
    (Provider::Slack, slack::by_object),
    (Provider::Paypal, paypal::by_object),
    (Provider::Paddle, paddle::by_object),
    (Provider::Mailgun, mailgun::by_object),
    (Provider::Gitlab, gitlab::by_object),
    (Provider::Bitbucket, bitbucket::by_object),
    (Provider::Github, github::by_object),
    (Provider::Shopify, shopify::by_object),
    (Provider::Woocommerce, woocommerce::by_object),
];

/// Rules on a JSON array body (batched deliveries), on its first element, in order.
const BY_BATCH: [Rule<Map<String, Value>>; 2] = [
    (Provider::Sendgrid, sendgrid::by_batch),
    (Provider::Mandrill, mandrill::by_batch),
];

/// Rules on form or multipart fields, in order.
const BY_FIELDS: [Rule<Fields>; 6] = [
    (Provider::Mandrill, mandrill::by_fields),
    (Provider::Slack, slack::by_fields),
    (Provider::Paddle, paddle::by_fields),
    (Provider::Mailgun, mailgun::by_fields),
    (Provider::Sendgrid, sendgrid::by_fields),
    (Provider::Twilio, twilio::by_fields),
];

fn first<T>(rules: &[Rule<T>], input: &T) -> Option<Provider> {
    rules.iter().find(|(_, rule)| rule(input)).map(|(p, _)| *p)
}

/// The provider the delivery headers name.
pub(super) fn by_headers(headers: &[RawHeader]) -> Option<Provider> {
    let view = HeaderView::new(headers);
    BY_HEADERS
        .iter()
        .find(|(_, rule)| rule(&view))
        .map(|(p, _)| *p)
}

/// The provider the body's shape points to: the JSON document, else the form fields.
pub(super) fn by_body(parsed: &Parsed) -> Option<Provider> {
    let from_json = match parsed.json.as_ref() {
        Some(Value::Object(m)) => first(&BY_OBJECT, m),
        Some(Value::Array(a)) => a
            .first()
            .and_then(Value::as_object)
            .and_then(|m| first(&BY_BATCH, m)),
        _ => None,
    };
    from_json.or_else(|| parsed.fields.as_ref().and_then(|f| first(&BY_FIELDS, f)))
}

/// What the extraction rules read.
pub(super) struct Delivery<'a> {
    pub(super) headers: &'a [RawHeader],
    pub(super) parsed: &'a Parsed,
}

impl Delivery<'_> {
    /// The JSON body when it is an object.
    fn object(&self) -> Option<&Map<String, Value>> {
        self.parsed.object()
    }

    fn header(&self, name: &str) -> Option<&str> {
        super::header_view::header(self.headers, name)
    }

    fn header_text(&self, name: &str) -> Option<String> {
        super::header_view::header_text(self.headers, name)
    }
}

/// Fills in what `provider`'s deliveries say about their event.
pub(super) fn extract(provider: Provider, d: &Delivery, out: &mut Detected) {
    match provider {
        Provider::Stripe => stripe::extract(d, out),
        Provider::Github => github::extract(d, out),
        Provider::Shopify => shopify::extract(d, out),
        Provider::Slack => slack::extract(d, out),
        Provider::StandardWebhooks => standard_webhooks::extract(d, out),
        Provider::Twilio => twilio::extract(d, out),
        Provider::Paddle => paddle::extract(d, out),
        Provider::Gitlab => gitlab::extract(d, out),
        Provider::Bitbucket => bitbucket::extract(d, out),
        Provider::Paypal => paypal::extract(d, out),
        Provider::Woocommerce => woocommerce::extract(d, out),
        Provider::Sendgrid => sendgrid::extract(d, out),
        Provider::Mailgun => mailgun::extract(d, out),
        Provider::Mandrill => mandrill::extract(d, out),
    }
}
