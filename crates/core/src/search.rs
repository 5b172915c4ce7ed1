//! The capture search language (`q` on the request list and in the API).
//!
//! A query is a list of whitespace-separated terms; every term must match (AND). The same
//! filter key given twice — or with comma-separated values — matches any of them (OR), since
//! a capture has only one provider, type, method or signature status.
//!
//! | term | matches |
//! |---|---|
//! | `provider:stripe` | the detected provider |
//! | `type:invoice.paid`, `type:invoice.*`, `type:*.succeeded` | the event type; `*` is any run of characters |
//! | `method:post` | the HTTP method (case-insensitive) |
//! | `sig:invalid` (or `signature:`) | `valid`, `valid_but_stale` (`stale`), `invalid`, `malformed`, `unchecked` |
//! | `after:2026-11-01`, `before:2026-11-29T12:00:00Z` | received at or after / strictly before (RFC 3339, or a date = midnight UTC) |
//! | `id:evt_123` | the provider's event id |
//! | `data.object.customer:cus_123` | a JSON body whose value at that path, as text, equals the value |
//! | `cus_123`, `"two words"` | the bytes appear in the body or in a header (case-sensitive) |
//!
//! Values with spaces or colons are written in double quotes (`"a b"`, `\"` and `\\` inside).
//! A bare word containing `:` whose key is not a filter is a JSON path; quote it to search for
//! it as text (`"https://example.com"`).

use std::fmt;
use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use crate::provider::Provider;
use crate::signing::SignatureStatus;

/// Most terms in one query.
pub const MAX_TERMS: usize = 20;
/// Longest value of one term, in bytes.
pub const MAX_VALUE_LEN: usize = 256;
/// Deepest JSON path.
pub const MAX_PATH_DEPTH: usize = 16;

/// A parsed search. An empty query ([`SearchQuery::is_empty`]) matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    /// Provider names as [`Provider::as_str`] gives them (any of).
    pub providers: Vec<String>,
    /// Event type patterns (any of).
    pub event_types: Vec<TypePattern>,
    /// Upper-case HTTP methods (any of).
    pub methods: Vec<String>,
    /// Signature statuses (any of); `Unchecked` also matches captures that were never checked.
    pub signatures: Vec<SignatureStatus>,
    /// Received at or after this instant.
    pub received_after: Option<OffsetDateTime>,
    /// Received strictly before this instant.
    pub received_before: Option<OffsetDateTime>,
    /// Provider event ids (any of).
    pub event_ids: Vec<String>,
    /// JSON path equalities (all of).
    pub json: Vec<JsonMatch>,
    /// Byte substrings of the body or a header (all of).
    pub text: Vec<String>,
}

impl SearchQuery {
    /// True when the query has no term at all.
    pub fn is_empty(&self) -> bool {
        *self == SearchQuery::default()
    }
}

/// One `type:` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypePattern {
    /// The value as written (`invoice.*`).
    pub raw: String,
    /// A SQL `LIKE` pattern (backslash escapes) when the value has a `*`, else `None` and the
    /// type must equal `raw`.
    pub like: Option<String>,
}

impl TypePattern {
    /// Parses a `type:` value; `*` is a wildcard, everything else literal.
    pub fn new(raw: &str) -> Self {
        let like = raw.contains('*').then(|| {
            let mut p = String::with_capacity(raw.len() + 4);
            for c in raw.chars() {
                match c {
                    '*' => p.push('%'),
                    '%' | '_' | '\\' => {
                        p.push('\\');
                        p.push(c);
                    }
                    c => p.push(c),
                }
            }
            p
        });
        TypePattern {
            raw: raw.to_string(),
            like,
        }
    }

    /// Whether an event type matches (the same rule the SQL applies).
    pub fn matches(&self, event_type: &str) -> bool {
        if self.like.is_none() {
            return event_type == self.raw;
        }
        wildcard_match(&self.raw, event_type)
    }
}

/// `data.object.customer:cus_123`: the body parsed as JSON, the value at `path` rendered as text
/// (strings without quotes, numbers and booleans as written) equals `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonMatch {
    /// Object keys or array indexes, outermost first.
    pub path: Vec<String>,
    /// The wanted value.
    pub value: String,
}

