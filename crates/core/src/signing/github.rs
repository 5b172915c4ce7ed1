//! GitHub (spec §4): `X-Hub-Signature-256: sha256=<hex>` and the legacy
//! `X-Hub-Signature: sha1=<hex>`, HMACs over the body alone (no timestamp).

use hmac::Mac;

use super::check::Check;
use super::mac::{hmac_sha1, hmac_sha256, matches_any};
use super::{SignatureStatus, Verification};
use crate::headers::{self, RawHeader};

const GITHUB_SHA256: &str = "X-Hub-Signature-256";
const GITHUB_SHA1: &str = "X-Hub-Signature";

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

/// Both GitHub signature headers of a replay.
pub(super) fn resign_headers(secret: &str, body: &[u8]) -> Vec<RawHeader> {
    vec![
        RawHeader::new(GITHUB_SHA256, github_sha256(secret, body)),
        RawHeader::new(GITHUB_SHA1, github_sha1(secret, body)),
    ]
}

pub(super) fn verify_github(check: Check<'_>, headers: &[RawHeader], secret: &str) -> Verification {
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

#[cfg(test)]
mod tests {
    use crate::signing::test_support::*;
    use crate::signing::*;

    // ---- vectors ----------------------------------------------------------------------------

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

    // ---- negative checks (spec §10) ---------------------------------------------------------

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

    // ---- re-signing -------------------------------------------------------------------------

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
}
