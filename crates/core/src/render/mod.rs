//! Turning captured request bytes into something a person can read: HTML escaping, body
//! classification, a JSON re-indenter that shows the document exactly as sent (with or without
//! HTML highlighting), form and query decoding, hex dumps, human sizes and a `curl` command
//! that replays a request byte for byte.
//!
//! Everything here takes attacker-controlled bytes. No function panics on any input, and the
//! expensive ones are bounded: the JSON re-indenter gives up above [`MAX_JSON_INPUT`] bytes of
//! input, [`MAX_JSON_DEPTH`] levels of nesting or [`MAX_JSON_OUTPUT`] bytes of output, and
//! [`hex_dump`] takes an explicit byte limit.

mod curl;
mod form;
mod hex;
mod json;

pub use curl::curl_command;
pub use form::{decode_component, form_fields, query_params};
pub use hex::hex_dump;
pub use json::{json_pretty, json_pretty_html, MAX_JSON_DEPTH, MAX_JSON_INPUT, MAX_JSON_OUTPUT};

use json::{reindent, Mode};

/// HTML-escape text (`&`, `<`, `>`, `"`, `'`), safe for element content and quoted attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // `i` and `last` sit on ASCII bytes, so both are char boundaries.
        out.push_str(s.get(last..i).unwrap_or_default());
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(s.get(last..).unwrap_or_default());
}

/// What a body looks like, for choosing a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No bytes at all.
    Empty,
    /// JSON: declared by the content type, or the bytes are a JSON object or array.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// UTF-8 without control characters other than tab, CR and LF.
    Text,
    /// Anything else.
    Binary,
}

/// Decide from content type + bytes: JSON if the content type says json OR the bytes parse as
/// JSON (object/array, sniffed only up to [`MAX_JSON_INPUT`] bytes); form if
/// `application/x-www-form-urlencoded`; text if valid UTF-8 without control chars other than
/// `\t` `\r` `\n`; else binary. An empty body is [`BodyKind::Empty`] whatever the content type.
pub fn body_kind(content_type: Option<&str>, body: &[u8]) -> BodyKind {
    if body.is_empty() {
        return BodyKind::Empty;
    }
    let media = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if media.contains("json") || reindent(body, Mode::Validate, true).is_some() {
        return BodyKind::Json;
    }
    if media == "application/x-www-form-urlencoded" {
        return BodyKind::Form;
    }
    let text = std::str::from_utf8(body).is_ok_and(|s| {
        !s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    });
    if text {
        BodyKind::Text
    } else {
        BodyKind::Binary
    }
}

/// Human size with binary units: `"512 B"`, `"4.0 KiB"`, `"10.0 MiB"` (up to EiB).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    // Move up a unit when one decimal would round to 1024.0 (e.g. 1048575 B).
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::RawHeader;

    #[test]
    fn escape_html_escapes_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>é"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;é"
        );
        assert_eq!(escape_html(""), "");
    }

    #[test]
    fn body_kind_uses_content_type_and_bytes() {
        assert_eq!(body_kind(Some("application/json"), b""), BodyKind::Empty);
        assert_eq!(
            body_kind(Some("application/vnd.api+json; charset=utf-8"), b"nope"),
            BodyKind::Json
        );
        assert_eq!(body_kind(None, b" {\"a\": [1, 2]}\n"), BodyKind::Json);
        assert_eq!(body_kind(Some("text/plain"), b"[1,2]"), BodyKind::Json);
        // A bare scalar is not sniffed as JSON.
        assert_eq!(body_kind(None, b"42"), BodyKind::Text);
        assert_eq!(
            body_kind(Some("Application/X-WWW-Form-Urlencoded"), b"a=1&b=2"),
            BodyKind::Form
        );
        assert_eq!(body_kind(None, b"hello\tworld\r\n"), BodyKind::Text);
        assert_eq!(body_kind(None, "héllo".as_bytes()), BodyKind::Text);
        assert_eq!(body_kind(None, b"bell\x07"), BodyKind::Binary);
        assert_eq!(body_kind(None, b"\xff\xfe"), BodyKind::Binary);
        assert_eq!(body_kind(None, b"{\"a\":1"), BodyKind::Text);
    }

    #[test]
    fn nothing_panics_on_arbitrary_bytes() {
        let doc = br#"{"a":[1,-2.5e+3,"\u00e9\"",true,false,null,{"b":{}}],"c":[]}"#;
        let mut inputs: Vec<Vec<u8>> = (0..=doc.len()).map(|n| doc[..n].to_vec()).collect();
        // Mostly JSON and form punctuation, so the parsers get past the first byte.
        let alphabet = b"{}[]:,\"0123456789-+.eEtrufalsn \\u%&=+\x00\xff\xc3\xa9";
        let mut state: u32 = 0x1234_5678;
        for len in 0..400 {
            let bytes = (0..len % 64)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    alphabet[(state >> 24) as usize % alphabet.len()]
                })
                .collect();
            inputs.push(bytes);
        }
        for input in &inputs {
            let text = String::from_utf8_lossy(input);
            let _ = body_kind(Some("application/json"), input);
            let _ = body_kind(None, input);
            let _ = json_pretty(input);
            if let Some(html) = json_pretty_html(input) {
                assert!(!html.contains("<script"));
            }
            let _ = form_fields(input);
            let _ = query_params(&text);
            let _ = hex_dump(input, 37);
            let _ = escape_html(&text);
            let header = RawHeader::new("X", input.clone());
            let cmd = curl_command(&text, &text, &[header], input);
            assert!(!cmd.contains('\n') && !cmd.contains('\r') && !cmd.contains('\0'));
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(4096), "4.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }
}