impl JsonMatch {
    /// True when a body containing this value must contain `value`'s bytes literally, so a
    /// byte search can rule bodies out before parsing them. Numbers are excluded (`2000` can be
    /// written `2.0e3`), and so are values with characters JSON may escape other than by
    /// `\u` (`"`, `\`, `/`, control characters); `\u` escapes are handled by the caller, which
    /// also keeps bodies that contain `\u` anywhere.
    pub fn literal_prefilter(&self) -> bool {
        let numeric = self
            .value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
        !numeric
            && !self
                .value
                .chars()
                .any(|c| matches!(c, '"' | '\\' | '/') || c.is_control())
    }
}

/// Why a query could not be parsed; the message is meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError(pub String);

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SearchError {}

fn err<T>(msg: impl Into<String>) -> Result<T, SearchError> {
    Err(SearchError(msg.into()))
}

impl FromStr for SearchQuery {
    type Err = SearchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Parses a query. An empty or blank string gives the empty query.
pub fn parse(input: &str) -> Result<SearchQuery, SearchError> {
    let terms = tokenize(input)?;
    if terms.len() > MAX_TERMS {
        return err(format!("a search can have at most {MAX_TERMS} terms"));
    }
    let mut q = SearchQuery::default();
    for term in terms {
        let Term { key, value } = term;
        if value.is_empty() {
            match key {
                Some(k) => return err(format!("\"{k}:\" needs a value")),
                None => continue,
            }
        }
        if value.len() > MAX_VALUE_LEN {
            return err(format!(
                "a search value can be at most {MAX_VALUE_LEN} bytes long"
            ));
        }
        let Some(key) = key else {
            q.text.push(value);
            continue;
        };
        match key.to_ascii_lowercase().as_str() {
            "provider" => {
                for v in split_list(&value) {
                    let p: Provider = v.parse().map_err(|_| {
                        SearchError(format!(
                            "unknown provider \"{v}\"; known: {}",
                            Provider::ALL.map(Provider::as_str).join(", ")
                        ))
                    })?;
                    q.providers.push(p.as_str().to_string());
                }
            }
            "type" | "event" => q
                .event_types
                .extend(split_list(&value).map(TypePattern::new)),
            "method" => {
                for v in split_list(&value) {
                    if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                        return err(format!("\"{v}\" is not an HTTP method"));
                    }
                    q.methods.push(v.to_ascii_uppercase());
                }
            }
            "sig" | "signature" => {
                for v in split_list(&value) {
                    q.signatures.push(signature_status(v)?);
                }
            }
            "after" => q.received_after = Some(instant(&value)?),
            "before" => q.received_before = Some(instant(&value)?),
            "id" => q.event_ids.extend(split_list(&value).map(str::to_string)),
            _ => {
                let path: Vec<String> = key.split('.').map(str::to_string).collect();
                if path.iter().any(String::is_empty) {
                    return err(format!(
                        "\"{key}\" is not a JSON path (like data.object.id)"
                    ));
                }
                if path.len() > MAX_PATH_DEPTH {
                    return err(format!(
                        "a JSON path can have at most {MAX_PATH_DEPTH} parts"
                    ));
                }
                q.json.push(JsonMatch { path, value });
            }
        }
    }
    if let (Some(a), Some(b)) = (q.received_after, q.received_before) {
        if a >= b {
            return err("\"after:\" must be earlier than \"before:\"");
        }
    }
    Ok(q)
}

struct Term {
    key: Option<String>,
    value: String,
}

/// Splits into terms: `word`, `"quoted text"`, `key:word`, `key:"quoted value"`.
fn tokenize(input: &str) -> Result<Vec<Term>, SearchError> {
    let mut terms = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(terms);
        };
        if first == '"' {
            chars.next();
            terms.push(Term {
                key: None,
                value: quoted(&mut chars)?,
            });
            continue;
        }
        let mut word = String::new();
        let mut key = None;
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            if c == ':' && key.is_none() && is_key(&word) {
                key = Some(std::mem::take(&mut word));
                if chars.peek() == Some(&'"') {
                    chars.next();
                    word = quoted(&mut chars)?;
                    if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                        return err("put a space after a closing quote");
                    }
                    break;
                }
                continue;
            }
            word.push(c);
        }
        terms.push(Term { key, value: word });
    }
}

