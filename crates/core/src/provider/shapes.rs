//! Which provider a body's shape points to, when no header says so, and the Stripe and batch
//! facts read from a body. A shape only counts when it is specific to one provider.

use serde_json::{Map, Value};

use super::form::Fields;
use super::github::is_github;
use super::{clean, Provider, StripeMeta};

/// At most this many elements of a JSON array body are examined.
const MAX_ARRAY_SCAN: usize = 1024;

pub(super) fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)?.as_str()
}

pub(super) fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    str_of(m, key).and_then(clean)
}

pub(super) fn obj_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    m.get(key)?.as_object()
}

pub(super) fn has_str(m: &Map<String, Value>, key: &str) -> bool {
    str_of(m, key).is_some()
}

pub(super) fn str_starts(m: &Map<String, Value>, key: &str, prefix: &str) -> bool {
    str_of(m, key).is_some_and(|v| v.starts_with(prefix))
}

pub(super) fn object_provider(m: &Map<String, Value>) -> Option<Provider> {
    if is_stripe_event(m) {
        Some(Provider::Stripe)
    } else if is_slack(m) {
        Some(Provider::Slack)
    } else if has_str(m, "event_type")
        && has_str(m, "resource_type")
        && (str_starts(m, "id", "WH-") || m.get("resource").is_some_and(Value::is_object))
    {
        Some(Provider::Paypal)
    } else if has_str(m, "event_type")
        && (str_starts(m, "notification_id", "ntf_") || str_starts(m, "event_id", "evt_"))
    {
        Some(Provider::Paddle)
    } else if obj_of(m, "signature").is_some_and(|s| s.contains_key("token"))
        && m.get("event-data").is_some_and(Value::is_object)
    {
        Some(Provider::Mailgun)
    } else if is_gitlab(m) {
        Some(Provider::Gitlab)
    } else if is_bitbucket(m) {
        Some(Provider::Bitbucket)
    } else if is_github(m) {
        Some(Provider::Github)
    } else if is_shopify(m) {
        Some(Provider::Shopify)
    } else if is_woocommerce(m) {
        Some(Provider::Woocommerce)
    } else {
        None
    }
}

pub(super) fn array_provider(a: &[Value]) -> Option<Provider> {
    let first = a.first()?.as_object()?;
    if (first.contains_key("sg_event_id") || first.contains_key("sg_message_id"))
        && has_str(first, "event")
    {
        Some(Provider::Sendgrid)
    } else if has_str(first, "event")
        && first.get("ts").is_some_and(Value::is_number)
        && (first.get("msg").is_some_and(Value::is_object) || has_str(first, "_id"))
    {
        Some(Provider::Mandrill)
    } else {
        None
    }
}

pub(super) fn fields_provider(f: &Fields) -> Option<Provider> {
    let any = |names: &[&str]| names.iter().any(|n| f.has(n));
    if f.has("mandrill_events") {
        Some(Provider::Mandrill)
    } else if f.get("command").is_some_and(|c| c.starts_with('/'))
        && f.has("team_id")
        && any(&["response_url", "trigger_id"])
    {
        Some(Provider::Slack)
    } else if f.has("alert_name") && f.has("p_signature") {
        Some(Provider::Paddle)
    } else if f.has("token")
        && f.has("timestamp")
        && f.has("signature")
        && any(&[
            "event",
            "recipient",
            "body-plain",
            "message-headers",
            "domain",
            "sender",
        ])
    {
        Some(Provider::Mailgun)
    } else if f.has("envelope") && any(&["from", "to"]) && any(&["charsets", "dkim", "SPF"]) {
        Some(Provider::Sendgrid)
    } else if is_twilio_form(f) {
        Some(Provider::Twilio)
    } else {
        None
    }
}

fn is_twilio_form(f: &Fields) -> bool {
    let other_sid =
        f.0.iter()
            .any(|(k, _)| k != "AccountSid" && k.ends_with("Sid"));
    (f.starts_with("AccountSid", &["AC"]) && (other_sid || f.has("ApiVersion")))
        || (f.starts_with("CallSid", &["CA"])
            && ["From", "To", "Caller", "Called"].iter().any(|n| f.has(n)))
        || (["MessageSid", "SmsSid"]
            .iter()
            .any(|n| f.starts_with(n, &["SM", "MM"]))
            && f.has("From")
            && f.has("To"))
}

