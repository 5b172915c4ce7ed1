//! Capture exports: HAR 1.2 (for browser dev tools and HTTP clients) and the replay fixture
//! (the request as JSON with the body in base64, byte-exact).

use base64::Engine;
use serde_json::{json, Value};

use crate::api::HeaderJson;
use crate::headers::RawHeader;
use crate::render;

/// A capture, as the exports need it.
#[derive(Debug, Clone, Copy)]
pub struct Capture<'a> {
    pub method: &'a str,
    /// The URL the request was sent to (capture URL, raw path suffix and raw query).
    pub url: &'a str,
    /// Raw path after `/in/{token}` (may be empty).
    pub path: &'a str,
    /// Raw query without `?`.
    pub query: Option<&'a str>,
    /// `HTTP/1.1`, `HTTP/1.0`.
    pub http_version: &'a str,
    /// In arrival order, original case.
    pub headers: &'a [RawHeader],
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
    /// RFC 3339 receive time.
    pub received_at: &'a str,
}

/// A HAR 1.2 log with one entry for the capture. The body is `postData.text` when it is UTF-8,
/// otherwise base64 with `"encoding": "base64"` (the HAR convention for binary content). A
/// header value that is not UTF-8 has its text with U+FFFD (HAR values are strings) and its
/// exact bytes in base64 in the custom field `_valueBase64` (HAR allows fields whose names
/// start with `_`). HAR has no place for a request without a response, so the response is an
/// empty stub (`status: 0`, as browsers write for requests that got no answer).
pub fn har(c: &Capture<'_>) -> Value {
    let headers: Vec<Value> = c
        .headers
        .iter()
        .map(|h| match crate::headers::value_text_and_base64(&h.value) {
            (text, None) => json!({"name": h.name, "value": text}),
            (text, Some(bytes)) => json!({"name": h.name, "value": text, "_valueBase64": bytes}),
        })
        .collect();
    let query: Vec<Value> = c
        .query
        .map(render::query_params)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let mut request = json!({
        "method": c.method,
        "url": c.url,
        "httpVersion": c.http_version,
        "cookies": [],
        "headers": headers,
        "queryString": query,
        "headersSize": -1,
        "bodySize": c.body.len(),
    });
    if !c.body.is_empty() {
        let mime = c.content_type.unwrap_or("application/octet-stream");
        request["postData"] = match std::str::from_utf8(c.body) {
            Ok(text) => json!({"mimeType": mime, "text": text}),
            Err(_) => json!({
                "mimeType": mime,
                "text": base64::engine::general_purpose::STANDARD.encode(c.body),
                "encoding": "base64",
            }),
        };
    }
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "Hookvault", "version": env!("CARGO_PKG_VERSION")},
            "entries": [{
                "startedDateTime": c.received_at,
                "time": 0,
                "request": request,
                "response": {
                    "status": 0,
                    "statusText": "",
                    "httpVersion": c.http_version,
                    "cookies": [],
                    "headers": [],
                    "content": {"size": 0, "mimeType": ""},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": -1,
                    "comment": "Hookvault stores requests only; the response is not recorded.",
                },
                "cache": {},
                "timings": {"send": 0, "wait": 0, "receive": 0},
            }],
        }
    })
}

