//! One built-in event per signing scheme, for auditing a handler before any real event has been
//! captured (`hookvault audit --sample stripe:invoice.paid`). Each sample gets fresh ids and the
//! current time, so a handler that remembers event ids never sees the first probe as a repeat
//! of an earlier audit.

use rand::distributions::{Alphanumeric, DistString};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::AuditEvent;
use crate::headers::RawHeader;
use crate::signing::{new_message_id, Scheme};

/// The built-in samples as `provider:event`, with the scheme each is signed with.
pub const SAMPLES: [(&str, Scheme); 5] = [
    ("stripe:invoice.paid", Scheme::Stripe),
    (
        "standard-webhooks:contact.created",
        Scheme::StandardWebhooks,
    ),
    ("github:issues.opened", Scheme::Github),
    ("shopify:orders/create", Scheme::Shopify),
    ("slack:app_mention", Scheme::Slack),
];

/// A `--sample` name that is not built in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no built-in sample \"{0}\"; choose one of stripe:invoice.paid, standard-webhooks:contact.created, github:issues.opened, shopify:orders/create, slack:app_mention")]
pub struct UnknownSample(pub String);

/// The sample named `name` (`provider:event`, or just `provider`), created at `now`.
pub fn sample(name: &str, now: i64) -> Result<AuditEvent, UnknownSample> {
    let wanted = name.trim().to_ascii_lowercase();
    let (full, _) = SAMPLES
        .iter()
        .find(|(full, _)| *full == wanted || full.split(':').next() == Some(wanted.as_str()))
        .ok_or_else(|| UnknownSample(name.to_owned()))?;
    Ok(match *full {
        "stripe:invoice.paid" => stripe(now),
        "standard-webhooks:contact.created" => standard_webhooks(now),
        "github:issues.opened" => github(now),
        "shopify:orders/create" => shopify(now),
        _ => slack(now),
    })
}

/// The sample signed with `scheme`, for an audit given no event at all.
pub fn sample_for(scheme: Scheme, now: i64) -> Option<AuditEvent> {
    let (name, _) = SAMPLES.iter().find(|(_, s)| *s == scheme)?;
    sample(name, now).ok()
}

fn alnum(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), n)
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "2026-11-30T12:00:00Z".to_owned())
}

fn json_event(headers: Vec<RawHeader>, body: String) -> AuditEvent {
    let mut all = vec![RawHeader::new("Content-Type", "application/json")];
    all.extend(headers);
    AuditEvent {
        method: "POST".to_owned(),
        headers: all,
        body: body.into_bytes(),
    }
}

fn stripe(now: i64) -> AuditEvent {
    let body = format!(
        r#"{{
  "id": "evt_{evt}",
  "object": "event",
  "api_version": "2024-06-20",
  "created": {now},
  "data": {{
    "object": {{
      "id": "in_{inv}",
      "object": "invoice",
      "amount_due": 2000,
      "amount_paid": 2000,
      "currency": "usd",
      "customer": "cus_{cus}",
      "status": "paid",
      "subscription": "sub_{sub}"
    }}
  }},
  "livemode": false,
  "pending_webhooks": 1,
  "request": {{
    "id": null,
    "idempotency_key": null
  }},
  "type": "invoice.paid"
}}"#,
        evt = alnum(24),
        inv = alnum(24),
        cus = alnum(14),
        sub = alnum(24),
    );
    json_event(
        vec![RawHeader::new(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )],
        body,
    )
}

fn standard_webhooks(now: i64) -> AuditEvent {
    let body = format!(
        r#"{{"type":"contact.created","timestamp":"{ts}","data":{{"id":"{id}","type":"contact","email":"ada@example.com","plan_cents":1200}}}}"#,
        ts = rfc3339(now),
        id = uuid::Uuid::new_v4(),
    );
    json_event(vec![RawHeader::new("webhook-id", new_message_id())], body)
}

fn github(now: i64) -> AuditEvent {
    let at = rfc3339(now);
    let body = format!(
        r#"{{"action":"opened","issue":{{"id":2871339052,"number":42,"title":"Webhook handler drops events","state":"open","user":{{"login":"octocat","id":1}},"created_at":"{at}","updated_at":"{at}"}},"repository":{{"id":1296269,"name":"Hello-World","full_name":"octocat/Hello-World","private":false}},"sender":{{"login":"octocat","id":1}}}}"#,
    );
    json_event(
        vec![
            RawHeader::new("User-Agent", "GitHub-Hookshot/7f1e3b2"),
            RawHeader::new("X-GitHub-Event", "issues"),
            RawHeader::new("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string()),
            RawHeader::new("X-GitHub-Hook-ID", "4123456789"),
        ],
        body,
    )
}

fn shopify(now: i64) -> AuditEvent {
    let at = rfc3339(now);
    let body = format!(
        r#"{{"id":820982911946154508,"email":"jon@example.com","created_at":"{at}","updated_at":"{at}","currency":"USD","financial_status":"paid","total_price":"199.00","line_items":[{{"id":866550311766439020,"title":"IPod Nano - 8GB","quantity":1,"price":"199.00"}}]}}"#,
    );
    json_event(
        vec![
            RawHeader::new("X-Shopify-Topic", "orders/create"),
            RawHeader::new("X-Shopify-Shop-Domain", "example.myshopify.com"),
            RawHeader::new("X-Shopify-API-Version", "2024-07"),
            RawHeader::new("X-Shopify-Webhook-Id", uuid::Uuid::new_v4().to_string()),
            RawHeader::new("X-Shopify-Triggered-At", at),
        ],
        body,
    )
}

fn slack(now: i64) -> AuditEvent {
    let body = format!(
        r#"{{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","event":{{"type":"app_mention","user":"U123ABC456","text":"<@U0LAN0Z89> is the handler ready?","ts":"{now}.000100","channel":"C123ABC456","event_ts":"{now}.000100"}},"type":"event_callback","event_id":"Ev{id}","event_time":{now}}}"#,
        id = alnum(10).to_ascii_uppercase(),
    );
    json_event(
        vec![RawHeader::new(
            "User-Agent",
            "Slackbot 1.0 (+https://api.slack.com/robots)",
        )],
        body,
    )
}
