//! Byte-level edits of a JSON body that leave every other byte as it was: the probes change one
//! member (an id, a time, a type) or one digit, and the rest of the event must still read like
//! the event the handler knows. Re-serialising through `serde_json::Value` would reorder keys
//! and respace the whole document.
//!
//! Bodies come from captures (attacker-controlled), so the scanner never panics, stops at
//! [`MAX_DEPTH`] levels and works only on documents `serde_json` accepts.

use std::ops::Range;

/// Deepest nesting the scanner follows; deeper documents are left alone.
const MAX_DEPTH: usize = 64;

/// The kind of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    String,
    Number,
    Literal,
    Object,
    Array,
}

/// True when the body is one well-formed JSON document.
pub(super) fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// The kind and byte range of the value at `path` (object keys from the top level), e.g.
/// `["event", "type"]`.
pub(super) fn member(body: &[u8], path: &[&str]) -> Option<(Kind, Range<usize>)> {
    let mut found = None;
    walk(body, |at, kind, span| {
        if found.is_none()
            && at.len() == path.len()
            && at.iter().zip(path).all(|(a, p)| a.as_deref() == Some(*p))
        {
            found = Some((kind, span));
        }
    });
    found
}

/// The string at `path`, decoded.
pub(super) fn string_at(body: &[u8], path: &[&str]) -> Option<String> {
    match member(body, path)? {
        (Kind::String, span) => serde_json::from_slice(body.get(span)?).ok(),
        _ => None,
    }
}

/// The integer at `path`.
pub(super) fn integer_at(body: &[u8], path: &[&str]) -> Option<i64> {
    match member(body, path)? {
        (Kind::Number, span) => std::str::from_utf8(body.get(span)?).ok()?.parse().ok(),
        _ => None,
    }
}

/// The body with the value at `path` replaced by `raw` (already JSON-encoded).
pub(super) fn replace_at(body: &[u8], path: &[&str], raw: &[u8]) -> Option<Vec<u8>> {
    let (_, span) = member(body, path)?;
    Some(splice(body, span, raw))
}

/// The body with the string at `path` replaced by `value`.
pub(super) fn set_string(body: &[u8], path: &[&str], value: &str) -> Option<Vec<u8>> {
    match member(body, path)? {
        (Kind::String, _) => {
            let encoded = serde_json::to_vec(value).ok()?;
            replace_at(body, path, &encoded)
        }
        _ => None,
    }
}

/// Every number in the document with the key it is the value of (`None` in an array), in
/// document order.
pub(super) fn numbers(body: &[u8]) -> Vec<(Option<String>, Range<usize>)> {
    let mut out = Vec::new();
    walk(body, |at, kind, span| {
        if kind == Kind::Number {
            out.push((at.last().cloned().flatten(), span));
        }
    });
    out.sort_by_key(|(_, r)| r.start);
    out
}

/// Ranges of every string value (not object keys), in document order.
pub(super) fn string_values(body: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    walk(body, |_, kind, span| {
        if kind == Kind::String {
            out.push(span);
        }
    });
    out.sort_by_key(|r| r.start);
    out
}

fn splice(body: &[u8], span: Range<usize>, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + raw.len());
    out.extend_from_slice(&body[..span.start]);
    out.extend_from_slice(raw);
    out.extend_from_slice(&body[span.end..]);
    out
}

/// Calls `visit` with the path (object keys; `None` for an array element), kind and byte
/// range of every value, children before their container. Does nothing unless the body is
/// well-formed JSON.
fn walk(body: &[u8], visit: impl FnMut(&[Option<String>], Kind, Range<usize>)) {
    if !is_json(body) {
        return;
    }
    let mut s = Scanner {
        b: body,
        i: 0,
        path: Vec::new(),
        visit,
    };
    let _ = s.value(0);
}

struct Scanner<'a, F> {
    b: &'a [u8],
    i: usize,
    path: Vec<Option<String>>,
    visit: F,
}

