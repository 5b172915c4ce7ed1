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
//! Detection never panics and does bounded work: bodies are only parsed as JSON when
//! they look like JSON, and only the first [`MAX_PARSE_BYTES`] of a body are examined.
//! Extracted strings (event type, event id) are trimmed and dropped when empty, longer
//! than [`MAX_TEXT_LEN`] bytes or containing control characters.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::headers::{self, RawHeader};

/// Bodies (or body prefixes, for form and multipart posts) larger than this are not
/// parsed; detection then relies on headers and whatever fits in the prefix.
pub const MAX_PARSE_BYTES: usize = 4 * 1024 * 1024;

/// Longest event type / event id that [`detect`] reports; longer values are dropped.
pub const MAX_TEXT_LEN: usize = 256;

/// At most this many form or multipart fields are read.
const MAX_FIELDS: usize = 1024;

/// Multipart field values larger than this are recorded as present but not kept.
const MAX_PART_VALUE: usize = 64 * 1024;

/// At most this many elements of a JSON array body are examined.
const MAX_ARRAY_SCAN: usize = 1024;

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
    let Some(provider) = provider_from_headers(headers).or_else(|| parsed.provider()) else {
        return Detected::default();
    };
    let mut out = Detected {
        provider: Some(provider),
        ..Detected::default()
    };
    let obj = parsed.object();
    match provider {
        Provider::Stripe => {
            if let Some(m) = obj {
                out.event_type = text(m, "type");
                out.event_id = text(m, "id");
                out.stripe = stripe_meta(m);
            }
        }
        Provider::Github => {
            let event = header(headers, "x-github-event")
                .map(str::to_owned)
                .or_else(|| obj.and_then(github_event).map(str::to_owned));
            let action = obj.and_then(|m| str_of(m, "action"));
            out.event_type = event.and_then(|e| match action {
                Some(a) if !a.trim().is_empty() => clean(&format!("{e}.{}", a.trim())),
                _ => clean(&e),
            });
            out.event_id = header_text(headers, "x-github-delivery");
        }
        Provider::Shopify => {
            out.event_type = header_text(headers, "x-shopify-topic")
                .or_else(|| header_text(headers, "shopify-topic"));
            out.event_id = ["x-shopify-webhook-id", "shopify-webhook-id"]
                .into_iter()
                .chain(["x-shopify-event-id", "shopify-event-id"])
                .find_map(|n| header_text(headers, n));
        }
        Provider::Slack => {
            if let Some(m) = obj {
                out.event_type = match str_of(m, "type") {
                    Some("event_callback") => {
                        match m.get("event").and_then(|e| e.get("type")?.as_str()) {
                            Some(inner) => clean(&format!("event_callback.{inner}")),
                            None => Some("event_callback".to_owned()),
                        }
                    }
                    Some(t) => clean(t),
                    None => None,
                };
                out.event_id = text(m, "event_id");
            } else if let Some(f) = parsed.fields.as_ref() {
                if f.has("command") {
                    out.event_type = Some("slash_command".to_owned());
                } else if f.has("ssl_check") {
                    out.event_type = Some("ssl_check".to_owned());
                }
            }
        }
        Provider::StandardWebhooks => {
            out.event_type = obj.and_then(|m| text(m, "type"));
            out.event_id =
                header_text(headers, "webhook-id").or_else(|| header_text(headers, "svix-id"));
        }
        Provider::Twilio => {
            out.event_id = header_text(headers, "i-twilio-idempotency-token");
        }
        Provider::Paddle => {
            if let Some(m) = obj {
                out.event_type = text(m, "event_type");
                out.event_id = text(m, "event_id").or_else(|| text(m, "notification_id"));
            } else if let Some(f) = parsed.fields.as_ref() {
                out.event_type = f.text("alert_name");
                out.event_id = f.text("alert_id");
            }
        }
        Provider::Gitlab => {
            out.event_type = obj
                .and_then(|m| text(m, "object_kind").or_else(|| text(m, "event_name")))
                .or_else(|| header_text(headers, "x-gitlab-event"));
            out.event_id = header_text(headers, "x-gitlab-event-uuid");
        }
        Provider::Bitbucket => {
            out.event_type = header_text(headers, "x-event-key").or_else(|| {
                obj.filter(|m| m.get("push").is_some_and(Value::is_object))
                    .map(|_| "repo:push".to_owned())
            });
            out.event_id = header_text(headers, "x-request-uuid");
        }
        Provider::Paypal => {
            if let Some(m) = obj {
                out.event_type = text(m, "event_type");
                out.event_id = text(m, "id");
            }
            if out.event_id.is_none() {
                out.event_id = header_text(headers, "paypal-transmission-id");
            }
        }
        Provider::Woocommerce => {
            out.event_type = header_text(headers, "x-wc-webhook-topic").or_else(|| {
                let resource = header(headers, "x-wc-webhook-resource")?;
                let event = header(headers, "x-wc-webhook-event")?;
                clean(&format!("{resource}.{event}"))
            });
            out.event_id = header_text(headers, "x-wc-webhook-delivery-id");
        }
        Provider::Sendgrid => {
            if let Some(Value::Array(events)) = parsed.json.as_ref() {
                (out.event_type, out.event_id) = batch_event(events, "sg_event_id");
            }
        }
        Provider::Mailgun => {
            if let Some(m) = obj {
                let data = m.get("event-data");
                out.event_type = data.and_then(|d| d.get("event")?.as_str()).and_then(clean);
                out.event_id = data.and_then(|d| d.get("id")?.as_str()).and_then(clean);
            } else if let Some(f) = parsed.fields.as_ref() {
                out.event_type = f.text("event");
            }
        }
        Provider::Mandrill => {
            let from_field = parsed
                .fields
                .as_ref()
                .and_then(|f| f.get("mandrill_events"))
                .and_then(|v| parse_json(v.as_bytes()));
            if let Some(Value::Array(events)) = from_field.as_ref().or(parsed.json.as_ref()) {
                (out.event_type, out.event_id) = batch_event(events, "_id");
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Headers

/// Header value as trimmed text, if present, UTF-8 and non-empty.
fn header<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a str> {
    headers::find_str(headers, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn header_text(headers: &[RawHeader], name: &str) -> Option<String> {
    header(headers, name).and_then(clean)
}

fn has_header(headers: &[RawHeader], name: &str) -> bool {
    headers::find(headers, name).is_some()
}

fn provider_from_headers(h: &[RawHeader]) -> Option<Provider> {
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

// ---------------------------------------------------------------------------------------
// Body parsing

/// The parts of a body that detection looks at.
#[derive(Default)]
struct Parsed {
    /// The JSON body, or the JSON inside a form field `payload=` (Slack interactivity,
    /// GitHub form-encoded deliveries).
    json: Option<Value>,
    /// Form or multipart fields.
    fields: Option<Fields>,
}

impl Parsed {
    fn new(body: &[u8], content_type: Option<&str>) -> Parsed {
        let mime = content_type.map(mime_essence).unwrap_or_default();
        let start = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let start = trim_ascii_start(start);
        let truncated = start.len() > MAX_PARSE_BYTES;
        let prefix = start.get(..MAX_PARSE_BYTES).unwrap_or(start);

        if matches!(start.first(), Some(b'{' | b'[')) {
            return Parsed {
                json: if truncated { None } else { parse_json(start) },
                fields: None,
            };
        }
        let boundary = if mime == "multipart/form-data" {
            content_type.and_then(boundary_param)
        } else {
            None
        };
        let fields = if let Some(b) = boundary.or_else(|| sniff_boundary(prefix)) {
            parse_multipart(prefix, b.as_bytes())
        } else if mime == "application/x-www-form-urlencoded" || looks_like_form(prefix) {
            parse_form(prefix, truncated)
        } else {
            return Parsed::default();
        };
        let json = fields
            .get("payload")
            .filter(|p| p.trim_start().starts_with('{'))
            .and_then(|p| parse_json(p.as_bytes()));
        Parsed {
            json,
            fields: Some(fields),
        }
    }

    fn object(&self) -> Option<&Map<String, Value>> {
        self.json.as_ref().and_then(Value::as_object)
    }

    /// Provider guessed from the body alone.
    fn provider(&self) -> Option<Provider> {
        let from_json = match self.json.as_ref() {
            Some(Value::Object(m)) => object_provider(m),
            Some(Value::Array(a)) => array_provider(a),
            _ => None,
        };
        from_json.or_else(|| self.fields.as_ref().and_then(fields_provider))
    }
}

fn parse_json(bytes: &[u8]) -> Option<Value> {
    if bytes.len() > MAX_PARSE_BYTES {
        return None;
    }
    // This runs on every capture, so only what detection reads is built: containers down to
    // JSON_DEPTH levels, and below the top level only the members named in NESTED_KEYS.
    // Everything else is checked for well-formedness and skipped without allocating.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let root = Shallow {
        levels: JSON_DEPTH,
        nested: false,
    };
    let value = serde::de::DeserializeSeed::deserialize(root, &mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Containers nested deeper than this are replaced by `null` in the parsed body
/// (`_links.self[0].href` of WooCommerce is the deepest path detection reads).
const JSON_DEPTH: usize = 4;

/// The only members kept in objects below the top level: every key that detection reads
/// in a nested object or in the elements of a top-level array (`data.object.id`,
/// `sender.node_id`, `[0].sg_event_id`, …). A rule that reads a new nested key must add it
/// here. The top-level object is kept whole.
const NESTED_KEYS: &[&str] = &[
    "_id",
    "app_id",
    "commit_id",
    "dependency",
    "event",
    "full_name",
    "href",
    "id",
    "login",
    "msg",
    "node_id",
    "object",
    "rule",
    "secret_type",
    "security_advisory",
    "self",
    "sg_event_id",
    "sg_message_id",
    "token",
    "ts",
    "type",
    "uuid",
];

/// Deserializes JSON into a [`Value`] keeping `levels` levels of containers; objects that
/// are `nested` (not the top level) keep only the members named in [`NESTED_KEYS`].
#[derive(Clone, Copy)]
struct Shallow {
    levels: usize,
    nested: bool,
}

impl Shallow {
    fn child(self) -> Shallow {
        Shallow {
            levels: self.levels - 1,
            nested: true,
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Shallow {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Shallow {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.levels == 0 {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.child())? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.levels == 0 {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            return Ok(Value::Null);
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key {
            nested: self.nested,
        })? {
            match key {
                Some(k) => {
                    let v = map.next_value_seed(self.child())?;
                    out.insert(k, v);
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// An object member's name: `None` (not allocated) when a nested object's member is not one
/// of [`NESTED_KEYS`].
struct Key {
    nested: bool,
}

impl Key {
    fn keep(&self, k: &str) -> Option<String> {
        (!self.nested || NESTED_KEYS.contains(&k)).then(|| k.to_owned())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.keep(v))
    }
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    b.get(n..).unwrap_or_default()
}

/// `multipart/form-data; boundary=x` → `multipart/form-data` (lower-cased).
fn mime_essence(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The `boundary` parameter of a Content-Type value.
fn boundary_param(ct: &str) -> Option<String> {
    ct.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= 200).then(|| v.to_owned())
    })
}

/// A body that starts with `--boundary` followed by part headers is multipart even
/// without a Content-Type (fixture bodies usually come without headers).
fn sniff_boundary(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"--")?;
    let eol = rest.iter().take(200).position(|&b| b == b'\n')?;
    let line = rest.get(..eol)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let next = rest.get(eol + 1..)?;
    let is_header = |name: &[u8]| {
        next.get(..name.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(name))
    };
    let ok = !line.is_empty()
        && line.iter().all(|&b| b.is_ascii_graphic() || b == b' ')
        && (is_header(b"content-disposition:") || is_header(b"content-type:"));
    ok.then(|| String::from_utf8_lossy(line).into_owned())
}

/// `a=b&c=d` without whitespace or non-ASCII bytes, starting with a plausible key.
fn looks_like_form(body: &[u8]) -> bool {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let Some(eq) = body.iter().position(|&b| b == b'=') else {
        return false;
    };
    let key = body.get(..eq).unwrap_or_default();
    !key.is_empty()
        && key.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']' | b'%')
        })
        && body.iter().all(u8::is_ascii_graphic)
}

/// Form or multipart fields, in order. A value is `None` when it was too large to keep
/// (multipart files and big parts).
#[derive(Default)]
struct Fields(Vec<(String, Option<String>)>);

impl Fields {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).and_then(clean)
    }

    fn starts_with(&self, name: &str, prefixes: &[&str]) -> bool {
        self.get(name)
            .is_some_and(|v| v.len() > 2 && prefixes.iter().any(|p| v.starts_with(p)))
    }
}

fn form_decode(raw: &[u8]) -> String {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_form(body: &[u8], truncated: bool) -> Fields {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let mut out = Vec::new();
    let mut last_has_value = false;
    let mut complete = true;
    for (i, seg) in body.split(|&b| b == b'&').enumerate() {
        if i >= MAX_FIELDS {
            complete = false;
            break;
        }
        if seg.is_empty() {
            continue;
        }
        let (k, v) = match seg.iter().position(|&b| b == b'=') {
            Some(eq) => (seg.get(..eq).unwrap_or_default(), seg.get(eq + 1..)),
            None => (seg, None),
        };
        last_has_value = v.is_some();
        out.push((form_decode(k), Some(form_decode(v.unwrap_or_default()))));
    }
    if truncated && complete {
        // The last field was cut off at the parse limit: keep its name only if the name
        // itself is complete.
        if last_has_value {
            if let Some(last) = out.last_mut() {
                last.1 = None;
            }
        } else {
            out.pop();
        }
    }
    Fields(out)
}

/// Position of the next `delim` that starts a line, at or after `from` (which must be 0
/// or a line start). Linear in the input length.
fn find_delimiter(bytes: &[u8], delim: &[u8], mut from: usize) -> Option<usize> {
    loop {
        if bytes.get(from..)?.starts_with(delim) {
            return Some(from);
        }
        let off = bytes.get(from..)?.iter().position(|&b| b == b'\n')?;
        from += off + 1;
    }
}

fn parse_multipart(body: &[u8], boundary: &[u8]) -> Fields {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut out = Vec::new();
    let Some(mut pos) = find_delimiter(body, &delim, 0) else {
        return Fields(out);
    };
    while out.len() < MAX_FIELDS {
        let after = pos + delim.len();
        let Some(rest) = body.get(after..) else { break };
        if rest.starts_with(b"--") {
            break;
        }
        let Some(eol) = rest.iter().position(|&b| b == b'\n') else {
            break;
        };
        let part_start = after + eol + 1;
        let next = find_delimiter(body, &delim, part_start);
        let part_end = next.unwrap_or(body.len());
        let Some(part) = body.get(part_start..part_end.max(part_start)) else {
            break;
        };
        let part = part.strip_suffix(b"\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r").unwrap_or(part);
        if let Some(field) = parse_part(part, next.is_some()) {
            out.push(field);
        }
        match next {
            Some(n) => pos = n,
            None => break,
        }
    }
    Fields(out)
}

/// One multipart part → (field name, value if small, textual and complete).
fn parse_part(part: &[u8], complete: bool) -> Option<(String, Option<String>)> {
    let (head, value) = if part.starts_with(b"\r\n") || part.starts_with(b"\n") {
        (&b""[..], part)
    } else {
        let crlf = find_bytes(part, b"\r\n\r\n").map(|i| (i, 4));
        let lf = find_bytes(part, b"\n\n").map(|i| (i, 2));
        let (i, n) = match (crlf, lf) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        (part.get(..i)?, part.get(i + n..)?)
    };
    let head = String::from_utf8_lossy(head.get(..head.len().min(8192))?);
    let mut name = None;
    let mut is_file = false;
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if !k.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        for param in v.split(';').skip(1) {
            let Some((pk, pv)) = param.split_once('=') else {
                continue;
            };
            let pk = pk.trim();
            if pk.eq_ignore_ascii_case("name") {
                name = Some(pv.trim().trim_matches('"').to_owned());
            } else if pk.eq_ignore_ascii_case("filename") {
                is_file = true;
            }
        }
    }
    let value = (complete && !is_file && value.len() <= MAX_PART_VALUE)
        .then(|| String::from_utf8_lossy(value).into_owned());
    Some((name?, value))
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// Body shapes

fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)?.as_str()
}

fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    str_of(m, key).and_then(clean)
}

fn obj_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    m.get(key)?.as_object()
}

fn has_str(m: &Map<String, Value>, key: &str) -> bool {
    str_of(m, key).is_some()
}

fn str_starts(m: &Map<String, Value>, key: &str, prefix: &str) -> bool {
    str_of(m, key).is_some_and(|v| v.starts_with(prefix))
}

/// Trimmed, non-empty, at most [`MAX_TEXT_LEN`] bytes, no control characters.
fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty() && t.len() <= MAX_TEXT_LEN && !t.chars().any(char::is_control))
        .then(|| t.to_owned())
}

fn object_provider(m: &Map<String, Value>) -> Option<Provider> {
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

fn array_provider(a: &[Value]) -> Option<Provider> {
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

fn fields_provider(f: &Fields) -> Option<Provider> {
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

fn stripe_meta(m: &Map<String, Value>) -> Option<StripeMeta> {
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

/// A GitHub user/repository object: GitHub ids carry `node_id` (Gitea/Gogs ones do not).
fn is_github(m: &Map<String, Value>) -> bool {
    let user = obj_of(m, "sender").is_some_and(|s| has_str(s, "login") && has_str(s, "node_id"));
    let repo =
        obj_of(m, "repository").is_some_and(|r| has_str(r, "full_name") && has_str(r, "node_id"));
    let ping = m.contains_key("zen") && m.contains_key("hook_id");
    user || repo || ping
}

/// The GitHub event name implied by a payload's top-level keys, when unambiguous.
fn github_event(m: &Map<String, Value>) -> Option<&'static str> {
    if !is_github(m) {
        return None;
    }
    let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
    let key = |k: &str| m.contains_key(k);
    let action = str_of(m, "action").unwrap_or("");
    let event = if key("zen") && key("hook_id") {
        "ping"
    } else if key("hook_id") && key("hook") && action == "deleted" {
        "meta"
    } else if has("ref") && key("before") && key("after") && key("pusher") {
        "push"
    } else if has("ref") && key("ref_type") && key("pusher_type") {
        if key("master_branch") {
            "create"
        } else {
            "delete"
        }
    } else if has("issue") && has("comment") {
        "issue_comment"
    } else if has("pull_request") && has("review") {
        "pull_request_review"
    } else if has("pull_request") && has("comment") {
        "pull_request_review_comment"
    } else if has("pull_request") && has("thread") {
        "pull_request_review_thread"
    } else if has("pull_request") {
        "pull_request"
    } else if has("issue") {
        "issues"
    } else if has("discussion") && has("comment") {
        "discussion_comment"
    } else if has("discussion") {
        "discussion"
    } else if has("check_run") {
        "check_run"
    } else if has("check_suite") {
        "check_suite"
    } else if has("workflow_job") {
        "workflow_job"
    } else if has("workflow_run") {
        "workflow_run"
    } else if has("workflow") && key("inputs") {
        "workflow_dispatch"
    } else if has("release") {
        "release"
    } else if has("deployment_status") {
        "deployment_status"
    } else if has("deployment") {
        "deployment"
    } else if let Some(alert) = obj_of(m, "alert") {
        if alert.contains_key("dependency") || alert.contains_key("security_advisory") {
            "dependabot_alert"
        } else if alert.contains_key("secret_type") {
            "secret_scanning_alert"
        } else if alert.contains_key("rule") {
            "code_scanning_alert"
        } else {
            return None;
        }
    } else if key("starred_at") {
        "star"
    } else if has("forkee") {
        "fork"
    } else if has("pages") {
        "gollum"
    } else if key("client_payload") {
        "repository_dispatch"
    } else if key("repositories_added") || key("repositories_removed") {
        "installation_repositories"
    } else if obj_of(m, "installation").is_some_and(|i| i.contains_key("app_id"))
        && !key("repository")
    {
        "installation"
    } else if has("marketplace_purchase") {
        "marketplace_purchase"
    } else if has("sponsorship") {
        "sponsorship"
    } else if has("registry_package") {
        "registry_package"
    } else if has("package") {
        "package"
    } else if has("projects_v2_item") {
        "projects_v2_item"
    } else if has("projects_v2") {
        "projects_v2"
    } else if has("project_card") {
        "project_card"
    } else if has("project_column") {
        "project_column"
    } else if has("project") {
        "project"
    } else if has("merge_group") {
        "merge_group"
    } else if has("security_advisory") {
        "security_advisory"
    } else if has("membership") {
        "membership"
    } else if has("member") {
        "member"
    } else if has("milestone") {
        "milestone"
    } else if has("label") {
        "label"
    } else if has("team") {
        if action.is_empty() {
            "team_add"
        } else {
            "team"
        }
    } else if has("key") && !action.is_empty() {
        "deploy_key"
    } else if obj_of(m, "comment").is_some_and(|c| c.contains_key("commit_id")) {
        "commit_comment"
    } else if key("sha") && key("state") && key("context") && key("commit") {
        "status"
    } else if action == "revoked" && !key("repository") && !key("installation") {
        "github_app_authorization"
    } else {
        return None;
    };
    Some(event)
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
fn batch_event(events: &[Value], id_key: &str) -> (Option<String>, Option<String>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(pairs: &[(&str, &str)]) -> Vec<RawHeader> {
        pairs.iter().map(|(k, v)| RawHeader::new(*k, *v)).collect()
    }

    #[test]
    fn body_parse_keeps_the_top_level_whole_and_only_the_nested_members_detection_reads() {
        let body = br#"{"id":"evt_1","extra":{"a":[1]},"data":{"object":{"id":"ch_1",
            "amount":100,"metadata":{"k":"v"}},"previous":{"x":1}}}"#;
        let v = parse_json(body).unwrap();
        assert_eq!(v["extra"], serde_json::json!({}));
        assert_eq!(v["data"], serde_json::json!({"object": {"id": "ch_1"}}));
        let batch = parse_json(br#"[{"event":"open","sg_event_id":"e1","email":"a@b"}]"#);
        assert_eq!(
            batch.unwrap(),
            serde_json::json!([{"event": "open", "sg_event_id": "e1"}])
        );
        assert_eq!(
            parse_json(br#"{"a":{"b":1}"#),
            None,
            "malformed JSON is refused"
        );
    }

    fn check(d: &Detected, provider: Option<Provider>, ty: Option<&str>, id: Option<&str>) {
        assert_eq!(d.provider, provider, "provider of {d:?}");
        assert_eq!(d.event_type.as_deref(), ty, "event type of {d:?}");
        assert_eq!(d.event_id.as_deref(), id, "event id of {d:?}");
    }

    #[test]
    fn provider_names_round_trip_through_as_str_label_serde_and_from_str() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(p.label().parse::<Provider>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), p);
        }
        assert_eq!(Provider::StandardWebhooks.as_str(), "standard-webhooks");
        assert_eq!(Provider::Github.label(), "GitHub");
        assert_eq!(
            " Standard_Webhooks ".parse(),
            Ok(Provider::StandardWebhooks)
        );
        assert_eq!(
            "smee".parse::<Provider>(),
            Err(UnknownProvider("smee".to_owned()))
        );
    }

    #[test]
    fn stripe_by_header_and_by_body_with_meta() {
        let body = br#"{"id":"evt_1","object":"event","api_version":"2024-06-20","created":1700000000,
            "data":{"object":{"id":"in_1","object":"invoice"}},"livemode":true,"type":"invoice.paid"}"#;
        let d = detect(&hs(&[("Stripe-Signature", "t=1,v1=ab")]), body, None);
        check(
            &d,
            Some(Provider::Stripe),
            Some("invoice.paid"),
            Some("evt_1"),
        );
        let meta = d.stripe.unwrap();
        assert_eq!(meta.livemode, Some(true));
        assert_eq!(meta.api_version.as_deref(), Some("2024-06-20"));
        assert_eq!(meta.created, Some(1_700_000_000));
        assert_eq!(meta.object_id.as_deref(), Some("in_1"));
        assert_eq!(meta.object_type.as_deref(), Some("invoice"));

        let bare = detect(&[], body, Some("application/json"));
        check(
            &bare,
            Some(Provider::Stripe),
            Some("invoice.paid"),
            Some("evt_1"),
        );

        let ua = hs(&[(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )]);
        let d = detect(&ua, b"", None);
        check(&d, Some(Provider::Stripe), None, None);
        assert_eq!(d.stripe, None);
    }

    #[test]
    fn stripe_v2_thin_event_reports_the_related_object() {
        let body = br#"{"id":"evt_test_65R","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered",
            "livemode":false,"created":"2024-09-17T06:20:52.246Z","related_object":{"id":"mtr_1","type":"billing.meter"}}"#;
        let d = detect(&[], body, None);
        check(
            &d,
            Some(Provider::Stripe),
            Some("v1.billing.meter.error_report_triggered"),
            Some("evt_test_65R"),
        );
        let meta = d.stripe.unwrap();
        assert_eq!(meta.created, None);
        assert_eq!(meta.object_id.as_deref(), Some("mtr_1"));
        assert_eq!(meta.object_type.as_deref(), Some("billing.meter"));
    }

    #[test]
    fn github_event_header_plus_action_and_delivery_id() {
        let h = hs(&[
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", "d-1"),
        ]);
        let d = detect(&h, br#"{"action":"opened","number":1}"#, None);
        check(
            &d,
            Some(Provider::Github),
            Some("pull_request.opened"),
            Some("d-1"),
        );
        let d = detect(&hs(&[("x-github-event", "push")]), br#"{"ref":"x"}"#, None);
        check(&d, Some(Provider::Github), Some("push"), None);
    }

    #[test]
    fn github_payload_shapes_without_headers() {
        let sender = r#""sender":{"login":"octocat","node_id":"MDQ6"}"#;
        let repo = r#""repository":{"full_name":"o/r","node_id":"R_1"}"#;
        let cases = [
            (
                format!(r#"{{"zen":"z","hook_id":1,"hook":{{}},{sender}}}"#),
                Some("ping"),
            ),
            (
                format!(
                    r#"{{"ref":"refs/heads/m","before":"0","after":"1","pusher":{{"name":"o"}},{repo},{sender}}}"#
                ),
                Some("push"),
            ),
            (
                format!(r#"{{"action":"opened","issue":{{"id":1}},{repo},{sender}}}"#),
                Some("issues.opened"),
            ),
            (
                format!(r#"{{"action":"created","issue":{{}},"comment":{{}},{repo},{sender}}}"#),
                Some("issue_comment.created"),
            ),
            (
                format!(r#"{{"ref":"t","ref_type":"tag","pusher_type":"user",{repo},{sender}}}"#),
                Some("delete"),
            ),
            (
                format!(r#"{{"action":"weird","unknown_thing":{{}},{repo},{sender}}}"#),
                None,
            ),
        ];
        for (body, ty) in cases {
            let d = detect(&[], body.as_bytes(), None);
            check(&d, Some(Provider::Github), ty, None);
        }
        // Without GitHub's node ids the same shape is not claimed (Gitea/Gogs look alike).
        let gitea = br#"{"ref":"refs/heads/m","before":"0","after":"1","pusher":{"login":"o"},
            "repository":{"full_name":"o/r"},"sender":{"login":"o"}}"#;
        check(&detect(&[], gitea, None), None, None, None);
        let h = hs(&[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push")]);
        check(&detect(&h, gitea, None), None, None, None);
    }

    #[test]
    fn github_form_encoded_payload() {
        let body = b"payload=%7B%22zen%22%3A%22z%22%2C%22hook_id%22%3A7%7D";
        let d = detect(
            &hs(&[("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "x")]),
            body,
            Some("application/x-www-form-urlencoded"),
        );
        check(&d, Some(Provider::Github), Some("ping"), Some("x"));
        check(
            &detect(&[], body, None),
            Some(Provider::Github),
            Some("ping"),
            None,
        );
    }

    #[test]
    fn shopify_topic_and_webhook_id_from_either_header_style() {
        let h = hs(&[
            ("X-Shopify-Topic", "orders/create"),
            ("X-Shopify-Webhook-Id", "w-1"),
            ("X-Shopify-Event-Id", "e-1"),
        ]);
        check(
            &detect(&h, b"{}", None),
            Some(Provider::Shopify),
            Some("orders/create"),
            Some("w-1"),
        );
        let h = hs(&[
            ("shopify-topic", "products/update"),
            ("shopify-event-id", "e-2"),
        ]);
        check(
            &detect(&h, b"{}", None),
            Some(Provider::Shopify),
            Some("products/update"),
            Some("e-2"),
        );
        let body = br#"{"id":1,"admin_graphql_api_id":"gid:\/\/shopify\/Product\/1"}"#;
        check(
            &detect(&[], body, None),
            Some(Provider::Shopify),
            None,
            None,
        );
    }

    #[test]
    fn slack_events_api_interactivity_and_slash_commands() {
        let ev = br#"{"token":"t","team_id":"T1","api_app_id":"A1","type":"event_callback",
            "event":{"type":"app_mention","text":"hi"},"event_id":"Ev1"}"#;
        check(
            &detect(&[], ev, None),
            Some(Provider::Slack),
            Some("event_callback.app_mention"),
            Some("Ev1"),
        );
        let challenge = br#"{"token":"t","challenge":"c","type":"url_verification"}"#;
        check(
            &detect(&[], challenge, None),
            Some(Provider::Slack),
            Some("url_verification"),
            None,
        );
        let interactive =
            b"payload=%7B%22type%22%3A%22block_actions%22%2C%22api_app_id%22%3A%22A1%22%7D";
        check(
            &detect(&[], interactive, None),
            Some(Provider::Slack),
            Some("block_actions"),
            None,
        );
        let slash = b"token=t&team_id=T1&command=%2Fhello&text=hi&response_url=https%3A%2F%2Fhooks.slack.com%2Fx";
        check(
            &detect(&[], slash, None),
            Some(Provider::Slack),
            Some("slash_command"),
            None,
        );
        let h = hs(&[
            ("X-Slack-Signature", "v0=ab"),
            ("X-Slack-Request-Timestamp", "1"),
        ]);
        check(
            &detect(&h, b"ssl_check=1&token=t", None),
            Some(Provider::Slack),
            Some("ssl_check"),
            None,
        );
    }

    #[test]
    fn standard_webhooks_and_svix_headers() {
        let h = hs(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", "1"),
            ("webhook-signature", "v1,x"),
        ]);
        check(
            &detect(&h, br#"{"type":"user.created","data":{}}"#, None),
            Some(Provider::StandardWebhooks),
            Some("user.created"),
            Some("msg_1"),
        );
        let h = hs(&[("svix-id", "msg_2"), ("svix-signature", "v1,x")]);
        check(
            &detect(&h, b"not json", None),
            Some(Provider::StandardWebhooks),
            None,
            Some("msg_2"),
        );
        // A lone webhook-id header is too generic.
        check(
            &detect(&hs(&[("webhook-id", "x")]), b"", None),
            None,
            None,
            None,
        );
    }

    #[test]
    fn twilio_by_signature_header_or_form_fields() {
        let h = hs(&[
            ("X-Twilio-Signature", "abc="),
            ("I-Twilio-Idempotency-Token", "tok-1"),
        ]);
        check(
            &detect(&h, b"x=1", None),
            Some(Provider::Twilio),
            None,
            Some("tok-1"),
        );
        let sms = b"MessageSid=SM1&AccountSid=AC1&From=%2B1&To=%2B2&Body=hi";
        check(&detect(&[], sms, None), Some(Provider::Twilio), None, None);
        let call = b"CallSid=CA123&From=%2B1&To=%2B2";
        check(&detect(&[], call, None), Some(Provider::Twilio), None, None);
        check(&detect(&[], b"Sid=CA1&Digits=1", None), None, None, None);
    }

    #[test]
    fn paddle_billing_and_classic() {
        let billing =
            br#"{"event_id":"evt_01","event_type":"subscription.created","occurred_at":"x",
            "notification_id":"ntf_01","data":{}}"#;
        check(
            &detect(&hs(&[("Paddle-Signature", "ts=1;h1=ab")]), billing, None),
            Some(Provider::Paddle),
            Some("subscription.created"),
            Some("evt_01"),
        );
        check(
            &detect(&[], billing, None),
            Some(Provider::Paddle),
            Some("subscription.created"),
            Some("evt_01"),
        );
        let classic = b"alert_id=9&alert_name=payment_succeeded&p_signature=abc%3D";
        check(
            &detect(&[], classic, None),
            Some(Provider::Paddle),
            Some("payment_succeeded"),
            Some("9"),
        );
    }

    #[test]
    fn gitlab_bitbucket_paypal_woocommerce() {
        let h = hs(&[
            ("X-Gitlab-Event", "Merge Request Hook"),
            ("X-Gitlab-Event-UUID", "u1"),
        ]);
        let mr = br#"{"object_kind":"merge_request","project":{},"object_attributes":{}}"#;
        check(
            &detect(&h, mr, None),
            Some(Provider::Gitlab),
            Some("merge_request"),
            Some("u1"),
        );
        check(
            &detect(&[], mr, None),
            Some(Provider::Gitlab),
            Some("merge_request"),
            None,
        );
        check(
            &detect(&h, b"", None),
            Some(Provider::Gitlab),
            Some("Merge Request Hook"),
            Some("u1"),
        );

        let h = hs(&[
            ("User-Agent", "Bitbucket-Webhooks/2.0"),
            ("X-Event-Key", "pullrequest:created"),
            ("X-Request-UUID", "r1"),
        ]);
        check(
            &detect(&h, b"{}", None),
            Some(Provider::Bitbucket),
            Some("pullrequest:created"),
            Some("r1"),
        );
        // X-Event-Key alone is not enough.
        check(
            &detect(&hs(&[("X-Event-Key", "a")]), b"", None),
            None,
            None,
            None,
        );

        let pp = br#"{"id":"WH-1","event_type":"CHECKOUT.ORDER.APPROVED","resource_type":"checkout-order","resource":{}}"#;
        check(
            &detect(&[], pp, None),
            Some(Provider::Paypal),
            Some("CHECKOUT.ORDER.APPROVED"),
            Some("WH-1"),
        );
        let h = hs(&[("PAYPAL-TRANSMISSION-ID", "t1")]);
        check(
            &detect(&h, b"", None),
            Some(Provider::Paypal),
            None,
            Some("t1"),
        );

        let h = hs(&[
            ("X-WC-Webhook-Topic", "order.updated"),
            ("X-WC-Webhook-Delivery-ID", "d1"),
        ]);
        check(
            &detect(&h, b"{}", None),
            Some(Provider::Woocommerce),
            Some("order.updated"),
            Some("d1"),
        );
        let h = hs(&[
            ("User-Agent", "WooCommerce/7.4.0 Hookshot (WordPress/6.1.1)"),
            ("X-WC-Webhook-Resource", "coupon"),
            ("X-WC-Webhook-Event", "deleted"),
        ]);
        check(
            &detect(&h, b"", None),
            Some(Provider::Woocommerce),
            Some("coupon.deleted"),
            None,
        );
    }

    #[test]
    fn email_providers() {
        let events = br#"[{"email":"a@b","event":"delivered","sg_event_id":"sg1","timestamp":1}]"#;
        check(
            &detect(&[], events, None),
            Some(Provider::Sendgrid),
            Some("delivered"),
            Some("sg1"),
        );
        let mixed = br#"[{"event":"open","sg_event_id":"a"},{"event":"click","sg_event_id":"b"}]"#;
        check(
            &detect(&[], mixed, None),
            Some(Provider::Sendgrid),
            None,
            None,
        );

        let mp = b"--XyZ\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n{\"to\":[\"a@b\"]}\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nx@y\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"charsets\"\r\n\r\n{}\r\n--XyZ--\r\n";
        let ct = "multipart/form-data; boundary=XyZ";
        check(
            &detect(&[], mp, Some(ct)),
            Some(Provider::Sendgrid),
            None,
            None,
        );
        check(&detect(&[], mp, None), Some(Provider::Sendgrid), None, None);
        let sendlib = hs(&[("User-Agent", "Sendlib/1.0")]);
        check(
            &detect(&sendlib, b"", None),
            Some(Provider::Sendgrid),
            None,
            None,
        );

        let mg = br#"{"signature":{"token":"t","timestamp":"1","signature":"s"},
            "event-data":{"event":"delivered","id":"mg-1"}}"#;
        check(
            &detect(&[], mg, None),
            Some(Provider::Mailgun),
            Some("delivered"),
            Some("mg-1"),
        );
        let mg_form = b"token=t&timestamp=1&signature=s&event=bounced&recipient=a%40b";
        check(
            &detect(&[], mg_form, None),
            Some(Provider::Mailgun),
            Some("bounced"),
            None,
        );

        let mandrill = b"mandrill_events=%5B%7B%22event%22%3A%22send%22%2C%22_id%22%3A%22m1%22%2C%22ts%22%3A1%2C%22msg%22%3A%7B%7D%7D%5D";
        check(
            &detect(&[], mandrill, None),
            Some(Provider::Mandrill),
            Some("send"),
            Some("m1"),
        );
        let h = hs(&[("X-Mandrill-Signature", "x")]);
        check(&detect(&h, b"", None), Some(Provider::Mandrill), None, None);
    }

    #[test]
    fn unknown_bodies_stay_unknown() {
        for body in [
            &b""[..],
            b"{}",
            b"[]",
            b"hello world",
            br#"{"type":"thing","id":"1","data":{}}"#,
            br#"{"property": "value", "boolean": true}"#,
            b"a=1&b=2",
        ] {
            check(&detect(&[], body, None), None, None, None);
        }
    }

    #[test]
    fn hostile_strings_are_not_reported() {
        let long = "x".repeat(MAX_TEXT_LEN + 1);
        let body = format!(r#"{{"id":"evt_1","object":"event","type":"{long}"}}"#);
        check(
            &detect(&[], body.as_bytes(), None),
            Some(Provider::Stripe),
            None,
            Some("evt_1"),
        );
        let h = hs(&[("X-GitHub-Event", "push\u{7}"), ("X-GitHub-Delivery", " ")]);
        check(&detect(&h, b"", None), Some(Provider::Github), None, None);
        // Non-UTF-8 header values still count as present.
        let h = vec![RawHeader::new("Stripe-Signature", vec![0xff, 0xfe])];
        check(
            &detect(&h, b"\xff", None),
            Some(Provider::Stripe),
            None,
            None,
        );
    }

    #[test]
    fn never_panics_on_garbage_truncation_or_nesting() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"{}[]\":,=&%+-\r\n \\abcXYZ019\xff\x00";
        let cts = [
            None,
            Some("application/json"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=ab"),
            Some("multipart/form-data; boundary="),
            Some("multipart/form-data; boundary=\"\""),
        ];
        for _ in 0..3000 {
            let len = (next() % 200) as usize;
            let mut body: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if next() % 3 == 0 {
                body.splice(
                    0..0,
                    b"--ab\r\nContent-Disposition: form-data; name=\""
                        .iter()
                        .copied(),
                );
            }
            let ct = cts[(next() % cts.len() as u64) as usize];
            let _ = detect(&[], &body, ct);
        }
        let samples: [&[u8]; 4] = [
            b"--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nt\r\n--b\r\nContent-Disposition: form-data; name=\"x\"",
            b"payload=%7B%22type%22%3A%22block_actions%22%2C%22api_app_id%22%3A%22A1%22%7D",
            br#"{"id":"evt_1","object":"event","type":"a","data":{"object":{"id":"x"}}}"#,
            b"mandrill_events=%5B%7B%22event%22%3A%22send%22%7D%5D",
        ];
        for s in samples {
            for cut in 0..=s.len() {
                let _ = detect(&[], &s[..cut], None);
                let _ = detect(&[], &s[cut..], Some("multipart/form-data; boundary=b"));
            }
        }
        let deep = "[".repeat(100_000);
        let _ = detect(&[], deep.as_bytes(), None);
        let deep_obj = r#"{"a":"#.repeat(50_000);
        let _ = detect(&[], deep_obj.as_bytes(), None);
        let newlines = "\n--".repeat(100_000);
        let _ = detect(
            &[],
            newlines.as_bytes(),
            Some("multipart/form-data; boundary=x"),
        );
    }

    #[test]
    fn huge_bodies_fall_back_to_headers_and_prefixes() {
        let mut big = br#"{"id":"evt_1","object":"event","type":"a","pad":""#.to_vec();
        big.resize(MAX_PARSE_BYTES + 10, b'a');
        big.extend_from_slice(b"\"}");
        check(&detect(&[], &big, None), None, None, None);
        check(
            &detect(&hs(&[("Stripe-Signature", "t=1")]), &big, None),
            Some(Provider::Stripe),
            None,
            None,
        );
        let mut form = b"mandrill_events=".to_vec();
        form.resize(MAX_PARSE_BYTES + 10, b'a');
        check(
            &detect(&[], &form, None),
            Some(Provider::Mandrill),
            None,
            None,
        );
        let mut form = b"a=1&mandrill_".to_vec();
        form.resize(MAX_PARSE_BYTES + 10, b'a');
        check(&detect(&[], &form, None), None, None, None);
        let mut form = b"alert_name=x&p_signature=y&pad=".to_vec();
        form.resize(MAX_PARSE_BYTES + 10, b'a');
        check(
            &detect(&[], &form, None),
            Some(Provider::Paddle),
            Some("x"),
            None,
        );
    }

    #[test]
    fn detected_serializes_with_kebab_case_provider() {
        let d = Detected {
            provider: Some(Provider::StandardWebhooks),
            event_type: Some("a.b".to_owned()),
            event_id: None,
            stripe: None,
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["provider"], "standard-webhooks");
        assert_eq!(v["event_type"], "a.b");
    }
}
