//! Turning captured request bytes into something a person can read: HTML escaping, body
//! classification, a JSON re-indenter that shows the document exactly as sent (with or without
//! HTML highlighting), form and query decoding, hex dumps, human sizes and a `curl` command
//! that replays a request byte for byte.
//!
//! Everything here takes attacker-controlled bytes. No function panics on any input, and the
//! expensive ones are bounded: the JSON re-indenter gives up above [`MAX_JSON_INPUT`] bytes of
//! input, [`MAX_JSON_DEPTH`] levels of nesting or [`MAX_JSON_OUTPUT`] bytes of output, and
//! [`hex_dump`] takes an explicit byte limit.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::headers::RawHeader;

/// Largest body (in bytes) [`json_pretty`] and [`json_pretty_html`] will re-indent, and the
/// largest body [`body_kind`] will sniff for JSON.
pub const MAX_JSON_INPUT: usize = 2 * 1024 * 1024;

/// Deepest nesting of objects and arrays the JSON re-indenter accepts.
pub const MAX_JSON_DEPTH: usize = 128;

/// Largest output (in bytes) the JSON re-indenter will produce before giving up.
pub const MAX_JSON_OUTPUT: usize = 32 * 1024 * 1024;

/// Bodies at most this long are passed to `curl` inline as one argument; longer ones (and any
/// body containing a NUL byte) are fed through `printf`, because Linux caps a single argument
/// at 128 KiB and a shell string cannot hold NUL.
const CURL_INLINE_MAX: usize = 64 * 1024;

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
enum Tok<'a> {
    Open(u8),
    Close(u8),
    Colon,
    Comma,
    Str(&'a str),
    Num(&'a str),
    Bool(&'a str),
    Null,
}

/// The input is not well-formed JSON.
struct Malformed;

struct Lexer<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Self {
            s,
            b: s.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// The next token, `Ok(None)` at the end of the input.
    fn next_token(&mut self) -> Result<Option<Tok<'a>>, Malformed> {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let tok = match c {
            b'{' | b'[' => {
                self.pos += 1;
                Tok::Open(c)
            }
            b'}' | b']' => {
                self.pos += 1;
                Tok::Close(c)
            }
            b':' => {
                self.pos += 1;
                Tok::Colon
            }
            b',' => {
                self.pos += 1;
                Tok::Comma
            }
            b'"' => {
                self.string()?;
                Tok::Str(self.since(start)?)
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                Tok::Num(self.since(start)?)
            }
            b't' => {
                self.literal(b"true")?;
                Tok::Bool(self.since(start)?)
            }
            b'f' => {
                self.literal(b"false")?;
                Tok::Bool(self.since(start)?)
            }
            b'n' => {
                self.literal(b"null")?;
                Tok::Null
            }
            _ => return Err(Malformed),
        };
        Ok(Some(tok))
    }

    /// The source text from `start` to the current position. Token boundaries are ASCII
    /// bytes, so this never fails on a lexer-produced range.
    fn since(&self, start: usize) -> Result<&'a str, Malformed> {
        self.s.get(start..self.pos).ok_or(Malformed)
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Malformed> {
        if self
            .b
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(word))
        {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    fn string(&mut self) -> Result<(), Malformed> {
        self.pos += 1; // opening quote
        loop {
            match self.peek().ok_or(Malformed)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => match self.b.get(self.pos + 1).copied().ok_or(Malformed)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                    b'u' => {
                        let hex = self.b.get(self.pos + 2..self.pos + 6).ok_or(Malformed)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(Malformed);
                        }
                        self.pos += 6;
                    }
                    _ => return Err(Malformed),
                },
                0x00..=0x1f => return Err(Malformed),
                _ => self.pos += 1,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), Malformed> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Malformed),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Malformed);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(Malformed);
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
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
fn reindent(body: &[u8], mode: Mode, container_only: bool) -> Option<String> {
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

/// Decoded `application/x-www-form-urlencoded` pairs (`+` as space, percent-decoding, lossy
/// UTF-8), in order, duplicates kept. Empty segments (`a=1&&b=2`) are skipped; a key without
/// `=` gets an empty value.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => {
                let (k, v) = pair.split_at(i);
                (
                    decode_component(k),
                    decode_component(v.get(1..).unwrap_or_default()),
                )
            }
            None => (decode_component(pair), String::new()),
        })
        .collect()
}

/// Decoded query string pairs (same rules as [`form_fields`]) from a raw query (without `?`);
/// a key without `=` gives an empty value.
pub fn query_params(raw_query: &str) -> Vec<(String, String)> {
    form_fields(raw_query.as_bytes())
}

