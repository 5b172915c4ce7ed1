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

use crate::headers::{self, RawHeader};

mod check;
mod github;
mod mac;
mod shopify;
mod slack;
mod standard_webhooks;
mod stripe;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use github::{github_sha1, github_sha256};
pub use shopify::shopify_hmac;
pub use slack::slack_signature;
pub use standard_webhooks::{
    new_message_id, standard_webhooks_key, standard_webhooks_signature,
    STANDARD_WEBHOOKS_SECRET_PREFIX,
};
pub use stripe::{stripe_header, stripe_signature};

use check::Check;
use shopify::SHOPIFY_EVENTS_HMAC;
use slack::SLACK_RETRY_HEADERS;
use standard_webhooks::{
    SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};

/// Freshness window, in seconds, that the official Stripe, Standard Webhooks and Slack libraries
/// apply by default (GitHub and Shopify sign no timestamp).
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// How a replay is signed, and which scheme a capture is verified against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Why a secret cannot be used with a scheme that signs. The one rule for an endpoint's
/// signature check, a replay's target, a saved target and an audit: same check, same words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret is missing or blank.
    #[error("signing with {} needs a secret", .0.label())]
    Missing(Scheme),
    /// The secret cannot be used with the scheme (e.g. a Standard Webhooks secret that is not
    /// base64).
    #[error("{0}")]
    Unusable(SignError),
}

/// Checks the secret of a scheme that signs: trimmed, it must not be empty, and signing an
/// empty request with it must work, which exercises exactly the checks a real send or check
/// makes (e.g. that a Standard Webhooks secret decodes). Returns the secret trimmed.
pub fn check_secret(scheme: Scheme, secret: Option<&str>) -> Result<&str, SecretError> {
    let secret = secret.map(str::trim).unwrap_or_default();
    if secret.is_empty() {
        return Err(SecretError::Missing(scheme));
    }
    resign(scheme, &[], b"", secret, 0).map_err(SecretError::Unusable)?;
    Ok(secret)
}

/// Outcome of checking a captured signature (spec §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Every status.
    pub const ALL: [SignatureStatus; 5] = [
        SignatureStatus::Valid,
        SignatureStatus::ValidButStale,
        SignatureStatus::Invalid,
        SignatureStatus::Malformed,
        SignatureStatus::Unchecked,
    ];

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
    let fresh = match scheme {
        Scheme::Stripe => stripe::resign_headers(secret, body, now),
        Scheme::StandardWebhooks => {
            let key = standard_webhooks_key(secret)?;
            standard_webhooks::resign_headers(headers, &key, body, now)
        }
        Scheme::Github => github::resign_headers(secret, body),
        Scheme::Shopify => shopify::resign_headers(headers, secret, body),
        Scheme::Slack => slack::resign_headers(secret, body, now),
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
        Scheme::Stripe => stripe::verify_stripe(check, headers, secret, received_at),
        Scheme::StandardWebhooks => {
            standard_webhooks::verify_standard_webhooks(check, headers, secret, received_at)
        }
        Scheme::Github => github::verify_github(check, headers, secret),
        Scheme::Shopify => shopify::verify_shopify(check, headers, secret),
        Scheme::Slack => slack::verify_slack(check, headers, secret, received_at),
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
