//! Checking where a replay goes and how it is signed, before anything is stored: the URL
//! against the SSRF rules of the [`GuardedClient`], the scheme name, the secret the scheme
//! needs, and the number of attempts. Every refusal has a one-line reason in words, shown to the
//! user as is (HTTP 422).

use hookvault_core::signing::{self, Scheme, SecretError, UnknownScheme};
use url::Url;

use crate::guard::{GuardedClient, Refusal};

/// Most attempts one replay may have (the first send plus retries).
pub const MAX_ATTEMPTS: i32 = 10;

/// Why a target cannot be used. `Display` is one line in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL is not allowed (bad scheme, private address under `deny`, …).
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The signing scheme name is unknown.
    #[error("{0}")]
    Scheme(#[from] UnknownScheme),
    /// A scheme that signs was chosen without a usable secret ([`signing::check_secret`]).
    #[error("{0}")]
    Secret(#[from] SecretError),
    /// `max_attempts` is outside 1..=10.
    #[error("max_attempts must be between 1 and {MAX_ATTEMPTS}, not {0}")]
    MaxAttempts(i64),
}

impl TargetError {
    /// The member of a target (in the API's JSON and the pages' forms) that was refused.
    pub fn field(&self) -> &'static str {
        match self {
            TargetError::Refused(_) => "target_url",
            TargetError::Scheme(_) => "scheme",
            TargetError::Secret(_) => "secret",
            TargetError::MaxAttempts(_) => "max_attempts",
        }
    }
}

/// A target that passed every check. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckedTarget {
    /// The URL as the WHATWG parser normalised it (what is stored and sent).
    pub url: Url,
    /// How the replay is signed.
    pub scheme: Scheme,
    /// The secret, for schemes that sign; `None` for `original` and `none` (any secret given
    /// with them is dropped rather than stored).
    pub secret: Option<String>,
    /// Attempts allowed, 1 (no retries) unless asked otherwise.
    pub max_attempts: i32,
}

impl std::fmt::Debug for CheckedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedTarget")
            .field("url", &self.url.as_str())
            .field("scheme", &self.scheme)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// Checks a target: URL (with the client's private-target policy), scheme, secret and attempts.
/// A missing scheme means [`Scheme::Original`]: the captured headers are sent unchanged.
pub fn check_target(
    client: &GuardedClient,
    url: &str,
    scheme: Option<&str>,
    secret: Option<&str>,
    max_attempts: Option<i64>,
) -> Result<CheckedTarget, TargetError> {
    let url = client.check_url(url)?;
    let (scheme, secret) = check_signing(scheme, secret)?;
    let max_attempts = check_max_attempts(max_attempts)?;
    Ok(CheckedTarget {
        url,
        scheme,
        secret,
        max_attempts,
    })
}

/// Checks a scheme name and its secret; see [`check_target`].
pub fn check_signing(
    scheme: Option<&str>,
    secret: Option<&str>,
) -> Result<(Scheme, Option<String>), TargetError> {
    let scheme: Scheme = match scheme {
        Some(name) => name.parse()?,
        None => Scheme::Original,
    };
    if !scheme.signs() {
        return Ok((scheme, None));
    }
    // A bad secret is refused now, not at send time.
    let secret = signing::check_secret(scheme, secret)?;
    Ok((scheme, Some(secret.to_owned())))
}

/// `None` means 1; otherwise 1..=[`MAX_ATTEMPTS`].
pub fn check_max_attempts(max_attempts: Option<i64>) -> Result<i32, TargetError> {
    match max_attempts {
        None => Ok(1),
        Some(n) => i32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_ATTEMPTS).contains(n))
            .ok_or(TargetError::MaxAttempts(n)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::guard::PrivateTargets;

    fn client(policy: PrivateTargets) -> GuardedClient {
        GuardedClient::new(policy, Duration::from_secs(5), 1024)
    }

    #[test]
    fn a_signing_scheme_without_a_secret_is_refused_in_words() {
        let err = check_signing(Some("stripe"), Some("  ")).unwrap_err();
        assert_eq!(err.to_string(), "signing with Stripe needs a secret");
    }

    #[test]
    fn an_unknown_scheme_is_refused_with_the_list_of_known_ones() {
        let err = check_signing(Some("paypal"), Some("x")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("unknown signing scheme \"paypal\""));
    }

    #[test]
    fn a_standard_webhooks_secret_that_is_not_base64_is_refused() {
        let err = check_signing(Some("standard-webhooks"), Some("whsec_!!!")).unwrap_err();
        assert!(matches!(err, TargetError::Secret(_)), "{err}");
        assert!(check_signing(
            Some("standard-webhooks"),
            Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        )
        .is_ok());
    }

    #[test]
    fn pseudo_schemes_drop_any_secret_and_no_scheme_means_original() {
        assert_eq!(
            check_signing(Some("none"), Some("s3cret")).unwrap(),
            (Scheme::None, None)
        );
        assert_eq!(check_signing(None, None).unwrap(), (Scheme::Original, None));
    }

    #[test]
    fn attempts_default_to_one_and_stay_within_ten() {
        assert_eq!(check_max_attempts(None), Ok(1));
        assert_eq!(check_max_attempts(Some(10)), Ok(10));
        assert_eq!(
            check_max_attempts(Some(0)),
            Err(TargetError::MaxAttempts(0))
        );
        assert_eq!(
            check_max_attempts(Some(1 << 40)),
            Err(TargetError::MaxAttempts(1 << 40))
        );
    }

    #[test]
    fn loopback_targets_follow_the_private_target_policy() {
        let url = "http://127.0.0.1:9/hook";
        assert!(check_target(&client(PrivateTargets::Allow), url, None, None, None).is_ok());
        let err = check_target(&client(PrivateTargets::Deny), url, None, None, None).unwrap_err();
        assert_eq!(err.to_string(), "refused: private address 127.0.0.1");
    }
}
