//! Headers exactly as they arrived: original name case, raw value bytes, arrival order.

use serde::{Deserialize, Serialize};

/// One header line as received. Names keep their original case; values are raw bytes
/// (HTTP allows obs-text, so a value need not be UTF-8). `Debug` shows the name but not the
/// value: captured values carry other people's secrets (authorization, cookies, signatures)
/// and must not end up in logs or panic messages.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawHeader {
    pub name: String,
    pub value: Vec<u8>,
}

impl std::fmt::Debug for RawHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawHeader")
            .field("name", &self.name)
            .field("value", &Redacted(self.value.len()))
            .finish()
    }
}

/// Stands in for captured bytes in `Debug` output: only their length is shown. Types that
/// carry captured headers or bodies use it in their hand-written `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Redacted(pub usize);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes redacted>", self.0)
    }
}

impl RawHeader {
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The value as text; bytes that are not UTF-8 become U+FFFD.
    pub fn value_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }
}

/// A header value as JSON documents carry it (the API, the fixture, HAR): its text, and — only
/// when it is not UTF-8, so the text has U+FFFD in place of some bytes — its exact bytes in
/// base64 beside it.
pub fn value_text_and_base64(value: &[u8]) -> (std::borrow::Cow<'_, str>, Option<String>) {
    use base64::Engine;
    match std::str::from_utf8(value) {
        Ok(text) => (text.into(), None),
        Err(_) => (
            String::from_utf8_lossy(value),
            Some(base64::engine::general_purpose::STANDARD.encode(value)),
        ),
    }
}

/// First header with this name (ASCII case-insensitive), as bytes.
pub fn find<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_slice())
}

/// First header with this name (ASCII case-insensitive), if it is UTF-8.
pub fn find_str<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a str> {
    find(headers, name).and_then(|v| std::str::from_utf8(v).ok())
}

/// True for hop-by-hop and framing headers, which a forwarder must not copy from a captured
/// request: the connection they described is gone, and the client recomputes them.
pub fn is_hop_by_hop(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "trailers"
            | "upgrade"
            | "expect"
            | "http2-settings"
    ) || name.starts_with("proxy-")
        || name.starts_with(':')
}

/// Names of the dashboard's own session cookie: `hookvault` over http, `__Host-hookvault` when
/// the public URL is https. The web crate names its cookie from these.
pub const SESSION_COOKIES: [&str; 2] = ["hookvault", "__Host-hookvault"];

/// What a dashboard session cookie's value is replaced with before a capture is stored.
pub const SESSION_MARKER: &str = "[removed by Hookvault: dashboard session]";

/// Replaces the value of every dashboard session cookie ([`SESSION_COOKIES`]) in `Cookie`
/// headers by [`SESSION_MARKER`], so that a logged-in user who follows a link to someone
/// else's capture URL never hands over a live session. Every other byte — other cookies,
/// separators, spacing, other headers — stays exactly as received. No webhook sender ever sends
/// this cookie. Returns whether anything was replaced.
pub fn remove_session_cookies(headers: &mut [RawHeader]) -> bool {
    let mut removed = false;
    for h in headers
        .iter_mut()
        .filter(|h| h.name.eq_ignore_ascii_case("cookie"))
    {
        if let Some(value) = without_session_cookies(&h.value) {
            h.value = value;
            removed = true;
        }
    }
    removed
}

/// True when a stored `Cookie` value had a session cookie removed (the request page says so).
pub fn has_session_marker(headers: &[RawHeader]) -> bool {
    let marker = SESSION_MARKER.as_bytes();
    headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("cookie") && h.value.windows(marker.len()).any(|w| w == marker)
    })
}

/// The `Cookie` value with session cookie values replaced, or `None` when it has none.
fn without_session_cookies(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut changed = false;
    for (i, pair) in value.split(|b| *b == b';').enumerate() {
        if i > 0 {
            out.push(b';');
        }
        let is_session = pair.iter().position(|b| *b == b'=').is_some_and(|eq| {
            let name = pair[..eq].trim_ascii();
            SESSION_COOKIES.iter().any(|s| s.as_bytes() == name)
        });
        match pair.iter().position(|b| *b == b'=') {
            Some(eq) if is_session => {
                out.extend_from_slice(&pair[..=eq]);
                out.extend_from_slice(SESSION_MARKER.as_bytes());
                changed = true;
            }
            _ => out.extend_from_slice(pair),
        }
    }
    changed.then_some(out)
}

/// Encodes headers into one compact blob for storage: for each header a u16 name length,
/// the name, a u32 value length, the value (all big-endian). Keeps order, case and bytes.
pub fn encode(headers: &[RawHeader]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        headers
            .iter()
            .map(|h| 6 + h.name.len() + h.value.len())
            .sum(),
    );
    for h in headers {
        let name = h.name.as_bytes();
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&name_len.to_be_bytes());
        out.extend_from_slice(&name[..usize::from(name_len)]);
        let value_len = u32::try_from(h.value.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&value_len.to_be_bytes());
        out.extend_from_slice(&h.value[..value_len as usize]);
    }
    out
}

