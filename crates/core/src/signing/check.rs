//! The verdict every scheme's verifier builds: status, reason in words, and the notes that
//! apply to all schemes (a body that is not UTF-8, a timestamp outside the tolerance).

use super::{Scheme, SignatureStatus, Verification, TIMESTAMP_TOLERANCE_SECS};

const NON_UTF8_BODY_NOTE: &str = "body is not UTF-8, official verifiers may reject it";

/// Shared context for building a [`Verification`].
#[derive(Clone, Copy)]
pub(super) struct Check<'a> {
    pub(super) scheme: Scheme,
    pub(super) body: &'a [u8],
}

impl Check<'_> {
    pub(super) fn done(self, status: SignatureStatus, reason: impl Into<String>) -> Verification {
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

    pub(super) fn missing(self, header: &str) -> Verification {
        self.done(SignatureStatus::Invalid, format!("no {header} header"))
    }

    pub(super) fn no_secret(self) -> Verification {
        self.done(
            SignatureStatus::Unchecked,
            format!("no {} signing secret configured", self.scheme.label()),
        )
    }

    pub(super) fn malformed(self, header: &str, why: &str) -> Verification {
        self.done(
            SignatureStatus::Malformed,
            format!("{header} header cannot be parsed: {why}"),
        )
    }

    /// Verdict for a matching MAC signed at `signed_at`: stale when more than the tolerance
    /// before `received_at`, and also when more than the tolerance after it unless `future_ok`
    /// (Stripe), in which case it stays valid with a clock-skew note.
    pub(super) fn fresh_or_stale(
        self,
        signed_at: i64,
        received_at: i64,
        future_ok: bool,
    ) -> Verification {
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
