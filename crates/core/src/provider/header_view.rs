//! The delivery headers as the detection rules read them: values as trimmed text, presence,
//! and the `User-Agent` prefix.

use super::clean;
use crate::headers::{self, RawHeader};

/// Header value as trimmed text, if present, UTF-8 and non-empty.
pub(super) fn header<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a str> {
    headers::find_str(headers, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// [`header`] as a reportable string (see [`clean`]).
pub(super) fn header_text(headers: &[RawHeader], name: &str) -> Option<String> {
    header(headers, name).and_then(clean)
}

/// The headers of one delivery, for the rules that name a provider by its headers.
pub(super) struct HeaderView<'a> {
    headers: &'a [RawHeader],
    ua: &'a str,
}

impl<'a> HeaderView<'a> {
    pub(super) fn new(headers: &'a [RawHeader]) -> Self {
        HeaderView {
            headers,
            ua: header(headers, "user-agent").unwrap_or(""),
        }
    }

    /// Whether a header of this name is present (any value).
    pub(super) fn has(&self, name: &str) -> bool {
        headers::find(self.headers, name).is_some()
    }

    /// Whether any of these headers is present.
    pub(super) fn has_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.has(n))
    }

    /// The `User-Agent`, trimmed (empty when absent).
    pub(super) fn ua(&self) -> &str {
        self.ua
    }

    /// Whether the `User-Agent` starts with `prefix`, ignoring ASCII case.
    pub(super) fn ua_starts(&self, prefix: &str) -> bool {
        self.ua
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    }
}
