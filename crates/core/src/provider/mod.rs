//! Which provider sent a captured webhook, and what it is about.
//!
//! [`detect`] looks at the delivery headers first (signature headers, event headers,
//! user agents) and, when they are absent or inconclusive, at the shape of the body:
//! Stripe event envelopes, GitHub payload shapes, Slack Events API / interactivity /
//! slash-command bodies, PayPal and Paddle event envelopes, GitLab `object_kind`,
//! Twilio / Paddle Classic / Mailgun / Mandrill form posts, SendGrid Inbound Parse
//! multipart posts and so on. Body guesses are only made when the shape is specific to
//! one provider; otherwise the provider stays `None`.
//!
//! Each provider's rules and what it reads out of a delivery live in its own file under
//! `senders/`, which also fixes the order the rules are tried in; the techniques they share
//! (the header view, the bounded JSON, form and multipart parsers, JSON lookups) are here.
//!
//! Detection never panics and does bounded work: bodies are only parsed as JSON when
//! they look like JSON, and only the first [`MAX_PARSE_BYTES`] of a body are examined.
//! Extracted strings (event type, event id) are trimmed and dropped when empty, longer
//! than [`MAX_TEXT_LEN`] bytes or containing control characters.

use std::fmt;
use std::str::FromStr;

use crate::headers::{self, RawHeader};

mod body;
mod form;
mod header_view;
mod json;
mod senders;
mod shapes;
#[cfg(test)]
mod tests;

use body::Parsed;

/// Bodies (or body prefixes, for form and multipart posts) larger than this are not
/// parsed; detection then relies on headers and whatever fits in the prefix.
pub const MAX_PARSE_BYTES: usize = 4 * 1024 * 1024;

/// Longest event type / event id that [`detect`] reports; longer values are dropped.
pub const MAX_TEXT_LEN: usize = 256;

/// A webhook sender Hookvault knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// Stripe (`Stripe-Signature`).
    Stripe,
    /// GitHub (`X-GitHub-Event`, `X-Hub-Signature-256`).
    Github,
    /// Shopify (`X-Shopify-Topic`, `X-Shopify-Hmac-Sha256`).
    Shopify,
    /// Slack (`X-Slack-Signature`).
    Slack,
    /// Any sender following the Standard Webhooks spec, Svix included (`webhook-id`).
    StandardWebhooks,
    /// Twilio (`X-Twilio-Signature`).
    Twilio,
    /// Paddle Billing (`Paddle-Signature`) and Paddle Classic alerts (`p_signature`).
    Paddle,
    /// GitLab (`X-Gitlab-Event`).
    Gitlab,
    /// Bitbucket Cloud (`X-Event-Key`, `Bitbucket-Webhooks/2.0`).
    Bitbucket,
    /// PayPal (`PAYPAL-TRANSMISSION-ID`).
    Paypal,
    /// WooCommerce (`X-WC-Webhook-Topic`).
    Woocommerce,
    /// SendGrid Inbound Parse and Event Webhook.
    Sendgrid,
    /// Mailgun webhooks and inbound routes.
    Mailgun,
    /// Mandrill (Mailchimp Transactional) webhooks (`mandrill_events`).
    Mandrill,
}

impl Provider {
    /// Every provider, in declaration order.
    pub const ALL: [Provider; 14] = [
        Provider::Stripe,
        Provider::Github,
        Provider::Shopify,
        Provider::Slack,
        Provider::StandardWebhooks,
        Provider::Twilio,
        Provider::Paddle,
        Provider::Gitlab,
        Provider::Bitbucket,
        Provider::Paypal,
        Provider::Woocommerce,
        Provider::Sendgrid,
        Provider::Mailgun,
        Provider::Mandrill,
    ];

