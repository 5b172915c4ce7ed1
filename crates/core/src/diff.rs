//! Comparing two captures: headers by name (case-insensitive), JSON bodies structurally (paths
//! like `data.object.amount`, arrays by index), other bodies byte for byte.

use serde_json::Value;

use crate::headers::RawHeader;

/// JSON bodies larger than this are compared as bytes only.
pub const MAX_JSON_DIFF_INPUT: usize = 2 * 1024 * 1024;
/// At most this many body changes are listed.
pub const MAX_CHANGES: usize = 1000;
/// Values longer than this (compact JSON) are cut with `…`.
const MAX_VALUE_TEXT: usize = 300;

/// What happened to one header name or JSON path, going from the first capture to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    /// `added`, `removed`, `changed` (for CSS classes and tests).
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// A header that differs. Values of repeated headers are joined with `, `.
/// `Debug` shows the values' lengths only (they are captured header values).
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderChange {
    /// The name as the second capture spells it (or the first, when removed).
    pub name: String,
    pub change: Change,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl std::fmt::Debug for HeaderChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::headers::Redacted;
        f.debug_struct("HeaderChange")
            .field("name", &self.name)
            .field("change", &self.change)
            .field("old", &self.old.as_ref().map(|v| Redacted(v.len())))
            .field("new", &self.new.as_ref().map(|v| Redacted(v.len())))
            .finish()
    }
}

/// Headers present in one capture and not the other, or with different values, in the order
/// they appear in the first capture followed by those only in the second.
pub fn headers(a: &[RawHeader], b: &[RawHeader]) -> Vec<HeaderChange> {
    let ga = group(a);
    let gb = group(b);
    let mut out = Vec::new();
    for (lname, name, old) in &ga {
        match gb.iter().find(|(l, _, _)| l == lname) {
            None => out.push(HeaderChange {
                name: name.clone(),
                change: Change::Removed,
                old: Some(old.clone()),
                new: None,
            }),
            Some((_, new_name, new)) if new != old => out.push(HeaderChange {
                name: new_name.clone(),
                change: Change::Changed,
                old: Some(old.clone()),
                new: Some(new.clone()),
            }),
            Some(_) => {}
        }
    }
    for (lname, name, new) in &gb {
        if !ga.iter().any(|(l, _, _)| l == lname) {
            out.push(HeaderChange {
                name: name.clone(),
                change: Change::Added,
                old: None,
                new: Some(new.clone()),
            });
        }
    }
    out
}

/// (lower-case name, first spelling, joined values) in first-appearance order.
fn group(hs: &[RawHeader]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for h in hs {
        let lname = h.name.to_ascii_lowercase();
        let value = h.value_lossy().into_owned();
        match out.iter_mut().find(|(l, _, _)| *l == lname) {
            Some((_, _, v)) => {
                v.push_str(", ");
                v.push_str(&value);
            }
            None => out.push((lname, h.name.clone(), value)),
        }
    }
    out
}

/// A JSON value that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonChange {
    /// `data.object.amount`, `items.0.price`; `(root)` for the whole document. Keys that
    /// contain `.`, spaces or are empty are written `["a.b"]`.
    pub path: String,
    pub change: Change,
    /// Compact JSON of the old value.
    pub old: Option<String>,
    /// Compact JSON of the new value.
    pub new: Option<String>,
}

/// How the bodies compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDiff {
    /// Byte-identical.
    Identical,
    /// Both bodies are JSON: the values that differ (empty when only formatting or key order
    /// differ). `truncated` when more than [`MAX_CHANGES`] were found.
    Json {
        changes: Vec<JsonChange>,
        truncated: bool,
    },
    /// Not both JSON, and the bytes differ.
    Bytes { old_size: usize, new_size: usize },
}

/// Compares two bodies.
pub fn body(a: &[u8], b: &[u8]) -> BodyDiff {
    if a == b {
        return BodyDiff::Identical;
    }
    let parse = |x: &[u8]| {
        (x.len() <= MAX_JSON_DIFF_INPUT)
            .then(|| serde_json::from_slice::<Value>(x).ok())
            .flatten()
    };
    match (parse(a), parse(b)) {
        (Some(va), Some(vb)) => {
            let mut changes = Vec::new();
            let mut truncated = false;
            walk(&mut String::new(), &va, &vb, &mut changes, &mut truncated);
            BodyDiff::Json { changes, truncated }
        }
        _ => BodyDiff::Bytes {
            old_size: a.len(),
            new_size: b.len(),
        },
    }
}

