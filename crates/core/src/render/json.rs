//! The JSON re-indenter: a document shown exactly as sent (key order, duplicate keys, number
//! spelling and string escapes kept), as plain text or as highlighted HTML, within fixed bounds.

mod lexer;

use lexer::{Lexer, Tok};

use super::escape_into;

/// Largest body (in bytes) [`json_pretty`] and [`json_pretty_html`] will re-indent, and the
/// largest body [`body_kind`](super::body_kind) will sniff for JSON.
pub const MAX_JSON_INPUT: usize = 2 * 1024 * 1024;

/// Deepest nesting of objects and arrays the JSON re-indenter accepts.
pub const MAX_JSON_DEPTH: usize = 128;

/// Largest output (in bytes) the JSON re-indenter will produce before giving up.
pub const MAX_JSON_OUTPUT: usize = 32 * 1024 * 1024;

/// Pretty-print JSON as escaped HTML with syntax highlighting spans (`<span class="j-key">`,
/// `j-str`, `j-num`, `j-bool`, `j-null`, `j-punct`), indented by 2 spaces.
///
/// The document is re-indented token by token, never parsed into a value, so key order,
/// duplicate keys, number spelling (`820982911946154508`, `1.0e10`) and string escapes are shown
/// exactly as sent. Returns `None` if the bytes are not well-formed JSON (then the caller shows
/// raw text) or exceed [`MAX_JSON_INPUT`], [`MAX_JSON_DEPTH`] or [`MAX_JSON_OUTPUT`].
pub fn json_pretty_html(body: &[u8]) -> Option<String> {
    reindent(body, Mode::Html, false)
}

/// Same re-indent as [`json_pretty_html`], as plain text (no HTML), for tests and the CLI.
pub fn json_pretty(body: &[u8]) -> Option<String> {
    reindent(body, Mode::Plain, false)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Check well-formedness only; write nothing.
    Validate,
    Plain,
    Html,
}

struct Out {
    buf: String,
    mode: Mode,
}

impl Out {
    fn token(&mut self, class: &str, text: &str) {
        match self.mode {
            Mode::Validate => {}
            Mode::Plain => self.buf.push_str(text),
            Mode::Html => {
                self.buf.push_str("<span class=\"");
                self.buf.push_str(class);
                self.buf.push_str("\">");
                escape_into(&mut self.buf, text);
                self.buf.push_str("</span>");
            }
        }
    }

    fn punct(&mut self, p: &str) {
        self.token("j-punct", p);
    }

    fn space(&mut self) {
        if self.mode != Mode::Validate {
            self.buf.push(' ');
        }
    }

    fn newline(&mut self, depth: usize) {
        if self.mode != Mode::Validate {
            self.buf.push('\n');
            for _ in 0..depth {
                self.buf.push_str("  ");
            }
        }
    }
}

/// Opening text, closing text and closing byte of a container opened by `open`.
fn brackets(open: u8) -> (&'static str, &'static str, u8) {
    if open == b'{' {
        ("{", "}", b'}')
    } else {
        ("[", "]", b']')
    }
}

/// Writes an object key and its colon; returns the first token of the member's value.
fn key<'a>(lx: &mut Lexer<'a>, out: &mut Out, tok: Tok<'a>) -> Option<Tok<'a>> {
    let Tok::Str(k) = tok else {
        return None;
    };
    out.token("j-key", k);
    if lx.next_token().ok()? != Some(Tok::Colon) {
        return None;
    }
    out.punct(":");
    out.space();
    lx.next_token().ok()?
}