fn decode_component(raw: &[u8]) -> String {
    let spaced: Cow<'_, [u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let decoded: Cow<'_, [u8]> = percent_encoding::percent_decode(&spaced).into();
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Classic hex dump (the `hexdump -C` line layout, without the final offset line):
/// `00000000  7b 22 61 22 3a 31 7d 0a  …  |{"a":1}.|` — offset, 16 bytes in two groups of 8,
/// ASCII column with `.` for non-printables; each line ends with `\n`. Plain text (the caller
/// escapes). Shows at most `max_bytes` bytes and then appends a line `… N more bytes`.
pub fn hex_dump(body: &[u8], max_bytes: usize) -> String {
    let shown = body.get(..max_bytes).unwrap_or(body);
    let mut out = String::with_capacity(shown.len().div_ceil(16) * 80 + 32);
    for (line, chunk) in shown.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", line.saturating_mul(16));
        for i in 0..16 {
            if i == 8 {
                out.push(' ');
            }
            match chunk.get(i) {
                Some(&b) => {
                    push_hex_byte(&mut out, b);
                    out.push(' ');
                }
                None => out.push_str("   "),
            }
        }
        out.push_str(" |");
        for &b in chunk {
            out.push(if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            });
        }
        out.push_str("|\n");
    }
    if body.len() > shown.len() {
        let _ = writeln!(out, "… {} more bytes", body.len() - shown.len());
    }
    out
}

fn push_hex_byte(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

/// A single-line bash command that reproduces the request byte for byte:
/// `curl -X METHOD 'URL' --http1.1 --globoff --path-as-is -H 'Name: value' … --data-binary $'…'`.
///
/// Every argument is quoted: plain single quotes when it is printable ASCII without `'` or `\`,
/// otherwise bash ANSI-C quoting (`$'…'`) with `\'`, `\\` and `\xHH` for every other byte that
/// needs it (also `!`, so history expansion cannot trigger). Headers curl derives itself
/// (`Content-Length`, `Host`, `Transfer-Encoding`, `Connection`) are skipped; an empty header
/// value is sent with curl's `Name;` form. When the request had no `User-Agent`, `Accept` or
/// (with a body) `Content-Type`, the command suppresses the default curl would add. A body that
/// contains NUL or is longer than 64 KiB is fed through `@<(printf '…')` (a shell argument
/// cannot carry NUL, and Linux limits one argument to 128 KiB); a body starting with `@` uses
/// `--data-raw` so curl does not read a file. An empty body sends no data. A `HEAD` request uses
/// `--head`, as `-X HEAD` would make curl wait for a body. A NUL byte in the method, URL or a
/// header value cannot be passed to curl at all; bash cuts that argument there.
pub fn curl_command(method: &str, url: &str, headers: &[RawHeader], body: &[u8]) -> String {
    const SKIP: [&str; 4] = ["content-length", "host", "transfer-encoding", "connection"];

    let mut cmd = String::from("curl");
    if method == "HEAD" {
        cmd.push_str(" --head");
    } else {
        cmd.push_str(" -X ");
        let bare = !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if bare {
            cmd.push_str(method);
        } else {
            push_quoted(&mut cmd, method.as_bytes());
        }
    }
    // A URL starting with '-' would otherwise be read as an option.
    cmd.push_str(if url.starts_with('-') { " --url " } else { " " });
    push_quoted(&mut cmd, url.as_bytes());
    cmd.push_str(" --http1.1 --globoff --path-as-is");

    let has = |name: &str| headers.iter().any(|h| h.name.eq_ignore_ascii_case(name));
    for h in headers {
        if SKIP.iter().any(|s| h.name.eq_ignore_ascii_case(s)) {
            continue;
        }
        let mut line = Vec::with_capacity(h.name.len() + 2 + h.value.len());
        line.extend_from_slice(h.name.as_bytes());
        if h.value.is_empty() {
            line.push(b';');
        } else {
            line.extend_from_slice(b": ");
            line.extend_from_slice(&h.value);
        }
        cmd.push_str(" -H ");
        push_quoted(&mut cmd, &line);
    }
    if !has("user-agent") {
        cmd.push_str(" -H 'User-Agent:'");
    }
    if !has("accept") {
        cmd.push_str(" -H 'Accept:'");
    }
    if !body.is_empty() && !has("content-type") {
        cmd.push_str(" -H 'Content-Type:'");
    }

    if body.is_empty() {
        return cmd;
    }
    if body.contains(&0) || body.len() > CURL_INLINE_MAX {
        cmd.push_str(" --data-binary @<(printf '");
        push_printf_format(&mut cmd, body);
        cmd.push_str("')");
    } else {
        cmd.push_str(if body.starts_with(b"@") {
            " --data-raw "
        } else {
            " --data-binary "
        });
        push_quoted(&mut cmd, body);
    }
    cmd
}

/// Appends `bytes` as one bash word: `'…'` when every byte is printable ASCII other than `'`
/// and `\`, else `$'…'` with escapes.
fn push_quoted(out: &mut String, bytes: &[u8]) {
    let plain = bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\');
    if plain {
        out.push('\'');
        out.extend(bytes.iter().map(|&b| char::from(b)));
        out.push('\'');
        return;
    }
    out.push_str("$'");
    for &b in bytes {
        match b {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            b'!' => out.push_str("\\x21"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                out.push_str("\\x");
                push_hex_byte(out, b);
            }
        }
    }
    out.push('\'');
}

/// Appends `bytes` as a `printf` format that prints exactly those bytes, for use inside plain
/// single quotes: `%` doubled; `'`, `\`, non-printables and a leading `-` as 3-digit octal.
fn push_printf_format(out: &mut String, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'%' => out.push_str("%%"),
            b'-' if i == 0 => push_octal(out, b),
            b'\'' | b'\\' => push_octal(out, b),
            0x20..=0x7e => out.push(char::from(b)),
            _ => push_octal(out, b),
        }
    }
}

