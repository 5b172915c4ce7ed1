//! Webhook signature schemes: re-sign a captured request for replay, and verify a capture the way
//! the provider's official library would.
//!
//! Implements `shared/spec/signatures.md` §1–6, §9 and §11 for five schemes: Stripe, Standard
//! Webhooks / Svix (symmetric `v1` only; `v1a` Ed25519 entries are ignored), GitHub, Shopify and
//! Slack. Two pseudo-schemes complete the replay choices: [`Scheme::Original`] sends the captured
//! headers unchanged and [`Scheme::None`] strips every signature header.
//!
//! Rules followed throughout:
//! * The MAC is fed in pieces over the exact body bytes; the body is never turned into a string,
//!   so non-UTF-8 bodies stay byte-exact (§1.1, §11).
//! * A capture is "valid" only if the official library would accept it: the canonical encoding
//!   (lower-case hex, padded standard base64, exact prefixes) is computed and compared with the
//!   received string in constant time (§1.3, §1.4).
//! * There is no clock in here: `now` (re-sign) and `received_at` (verify) are Unix seconds passed
//!   in by the caller, and freshness is judged at `received_at` (§1.7).
//!
//! Verification states (§1.7, mapped onto [`SignatureStatus`]): a missing signature header is
//! reported as [`SignatureStatus::Invalid`] ("no X header"), because nothing in the capture
//! matches the secret; [`SignatureStatus::Malformed`] is kept for headers that are present but
//! cannot be parsed (no `t=`, a non-integer timestamp, a value that is not UTF-8). A missing or
//! unusable secret gives [`SignatureStatus::Unchecked`], as do the pseudo-schemes.

use std::fmt;
use std::str::FromStr;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::headers::{self, RawHeader};

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// Freshness window, in seconds, that the official Stripe, Standard Webhooks and Slack libraries
/// apply by default (GitHub and Shopify sign no timestamp).
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// Prefix of Standard Webhooks / Svix symmetric secrets; it is stripped before base64 decoding.
pub const STANDARD_WEBHOOKS_SECRET_PREFIX: &str = "whsec_";

const STRIPE_SIGNATURE: &str = "Stripe-Signature";
const WEBHOOK_ID: &str = "webhook-id";
const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
const WEBHOOK_SIGNATURE: &str = "webhook-signature";
const SVIX_ID: &str = "svix-id";
const SVIX_TIMESTAMP: &str = "svix-timestamp";
const SVIX_SIGNATURE: &str = "svix-signature";
const GITHUB_SHA256: &str = "X-Hub-Signature-256";
const GITHUB_SHA1: &str = "X-Hub-Signature";
const SHOPIFY_HMAC: &str = "X-Shopify-Hmac-Sha256";
const SHOPIFY_EVENTS_HMAC: &str = "shopify-hmac-sha256";
const SLACK_SIGNATURE: &str = "X-Slack-Signature";
const SLACK_TIMESTAMP: &str = "X-Slack-Request-Timestamp";
const SLACK_RETRY_HEADERS: &[&str] = &["x-slack-retry-num", "x-slack-retry-reason"];

const NON_UTF8_BODY_NOTE: &str = "body is not UTF-8, official verifiers may reject it";

/// Standard base64 that accepts input with or without `=` padding (for secrets only; signatures
/// are always emitted and compared padded).
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How a replay is signed, and which scheme a capture is verified against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// `Stripe-Signature: t=<ts>,v1=<hex>`, key is the secret string verbatim (§2).
    Stripe,
    /// `webhook-*` / `svix-*` headers, `v1,<base64>`, key is the base64 after `whsec_` (§3).
    StandardWebhooks,
    /// `X-Hub-Signature-256: sha256=<hex>` plus legacy `X-Hub-Signature: sha1=<hex>` (§4).
    Github,
    /// `X-Shopify-Hmac-Sha256: <base64>` over the body (§5).
    Shopify,
    /// `X-Slack-Signature: v0=<hex>` over `v0:<ts>:<body>` (§6).
    Slack,
    /// Replay the captured headers unchanged; nothing is verified.
    Original,
    /// Replay with every scheme's signature headers removed; nothing is verified.
    None,
}

impl Scheme {
    /// Every scheme, signing schemes first.
    pub const ALL: [Scheme; 7] = [
        Scheme::Stripe,
        Scheme::StandardWebhooks,
        Scheme::Github,
        Scheme::Shopify,
        Scheme::Slack,
        Scheme::Original,
        Scheme::None,
    ];