/// The blob was not written by [`encode`].
#[derive(Debug, thiserror::Error)]
#[error("stored header blob is corrupt")]
pub struct CorruptHeaders;

/// Decodes a blob written by [`encode`].
pub fn decode(mut blob: &[u8]) -> Result<Vec<RawHeader>, CorruptHeaders> {
    let mut out = Vec::new();
    while !blob.is_empty() {
        let (len, rest) = take(blob, 2)?;
        let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (name, rest) = take(rest, n)?;
        let (len, rest) = take(rest, 4)?;
        let v = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (value, rest) = take(rest, v)?;
        out.push(RawHeader {
            name: String::from_utf8(name.to_vec()).map_err(|_| CorruptHeaders)?,
            value: value.to_vec(),
        });
        blob = rest;
    }
    Ok(out)
}

/// A stored capture's headers, decoded from the store's blob ([`encode`]) once, when the row
/// is read: with the `sqlx` feature a `bytea` column of that blob reads straight into it, so no
/// caller ever decodes (or mis-handles a corrupt blob) again. Lossless: names, order and value
/// bytes are exactly as received. Derefs to the list; `Debug` hides the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<RawHeader>);

impl Headers {
    /// The list itself.
    pub fn into_vec(self) -> Vec<RawHeader> {
        self.0
    }
}

impl std::ops::Deref for Headers {
    type Target = Vec<RawHeader>;

    fn deref(&self) -> &Vec<RawHeader> {
        &self.0
    }
}

impl From<Vec<RawHeader>> for Headers {
    fn from(v: Vec<RawHeader>) -> Self {
        Headers(v)
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(feature = "sqlx")]
impl sqlx::Type<sqlx::Postgres> for Headers {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Vec<u8> as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <Vec<u8> as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

#[cfg(feature = "sqlx")]
impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Headers {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let blob = <&[u8] as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
        Ok(Headers(decode(blob)?))
    }
}

fn take(b: &[u8], n: usize) -> Result<(&[u8], &[u8]), CorruptHeaders> {
    if b.len() < n {
        return Err(CorruptHeaders);
    }
    Ok(b.split_at(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_headers_decode_to_the_same_names_values_and_order() {
        let hs = vec![
            RawHeader::new("Stripe-Signature", "t=1,v1=ab"),
            RawHeader::new("x-dup", "a"),
            RawHeader::new("Host", "h"),
            RawHeader::new("X-DUP", vec![0xff, 0x00, b'b']),
        ];
        assert_eq!(decode(&encode(&hs)).unwrap(), hs);
    }

    #[test]
    fn a_truncated_blob_is_reported_as_corrupt() {
        let blob = encode(&[RawHeader::new("A", "bcd")]);
        assert!(decode(&blob[..blob.len() - 1]).is_err());
    }

    #[test]
    fn the_dashboard_session_cookie_is_replaced_and_every_other_byte_kept() {
        let mut hs = vec![
            RawHeader::new("X-Other", "hookvault=keep"),
            RawHeader::new("Cookie", "a=1;  hookvault=s3ss10n ;b=\"2\"; hookvaultx=3"),
            RawHeader::new("cookie", "__Host-hookvault=s3cure"),
            RawHeader::new("Cookie", vec![b'c', b'=', 0xff]),
        ];
        assert!(remove_session_cookies(&mut hs));
        assert_eq!(hs[0].value, b"hookvault=keep");
        assert_eq!(
            hs[1].value_lossy(),
            "a=1;  hookvault=[removed by Hookvault: dashboard session];b=\"2\"; hookvaultx=3"
        );
        assert_eq!(
            hs[2].value_lossy(),
            "__Host-hookvault=[removed by Hookvault: dashboard session]"
        );
        assert_eq!(hs[3].value, vec![b'c', b'=', 0xff]);
        assert!(has_session_marker(&hs));
    }

    #[test]
    fn cookies_without_a_session_are_left_alone() {
        let mut hs = vec![RawHeader::new(
            "Cookie",
            "Hookvault=x; hookvault; other=hookvault=1",
        )];
        assert!(!remove_session_cookies(&mut hs));
        assert_eq!(
            hs[0].value_lossy(),
            "Hookvault=x; hookvault; other=hookvault=1"
        );
        assert!(!has_session_marker(&hs));
    }

    #[test]
    fn debug_output_shows_header_names_but_never_values() {
        let h = RawHeader::new("Authorization", "Bearer sk_live_secret");
        let shown = format!("{h:?} {:?}", vec![h.clone()]);
        assert!(shown.contains("Authorization"), "{shown}");
        assert!(!shown.contains("sk_live_secret"), "{shown}");
        assert!(shown.contains("<21 bytes redacted>"), "{shown}");
    }

    #[test]
    fn lookup_ignores_name_case() {
        let hs = vec![RawHeader::new("Content-Type", "text/plain")];
        assert_eq!(find_str(&hs, "content-type"), Some("text/plain"));
    }
}