/// The rest of a quoted string (the opening quote is consumed); `\"` and `\\` are escapes.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, SearchError> {
    let mut out = String::new();
    loop {
        match chars.next() {
            None => return err("a quote is not closed"),
            Some('"') => return Ok(out),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\')) => out.push(c),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => return err("a quote is not closed"),
            },
            Some(c) => out.push(c),
        }
    }
}

fn is_key(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'))
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty())
}

fn signature_status(v: &str) -> Result<SignatureStatus, SearchError> {
    Ok(match v.to_ascii_lowercase().replace('-', "_").as_str() {
        "valid" => SignatureStatus::Valid,
        "valid_but_stale" | "stale" => SignatureStatus::ValidButStale,
        "invalid" => SignatureStatus::Invalid,
        "malformed" => SignatureStatus::Malformed,
        "unchecked" | "none" => SignatureStatus::Unchecked,
        _ => {
            return err(format!(
                "unknown signature status \"{v}\"; use valid, valid_but_stale, invalid, malformed or unchecked"
            ))
        }
    })
}

/// RFC 3339 (`2026-11-29T10:00:00Z`), a date and time without offset (UTC), or a date
/// (`2026-11-29`, midnight UTC).
fn instant(v: &str) -> Result<OffsetDateTime, SearchError> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Ok(t);
    }
    let datetime = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(v, &datetime) {
        return Ok(t.assume_utc());
    }
    let date = format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(v, &date) {
        return Ok(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc());
    }
    err(format!(
        "\"{v}\" is not a date (2026-11-29) or time (2026-11-29T10:00:00Z)"
    ))
}