/// The replay fixture: `{"method","path","query","headers":[[name,value],…],"body_base64",
/// "content_type"}` — headers in arrival order with their original case, body byte-exact. A
/// header value that is not UTF-8 is `[name, text, base64 of the bytes]`, as in the API
/// ([`HeaderJson`]), so the file gives back every byte (`hookvault audit --from-file` reads it).
pub fn fixture(c: &Capture<'_>) -> Value {
    let headers: Vec<HeaderJson> = c.headers.iter().map(HeaderJson::from).collect();
    json!({
        "method": c.method,
        "path": if c.path.is_empty() { "/" } else { c.path },
        "query": c.query,
        "headers": headers,
        "body_base64": base64::engine::general_purpose::STANDARD.encode(c.body),
        "content_type": c.content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture<'a>(headers: &'a [RawHeader], body: &'a [u8]) -> Capture<'a> {
        Capture {
            method: "POST",
            url: "https://hv.example/in/tok/hooks?a=1&b=x%20y",
            path: "/hooks",
            query: Some("a=1&b=x%20y"),
            http_version: "HTTP/1.1",
            headers,
            body,
            content_type: Some("application/json"),
            received_at: "2026-11-29T10:00:00.123Z",
        }
    }

    #[test]
    fn har_has_the_request_with_headers_in_order_and_a_response_stub() {
        let hs = vec![
            RawHeader::new("Stripe-Signature", "t=1,v1=ab"),
            RawHeader::new("content-type", "application/json"),
        ];
        let v = har(&capture(&hs, b"{\"a\":1}"));
        assert_eq!(v["log"]["version"], "1.2");
        let e = &v["log"]["entries"][0];
        assert_eq!(e["startedDateTime"], "2026-11-29T10:00:00.123Z");
        let r = &e["request"];
        assert_eq!(r["method"], "POST");
        assert_eq!(r["url"], "https://hv.example/in/tok/hooks?a=1&b=x%20y");
        assert_eq!(r["httpVersion"], "HTTP/1.1");
        assert_eq!(r["headers"][0]["name"], "Stripe-Signature");
        assert_eq!(r["headers"][1]["name"], "content-type");
        assert_eq!(r["queryString"][1], json!({"name": "b", "value": "x y"}));
        assert_eq!(r["postData"]["text"], "{\"a\":1}");
        assert_eq!(r["postData"]["mimeType"], "application/json");
        assert!(r["postData"].get("encoding").is_none());
        assert_eq!(r["bodySize"], 7);
        assert_eq!(e["response"]["status"], 0);
        assert!(e["timings"]["send"].is_number());
    }

    #[test]
    fn har_carries_binary_bodies_as_base64() {
        let v = har(&capture(&[], &[0xff, 0x00, 0x01]));
        let p = &v["log"]["entries"][0]["request"]["postData"];
        assert_eq!(p["encoding"], "base64");
        assert_eq!(p["text"], "/wAB");
    }

    #[test]
    fn har_keeps_the_bytes_of_a_header_value_that_is_not_utf8_in_base64_beside_its_text() {
        let hs = vec![
            RawHeader::new("X-Bin", vec![0xff, b'a', 0x80]),
            RawHeader::new("X-Text", "plain"),
        ];
        let v = har(&capture(&hs, b"{}"));
        let headers = &v["log"]["entries"][0]["request"]["headers"];
        assert_eq!(
            headers[0],
            json!({"name": "X-Bin", "value": "\u{FFFD}a\u{FFFD}", "_valueBase64": "/2GA"})
        );
        assert_eq!(headers[1], json!({"name": "X-Text", "value": "plain"}));
    }

    #[test]
    fn har_without_body_has_no_post_data() {
        let v = har(&capture(&[], b""));
        assert!(v["log"]["entries"][0]["request"].get("postData").is_none());
    }

    #[test]
    fn fixture_keeps_header_order_case_and_exact_body_bytes() {
        let hs = vec![RawHeader::new("X-B", "2"), RawHeader::new("x-a", "1")];
        let body = b"\x00\xffraw";
        let v = fixture(&capture(&hs, body));
        assert_eq!(v["method"], "POST");
        assert_eq!(v["path"], "/hooks");
        assert_eq!(v["query"], "a=1&b=x%20y");
        assert_eq!(v["headers"], json!([["X-B", "2"], ["x-a", "1"]]));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(v["body_base64"].as_str().unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(decoded, body);
        assert_eq!(v["content_type"], "application/json");
    }

    #[test]
    fn a_fixture_gives_back_header_values_that_are_not_utf8_byte_for_byte() {
        let raw = vec![0xff, b'a', 0x80];
        let hs = vec![RawHeader::new("X-Bin", raw.clone())];
        let v = fixture(&capture(&hs, b"{}"));
        assert_eq!(
            v["headers"],
            json!([["X-Bin", "\u{FFFD}a\u{FFFD}", "/2GA"]])
        );
        let back: Vec<HeaderJson> =
            serde_json::from_value(v["headers"].clone()).expect("headers read back");
        assert_eq!(back[0].value, raw);
    }
}
