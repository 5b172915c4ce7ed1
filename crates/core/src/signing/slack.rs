//! Slack (spec §6): `X-Slack-Signature: v0=<hex>`, an HMAC-SHA256 over `"v0:" ts ":" body`,
//! with the timestamp in `X-Slack-Request-Timestamp`.

use hmac::Mac;

use super::check::Check;
use super::mac::{hmac_sha256, matches_any};
use super::{SignatureStatus, Verification};
use crate::headers::{self, RawHeader};

const SLACK_SIGNATURE: &str = "X-Slack-Signature";
const SLACK_TIMESTAMP: &str = "X-Slack-Request-Timestamp";
pub(super) const SLACK_RETRY_HEADERS: &[&str] = &["x-slack-retry-num", "x-slack-retry-reason"];

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

/// The Slack timestamp and signature headers of a replay signed at `now`.
pub(super) fn resign_headers(secret: &str, body: &[u8], now: i64) -> Vec<RawHeader> {
    vec![
        RawHeader::new(SLACK_TIMESTAMP, now.to_string()),
        RawHeader::new(SLACK_SIGNATURE, slack_signature(secret, now, body)),
    ]
}

pub(super) fn verify_slack(
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
    use serde_json::Value;

    use crate::headers::RawHeader;
    use crate::signing::test_support::*;
    use crate::signing::*;

    // ---- vectors ----------------------------------------------------------------------------

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

    // ---- negative checks (spec §10) ---------------------------------------------------------

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

    // ---- re-signing -------------------------------------------------------------------------

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
}