fn walk(path: &mut String, a: &Value, b: &Value, out: &mut Vec<JsonChange>, full: &mut bool) {
    if a == b {
        return;
    }
    if out.len() >= MAX_CHANGES {
        *full = true;
        return;
    }
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            for (k, va) in ma {
                let len = path.len();
                push_key(path, k);
                match mb.get(k) {
                    Some(vb) => walk(path, va, vb, out, full),
                    None => record(out, full, path, Change::Removed, Some(va), None),
                }
                path.truncate(len);
            }
            for (k, vb) in mb {
                if !ma.contains_key(k) {
                    let len = path.len();
                    push_key(path, k);
                    record(out, full, path, Change::Added, None, Some(vb));
                    path.truncate(len);
                }
            }
        }
        (Value::Array(xa), Value::Array(xb)) => {
            for i in 0..xa.len().max(xb.len()) {
                let len = path.len();
                push_key(path, &i.to_string());
                match (xa.get(i), xb.get(i)) {
                    (Some(va), Some(vb)) => walk(path, va, vb, out, full),
                    (Some(va), None) => record(out, full, path, Change::Removed, Some(va), None),
                    (None, Some(vb)) => record(out, full, path, Change::Added, None, Some(vb)),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        _ => record(out, full, path, Change::Changed, Some(a), Some(b)),
    }
}

fn record(
    out: &mut Vec<JsonChange>,
    full: &mut bool,
    path: &str,
    change: Change,
    old: Option<&Value>,
    new: Option<&Value>,
) {
    if out.len() >= MAX_CHANGES {
        *full = true;
        return;
    }
    out.push(JsonChange {
        path: if path.is_empty() {
            "(root)".to_string()
        } else {
            path.to_string()
        },
        change,
        old: old.map(compact),
        new: new.map(compact),
    });
}

fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty() && !key.chars().any(|c| c == '.' || c.is_whitespace());
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_string()).to_string());
        path.push(']');
    }
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= MAX_VALUE_TEXT {
        return s;
    }
    let mut end = MAX_VALUE_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<RawHeader> {
        pairs.iter().map(|(n, v)| RawHeader::new(*n, *v)).collect()
    }

    #[test]
    fn header_names_compare_case_insensitively() {
        let a = h(&[("Content-Type", "application/json"), ("X-A", "1")]);
        let b = h(&[("content-type", "application/json"), ("x-a", "1")]);
        assert!(headers(&a, &b).is_empty());
    }

    #[test]
    fn added_removed_and_changed_headers_are_reported_in_order() {
        let a = h(&[
            ("Stripe-Signature", "t=1,v1=aa"),
            ("X-Old", "x"),
            ("Accept", "*/*"),
        ]);
        let b = h(&[
            ("Accept", "*/*"),
            ("stripe-signature", "t=2,v1=bb"),
            ("X-New", "y"),
        ]);
        let d = headers(&a, &b);
        assert_eq!(
            d,
            vec![
                HeaderChange {
                    name: "stripe-signature".into(),
                    change: Change::Changed,
                    old: Some("t=1,v1=aa".into()),
                    new: Some("t=2,v1=bb".into()),
                },
                HeaderChange {
                    name: "X-Old".into(),
                    change: Change::Removed,
                    old: Some("x".into()),
                    new: None,
                },
                HeaderChange {
                    name: "X-New".into(),
                    change: Change::Added,
                    old: None,
                    new: Some("y".into()),
                },
            ]
        );
    }

    #[test]
    fn repeated_headers_are_compared_as_one_joined_value() {
        let a = h(&[("X-A", "1"), ("X-A", "2")]);
        let b = h(&[("X-A", "1")]);
        let d = headers(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].old.as_deref(), Some("1, 2"));
    }

    #[test]
    fn json_bodies_are_compared_by_path() {
        let a = br#"{"type":"invoice.paid","data":{"object":{"amount":2000,"lines":[1,2],"gone":true}}}"#;
        let b = br#"{"data":{"object":{"amount":2500,"lines":[1,3,4],"new":null}},"type":"invoice.paid"}"#;
        let BodyDiff::Json { changes, truncated } = body(a, b) else {
            panic!("not a JSON diff");
        };
        assert!(!truncated);
        let got: Vec<(&str, Change, Option<&str>, Option<&str>)> = changes
            .iter()
            .map(|c| {
                (
                    c.path.as_str(),
                    c.change,
                    c.old.as_deref(),
                    c.new.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "data.object.amount",
                    Change::Changed,
                    Some("2000"),
                    Some("2500")
                ),
                ("data.object.gone", Change::Removed, Some("true"), None),
                ("data.object.lines.1", Change::Changed, Some("2"), Some("3")),
                ("data.object.lines.2", Change::Added, None, Some("4")),
                ("data.object.new", Change::Added, None, Some("null")),
            ]
        );
    }

    #[test]
    fn same_json_with_different_formatting_has_no_changes() {
        assert_eq!(
            body(
                b"{\"a\":1,\"b\":[true]}",
                b"{ \"b\": [ true ], \"a\": 1 }\n"
            ),
            BodyDiff::Json {
                changes: vec![],
                truncated: false
            }
        );
    }

    #[test]
    fn keys_with_dots_are_quoted_and_type_changes_are_changes() {
        let BodyDiff::Json { changes, .. } = body(br#"{"a.b":{"c":1}}"#, br#"{"a.b":"x"}"#) else {
            panic!("not a JSON diff");
        };
        assert_eq!(changes[0].path, "[\"a.b\"]");
        assert_eq!(changes[0].change, Change::Changed);
        assert_eq!(changes[0].new.as_deref(), Some("\"x\""));
        let BodyDiff::Json { changes, .. } = body(b"1", b"2") else {
            panic!("not a JSON diff");
        };
        assert_eq!(changes[0].path, "(root)");
    }

    #[test]
    fn non_json_bodies_are_identical_or_differ_with_sizes() {
        assert_eq!(body(b"a=1", b"a=1"), BodyDiff::Identical);
        assert_eq!(
            body(b"a=1", b"a=12"),
            BodyDiff::Bytes {
                old_size: 3,
                new_size: 4
            }
        );
        assert_eq!(
            body(b"{}", &[0xff]),
            BodyDiff::Bytes {
                old_size: 2,
                new_size: 1
            }
        );
    }

    #[test]
    fn huge_numbers_of_changes_are_truncated() {
        let a: Vec<u32> = (0..3000).collect();
        let b: Vec<u32> = (1..3001).collect();
        let BodyDiff::Json { changes, truncated } = body(
            serde_json::to_string(&a).unwrap_or_default().as_bytes(),
            serde_json::to_string(&b).unwrap_or_default().as_bytes(),
        ) else {
            panic!("not a JSON diff");
        };
        assert_eq!(changes.len(), MAX_CHANGES);
        assert!(truncated);
    }
}