fn push_octal(out: &mut String, b: u8) {
    out.push('\\');
    out.push(char::from(b'0' + (b >> 6)));
    out.push(char::from(b'0' + ((b >> 3) & 7)));
    out.push(char::from(b'0' + (b & 7)));
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
    fn form_fields_decode_plus_percent_and_keep_duplicates() {
        assert_eq!(
            form_fields(
                b"path=a%2Fb%20c&msg=hello+world%21&plus=%2B&x=1&x=2&empty=&flag&&bad=%zz%e9"
            ),
            vec![
                ("path".into(), "a/b c".into()),
                ("msg".into(), "hello world!".into()),
                ("plus".into(), "+".into()),
                ("x".into(), "1".into()),
                ("x".into(), "2".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
                ("bad".into(), "%zz\u{fffd}".into()),
            ]
        );
        assert!(form_fields(b"").is_empty());
    }

    #[test]
    fn query_params_follow_the_same_rules() {
        assert_eq!(
            query_params("x=1&x=2&empty=&flag&a%2Fb%20c=d%3De"),
            vec![
                ("x".into(), "1".into()),
                ("x".into(), "2".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
                ("a/b c".into(), "d=e".into()),
            ]
        );
    }

    #[test]
    fn hex_dump_matches_the_classic_layout() {
        assert_eq!(
            hex_dump(b"{\"a\":1}\n", 1024),
            "00000000  7b 22 61 22 3a 31 7d 0a                           |{\"a\":1}.|\n"
        );
        assert_eq!(
            hex_dump(b"0123456789abcdefXYZ\x00\xff", 1024),
            "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n\
             00000010  58 59 5a 00 ff                                    |XYZ..|\n"
        );
        assert_eq!(hex_dump(b"", 16), "");
    }

    #[test]
    fn hex_dump_stops_at_max_bytes() {
        let body = vec![b'A'; 40];
        assert_eq!(
            hex_dump(&body, 16),
            "00000000  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|\n\
             … 24 more bytes\n"
        );
        assert_eq!(hex_dump(&body, 0), "… 40 more bytes\n");
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

    #[test]
    fn curl_command_quotes_and_skips_headers() {
        let headers = vec![
            RawHeader::new("Host", "example.com"),
            RawHeader::new("Content-Type", "application/json"),
            RawHeader::new("Content-Length", "2"),
            RawHeader::new("X-Quote", "it's"),
            RawHeader::new("X-Empty", ""),
            RawHeader::new("User-Agent", "Stripe/1.0"),
        ];
        assert_eq!(
            curl_command("POST", "http://h/p?a[]=1", &headers, b"{}"),
            "curl -X POST 'http://h/p?a[]=1' --http1.1 --globoff --path-as-is \
             -H 'Content-Type: application/json' -H $'X-Quote: it\\'s' -H 'X-Empty;' \
             -H 'User-Agent: Stripe/1.0' -H 'Accept:' --data-binary '{}'"
        );
        assert_eq!(
            curl_command("GET", "http://h/", &[], b""),
            "curl -X GET 'http://h/' --http1.1 --globoff --path-as-is -H 'User-Agent:' -H 'Accept:'"
        );
        let weird = curl_command("P;rm -rf", "-x", &[], b"@/etc/passwd\n!");
        assert!(
            weird.starts_with("curl -X 'P;rm -rf' --url '-x' "),
            "{weird}"
        );
        assert!(
            weird.ends_with(" --data-raw $'@/etc/passwd\\x0a\\x21'"),
            "{weird}"
        );
        let nul = curl_command("POST", "http://h/", &[], b"-a\x00%'\\\xff");
        assert!(
            nul.ends_with(" --data-binary @<(printf '\\055a\\000%%\\047\\134\\377')"),
            "{nul}"
        );
    }
}