    /// Stable identifier, the same string serde uses (e.g. `"standard-webhooks"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Stripe => "stripe",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Github => "github",
            Scheme::Shopify => "shopify",
            Scheme::Slack => "slack",
            Scheme::Original => "original",
            Scheme::None => "none",
        }
    }

    /// Human-readable name for the UI.
    pub fn label(self) -> &'static str {
        match self {
            Scheme::Stripe => "Stripe",
            Scheme::StandardWebhooks => "Standard Webhooks / Svix",
            Scheme::Github => "GitHub",
            Scheme::Shopify => "Shopify",
            Scheme::Slack => "Slack",
            Scheme::Original => "Original headers",
            Scheme::None => "No signature",
        }
    }

    /// True for the five schemes that compute a MAC (and so need a secret).
    pub fn signs(self) -> bool {
        !matches!(self, Scheme::Original | Scheme::None)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scheme name that [`Scheme::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signing scheme \"{0}\"; expected one of stripe, standard-webhooks, github, shopify, slack, original, none")]
pub struct UnknownScheme(pub String);

impl FromStr for Scheme {
    type Err = UnknownScheme;

    /// Parses [`Scheme::as_str`] names, ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownScheme(s.to_owned()))
    }
}

/// Why a replay could not be re-signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// A signing scheme was chosen but the secret is empty.
    #[error("no signing secret is configured for {}; add one to re-sign the replay", .0.label())]
    MissingSecret(Scheme),
    /// The Standard Webhooks secret is not base64 (after removing an optional `whsec_`).
    #[error("the Standard Webhooks secret is not valid base64: expected whsec_ followed by standard base64 (padded or unpadded)")]
    InvalidStandardWebhooksSecret,
    /// The Standard Webhooks secret decodes to zero bytes.
    #[error("the Standard Webhooks secret is empty after removing the whsec_ prefix")]
    EmptyStandardWebhooksSecret,
}

/// Outcome of checking a captured signature (spec §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    /// The official library would accept the capture at the time it arrived.
    Valid,
    /// The MAC matches, but the timestamp was outside the tolerance when the capture arrived.
    ValidButStale,
    /// No signature in the capture matches this secret (including: no signature header at all).
    Invalid,
    /// A signature header is present but cannot be parsed.
    Malformed,
    /// Not checked: no scheme that signs, or no usable secret.
    Unchecked,
}

impl SignatureStatus {
    /// The snake_case name, the same string serde uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureStatus::Valid => "valid",
            SignatureStatus::ValidButStale => "valid_but_stale",
            SignatureStatus::Invalid => "invalid",
            SignatureStatus::Malformed => "malformed",
            SignatureStatus::Unchecked => "unchecked",
        }
    }
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of [`verify`]: the scheme checked, the verdict and a one-line reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Scheme the capture was checked against.
    pub scheme: Scheme,
    /// Verdict.
    pub status: SignatureStatus,
    /// Why, for the UI (e.g. "signed 600 s before arrival (tolerance 300 s)").
    pub reason: String,
}

// ---------------------------------------------------------------------------------------------
// Detection and header ownership
// ---------------------------------------------------------------------------------------------

/// Which scheme a captured request carries, judged by header presence (spec §11; only the five
/// signing schemes). Checked in the order Stripe, Standard Webhooks, GitHub, Shopify, Slack.
pub fn detect_scheme(headers: &[RawHeader]) -> Option<Scheme> {
    let has = |name: &str| headers::find(headers, name).is_some();
    if has("stripe-signature") {
        Some(Scheme::Stripe)
    } else if has(WEBHOOK_SIGNATURE) || has(SVIX_SIGNATURE) {
        Some(Scheme::StandardWebhooks)
    } else if has("x-hub-signature-256") || has("x-hub-signature") {
        Some(Scheme::Github)
    } else if has("x-shopify-hmac-sha256") || has(SHOPIFY_EVENTS_HMAC) {
        Some(Scheme::Shopify)
    } else if has("x-slack-signature") {
        Some(Scheme::Slack)
    } else {
        None
    }
}

/// Lower-case names of the signature headers a scheme owns: the headers [`resign`] rewrites.
/// Message-id headers (`webhook-id`, `svix-id`) are not included; they are kept on replay.
/// [`Scheme::Original`] and [`Scheme::None`] own none.
pub fn signature_header_names(scheme: Scheme) -> &'static [&'static str] {
    match scheme {
        Scheme::Stripe => &["stripe-signature"],
        Scheme::StandardWebhooks => &[
            WEBHOOK_SIGNATURE,
            WEBHOOK_TIMESTAMP,
            SVIX_SIGNATURE,
            SVIX_TIMESTAMP,
        ],
        Scheme::Github => &["x-hub-signature-256", "x-hub-signature"],
        Scheme::Shopify => &["x-shopify-hmac-sha256", SHOPIFY_EVENTS_HMAC],
        Scheme::Slack => &["x-slack-signature", "x-slack-request-timestamp"],
        Scheme::Original | Scheme::None => &[],
    }
}

// ---------------------------------------------------------------------------------------------
// Low-level signers
// ---------------------------------------------------------------------------------------------

/// HMAC key block for a 64-byte-block hash, exactly as RFC 2104 §2 derives it: keys longer than
/// the block are hashed first, shorter ones are zero-padded. HMAC over this block equals HMAC over
/// the original key, and building the MAC from a full block is infallible (no `Result` to unwrap).
fn key_block<D: Digest>(key: &[u8]) -> [u8; 64] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        let digest = D::digest(key);
        let n = digest.len().min(block.len());
        block[..n].copy_from_slice(&digest[..n]);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    block
}

fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    let mut k = Key::<HmacSha256>::default();
    k.copy_from_slice(&key_block::<Sha256>(key));
    <HmacSha256 as KeyInit>::new(&k)
}

fn hmac_sha1(key: &[u8]) -> HmacSha1 {
    let mut k = Key::<HmacSha1>::default();
    k.copy_from_slice(&key_block::<Sha1>(key));
    <HmacSha1 as KeyInit>::new(&k)
}

/// Stripe `v1` signature: lower-case hex of `HMAC-SHA256(secret, ts || "." || body)`, where the
/// key is the whole secret string (`whsec_` included) as UTF-8 bytes.
pub fn stripe_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Full `Stripe-Signature` value for one secret: `t=<ts>,v1=<hex>` (no `v0`).
pub fn stripe_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        stripe_signature(secret, timestamp, body)
    )
}

/// Standard Webhooks HMAC key: strip an optional `whsec_` prefix and base64-decode the rest
/// (standard alphabet, padded or unpadded).
pub fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, SignError> {
    let encoded = secret
        .strip_prefix(STANDARD_WEBHOOKS_SECRET_PREFIX)
        .unwrap_or(secret);
    if encoded.is_empty() {
        return Err(SignError::EmptyStandardWebhooksSecret);
    }
    let key = BASE64_ANY_PADDING
        .decode(encoded)
        .map_err(|_| SignError::InvalidStandardWebhooksSecret)?;
    if key.is_empty() {
        return Err(SignError::EmptyStandardWebhooksSecret);
    }
    Ok(key)
}

fn standard_webhooks_mac(key: &[u8], msg_id: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac_sha256(key);
    mac.update(msg_id);
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Standard Webhooks `v1` signature: padded standard base64 of
/// `HMAC-SHA256(key, msg_id || "." || ts || "." || body)`; `key` comes from
/// [`standard_webhooks_key`]. The header entry is `v1,<this>`.
pub fn standard_webhooks_signature(
    key: &[u8],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    standard_webhooks_mac(key, msg_id.as_bytes(), timestamp, body)
}

/// A fresh Standard Webhooks message id: `msg_` followed by 27 random alphanumerics.
pub fn new_message_id() -> String {
    format!(
        "msg_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 27)
    )
}

/// GitHub `X-Hub-Signature-256` value: `sha256=` + lower-case hex of `HMAC-SHA256(secret, body)`.
pub fn github_sha256(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// GitHub legacy `X-Hub-Signature` value: `sha1=` + lower-case hex of `HMAC-SHA1(secret, body)`.
pub fn github_sha1(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac_sha1(secret.as_bytes());
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Shopify `X-Shopify-Hmac-Sha256` value: padded standard base64 of `HMAC-SHA256(secret, body)`.
pub fn shopify_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Slack `X-Slack-Signature` value: `v0=` + lower-case hex of
/// `HMAC-SHA256(secret, "v0:" || ts || ":" || body)`.
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(b"v0:");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Re-signing for replay
// ---------------------------------------------------------------------------------------------

/// Re-signs a capture for replay at `now` (Unix seconds) and returns the headers to send.
///
/// The captured headers keep their order; the scheme's old signature headers are replaced in
/// place (duplicates dropped), and any the capture lacked are appended at the end.
/// * Stripe: one `Stripe-Signature: t=<now>,v1=<hex>` (no `v0`).
/// * Standard Webhooks: new `*-timestamp` and `*-signature` for the family the capture used
///   (both families if both were present, `webhook-*` if neither); the captured id header is kept,
///   and a `msg_` id is generated only when the capture had none.
/// * GitHub: both `X-Hub-Signature-256` and `X-Hub-Signature` (sha1).
/// * Shopify: `X-Shopify-Hmac-Sha256` and/or `shopify-hmac-sha256`, whichever were captured.
/// * Slack: new timestamp and signature; `X-Slack-Retry-Num` / `X-Slack-Retry-Reason` dropped.
/// * [`Scheme::Original`]: the headers unchanged. [`Scheme::None`]: every scheme's signature
///   headers removed.
///
/// The body is never changed; the caller must send `body` byte for byte.
pub fn resign(
    scheme: Scheme,
    headers: &[RawHeader],
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<Vec<RawHeader>, SignError> {
    if !scheme.signs() {
        return Ok(match scheme {
            Scheme::None => headers
                .iter()
                .filter(|h| {
                    !Scheme::ALL
                        .iter()
                        .any(|&s| is_named(&h.name, signature_header_names(s)))
                })
                .cloned()
                .collect(),
            _ => headers.to_vec(),
        });
    }
    if secret.is_empty() {
        return Err(SignError::MissingSecret(scheme));
    }
    let has = |name: &str| headers::find(headers, name).is_some();
    let fresh = match scheme {
        Scheme::Stripe => vec![RawHeader::new(
            STRIPE_SIGNATURE,
            stripe_header(secret, now, body),
        )],
        Scheme::StandardWebhooks => {
            let key = standard_webhooks_key(secret)?;
            standard_webhooks_headers(headers, &key, body, now)
        }
        Scheme::Github => vec![
            RawHeader::new(GITHUB_SHA256, github_sha256(secret, body)),
            RawHeader::new(GITHUB_SHA1, github_sha1(secret, body)),
        ],
        Scheme::Shopify => {
            let value = shopify_hmac(secret, body);
            let events = has(SHOPIFY_EVENTS_HMAC);
            let mut out = Vec::new();
            if has(SHOPIFY_HMAC) || !events {
                out.push(RawHeader::new(SHOPIFY_HMAC, value.clone()));
            }
            if events {
                out.push(RawHeader::new(SHOPIFY_EVENTS_HMAC, value));
            }
            out
        }
        Scheme::Slack => vec![
            RawHeader::new(SLACK_TIMESTAMP, now.to_string()),
            RawHeader::new(SLACK_SIGNATURE, slack_signature(secret, now, body)),
        ],
        Scheme::Original | Scheme::None => Vec::new(),
    };
    // Retries are a property of the original delivery, not of the replay.
    let drop: &[&str] = if scheme == Scheme::Slack {
        SLACK_RETRY_HEADERS
    } else {
        &[]
    };
    // A generated Standard Webhooks id takes the place of an empty captured id header.
    let mut owned = signature_header_names(scheme).to_vec();
    owned.extend(
        [WEBHOOK_ID, SVIX_ID]
            .into_iter()
            .filter(|id| fresh.iter().any(|h| h.name == *id)),
    );
    Ok(splice(headers, &owned, fresh, drop))
}

/// New Standard Webhooks headers (id only when the capture had none for that family,
/// timestamp, signature) for each family the capture used.
fn standard_webhooks_headers(
    headers: &[RawHeader],
    key: &[u8],
    body: &[u8],
    now: i64,
) -> Vec<RawHeader> {
    let present = |name: &str| headers::find(headers, name).filter(|v| !v.is_empty());
    let family_seen = |names: [&str; 3]| names.iter().any(|n| headers::find(headers, n).is_some());
    let svix = family_seen([SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE]);
    let webhook = family_seen([WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]) || !svix;
    let shared_id: Vec<u8> = present(WEBHOOK_ID)
        .or_else(|| present(SVIX_ID))
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| new_message_id().into_bytes());

    let mut out = Vec::new();
    let families = [
        (webhook, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE),
        (svix, SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE),
    ];
    for (used, id_name, ts_name, sig_name) in families {
        if !used {
            continue;
        }
        let id = match present(id_name) {
            Some(id) => id.to_vec(),
            None => {
                out.push(RawHeader::new(id_name, shared_id.clone()));
                shared_id.clone()
            }
        };
        let signature = standard_webhooks_mac(key, &id, now, body);
        out.push(RawHeader::new(ts_name, now.to_string()));
        out.push(RawHeader::new(sig_name, format!("v1,{signature}")));
    }
    out
}

fn is_named(name: &str, names: &[&str]) -> bool {
    names.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// Copies `headers`, putting each `fresh` header where the first captured header of the same
/// name was, dropping other `owned` and `drop` headers, and appending unplaced `fresh` ones.
fn splice(
    headers: &[RawHeader],
    owned: &[&str],
    fresh: Vec<RawHeader>,
    drop: &[&str],
) -> Vec<RawHeader> {
    let mut pending: Vec<Option<RawHeader>> = fresh.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(headers.len() + pending.len());
    for h in headers {
        if is_named(&h.name, drop) {
            continue;
        }
        if is_named(&h.name, owned) {
            let slot = pending.iter_mut().find(|p| {
                p.as_ref()
                    .is_some_and(|p| p.name.eq_ignore_ascii_case(&h.name))
            });
            if let Some(replacement) = slot.and_then(Option::take) {
                out.push(replacement);
            }
            continue;
        }
        out.push(h.clone());
    }
    out.extend(pending.into_iter().flatten());
    out
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// Verifies a capture as the scheme's official library would, judging freshness at
/// `received_at` (Unix seconds of capture), not at the time of viewing.
///
/// Tolerances: Stripe rejects only timestamps more than 300 s old (a future `t` is accepted, with a
/// clock-skew note when it is more than 300 s ahead); Standard Webhooks and Slack allow ±300 s;
/// GitHub and Shopify sign no timestamp. A matching MAC outside the window is
/// [`SignatureStatus::ValidButStale`]. Missing headers are [`SignatureStatus::Invalid`];
/// unparseable ones [`SignatureStatus::Malformed`]; an empty (or, for Standard Webhooks,
/// undecodable) secret and the pseudo-schemes give [`SignatureStatus::Unchecked`]. Valid verdicts
/// note when the body is not UTF-8, since most official verifiers decode it first.
pub fn verify(
    scheme: Scheme,
    headers: &[RawHeader],
    body: &[u8],
    secret: &str,
    received_at: i64,
) -> Verification {
    let check = Check { scheme, body };
    match scheme {
        Scheme::Stripe => verify_stripe(check, headers, secret, received_at),
        Scheme::StandardWebhooks => verify_standard_webhooks(check, headers, secret, received_at),
        Scheme::Github => verify_github(check, headers, secret),
        Scheme::Shopify => verify_shopify(check, headers, secret),
        Scheme::Slack => verify_slack(check, headers, secret, received_at),
        Scheme::Original => check.done(
            SignatureStatus::Unchecked,
            "replays the captured headers unchanged; nothing to verify",
        ),
        Scheme::None => check.done(
            SignatureStatus::Unchecked,
            "no signature scheme selected; nothing to verify",
        ),
    }
}

/// Shared context for building a [`Verification`].
#[derive(Clone, Copy)]
struct Check<'a> {
    scheme: Scheme,
    body: &'a [u8],
}

impl Check<'_> {
    fn done(self, status: SignatureStatus, reason: impl Into<String>) -> Verification {
        let mut reason = reason.into();
        let matched = matches!(
            status,
            SignatureStatus::Valid | SignatureStatus::ValidButStale
        );
        if matched && std::str::from_utf8(self.body).is_err() {
            reason.push_str("; ");
            reason.push_str(NON_UTF8_BODY_NOTE);
        }
        Verification {
            scheme: self.scheme,
            status,
            reason,
        }
    }

    fn missing(self, header: &str) -> Verification {
        self.done(SignatureStatus::Invalid, format!("no {header} header"))
    }

    fn no_secret(self) -> Verification {
        self.done(
            SignatureStatus::Unchecked,
            format!("no {} signing secret configured", self.scheme.label()),
        )
    }

    fn malformed(self, header: &str, why: &str) -> Verification {
        self.done(
            SignatureStatus::Malformed,
            format!("{header} header cannot be parsed: {why}"),
        )
    }

    /// Verdict for a matching MAC signed at `signed_at`: stale when more than the tolerance
    /// before `received_at`, and also when more than the tolerance after it unless `future_ok`
    /// (Stripe), in which case it stays valid with a clock-skew note.
    fn fresh_or_stale(self, signed_at: i64, received_at: i64, future_ok: bool) -> Verification {
        let age = received_at.saturating_sub(signed_at);
        if age > TIMESTAMP_TOLERANCE_SECS {
            return self.done(
                SignatureStatus::ValidButStale,
                format!("signed {age} s before arrival (tolerance {TIMESTAMP_TOLERANCE_SECS} s)"),
            );
        }
        let lead = signed_at.saturating_sub(received_at);
        if lead > TIMESTAMP_TOLERANCE_SECS {
            if future_ok {
                return self.done(
                    SignatureStatus::Valid,
                    format!(
                        "valid; signed {lead} s after arrival, clock skew > {TIMESTAMP_TOLERANCE_SECS} s \
                         (Stripe libraries only reject old timestamps)"
                    ),
                );
            }
            return self.done(
                SignatureStatus::ValidButStale,
                format!("signed {lead} s after arrival (tolerance {TIMESTAMP_TOLERANCE_SECS} s)"),
            );
        }
        self.done(SignatureStatus::Valid, "valid")
    }
}

/// Constant-time "does any candidate equal `expected`"; every candidate is compared.
fn matches_any<'a>(expected: &str, candidates: impl IntoIterator<Item = &'a str>) -> bool {
    let mut hit = Choice::from(0);
    for candidate in candidates {
        hit |= expected.as_bytes().ct_eq(candidate.as_bytes());
    }
    hit.into()
}

/// Parsed `Stripe-Signature`: the first `t` and every `v1` value.
struct StripeHeader<'a> {
    timestamp: i64,
    v1: Vec<&'a str>,
}

/// Parses like stripe-python: split on `,`, then on `=` with exact, untrimmed keys; the first
/// `t` must be an integer; only `v1` items count.
fn parse_stripe_header(value: &str) -> Result<StripeHeader<'_>, &'static str> {
    let mut t = None;
    let mut v1 = Vec::new();
    for item in value.split(',') {
        let mut parts = item.split('=');
        let key = parts.next().unwrap_or_default();
        let val = parts.next();
        match key {
            "t" if t.is_none() => t = Some(val.ok_or("t has no value")?),
            "v1" => v1.push(val.ok_or("a v1 item has no value")?),
            _ => {}
        }
    }
    let t = t.ok_or("no t= timestamp")?;
    let timestamp = t
        .parse::<i64>()
        .map_err(|_| "t= timestamp is not an integer")?;
    Ok(StripeHeader { timestamp, v1 })
}

fn verify_stripe(
    check: Check<'_>,
    headers: &[RawHeader],
    secret: &str,
    received_at: i64,
) -> Verification {
    let Some(raw) = headers::find(headers, STRIPE_SIGNATURE) else {
        return check.missing(STRIPE_SIGNATURE);
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return check.malformed(STRIPE_SIGNATURE, "not UTF-8");
    };
    let parsed = match parse_stripe_header(value) {
        Ok(parsed) => parsed,
        Err(why) => return check.malformed(STRIPE_SIGNATURE, why),
    };
    if parsed.v1.is_empty() {
        return check.done(
            SignatureStatus::Invalid,
            "Stripe-Signature has no v1 signature (v0 and other schemes are ignored)",
        );
    }
    if secret.is_empty() {
        return check.no_secret();
    }
    let expected = stripe_signature(secret, parsed.timestamp, check.body);
    if !matches_any(&expected, parsed.v1.iter().copied()) {
        return check.done(
            SignatureStatus::Invalid,
            "no v1 signature matches this secret",
        );
    }
    check.fresh_or_stale(parsed.timestamp, received_at, true)
}

fn verify_standard_webhooks(
    check: Check<'_>,
    headers: &[RawHeader],
    secret: &str,
    received_at: i64,
) -> Verification {
    let present = |name: &str| headers::find(headers, name).filter(|v| !v.is_empty());
    let svix = [SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE];
    let names = if svix.iter().all(|n| present(n).is_some()) {
        svix
    } else {
        [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]
    };
    let [id_name, ts_name, sig_name] = names;
    let (Some(id), Some(ts), Some(sig)) = (present(id_name), present(ts_name), present(sig_name))
    else {
        let missing: Vec<&str> = names.into_iter().filter(|n| present(n).is_none()).collect();
        return check.missing(&missing.join(" or "));
    };
    let Ok(ts) = std::str::from_utf8(ts) else {
        return check.malformed(ts_name, "not UTF-8");
    };
    let Ok(timestamp) = ts.parse::<i64>() else {
        return check.malformed(ts_name, &format!("{ts:?} is not an integer"));
    };
    let Ok(sig) = std::str::from_utf8(sig) else {
        return check.malformed(sig_name, "not UTF-8");
    };
    let mut v1 = Vec::new();
    let mut without_comma = 0usize;
    for entry in sig.split(' ') {
        match entry.split_once(',') {
            Some(("v1", value)) => v1.push(value),
            Some(_) => {}
            None => without_comma += 1,
        }
    }
    if v1.is_empty() {
        return check.done(
            SignatureStatus::Invalid,
            format!("{sig_name} has no v1 signature (v1a and other versions are ignored)"),
        );
    }
    if secret.is_empty() {
        return check.no_secret();
    }
    let key = match standard_webhooks_key(secret) {
        Ok(key) => key,
        Err(err) => return check.done(SignatureStatus::Unchecked, err.to_string()),
    };
    let expected = standard_webhooks_mac(&key, id, timestamp, check.body);
    if !matches_any(&expected, v1) {
        return check.done(
            SignatureStatus::Invalid,
            "no v1 signature matches this secret",
        );
    }
    let mut verdict = check.fresh_or_stale(timestamp, received_at, false);
    if without_comma > 0 {
        verdict.reason.push_str(&format!(
            "; {sig_name} has an entry without a comma, which makes the Python libraries raise"
        ));
    }
    verdict
}

fn verify_github(check: Check<'_>, headers: &[RawHeader], secret: &str) -> Verification {
    let (name, raw, sha1) = match (
        headers::find(headers, GITHUB_SHA256),
        headers::find(headers, GITHUB_SHA1),
    ) {
        (Some(raw), _) => (GITHUB_SHA256, raw, false),
        (None, Some(raw)) => (GITHUB_SHA1, raw, true),
        (None, None) => return check.missing(GITHUB_SHA256),
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return check.malformed(name, "not UTF-8");
    };
    if secret.is_empty() {
        return check.no_secret();
    }
    let (expected, prefix) = if sha1 {
        (github_sha1(secret, check.body), "sha1=")
    } else {
        (github_sha256(secret, check.body), "sha256=")
    };
    if matches_any(&expected, [value]) {
        let reason = if sha1 {
            "valid (sha1, legacy)"
        } else {
            "valid"
        };
        return check.done(SignatureStatus::Valid, reason);
    }
    let reason = if value.starts_with(prefix) {
        format!("{name} does not match this secret")
    } else {
        format!("{name} does not start with lower-case {prefix}")
    };
    check.done(SignatureStatus::Invalid, reason)
}

fn verify_shopify(check: Check<'_>, headers: &[RawHeader], secret: &str) -> Verification {
    // shopify-api reads the un-prefixed events header first when it is present.
    let (name, raw) = match headers::find(headers, SHOPIFY_EVENTS_HMAC) {
        Some(raw) => (SHOPIFY_EVENTS_HMAC, raw),
        None => match headers::find(headers, SHOPIFY_HMAC) {
            Some(raw) => (SHOPIFY_HMAC, raw),
            None => return check.missing(SHOPIFY_HMAC),
        },
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return check.malformed(name, "not UTF-8");
    };
    if secret.is_empty() {
        return check.no_secret();
    }
    if matches_any(&shopify_hmac(secret, check.body), [value]) {
        check.done(SignatureStatus::Valid, "valid")
    } else {
        check.done(
            SignatureStatus::Invalid,
            format!("{name} does not match this secret"),
        )
    }
}

fn verify_slack(
    check: Check<'_>,
    headers: &[RawHeader],
    secret: &str,
    received_at: i64,
) -> Verification {
    let Some(sig) = headers::find(headers, SLACK_SIGNATURE) else {
        return check.missing(SLACK_SIGNATURE);
    };
    let Some(ts) = headers::find(headers, SLACK_TIMESTAMP) else {
        return check.missing(SLACK_TIMESTAMP);
    };
    let Ok(ts) = std::str::from_utf8(ts) else {
        return check.malformed(SLACK_TIMESTAMP, "not UTF-8");
    };
    let Ok(timestamp) = ts.parse::<i64>() else {
        return check.malformed(SLACK_TIMESTAMP, &format!("{ts:?} is not an integer"));
    };
    let Ok(sig) = std::str::from_utf8(sig) else {
        return check.malformed(SLACK_SIGNATURE, "not UTF-8");
    };
    if secret.is_empty() {
        return check.no_secret();
    }
    if !matches_any(&slack_signature(secret, timestamp, check.body), [sig]) {
        let reason = if sig.starts_with("v0=") {
            "X-Slack-Signature does not match this secret"
        } else {
            "X-Slack-Signature does not start with v0="
        };
        return check.done(SignatureStatus::Invalid, reason);
    }
    check.fresh_or_stale(timestamp, received_at, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../tests/data/signature_vectors.json");

    fn vector(group: &str, name: &str) -> Value {
        let all: Value = serde_json::from_str(VECTORS).unwrap();
        all[group]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("vector {name} not in {group}"))
            .clone()
    }

    fn s<'a>(v: &'a Value, field: &str) -> &'a str {
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} is not a string"))
    }

    fn ts(v: &Value) -> i64 {
        v["timestamp"].as_i64().unwrap()
    }

    /// The authoritative body bytes, checked against the vector's length and SHA-256.
    fn body(v: &Value) -> Vec<u8> {
        let bytes = STANDARD.decode(s(v, "body_base64")).unwrap();
        assert_eq!(bytes.len() as u64, v["body_len"].as_u64().unwrap());
        assert_eq!(hex::encode(Sha256::digest(&bytes)), s(v, "body_sha256_hex"));
        if let Some(text) = v["body_utf8"].as_str() {
            assert_eq!(text.as_bytes(), bytes.as_slice());
        }
        bytes
    }

    fn vector_headers(v: &Value, field: &str) -> Vec<RawHeader> {
        v[field]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, val)| RawHeader::new(k.as_str(), val.as_str().unwrap()))
            .collect()
    }

    fn hs(pairs: &[(&str, &str)]) -> Vec<RawHeader> {
        pairs.iter().map(|(n, v)| RawHeader::new(*n, *v)).collect()
    }

    fn header<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a str> {
        headers::find_str(headers, name)
    }

    fn names(headers: &[RawHeader]) -> Vec<&str> {
        headers.iter().map(|h| h.name.as_str()).collect()
    }

    fn assert_status(v: &Verification, status: SignatureStatus) {
        assert_eq!(v.status, status, "reason: {}", v.reason);
    }

    const STRIPE_SECRET: &str = "whsec_plainTestSecretForReplayVectors01";
    const T: i64 = 1_700_000_000;

    fn stripe_basic() -> (Vec<RawHeader>, Vec<u8>) {
        let v = vector("stripe", "stripe_basic");
        (vector_headers(&v, "headers"), body(&v))
    }

    fn sw_basic() -> (Value, Vec<RawHeader>, Vec<u8>) {
        let v = vector("standard_webhooks", "standard_webhooks_v1_basic");
        let h = vector_headers(&v, "headers");
        let b = body(&v);
        (v, h, b)
    }

    // ---- vectors: Stripe ----------------------------------------------------------------

    #[test]
    fn stripe_basic_vector_is_reproduced_and_verifies() {
        let v = vector("stripe", "stripe_basic");
        let b = body(&v);
        assert_eq!(
            stripe_signature(s(&v, "secret"), ts(&v), &b),
            s(&v, "expected_v1_hex")
        );
        assert_eq!(
            stripe_header(s(&v, "secret"), ts(&v), &b),
            s(&v["headers"], "Stripe-Signature")
        );
        let got = verify(
            Scheme::Stripe,
            &vector_headers(&v, "headers"),
            &b,
            s(&v, "secret"),
            ts(&v) + 10,
        );
        assert_status(&got, SignatureStatus::Valid);
        assert_eq!(got.reason, "valid");
    }

    #[test]
    fn stripe_rotation_vector_verifies_with_either_secret_and_ignores_v0() {
        let v = vector("stripe", "stripe_rotation_two_v1_plus_fake_v0");
        let b = body(&v);
        assert_eq!(
            stripe_signature(s(&v, "secret"), ts(&v), &b),
            s(&v, "expected_v1_hex_secret")
        );
        assert_eq!(
            stripe_signature(s(&v, "other_secret"), ts(&v), &b),
            s(&v, "expected_v1_hex_other_secret")
        );
        let h = vector_headers(&v, "headers");
        for secret in [s(&v, "secret"), s(&v, "other_secret")] {
            assert_status(
                &verify(Scheme::Stripe, &h, &b, secret, ts(&v) + 10),
                SignatureStatus::Valid,
            );
        }
        assert_status(
            &verify(Scheme::Stripe, &h, &b, "whsec_someOtherSecret", ts(&v) + 10),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn stripe_replay_resigned_vector_is_exactly_what_resign_emits_for_a_stale_capture() {
        let v = vector("stripe", "stripe_replay_resigned");
        let b = body(&v);
        let now = ts(&v);
        let (captured, _) = stripe_basic();
        assert_status(
            &verify(Scheme::Stripe, &captured, &b, STRIPE_SECRET, now),
            SignatureStatus::ValidButStale,
        );
        let replay = resign(Scheme::Stripe, &captured, &b, s(&v, "secret"), now).unwrap();
        assert_eq!(replay, vector_headers(&v, "headers"));
        assert_eq!(
            stripe_signature(s(&v, "secret"), now, &b),
            s(&v, "expected_v1_hex")
        );
        assert_status(
            &verify(Scheme::Stripe, &replay, &b, STRIPE_SECRET, now),
            SignatureStatus::Valid,
        );
    }

    #[test]
    fn stripe_utf8_and_trailing_newline_vector_signs_the_exact_bytes() {
        let v = vector("stripe", "stripe_utf8_and_trailing_newline");
        let b = body(&v);
        assert_eq!(b.last(), Some(&b'\n'));
        assert_eq!(
            stripe_signature(s(&v, "secret"), ts(&v), &b),
            s(&v, "expected_v1_hex")
        );
        let h = vector_headers(&v, "headers");
        assert_status(
            &verify(Scheme::Stripe, &h, &b, s(&v, "secret"), ts(&v) + 10),
            SignatureStatus::Valid,
        );
        assert_status(
            &verify(
                Scheme::Stripe,
                &h,
                &b[..b.len() - 1],
                s(&v, "secret"),
                ts(&v) + 10,
            ),
            SignatureStatus::Invalid,
        );
    }

    // ---- vectors: Standard Webhooks --------------------------------------------------------

    #[test]
    fn standard_webhooks_basic_vector_is_reproduced_and_verifies_as_webhook_and_svix_headers() {
        let (v, h, b) = sw_basic();
        let key = standard_webhooks_key(s(&v, "secret")).unwrap();
        assert_eq!(hex::encode(&key), s(&v, "hmac_key_hex"));
        assert_eq!(
            format!(
                "v1,{}",
                standard_webhooks_signature(&key, s(&v, "msg_id"), ts(&v), &b)
            ),
            s(&v, "expected_signature")
        );
        for headers in [h, vector_headers(&v, "svix_headers")] {
            let got = verify(
                Scheme::StandardWebhooks,
                &headers,
                &b,
                s(&v, "secret"),
                ts(&v) + 10,
            );
            assert_status(&got, SignatureStatus::Valid);
        }
    }

    #[test]
    fn standard_webhooks_rotation_vector_accepts_any_v1_entry_and_ignores_v2() {
        let v = vector("standard_webhooks", "standard_webhooks_v1_rotation_multi");
        let b = body(&v);
        let h = vector_headers(&v, "headers");
        for secret in [s(&v, "secret"), s(&v, "other_secret")] {
            assert_status(
                &verify(Scheme::StandardWebhooks, &h, &b, secret, ts(&v) + 10),
                SignatureStatus::Valid,
            );
        }
        // The v2 entry carries the right digest for `secret`, but only v1 counts.
        let only_v2 = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", "1700000000"),
            (
                "webhook-signature",
                "v2,R9+eg4lQu9fg1FzJvFNKBRs7srOTo81ZJ1iOc7Yqtno=",
            ),
        ]);
        assert_status(
            &verify(Scheme::StandardWebhooks, &only_v2, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    fn assert_sw_kat(v: &Value) {
        let b = body(v);
        let key = standard_webhooks_key(s(v, "secret")).unwrap();
        let entry = format!(
            "v1,{}",
            standard_webhooks_signature(&key, s(v, "msg_id"), ts(v), &b)
        );
        assert_eq!(entry, s(v, "expected_signature"));
        assert_eq!(entry, s(v, "upstream_expected"));
        let timestamp = ts(v).to_string();
        let headers = hs(&[
            ("webhook-id", s(v, "msg_id")),
            ("webhook-timestamp", &timestamp),
            ("webhook-signature", &entry),
        ]);
        assert_status(
            &verify(
                Scheme::StandardWebhooks,
                &headers,
                &b,
                s(v, "secret"),
                ts(v),
            ),
            SignatureStatus::Valid,
        );
    }

    #[test]
    fn standard_webhooks_upstream_js_known_answer_is_reproduced() {
        assert_sw_kat(&vector(
            "standard_webhooks",
            "standard_webhooks_upstream_kat_js",
        ));
    }

    #[test]
    fn svix_upstream_rust_known_answer_is_reproduced() {
        assert_sw_kat(&vector("standard_webhooks", "svix_upstream_kat_rust"));
    }

    #[test]
    fn standard_webhooks_mixed_v1_and_v1a_header_verifies_through_the_v1_entry() {
        let v = vector("standard_webhooks", "standard_webhooks_v1a_ed25519_basic");
        let b = body(&v);
        let (basic, _, _) = sw_basic();
        let got = verify(
            Scheme::StandardWebhooks,
            &vector_headers(&v, "headers"),
            &b,
            s(&basic, "secret"),
            ts(&v) + 10,
        );
        assert_status(&got, SignatureStatus::Valid);
    }

    #[test]
    fn standard_webhooks_v1a_only_header_is_ignored_rather_than_accepted() {
        let v = vector(
            "standard_webhooks",
            "standard_webhooks_v1a_ed25519_upstream_kat",
        );
        let b = body(&v);
        let timestamp = ts(&v).to_string();
        let headers = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", &timestamp),
            ("webhook-signature", s(&v, "expected_signature")),
        ]);
        let got = verify(
            Scheme::StandardWebhooks,
            &headers,
            &b,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ts(&v),
        );
        assert_status(&got, SignatureStatus::Invalid);
        assert!(got.reason.contains("no v1 signature"), "{}", got.reason);
    }

    // ---- vectors: GitHub, Shopify, Slack ----------------------------------------------------

    #[test]
    fn github_docs_known_answer_is_reproduced_for_sha256_and_sha1() {
        let v = vector("github", "github_docs_kat");
        let b = body(&v);
        assert_eq!(
            github_sha256(s(&v, "secret"), &b),
            s(&v, "expected_sha256_header")
        );
        assert_eq!(
            github_sha256(s(&v, "secret"), &b),
            s(&v, "upstream_expected")
        );
        assert_eq!(
            github_sha1(s(&v, "secret"), &b),
            s(&v, "expected_sha1_header")
        );
        let headers = hs(&[("X-Hub-Signature-256", s(&v, "expected_sha256_header"))]);
        assert_status(
            &verify(Scheme::Github, &headers, &b, s(&v, "secret"), 0),
            SignatureStatus::Valid,
        );
    }

    #[test]
    fn github_ping_vector_is_reproduced_and_verifies() {
        let v = vector("github", "github_ping");
        let b = body(&v);
        let h = vector_headers(&v, "headers");
        assert_eq!(
            github_sha256(s(&v, "secret"), &b),
            s(&v["headers"], "X-Hub-Signature-256")
        );
        assert_eq!(
            github_sha1(s(&v, "secret"), &b),
            s(&v["headers"], "X-Hub-Signature")
        );
        let got = verify(Scheme::Github, &h, &b, s(&v, "secret"), T);
        assert_status(&got, SignatureStatus::Valid);
        assert_eq!(got.reason, "valid");
        assert_eq!(detect_scheme(&h), Some(Scheme::Github));
    }

    #[test]
    fn shopify_orders_create_vector_is_reproduced_and_verifies() {
        let v = vector("shopify", "shopify_orders_create");
        let b = body(&v);
        let h = vector_headers(&v, "headers");
        assert_eq!(
            shopify_hmac(s(&v, "secret"), &b),
            s(&v["headers"], "X-Shopify-Hmac-Sha256")
        );
        assert_status(
            &verify(Scheme::Shopify, &h, &b, s(&v, "secret"), T),
            SignatureStatus::Valid,
        );
        assert_eq!(detect_scheme(&h), Some(Scheme::Shopify));
    }

    fn assert_slack_vector(v: &Value) {
        let b = body(v);
        let h = vector_headers(v, "headers");
        assert_eq!(
            slack_signature(s(v, "secret"), ts(v), &b),
            s(&v["headers"], "X-Slack-Signature")
        );
        assert_eq!(
            s(&v["headers"], "X-Slack-Request-Timestamp"),
            ts(v).to_string()
        );
        assert_status(
            &verify(Scheme::Slack, &h, &b, s(v, "secret"), ts(v) + 10),
            SignatureStatus::Valid,
        );
        assert_eq!(detect_scheme(&h), Some(Scheme::Slack));
    }

    #[test]
    fn slack_docs_slash_command_known_answer_is_reproduced() {
        let v = vector("slack", "slack_docs_kat_slash_command");
        assert_eq!(
            s(&v, "upstream_expected"),
            s(&v["headers"], "X-Slack-Signature")
        );
        assert_slack_vector(&v);
    }

    #[test]
    fn slack_events_api_vector_is_reproduced_and_verifies() {
        assert_slack_vector(&vector("slack", "slack_events_api_json"));
    }

    // ---- negative checks (spec §10) ----------------------------------------------------------

    #[test]
    fn stripe_signature_with_stale_timestamp_is_rejected() {
        let (h, b) = stripe_basic();
        assert_status(
            &verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T + 300),
            SignatureStatus::Valid,
        );
        let got = verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T + 301);
        assert_status(&got, SignatureStatus::ValidButStale);
        assert_eq!(got.reason, "signed 301 s before arrival (tolerance 300 s)");
    }

    #[test]
    fn stripe_signature_an_hour_in_the_future_is_accepted_with_a_clock_skew_note() {
        let (h, b) = stripe_basic();
        let got = verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T - 3600);
        assert_status(&got, SignatureStatus::Valid);
        assert!(got.reason.contains("clock skew > 300 s"), "{}", got.reason);
    }

    #[test]
    fn stripe_key_with_whsec_prefix_stripped_is_rejected() {
        let (h, b) = stripe_basic();
        let stripped = STRIPE_SECRET.trim_start_matches("whsec_");
        let got = verify(Scheme::Stripe, &h, &b, stripped, T);
        assert_status(&got, SignatureStatus::Invalid);
        assert_eq!(got.reason, "no v1 signature matches this secret");
    }

    #[test]
    fn stripe_header_with_space_after_comma_is_rejected() {
        let (_, b) = stripe_basic();
        let h = hs(&[(
            "Stripe-Signature",
            "t=1700000000, v1=76517ec43404cf1686cbde0e5311d072a618851233b8d6ad5ee6e038949fbe1e",
        )]);
        assert_status(
            &verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn stripe_upper_case_hex_is_rejected() {
        let (_, b) = stripe_basic();
        let upper = format!(
            "t={T},v1={}",
            stripe_signature(STRIPE_SECRET, T, &b).to_uppercase()
        );
        let h = hs(&[("Stripe-Signature", &upper)]);
        assert_status(
            &verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn stripe_correct_digest_labelled_v0_is_rejected() {
        let (_, b) = stripe_basic();
        let v0 = format!("t={T},v0={}", stripe_signature(STRIPE_SECRET, T, &b));
        let got = verify(
            Scheme::Stripe,
            &hs(&[("Stripe-Signature", &v0)]),
            &b,
            STRIPE_SECRET,
            T,
        );
        assert_status(&got, SignatureStatus::Invalid);
        assert!(got.reason.contains("no v1 signature"), "{}", got.reason);
    }

    #[test]
    fn stripe_signature_over_one_extra_body_byte_is_rejected() {
        let (h, mut b) = stripe_basic();
        b.push(b' ');
        assert_status(
            &verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn stripe_header_without_integer_timestamp_is_malformed() {
        let (_, b) = stripe_basic();
        let cases = [
            (
                "v1=abc",
                "Stripe-Signature header cannot be parsed: no t= timestamp",
            ),
            (
                "t=1.5,v1=abc",
                "Stripe-Signature header cannot be parsed: t= timestamp is not an integer",
            ),
            (
                "",
                "Stripe-Signature header cannot be parsed: no t= timestamp",
            ),
        ];
        for (value, reason) in cases {
            let got = verify(
                Scheme::Stripe,
                &hs(&[("stripe-signature", value)]),
                &b,
                STRIPE_SECRET,
                T,
            );
            assert_status(&got, SignatureStatus::Malformed);
            assert_eq!(got.reason, reason);
        }
    }

    #[test]
    fn missing_signature_header_is_invalid_for_every_signing_scheme() {
        let h = hs(&[("Content-Type", "application/json")]);
        let expected = [
            (Scheme::Stripe, "no Stripe-Signature header"),
            (
                Scheme::StandardWebhooks,
                "no webhook-id or webhook-timestamp or webhook-signature header",
            ),
            (Scheme::Github, "no X-Hub-Signature-256 header"),
            (Scheme::Shopify, "no X-Shopify-Hmac-Sha256 header"),
            (Scheme::Slack, "no X-Slack-Signature header"),
        ];
        for (scheme, reason) in expected {
            let got = verify(
                scheme,
                &h,
                b"{}",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                T,
            );
            assert_status(&got, SignatureStatus::Invalid);
            assert_eq!(got.reason, reason);
        }
    }

    #[test]
    fn standard_webhooks_timestamp_301_seconds_off_either_way_is_rejected() {
        let (v, h, b) = sw_basic();
        for (at, status) in [
            (T + 300, SignatureStatus::Valid),
            (T - 300, SignatureStatus::Valid),
            (T + 301, SignatureStatus::ValidButStale),
            (T - 301, SignatureStatus::ValidButStale),
        ] {
            assert_status(
                &verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), at),
                status,
            );
        }
        let got = verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T - 301);
        assert_eq!(got.reason, "signed 301 s after arrival (tolerance 300 s)");
    }

    #[test]
    fn standard_webhooks_signature_made_with_the_verbatim_secret_string_is_rejected() {
        let (v, _, b) = sw_basic();
        let verbatim =
            standard_webhooks_signature(s(&v, "secret").as_bytes(), s(&v, "msg_id"), T, &b);
        let sig = format!("v1,{verbatim}");
        let h = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", &sig),
        ]);
        assert_status(
            &verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn standard_webhooks_timestamp_header_that_differs_from_the_signed_one_is_rejected() {
        let (v, mut h, b) = sw_basic();
        for header in &mut h {
            if header.name == "webhook-timestamp" {
                header.value = b"1700000001".to_vec();
            }
        }
        assert_status(
            &verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn standard_webhooks_secret_is_accepted_padded_unpadded_and_without_prefix() {
        let padded = "whsec_cHJldmlvdXMtcm90YXRlZC1vdXQta2V5LTMyLWJ5dGU=";
        let key = standard_webhooks_key(padded).unwrap();
        assert_eq!(key, b"previous-rotated-out-key-32-byte");
        assert_eq!(
            standard_webhooks_key(padded.trim_end_matches('=')).unwrap(),
            key
        );
        assert_eq!(
            standard_webhooks_key(padded.trim_start_matches("whsec_")).unwrap(),
            key
        );
    }

    #[test]
    fn standard_webhooks_secret_that_is_not_base64_cannot_sign_or_verify() {
        let (_, h, b) = sw_basic();
        for secret in ["whsec_not base64!", "whsec_", "whsec_a-b_"] {
            assert!(
                resign(Scheme::StandardWebhooks, &h, &b, secret, T).is_err(),
                "{secret}"
            );
            assert_status(
                &verify(Scheme::StandardWebhooks, &h, &b, secret, T),
                SignatureStatus::Unchecked,
            );
        }
        let err = standard_webhooks_key("whsec_???").unwrap_err();
        assert!(err.to_string().contains("not valid base64"), "{err}");
    }

    #[test]
    fn standard_webhooks_entry_without_comma_is_skipped_with_a_note() {
        let (v, _, b) = sw_basic();
        let h = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", "1700000000"),
            (
                "webhook-signature",
                "garbage v1,R9+eg4lQu9fg1FzJvFNKBRs7srOTo81ZJ1iOc7Yqtno=",
            ),
        ]);
        let got = verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T);
        assert_status(&got, SignatureStatus::Valid);
        assert!(
            got.reason.contains("Python libraries raise"),
            "{}",
            got.reason
        );
    }

    #[test]
    fn standard_webhooks_prefers_svix_headers_only_when_all_three_are_present() {
        let (v, h, b) = sw_basic();
        let mut both = h.clone();
        both.push(RawHeader::new("svix-id", s(&v, "msg_id")));
        both.push(RawHeader::new("svix-signature", "v1,AAAA"));
        // svix-timestamp missing: the webhook-* family is used and verifies.
        assert_status(
            &verify(Scheme::StandardWebhooks, &both, &b, s(&v, "secret"), T),
            SignatureStatus::Valid,
        );
        both.push(RawHeader::new("svix-timestamp", "1700000000"));
        assert_status(
            &verify(Scheme::StandardWebhooks, &both, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn standard_webhooks_non_integer_timestamp_is_malformed() {
        let (v, _, b) = sw_basic();
        let h = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", "1700000000.5"),
            ("webhook-signature", s(&v, "expected_signature")),
        ]);
        let got = verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T);
        assert_status(&got, SignatureStatus::Malformed);
        assert!(got
            .reason
            .starts_with("webhook-timestamp header cannot be parsed"));
    }

    #[test]
    fn github_upper_case_sha256_prefix_is_rejected() {
        let v = vector("github", "github_docs_kat");
        let b = body(&v);
        let upper = s(&v, "expected_sha256_header").replace("sha256=", "SHA256=");
        let got = verify(
            Scheme::Github,
            &hs(&[("X-Hub-Signature-256", &upper)]),
            &b,
            s(&v, "secret"),
            T,
        );
        assert_status(&got, SignatureStatus::Invalid);
        assert_eq!(
            got.reason,
            "X-Hub-Signature-256 does not start with lower-case sha256="
        );
    }

    #[test]
    fn github_falls_back_to_sha1_only_when_the_sha256_header_is_missing() {
        let v = vector("github", "github_ping");
        let b = body(&v);
        let sha1 = s(&v["headers"], "X-Hub-Signature");
        let got = verify(
            Scheme::Github,
            &hs(&[("x-hub-signature", sha1)]),
            &b,
            s(&v, "secret"),
            T,
        );
        assert_status(&got, SignatureStatus::Valid);
        assert_eq!(got.reason, "valid (sha1, legacy)");
        let wrong_256 = hs(&[
            ("X-Hub-Signature-256", "sha256=00"),
            ("X-Hub-Signature", sha1),
        ]);
        assert_status(
            &verify(Scheme::Github, &wrong_256, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn shopify_signature_over_one_extra_body_byte_is_rejected() {
        let v = vector("shopify", "shopify_orders_create");
        let mut b = body(&v);
        b.push(b'\n');
        assert_status(
            &verify(
                Scheme::Shopify,
                &vector_headers(&v, "headers"),
                &b,
                s(&v, "secret"),
                T,
            ),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn shopify_events_header_is_read_first() {
        let v = vector("shopify", "shopify_orders_create");
        let b = body(&v);
        let good = s(&v["headers"], "X-Shopify-Hmac-Sha256");
        let h = hs(&[
            ("X-Shopify-Hmac-Sha256", good),
            ("shopify-hmac-sha256", "AAAA"),
        ]);
        assert_status(
            &verify(Scheme::Shopify, &h, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn slack_timestamp_301_seconds_off_either_way_is_rejected() {
        let v = vector("slack", "slack_events_api_json");
        let b = body(&v);
        let h = vector_headers(&v, "headers");
        for (at, status) in [
            (T + 300, SignatureStatus::Valid),
            (T - 300, SignatureStatus::Valid),
            (T + 301, SignatureStatus::ValidButStale),
            (T - 301, SignatureStatus::ValidButStale),
        ] {
            assert_status(&verify(Scheme::Slack, &h, &b, s(&v, "secret"), at), status);
        }
    }

    #[test]
    fn slack_non_integer_timestamp_is_malformed() {
        let h = hs(&[
            ("X-Slack-Request-Timestamp", "soon"),
            ("X-Slack-Signature", "v0=00"),
        ]);
        assert_status(
            &verify(Scheme::Slack, &h, b"{}", "secret", T),
            SignatureStatus::Malformed,
        );
    }

    #[test]
    fn non_utf8_body_is_signed_byte_exact_and_flagged_when_valid() {
        let b = [0xff_u8, 0xfe, b'{', 0x00, b'}'];
        let h = resign(Scheme::Stripe, &[], &b, STRIPE_SECRET, T).unwrap();
        let got = verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T);
        assert_status(&got, SignatureStatus::Valid);
        assert_eq!(
            got.reason,
            "valid; body is not UTF-8, official verifiers may reject it"
        );
        let lossy = String::from_utf8_lossy(&b).into_owned().into_bytes();
        assert_status(
            &verify(Scheme::Stripe, &h, &lossy, STRIPE_SECRET, T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn empty_secret_leaves_captures_unchecked_and_refuses_to_resign() {
        let (h, b) = stripe_basic();
        let got = verify(Scheme::Stripe, &h, &b, "", T);
        assert_status(&got, SignatureStatus::Unchecked);
        assert_eq!(got.reason, "no Stripe signing secret configured");
        for scheme in Scheme::ALL.into_iter().filter(|s| s.signs()) {
            let err = resign(scheme, &h, &b, "", T).unwrap_err();
            assert_eq!(err, SignError::MissingSecret(scheme));
            assert!(err.to_string().contains(scheme.label()), "{err}");
        }
    }

    #[test]
    fn original_and_none_schemes_are_unchecked() {
        let (h, b) = stripe_basic();
        for scheme in [Scheme::Original, Scheme::None] {
            assert_status(
                &verify(scheme, &h, &b, STRIPE_SECRET, T),
                SignatureStatus::Unchecked,
            );
        }
    }

    // ---- re-signing --------------------------------------------------------------------------

    fn secret_for(scheme: Scheme) -> &'static str {
        match scheme {
            Scheme::StandardWebhooks => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            _ => "replay-secret",
        }
    }

    fn other_secret_for(scheme: Scheme) -> &'static str {
        match scheme {
            Scheme::StandardWebhooks => "whsec_cHJldmlvdXMtcm90YXRlZC1vdXQta2V5LTMyLWJ5dGU=",
            _ => "another-secret",
        }
    }

    #[test]
    fn resign_then_verify_round_trips_for_every_signing_scheme() {
        let body = b"{\"hello\":\"world\"}\n";
        let now = T + 86_400;
        let captured = hs(&[
            ("Host", "example.test"),
            ("Content-Type", "application/json"),
        ]);
        for scheme in Scheme::ALL.into_iter().filter(|s| s.signs()) {
            let secret = secret_for(scheme);
            let replay = resign(scheme, &captured, body, secret, now).unwrap();
            assert_eq!(detect_scheme(&replay), Some(scheme));
            let got = verify(scheme, &replay, body, secret, now);
            assert_status(&got, SignatureStatus::Valid);
            assert_eq!(got.reason, "valid", "{scheme}");
            // Re-signing an already re-signed request later still verifies at that time.
            let again = resign(scheme, &replay, body, secret, now + 3600).unwrap();
            assert_eq!(again.len(), replay.len(), "{scheme}");
            assert_status(
                &verify(scheme, &again, body, secret, now + 3600),
                SignatureStatus::Valid,
            );
            assert_status(
                &verify(scheme, &again, body, other_secret_for(scheme), now + 3600),
                SignatureStatus::Invalid,
            );
        }
    }

    #[test]
    fn resign_replaces_signature_headers_in_place_and_keeps_the_rest_in_order() {
        let (_, b) = stripe_basic();
        let captured = hs(&[
            ("Host", "example.test"),
            ("stripe-signature", "t=1,v1=aa,v0=bb"),
            ("Content-Type", "application/json"),
            ("Stripe-Signature", "t=2,v1=cc"),
        ]);
        let replay = resign(Scheme::Stripe, &captured, &b, STRIPE_SECRET, T).unwrap();
        assert_eq!(names(&replay), ["Host", "Stripe-Signature", "Content-Type"]);
        assert_eq!(
            header(&replay, "stripe-signature"),
            Some(stripe_header(STRIPE_SECRET, T, &b).as_str())
        );
        assert!(!header(&replay, "stripe-signature").unwrap().contains("v0="));
    }

    #[test]
    fn resign_original_returns_the_captured_headers_unchanged() {
        let (h, b) = stripe_basic();
        assert_eq!(resign(Scheme::Original, &h, &b, "", T).unwrap(), h);
    }

    #[test]
    fn resign_none_strips_the_signature_headers_of_every_scheme() {
        let mut all = hs(&[("Host", "example.test"), ("webhook-id", "msg_1")]);
        for scheme in Scheme::ALL {
            for name in signature_header_names(scheme) {
                all.push(RawHeader::new(name.to_uppercase(), "x"));
            }
        }
        all.push(RawHeader::new("Content-Type", "text/plain"));
        let replay = resign(Scheme::None, &all, b"", "", T).unwrap();
        assert_eq!(names(&replay), ["Host", "webhook-id", "Content-Type"]);
    }

    #[test]
    fn resign_standard_webhooks_keeps_the_captured_id_and_header_family() {
        let (v, h, b) = sw_basic();
        let secret = s(&v, "secret");
        let now = T + 1000;

        let svix_only = hs(&[
            ("svix-id", s(&v, "msg_id")),
            ("svix-timestamp", "1700000000"),
            ("svix-signature", s(&v, "expected_signature")),
        ]);
        let replay = resign(Scheme::StandardWebhooks, &svix_only, &b, secret, now).unwrap();
        assert_eq!(names(&replay), names(&svix_only));
        assert_eq!(header(&replay, "svix-id"), Some(s(&v, "msg_id")));
        assert_eq!(header(&replay, "svix-timestamp"), Some("1700001000"));
        assert_status(
            &verify(Scheme::StandardWebhooks, &replay, &b, secret, now),
            SignatureStatus::Valid,
        );

        let mut both = h.clone();
        both.extend(svix_only);
        let replay = resign(Scheme::StandardWebhooks, &both, &b, secret, now).unwrap();
        assert_eq!(names(&replay), names(&both));
        assert_eq!(
            header(&replay, "webhook-signature"),
            header(&replay, "svix-signature")
        );
        assert_status(
            &verify(Scheme::StandardWebhooks, &replay, &b, secret, now),
            SignatureStatus::Valid,
        );

        let replay = resign(Scheme::StandardWebhooks, &h, &b, secret, now).unwrap();
        assert_eq!(names(&replay), names(&h));
        assert!(header(&replay, "svix-signature").is_none());
    }

    #[test]
    fn resign_standard_webhooks_generates_a_msg_id_when_the_capture_had_none() {
        let (v, _, b) = sw_basic();
        let captured = hs(&[("Content-Type", "application/json")]);
        let replay = resign(Scheme::StandardWebhooks, &captured, &b, s(&v, "secret"), T).unwrap();
        assert_eq!(
            names(&replay),
            [
                "Content-Type",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature"
            ]
        );
        let id = header(&replay, "webhook-id").unwrap();
        assert!(id.starts_with("msg_") && id.len() == 31, "{id}");
        let empty_id = hs(&[("Webhook-Id", ""), ("Content-Type", "application/json")]);
        let replaced = resign(Scheme::StandardWebhooks, &empty_id, &b, s(&v, "secret"), T).unwrap();
        assert_eq!(
            names(&replaced),
            [
                "webhook-id",
                "Content-Type",
                "webhook-timestamp",
                "webhook-signature"
            ]
        );
        assert!(header(&replaced, "webhook-id").unwrap().starts_with("msg_"));
        assert_ne!(new_message_id(), new_message_id());
        assert_status(
            &verify(Scheme::StandardWebhooks, &replay, &b, s(&v, "secret"), T),
            SignatureStatus::Valid,
        );
    }

    #[test]
    fn resign_slack_sets_a_fresh_timestamp_and_drops_retry_headers() {
        let v = vector("slack", "slack_events_api_json");
        let b = body(&v);
        let mut captured = vector_headers(&v, "headers");
        captured.push(RawHeader::new("X-Slack-Retry-Num", "1"));
        captured.push(RawHeader::new("x-slack-retry-reason", "http_timeout"));
        let now = T + 5000;
        let replay = resign(Scheme::Slack, &captured, &b, s(&v, "secret"), now).unwrap();
        assert_eq!(
            names(&replay),
            ["X-Slack-Request-Timestamp", "X-Slack-Signature"]
        );
        assert_eq!(
            header(&replay, "x-slack-request-timestamp"),
            Some("1700005000")
        );
        assert_eq!(
            header(&replay, "x-slack-signature"),
            Some(slack_signature(s(&v, "secret"), now, &b).as_str())
        );
    }

    #[test]
    fn resign_github_emits_both_sha256_and_sha1_headers() {
        let v = vector("github", "github_ping");
        let b = body(&v);
        let captured = hs(&[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", "sha256=stale"),
        ]);
        let replay = resign(Scheme::Github, &captured, &b, s(&v, "secret"), T).unwrap();
        assert_eq!(
            names(&replay),
            ["X-GitHub-Event", "X-Hub-Signature-256", "X-Hub-Signature"]
        );
        assert_eq!(
            header(&replay, "x-hub-signature-256"),
            Some(s(&v["headers"], "X-Hub-Signature-256"))
        );
        assert_eq!(
            header(&replay, "x-hub-signature"),
            Some(s(&v["headers"], "X-Hub-Signature"))
        );
    }

    #[test]
    fn resign_shopify_rewrites_whichever_hmac_headers_were_captured() {
        let v = vector("shopify", "shopify_orders_create");
        let b = body(&v);
        let expected = s(&v["headers"], "X-Shopify-Hmac-Sha256");
        let events = hs(&[("shopify-hmac-sha256", "stale"), ("shopify-topic", "x")]);
        let replay = resign(Scheme::Shopify, &events, &b, s(&v, "secret"), T).unwrap();
        assert_eq!(names(&replay), ["shopify-hmac-sha256", "shopify-topic"]);
        assert_eq!(header(&replay, "shopify-hmac-sha256"), Some(expected));
        let replay = resign(Scheme::Shopify, &[], &b, s(&v, "secret"), T).unwrap();
        assert_eq!(names(&replay), ["X-Shopify-Hmac-Sha256"]);
    }

    // ---- detection, names, helpers ----------------------------------------------------------

    #[test]
    fn detect_scheme_recognises_each_signing_scheme_by_header_presence() {
        let cases = [
            ("Stripe-Signature", Some(Scheme::Stripe)),
            ("webhook-signature", Some(Scheme::StandardWebhooks)),
            ("Svix-Signature", Some(Scheme::StandardWebhooks)),
            ("X-Hub-Signature-256", Some(Scheme::Github)),
            ("x-hub-signature", Some(Scheme::Github)),
            ("X-Shopify-Hmac-SHA256", Some(Scheme::Shopify)),
            ("shopify-hmac-sha256", Some(Scheme::Shopify)),
            ("X-Slack-Signature", Some(Scheme::Slack)),
            ("X-Twilio-Signature", None),
            ("webhook-id", None),
        ];
        for (name, scheme) in cases {
            assert_eq!(detect_scheme(&hs(&[(name, "x")])), scheme, "{name}");
        }
    }

    #[test]
    fn signature_header_names_are_lower_case_and_exclude_id_headers() {
        for scheme in Scheme::ALL {
            for name in signature_header_names(scheme) {
                assert_eq!(*name, name.to_ascii_lowercase());
            }
        }
        let sw = signature_header_names(Scheme::StandardWebhooks);
        assert!(!sw.contains(&"webhook-id") && !sw.contains(&"svix-id"));
        assert_eq!(signature_header_names(Scheme::Stripe), ["stripe-signature"]);
        assert!(signature_header_names(Scheme::Original).is_empty());
    }

    #[test]
    fn scheme_names_round_trip_through_from_str_and_serde() {
        for scheme in Scheme::ALL {
            assert_eq!(scheme.as_str().parse::<Scheme>().unwrap(), scheme);
            assert_eq!(
                scheme.as_str().to_uppercase().parse::<Scheme>().unwrap(),
                scheme
            );
            let json = serde_json::to_string(&scheme).unwrap();
            assert_eq!(json, format!("\"{}\"", scheme.as_str()));
            assert_eq!(serde_json::from_str::<Scheme>(&json).unwrap(), scheme);
        }
        assert_eq!(Scheme::StandardWebhooks.label(), "Standard Webhooks / Svix");
        let err = "svx".parse::<Scheme>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown signing scheme \"svx\"; expected one of stripe, standard-webhooks, \
             github, shopify, slack, original, none"
        );
    }

    #[test]
    fn signature_status_names_match_serde() {
        for status in [
            SignatureStatus::Valid,
            SignatureStatus::ValidButStale,
            SignatureStatus::Invalid,
            SignatureStatus::Malformed,
            SignatureStatus::Unchecked,
        ] {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
    }

    #[test]
    fn hmac_from_key_block_equals_hmac_from_any_length_key() {
        for len in [0usize, 1, 24, 63, 64, 65, 200] {
            let key = vec![0x5a_u8; len];
            let mut ours = hmac_sha256(&key);
            let mut theirs = <HmacSha256 as Mac>::new_from_slice(&key).unwrap();
            ours.update(b"body");
            theirs.update(b"body");
            assert_eq!(ours.finalize().into_bytes(), theirs.finalize().into_bytes());
            let mut ours = hmac_sha1(&key);
            let mut theirs = <HmacSha1 as Mac>::new_from_slice(&key).unwrap();
            ours.update(b"body");
            theirs.update(b"body");
            assert_eq!(ours.finalize().into_bytes(), theirs.finalize().into_bytes());
        }
    }
}
