//! Which provider the delivery headers name: signature headers, event headers and user
//! agents, checked in a fixed order (the first rule that matches wins).

use super::{clean, Provider};
use crate::headers::{self, RawHeader};

/// Header value as trimmed text, if present, UTF-8 and non-empty.
pub(super) fn header<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a str> {
    headers::find_str(headers, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

pub(super) fn header_text(headers: &[RawHeader], name: &str) -> Option<String> {
    header(headers, name).and_then(clean)
}

fn has_header(headers: &[RawHeader], name: &str) -> bool {
    headers::find(headers, name).is_some()
}

pub(super) fn provider_from_headers(h: &[RawHeader]) -> Option<Provider> {
    let ua = header(h, "user-agent").unwrap_or("");
    let ua_starts = |prefix: &str| {
        ua.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    // Gitea, Gogs and Forgejo send GitHub-compatible X-GitHub-Event headers too.
    let github_clone = ["x-gitea-event", "x-gogs-event", "x-forgejo-event"]
        .iter()
        .any(|n| has_header(h, n));

    if has_header(h, "stripe-signature") || ua_starts("Stripe/") {
        Some(Provider::Stripe)
    } else if !github_clone && (has_header(h, "x-github-event") || ua_starts("GitHub-Hookshot/")) {
        Some(Provider::Github)
    } else if [
        "x-shopify-topic",
        "shopify-topic",
        "x-shopify-hmac-sha256",
        "shopify-hmac-sha256",
    ]
    .iter()
    .any(|n| has_header(h, n))
    {
        Some(Provider::Shopify)
    } else if has_header(h, "x-slack-signature")
        || has_header(h, "x-slack-request-timestamp")
        || ua_starts("Slackbot")
    {
        Some(Provider::Slack)
    } else if has_header(h, "x-twilio-signature") {
        Some(Provider::Twilio)
    } else if has_header(h, "paddle-signature") || ua == "Paddle" {
        Some(Provider::Paddle)
    } else if has_header(h, "x-gitlab-event") || has_header(h, "x-gitlab-token") {
        Some(Provider::Gitlab)
    } else if ua_starts("Bitbucket-Webhooks/")
        || (has_header(h, "x-event-key")
            && (has_header(h, "x-hook-uuid") || ua.to_ascii_lowercase().contains("bitbucket")))
    {
        Some(Provider::Bitbucket)
    } else if has_header(h, "paypal-transmission-id")
        || has_header(h, "paypal-transmission-sig")
        || ua_starts("PayPal/")
    {
        Some(Provider::Paypal)
    } else if has_header(h, "x-wc-webhook-topic")
        || has_header(h, "x-wc-webhook-signature")
        || ua_starts("WooCommerce/")
    {
        Some(Provider::Woocommerce)
    } else if has_header(h, "x-mandrill-signature") || ua_starts("Mandrill-Webhook/") {
        Some(Provider::Mandrill)
    } else if ua_starts("Sendlib/")
        || ua_starts("SendGrid")
        || has_header(h, "x-twilio-email-event-webhook-signature")
    {
        Some(Provider::Sendgrid)
    } else if (has_header(h, "webhook-id")
        && (has_header(h, "webhook-signature") || has_header(h, "webhook-timestamp")))
        || (has_header(h, "svix-id")
            && (has_header(h, "svix-signature") || has_header(h, "svix-timestamp")))
    {
        Some(Provider::StandardWebhooks)
    } else {
        None
    }
}