/// Re-indents (or, in [`Mode::Validate`], just checks) one JSON text. Iterative, with an
/// explicit stack, so deep nesting cannot overflow the call stack.
pub(super) fn reindent(body: &[u8], mode: Mode, container_only: bool) -> Option<String> {
    if body.len() > MAX_JSON_INPUT {
        return None;
    }
    let s = std::str::from_utf8(body).ok()?;
    let mut lx = Lexer::new(s);
    let capacity = match mode {
        Mode::Validate => 0,
        Mode::Plain => body.len().saturating_mul(2),
        Mode::Html => body.len().saturating_mul(6),
    };
    let mut out = Out {
        buf: String::with_capacity(capacity.min(MAX_JSON_OUTPUT)),
        mode,
    };
    let mut stack: Vec<u8> = Vec::new();
    let mut tok = lx.next_token().ok()??;
    if container_only && !matches!(tok, Tok::Open(_)) {
        return None;
    }
    'value: loop {
        if out.buf.len() > MAX_JSON_OUTPUT {
            return None;
        }
        // `tok` starts a value.
        match tok {
            Tok::Open(open) => {
                let (open_s, close_s, close) = brackets(open);
                let next = lx.next_token().ok()??;
                if next == Tok::Close(close) {
                    out.punct(open_s);
                    out.punct(close_s);
                } else {
                    if stack.len() >= MAX_JSON_DEPTH {
                        return None;
                    }
                    stack.push(open);
                    out.punct(open_s);
                    out.newline(stack.len());
                    tok = if open == b'{' {
                        key(&mut lx, &mut out, next)?
                    } else {
                        next
                    };
                    continue 'value;
                }
            }
            Tok::Str(t) => out.token("j-str", t),
            Tok::Num(t) => out.token("j-num", t),
            Tok::Bool(t) => out.token("j-bool", t),
            Tok::Null => out.token("j-null", "null"),
            Tok::Close(_) | Tok::Colon | Tok::Comma => return None,
        }
        // A value just ended: close containers until one continues with a comma.
        loop {
            let Some(&open) = stack.last() else {
                // Only whitespace may follow the top-level value.
                return match lx.next_token() {
                    Ok(None) => Some(out.buf),
                    _ => None,
                };
            };
            let (_, close_s, close) = brackets(open);
            match lx.next_token().ok()?? {
                Tok::Comma => {
                    out.punct(",");
                    out.newline(stack.len());
                    let next = lx.next_token().ok()??;
                    tok = if open == b'{' {
                        key(&mut lx, &mut out, next)?
                    } else {
                        next
                    };
                    continue 'value;
                }
                Tok::Close(c) if c == close => {
                    stack.pop();
                    out.newline(stack.len());
                    out.punct(close_s);
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_pretty_keeps_order_duplicates_numbers_and_escapes_verbatim() {
        let body = br#"{"z":1,"a":820982911946154508,"a":1.0e10,"s":"\u00e9\n\"","n":null,"t":true,"f":false,"e":{},"l":[],"arr":[-0.5,{"k":[1]}]}"#;
        let expected = r#"{
  "z": 1,
  "a": 820982911946154508,
  "a": 1.0e10,
  "s": "\u00e9\n\"",
  "n": null,
  "t": true,
  "f": false,
  "e": {},
  "l": [],
  "arr": [
    -0.5,
    {
      "k": [
        1
      ]
    }
  ]
}"#;
        assert_eq!(json_pretty(body).as_deref(), Some(expected));
        // Re-indenting its own output is stable.
        assert_eq!(json_pretty(expected.as_bytes()).as_deref(), Some(expected));
    }

    #[test]
    fn json_pretty_accepts_scalars_and_surrounding_whitespace() {
        assert_eq!(json_pretty(b" \n42\r\n").as_deref(), Some("42"));
        assert_eq!(json_pretty(b"\"x\"").as_deref(), Some("\"x\""));
        assert_eq!(json_pretty(b"[ ]").as_deref(), Some("[]"));
    }

    #[test]
    fn json_pretty_output_means_the_same_json() {
        let docs: &[&[u8]] = &[
            br#"{"a":[1,2,{"b":null,"c":"x\/y\u00e9\ud83d\ude00"}],"d":-1.5E-3,"e":true}"#,
            b"[[],{},[[]],{\"k\":{}}]",
            b"  \"top\"  ",
            b"-0",
        ];
        for doc in docs {
            let pretty = json_pretty(doc).unwrap_or_default();
            let a: serde_json::Value = serde_json::from_slice(doc).unwrap();
            let b: serde_json::Value = serde_json::from_str(&pretty).unwrap();
            assert_eq!(a, b, "{pretty}");
        }
    }

    #[test]
    fn malformed_json_gives_none() {
        let bad: &[&[u8]] = &[
            b"",
            b"   ",
            b"{",
            b"}",
            b"{\"a\":1,}",
            b"[1,]",
            b"[1 2]",
            b"{\"a\" 1}",
            b"{1:2}",
            b"{\"a\":1}}",
            b"{\"a\":1} x",
            b"[01]",
            b"[1.]",
            b"[.5]",
            b"[1e]",
            b"[-]",
            b"[tru]",
            b"[nul]",
            b"[truex]",
            b"[\"a\x01\"]",
            b"[\"\\x\"]",
            b"[\"\\u12g4\"]",
            b"[\"unterminated]",
            b"[\xff]",
            b"NaN",
            b"[1]:",
            b"{\"a\":1]",
            b"[1}",
        ];
        for b in bad {
            assert_eq!(json_pretty(b), None, "{:?}", String::from_utf8_lossy(b));
            assert_eq!(json_pretty_html(b), None);
        }
    }

    #[test]
    fn json_limits_give_none_instead_of_unbounded_work() {
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(json_pretty(nested(MAX_JSON_DEPTH).as_bytes()).is_some());
        assert!(json_pretty(nested(MAX_JSON_DEPTH + 1).as_bytes()).is_none());
        let huge = format!("[{}1]", "1,".repeat(MAX_JSON_INPUT / 2));
        assert!(json_pretty(huge.as_bytes()).is_none());
        // A huge unclosed nesting is rejected without deep recursion.
        assert!(json_pretty("[".repeat(1_000_000).as_bytes()).is_none());
    }

    #[test]
    fn json_pretty_html_escapes_strings_and_keys() {
        let body = br#"{"<script>alert(1)</script>":"\" onerror=alert(1) x='<img src=x>'","n":[1,true,null]}"#;
        let html = json_pretty_html(body).unwrap_or_default();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("\" onerror"), "{html}");
        assert!(!html.contains('\''), "{html}");
        assert!(html.contains(
            "<span class=\"j-key\">&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;</span>"
        ));
        assert!(html.contains(
            "<span class=\"j-str\">&quot;\\&quot; onerror=alert(1) x=&#39;&lt;img src=x&gt;&#39;&quot;</span>"
        ));
        assert!(html.contains("<span class=\"j-num\">1</span>"));
        assert!(html.contains("<span class=\"j-bool\">true</span>"));
        assert!(html.contains("<span class=\"j-null\">null</span>"));
        assert!(html.contains("<span class=\"j-punct\">{</span>\n  "));
        assert!(html.contains("<span class=\"j-punct\">:</span> "));
        // Stripping the tags and unescaping gives the plain re-indent back.
        let text = strip_tags(&html)
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        assert_eq!(Some(text), json_pretty(body));
    }

    fn strip_tags(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }
}