    /// Stable machine name, the same as the serde form: `"stripe"`, `"github"`, …,
    /// `"standard-webhooks"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Github => "github",
            Provider::Shopify => "shopify",
            Provider::Slack => "slack",
            Provider::StandardWebhooks => "standard-webhooks",
            Provider::Twilio => "twilio",
            Provider::Paddle => "paddle",
            Provider::Gitlab => "gitlab",
            Provider::Bitbucket => "bitbucket",
            Provider::Paypal => "paypal",
            Provider::Woocommerce => "woocommerce",
            Provider::Sendgrid => "sendgrid",
            Provider::Mailgun => "mailgun",
            Provider::Mandrill => "mandrill",
        }
    }

    /// Human-readable name for display: `"GitHub"`, `"Standard Webhooks"`, ….
    pub fn label(self) -> &'static str {
        match self {
            Provider::Stripe => "Stripe",
            Provider::Github => "GitHub",
            Provider::Shopify => "Shopify",
            Provider::Slack => "Slack",
            Provider::StandardWebhooks => "Standard Webhooks",
            Provider::Twilio => "Twilio",
            Provider::Paddle => "Paddle",
            Provider::Gitlab => "GitLab",
            Provider::Bitbucket => "Bitbucket",
            Provider::Paypal => "PayPal",
            Provider::Woocommerce => "WooCommerce",
            Provider::Sendgrid => "SendGrid",
            Provider::Mailgun => "Mailgun",
            Provider::Mandrill => "Mandrill",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`Provider`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown webhook provider {0:?}")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    /// Accepts the machine name ([`Provider::as_str`]) or the label ([`Provider::label`]),
    /// ignoring ASCII case, surrounding whitespace and `_` vs `-` vs space.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = |t: &str| -> String {
            t.trim()
                .chars()
                .map(|c| match c {
                    '_' | ' ' => '-',
                    c => c.to_ascii_lowercase(),
                })
                .collect()
        };
        let wanted = norm(s);
        Provider::ALL
            .into_iter()
            .find(|p| norm(p.as_str()) == wanted || norm(p.label()) == wanted)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// What [`detect`] found out about one captured request. Every field may be `None`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Detected {
    /// The sender, when headers or the body shape identify it.
    pub provider: Option<Provider>,
    /// Provider event name: `invoice.paid`, `pull_request.opened`, `orders/create`,
    /// `event_callback.app_mention`, `repo:push`, `PAYMENT.SALE.COMPLETED`, ….
    pub event_type: Option<String>,
    /// Provider id of the event or delivery: Stripe `evt_…`, `X-GitHub-Delivery`,
    /// `X-Shopify-Webhook-Id`, `webhook-id`, Slack `event_id`, ….
    pub event_id: Option<String>,
    /// Extra facts about Stripe events; `None` for other providers or non-event bodies.
    pub stripe: Option<StripeMeta>,
}

/// Facts from a Stripe event envelope.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StripeMeta {
    /// `livemode` of the event.
    pub livemode: Option<bool>,
    /// `api_version` the event was rendered with (`null` in some fixtures).
    pub api_version: Option<String>,
    /// `created`, Unix seconds (v1 events only).
    pub created: Option<i64>,
    /// Id of the object the event is about (`data.object.id`, or `related_object.id` for
    /// v2 thin events).
    pub object_id: Option<String>,
    /// Type of that object (`data.object.object`, or `related_object.type`).
    pub object_type: Option<String>,
}

/// Works out which provider sent a webhook and extracts its event type and id.
///
/// Headers are consulted first; the body shape is the fallback. `content_type` is the raw
/// `Content-Type` header value if any (when `None`, the `Content-Type` header in `headers`
/// is used). Never panics; bodies may be binary, huge, non-UTF-8, or not JSON.
pub fn detect(headers: &[RawHeader], body: &[u8], content_type: Option<&str>) -> Detected {
    let content_type = content_type.or_else(|| headers::find_str(headers, "content-type"));
    let parsed = Parsed::new(body, content_type);
    let Some(provider) = senders::by_headers(headers).or_else(|| senders::by_body(&parsed)) else {
        return Detected::default();
    };
    let mut out = Detected {
        provider: Some(provider),
        ..Detected::default()
    };
    let delivery = senders::Delivery {
        headers,
        parsed: &parsed,
    };
    senders::extract(provider, &delivery, &mut out);
    out
}

/// Trimmed, non-empty, at most [`MAX_TEXT_LEN`] bytes, no control characters.
fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty() && t.len() <= MAX_TEXT_LEN && !t.chars().any(char::is_control))
        .then(|| t.to_owned())
}