fn is_stripe_event(m: &Map<String, Value>) -> bool {
    match str_of(m, "object") {
        Some("event") => has_str(m, "type") && str_starts(m, "id", "evt_"),
        Some("v2.core.event") => has_str(m, "type") && str_starts(m, "id", "evt_"),
        _ => false,
    }
}

pub(super) fn stripe_meta(m: &Map<String, Value>) -> Option<StripeMeta> {
    if !has_str(m, "type") {
        return None;
    }
    let (object_id, object_type) =
        if let Some(o) = obj_of(m, "data").and_then(|d| obj_of(d, "object")) {
            (text(o, "id"), text(o, "object"))
        } else if let Some(r) = obj_of(m, "related_object") {
            (text(r, "id"), text(r, "type"))
        } else {
            (None, None)
        };
    Some(StripeMeta {
        livemode: m.get("livemode").and_then(Value::as_bool),
        api_version: text(m, "api_version"),
        created: m.get("created").and_then(Value::as_i64),
        object_id,
        object_type,
    })
}

fn is_slack(m: &Map<String, Value>) -> bool {
    match str_of(m, "type") {
        Some("url_verification") => has_str(m, "challenge"),
        Some("event_callback") => {
            m.get("event").is_some_and(Value::is_object)
                && (has_str(m, "team_id") || has_str(m, "api_app_id"))
        }
        Some("app_rate_limited") => has_str(m, "api_app_id"),
        // Interactivity payloads (block_actions, view_submission, shortcut, …).
        Some(_) => {
            has_str(m, "api_app_id")
                || (has_str(m, "token")
                    && m.get("team").is_some_and(Value::is_object)
                    && m.get("user").is_some_and(Value::is_object))
        }
        None => false,
    }
}

fn is_gitlab(m: &Map<String, Value>) -> bool {
    str_of(m, "object_kind").is_some_and(|k| !k.is_empty())
        && [
            "project",
            "project_id",
            "object_attributes",
            "repository",
            "user",
        ]
        .iter()
        .any(|k| m.contains_key(*k))
}

fn is_bitbucket(m: &Map<String, Value>) -> bool {
    obj_of(m, "repository")
        .is_some_and(|r| str_of(r, "type") == Some("repository") && str_starts(r, "uuid", "{"))
        && obj_of(m, "actor").is_some_and(|a| has_str(a, "type"))
}

fn is_shopify(m: &Map<String, Value>) -> bool {
    let gid = str_starts(m, "admin_graphql_api_id", "gid://shopify/");
    let shop = m.contains_key("myshopify_domain") && m.contains_key("shop_owner");
    let order = m.contains_key("financial_status")
        && m.contains_key("line_items")
        && ["processing_method", "landing_site", "checkout_token"]
            .iter()
            .any(|k| m.contains_key(*k));
    gid || shop || order
}

fn is_woocommerce(m: &Map<String, Value>) -> bool {
    obj_of(m, "_links")
        .and_then(|l| l.get("self")?.get(0)?.get("href")?.as_str())
        .is_some_and(|href| href.contains("/wp-json/wc/"))
}

/// For batched deliveries (SendGrid Event Webhook, Mandrill): the event type when every
/// element agrees, and the element's id when the batch holds exactly one event.
pub(super) fn batch_event(events: &[Value], id_key: &str) -> (Option<String>, Option<String>) {
    let mut kinds = events
        .iter()
        .take(MAX_ARRAY_SCAN)
        .map(|e| e.get("event").and_then(Value::as_str));
    let first = kinds.next().flatten();
    let event_type = first
        .filter(|f| events.len() <= MAX_ARRAY_SCAN && kinds.all(|k| k == Some(*f)))
        .and_then(clean);
    let event_id = match events {
        [only] => only.get(id_key).and_then(Value::as_str).and_then(clean),
        _ => None,
    };
    (event_type, event_id)
}