/// `*` matches any run of characters (including none); everything else is literal. Event-type
/// patterns everywhere use it: search's `type:` and `hookvault listen --events`/`--forward-to`.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return text.is_empty(),
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn q(s: &str) -> SearchQuery {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn blank_query_is_empty() {
        assert!(q("").is_empty());
        assert!(q("   \t ").is_empty());
        assert!(!q("x").is_empty());
    }

    #[test]
    fn the_example_from_the_issue_parses_into_a_type_prefix_and_a_json_path() {
        let s = q("type:invoice.* data.object.customer:cus_123");
        assert_eq!(s.event_types.len(), 1);
        assert_eq!(s.event_types[0].like.as_deref(), Some("invoice.%"));
        assert_eq!(
            s.json,
            vec![JsonMatch {
                path: vec!["data".into(), "object".into(), "customer".into()],
                value: "cus_123".into()
            }]
        );
        assert!(s.text.is_empty());
    }

    #[test]
    fn type_without_star_is_exact_and_like_metacharacters_are_escaped() {
        let exact = TypePattern::new("invoice.paid");
        assert_eq!(exact.like, None);
        assert!(exact.matches("invoice.paid"));
        assert!(!exact.matches("invoice.paid.x"));
        let p = TypePattern::new("a_b%c*");
        assert_eq!(p.like.as_deref(), Some("a\\_b\\%c%"));
        assert!(p.matches("a_b%cdef"));
        assert!(!p.matches("axb%cdef"));
    }

    #[test]
    fn wildcards_match_anywhere_in_the_type() {
        let p = TypePattern::new("*.succeeded");
        assert!(p.matches("payment_intent.succeeded"));
        assert!(!p.matches("payment_intent.failed"));
        let p = TypePattern::new("customer.*.updated");
        assert!(p.matches("customer.subscription.updated"));
        assert!(!p.matches("customer.updated"));
        assert!(TypePattern::new("*").matches(""));
        assert!(TypePattern::new("a*a").matches("aa"));
        assert!(!TypePattern::new("a*a").matches("a"));
        assert!(wildcard_match("invoice.*", "invoice.paid"));
        assert!(!wildcard_match("invoice.*", "charge.succeeded"));
        assert!(!wildcard_match("invoice.paid", "invoice.paid.extra"));
    }

    #[test]
    fn provider_is_normalised_and_unknown_providers_are_rejected() {
        assert_eq!(q("provider:Stripe").providers, vec!["stripe"]);
        assert_eq!(
            q("provider:github,stripe").providers,
            vec!["github", "stripe"]
        );
        let e = parse("provider:acme").unwrap_err();
        assert!(e.0.contains("unknown provider \"acme\""), "{e}");
    }

    #[test]
    fn methods_are_upper_cased_and_repeated_keys_accumulate() {
        let s = q("method:post method:Put");
        assert_eq!(s.methods, vec!["POST", "PUT"]);
        assert!(parse("method:PO;ST").is_err());
    }

    #[test]
    fn signature_statuses_accept_aliases() {
        assert_eq!(
            q("sig:stale signature:invalid,unchecked").signatures,
            vec![
                SignatureStatus::ValidButStale,
                SignatureStatus::Invalid,
                SignatureStatus::Unchecked
            ]
        );
        assert_eq!(
            q("sig:valid-but-stale").signatures,
            vec![SignatureStatus::ValidButStale]
        );
        assert!(parse("sig:maybe").is_err());
    }

    #[test]
    fn dates_are_midnight_utc_and_times_keep_their_offset() {
        let s = q("after:2026-11-01 before:2026-11-29T12:30:00+01:00");
        assert_eq!(s.received_after, Some(datetime!(2026-11-01 00:00 UTC)));
        assert_eq!(s.received_before, Some(datetime!(2026-11-29 11:30 UTC)));
        assert_eq!(
            q("before:2026-11-29T10:00:00").received_before,
            Some(datetime!(2026-11-29 10:00 UTC))
        );
        assert!(parse("after:yesterday").is_err());
        assert!(parse("after:2026-12-01 before:2026-11-01").is_err());
    }

    #[test]
    fn quoted_text_keeps_spaces_colons_and_escapes() {
        let s = q(r#""https://example.com/a b" plain "say \"hi\"""#);
        assert_eq!(
            s.text,
            vec!["https://example.com/a b", "plain", "say \"hi\""]
        );
        let s = q(r#"data.object.description:"Two words: yes""#);
        assert_eq!(s.json[0].value, "Two words: yes");
        assert!(parse("\"open").is_err());
        assert!(parse("a:\"b\"c").is_err());
    }

    #[test]
    fn event_ids_and_json_paths_with_array_indexes() {
        let s = q("id:evt_1 data.object.items.0.price:price_9");
        assert_eq!(s.event_ids, vec!["evt_1"]);
        assert_eq!(
            s.json[0].path,
            vec!["data", "object", "items", "0", "price"]
        );
        assert!(parse("a..b:1").is_err());
    }

    #[test]
    fn empty_values_and_oversized_queries_are_errors() {
        assert_eq!(parse("type:").unwrap_err().0, "\"type:\" needs a value");
        let many = vec!["x"; MAX_TERMS + 1].join(" ");
        assert!(parse(&many).is_err());
        let long = "y".repeat(MAX_VALUE_LEN + 1);
        assert!(parse(&long).is_err());
    }

    #[test]
    fn only_non_numeric_values_without_escapable_characters_allow_a_byte_prefilter() {
        let m = |v: &str| JsonMatch {
            path: vec!["a".into()],
            value: v.into(),
        };
        assert!(m("cus_123").literal_prefilter());
        assert!(m("false").literal_prefilter());
        assert!(!m("2000").literal_prefilter());
        assert!(!m("-1.5e3").literal_prefilter());
        assert!(!m("a/b").literal_prefilter());
        assert!(!m("say \"x\"").literal_prefilter());
    }

    #[test]
    fn a_word_with_a_colon_but_no_key_shape_is_text() {
        assert_eq!(q(":x").text, vec![":x"]);
        assert_eq!(q("a/b:c").text, vec!["a/b:c"]);
    }
}
