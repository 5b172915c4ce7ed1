//! What a capture URL answers: the headers that make every capture response inert in a
//! browser, and the one validator of an endpoint's custom response (used by the dashboard form,
//! the JSON API and, again, when a stored response is served).
//!
//! Capture URLs are handed to the whole internet and custom responses are written by any
//! account, so a custom response must not be able to do anything in a visitor's browser:
//! no cookies, no script (the CSP sandbox), no persistence (service workers, HSTS, Clear-Site-Data),
//! no framing tricks. Headers therefore come from an allow-list rather than a deny-list: browsers
//! keep adding headers with effects, and a new one must not become settable by default.

/// `Content-Security-Policy` of every capture response: a sandboxed, opaque origin that loads
/// nothing and cannot be framed, whatever the body and content type.
pub const CAPTURE_CSP: &str = "sandbox; default-src 'none'; frame-ancestors 'none'";

/// Lowest status a custom response may have (1xx are not final responses; 101 switches
/// protocols).
pub const MIN_STATUS: i32 = 200;
/// Highest status a custom response may have.
pub const MAX_STATUS: i32 = 599;
/// Longest delay before answering, in milliseconds.
pub const MAX_DELAY_MS: i32 = 10_000;
/// Largest custom response body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most extra headers in a custom response.
pub const MAX_HEADERS: usize = 20;
/// Most bytes of extra headers (names and values together).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Longest content type, in bytes.
pub const MAX_CONTENT_TYPE_BYTES: usize = 256;

/// Standard headers a custom response may set (lower case). Everything here only describes the
/// response or its caching; none of them changes what a browser does with the origin.
const ALLOWED_STANDARD: &[&str] = &[
    "age",
    "allow",
    "cache-control",
    "content-disposition",
    "content-language",
    "etag",
    "expires",
    "last-modified",
    "pragma",
    "retry-after",
    "vary",
];

/// `X-…` names that are not free-form extensions: browser security switches, headers that
/// front proxies act on (internal redirects, file serving, client addresses), legacy CSP names
/// and our own.
const REFUSED_X_PREFIXES: &[&str] = &[
    "x-frame-options",
    "x-content-type-options",
    "x-xss-protection",
    "x-content-security-policy",
    "x-webkit-csp",
    "x-dns-prefetch-control",
    "x-permitted-cross-domain-policies",
    "x-download-options",
    "x-ua-compatible",
    "x-forwarded-",
    "x-real-ip",
    "x-accel-",
    "x-sendfile",
    "x-lighttpd-",
    "x-litespeed-",
    "x-hookvault-",
];

/// Why a custom response is refused. `Display` is one sentence for the user (the page shows
/// it, the API returns it with 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("Status must be between {MIN_STATUS} and {MAX_STATUS}.")]
    Status,
    #[error("Delay must be between 0 and {MAX_DELAY_MS} ms.")]
    Delay,
    #[error("The response body can be at most 64 KiB.")]
    BodyTooLarge,
    #[error("The content type is not a valid header value (at most {MAX_CONTENT_TYPE_BYTES} visible ASCII characters).")]
    ContentType,
    #[error("A custom response can have at most {MAX_HEADERS} extra headers.")]
    TooManyHeaders,
    #[error("The extra headers can be at most 8 KiB in total.")]
    HeadersTooLarge,
    #[error("\"{0}\" is not a valid header name.")]
    HeaderName(String),
    #[error("The value of {0} is not a valid header value (visible ASCII only).")]
    HeaderValue(String),
    #[error("Set the content type in its own field, not as an extra header.")]
    ContentTypeHeader,
    #[error(
        "{0} cannot be set: capture responses may only carry Age, Allow, Cache-Control, \
         Content-Disposition, Content-Language, ETag, Expires, Last-Modified, Pragma, \
         Retry-After, Vary and X-… extension headers (not X-Frame-Options, \
         X-Content-Type-Options, X-XSS-Protection, X-Forwarded-…, X-Accel-…, X-Sendfile \
         or X-Hookvault-…)."
    )]
    HeaderNotAllowed(String),
}

/// Checks a custom response: status 200–599, delay 0–10 000 ms, body ≤ 64 KiB, a content type
/// that is a valid header value, and at most [`MAX_HEADERS`] extra headers (≤ 8 KiB) from the
/// allow-list ([`header_allowed`]) with valid names and values.
pub fn check(
    status: i32,
    content_type: &str,
    body: &[u8],
    headers: &[(String, String)],
    delay_ms: i32,
) -> Result<(), ResponseError> {
    if !(MIN_STATUS..=MAX_STATUS).contains(&status) {
        return Err(ResponseError::Status);
    }
    if !(0..=MAX_DELAY_MS).contains(&delay_ms) {
        return Err(ResponseError::Delay);
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ResponseError::BodyTooLarge);
    }
    if content_type.len() > MAX_CONTENT_TYPE_BYTES || !valid_value(content_type) {
        return Err(ResponseError::ContentType);
    }
    if headers.len() > MAX_HEADERS {
        return Err(ResponseError::TooManyHeaders);
    }
    let total: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if total > MAX_HEADER_BYTES {
        return Err(ResponseError::HeadersTooLarge);
    }
    for (name, value) in headers {
        check_header(name, value)?;
    }
    Ok(())
}