impl<F: FnMut(&[Option<String>], Kind, Range<usize>)> Scanner<'_, F> {
    fn ws(&mut self) {
        while self
            .b
            .get(self.i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        let start = self.i;
        let kind =
            match *self.b.get(self.i)? {
                b'{' => {
                    self.object(depth)?;
                    Kind::Object
                }
                b'[' => {
                    self.array(depth)?;
                    Kind::Array
                }
                b'"' => {
                    self.string()?;
                    Kind::String
                }
                b'-' | b'0'..=b'9' => {
                    while self.b.get(self.i).is_some_and(|c| {
                        matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    }) {
                        self.i += 1;
                    }
                    Kind::Number
                }
                b't' | b'f' | b'n' => {
                    while self.b.get(self.i).is_some_and(u8::is_ascii_alphabetic) {
                        self.i += 1;
                    }
                    Kind::Literal
                }
                _ => return None,
            };
        (self.visit)(&self.path, kind, start..self.i);
        Some(())
    }

    fn string(&mut self) -> Option<()> {
        self.i += 1; // the opening quote
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        self.i += 1;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            let key_start = self.i;
            if self.b.get(self.i) != Some(&b'"') {
                return None;
            }
            self.string()?;
            let key: String = serde_json::from_slice(self.b.get(key_start..self.i)?).ok()?;
            self.eat(b':')?;
            self.path.push(Some(key));
            let done = self.value(depth + 1);
            self.path.pop();
            done?;
            if self.eat(b',').is_none() {
                return self.eat(b'}');
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.i += 1;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.path.push(None);
            let done = self.value(depth + 1);
            self.path.pop();
            done?;
            if self.eat(b',').is_none() {
                return self.eat(b']');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &[u8] = br#"{ "id":"evt_1", "created": 1700000000,
        "data": {"object": {"id": "in_1", "amount_paid": 2000, "lines": [1, {"x": "y"}]}},
        "esc\"aped": "a\"b", "type": "invoice.paid", "ok": true }"#;

    #[test]
    fn member_finds_nested_values_by_key_path() {
        assert_eq!(string_at(DOC, &["id"]).as_deref(), Some("evt_1"));
        assert_eq!(
            string_at(DOC, &["data", "object", "id"]).as_deref(),
            Some("in_1")
        );
        assert_eq!(integer_at(DOC, &["created"]), Some(1_700_000_000));
        assert_eq!(string_at(DOC, &["esc\"aped"]).as_deref(), Some("a\"b"));
        assert_eq!(member(DOC, &["ok"]).map(|m| m.0), Some(Kind::Literal));
        assert!(member(DOC, &["missing"]).is_none());
    }

    #[test]
    fn replacing_a_member_changes_only_its_bytes() {
        let out = set_string(DOC, &["type"], "other.type").expect("edited");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            String::from_utf8_lossy(DOC).replace("\"invoice.paid\"", "\"other.type\"")
        );
        assert!(is_json(text.as_bytes()));
    }

    #[test]
    fn numbers_and_string_values_are_listed_in_document_order() {
        let nums: Vec<(Option<String>, &[u8])> = numbers(DOC)
            .into_iter()
            .map(|(k, r)| (k, &DOC[r]))
            .collect();
        assert_eq!(nums[0], (Some("created".to_owned()), &b"1700000000"[..]));
        assert_eq!(nums[1], (Some("amount_paid".to_owned()), &b"2000"[..]));
        assert_eq!(nums[2], (None, &b"1"[..]));
        let strings: Vec<&[u8]> = string_values(DOC).into_iter().map(|r| &DOC[r]).collect();
        assert_eq!(strings.first(), Some(&&b"\"evt_1\""[..]));
        assert!(
            !strings.contains(&&b"\"created\""[..]),
            "keys are not values"
        );
    }

    #[test]
    fn broken_or_deeply_nested_documents_are_left_alone() {
        assert!(member(b"{\"id\": ", &["id"]).is_none());
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(numbers(deep.as_bytes()).is_empty());
        assert!(member(b"", &[]).is_none());
    }
}