/// Checks one extra header: a valid name on the allow-list and a valid value.
pub fn check_header(name: &str, value: &str) -> Result<(), ResponseError> {
    if !valid_name(name) {
        return Err(ResponseError::HeaderName(name.to_owned()));
    }
    if name.eq_ignore_ascii_case("content-type") {
        return Err(ResponseError::ContentTypeHeader);
    }
    if !header_allowed(name) {
        return Err(ResponseError::HeaderNotAllowed(name.to_owned()));
    }
    if !valid_value(value) {
        return Err(ResponseError::HeaderValue(name.to_owned()));
    }
    Ok(())
}

/// True when a custom response may carry a header of this name: the standard descriptive
/// headers of [`ALLOWED_STANDARD`], or an `X-…` extension header that no browser or proxy acts
/// on. Everything else is refused — `Set-Cookie`, `Content-Security-Policy*`,
/// `Service-Worker-Allowed`, `Clear-Site-Data`, `Strict-Transport-Security`, `Location`,
/// `Refresh`, `Link`, `Alt-Svc`, CORS and `Cross-Origin-*`, hop-by-hop and framing headers,
/// and any header a browser learns to act on in future.
pub fn header_allowed(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if ALLOWED_STANDARD.contains(&name.as_str()) {
        return true;
    }
    name.starts_with("x-")
        && name.len() > 2
        && !REFUSED_X_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// An RFC 9110 token (the characters a header name may have).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Visible ASCII, spaces and tabs: what `http::HeaderValue::from_str` accepts.
fn valid_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn browser_and_proxy_effective_headers_are_refused_whatever_their_case() {
        for name in [
            "Set-Cookie",
            "set-cookie2",
            "Content-Security-Policy",
            "Content-Security-Policy-Report-Only",
            "Service-Worker-Allowed",
            "Clear-Site-Data",
            "Strict-Transport-Security",
            "X-Frame-Options",
            "X-Content-Type-Options",
            "Location",
            "Refresh",
            "Link",
            "Alt-Svc",
            "Access-Control-Allow-Origin",
            "Cross-Origin-Opener-Policy",
            "Permissions-Policy",
            "WWW-Authenticate",
            "Connection",
            "Transfer-Encoding",
            "Content-Length",
            "Upgrade",
            "Keep-Alive",
            "X-Accel-Redirect",
            "X-Sendfile",
            "X-Forwarded-For",
            "X-Hookvault-Request-Id",
            "X-",
        ] {
            assert!(!header_allowed(name), "{name} must be refused");
            assert!(
                matches!(
                    check_header(name, "x"),
                    Err(ResponseError::HeaderNotAllowed(_))
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn descriptive_and_extension_headers_are_allowed() {
        for name in [
            "Cache-Control",
            "Retry-After",
            "ETag",
            "Vary",
            "X-Custom",
            "x-request-id",
            "X-Robots-Tag",
        ] {
            assert!(header_allowed(name), "{name} is allowed");
            assert_eq!(check_header(name, "yes; a=1"), Ok(()));
        }
    }

    #[test]
    fn content_type_as_an_extra_header_points_to_its_own_field() {
        assert_eq!(
            check_header("Content-Type", "text/html"),
            Err(ResponseError::ContentTypeHeader)
        );
    }

    #[test]
    fn status_outside_200_to_599_is_refused() {
        for status in [100, 101, 199, 600, -1] {
            assert_eq!(
                check(status, "text/plain", b"", &[], 0),
                Err(ResponseError::Status),
                "{status}"
            );
        }
        for status in [200, 204, 302, 410, 599] {
            assert_eq!(check(status, "text/plain", b"", &[], 0), Ok(()), "{status}");
        }
    }

    #[test]
    fn header_count_and_total_size_are_capped() {
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|i| (format!("X-H{i}"), "v".to_string()))
            .collect();
        assert_eq!(
            check(200, "text/plain", b"", &many, 0),
            Err(ResponseError::TooManyHeaders)
        );
        let big = headers(&[("X-A", &"a".repeat(5000)), ("X-B", &"b".repeat(5000))]);
        assert_eq!(
            check(200, "text/plain", b"", &big, 0),
            Err(ResponseError::HeadersTooLarge)
        );
        assert_eq!(
            check(200, "text/plain", &vec![0; MAX_BODY_BYTES + 1], &[], 0),
            Err(ResponseError::BodyTooLarge)
        );
    }

    #[test]
    fn control_characters_in_names_values_and_content_type_are_refused() {
        assert_eq!(
            check_header("X-A", "a\r\nSet-Cookie: x=1"),
            Err(ResponseError::HeaderValue("X-A".into()))
        );
        assert_eq!(
            check_header("Bad Name", "x"),
            Err(ResponseError::HeaderName("Bad Name".into()))
        );
        assert_eq!(
            check(200, "text/html\r\nSet-Cookie: a=b", b"", &[], 0),
            Err(ResponseError::ContentType)
        );
        assert_eq!(
            check(200, &"a".repeat(300), b"", &[], 0),
            Err(ResponseError::ContentType)
        );
    }

    #[test]
    fn html_with_script_is_a_valid_body_since_the_sandbox_makes_it_inert() {
        assert_eq!(
            check(200, "text/html", b"<script>alert(1)</script>", &[], 0),
            Ok(())
        );
    }
}
