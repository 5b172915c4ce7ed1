//! Hand-written `Debug` for the store types that carry captured requests: headers, bodies
//! and sealed secrets show only their length, so a stray `{:?}` in a log line or a panic
//! message never prints other people's authorization headers, cookies or payloads.

use std::fmt;

use hookvault_core::headers::Redacted;

use crate::replays::ClaimedReplay;
use crate::requests::{NewCapture, StoredRequest};

impl fmt::Debug for NewCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCapture")
            .field("id", &self.id)
            .field("endpoint_id", &self.endpoint_id)
            .field("method", &self.method)
            .field("headers", &Redacted(self.headers.len()))
            .field("body", &Redacted(self.body.len()))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for StoredRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRequest")
            .field("id", &self.id)
            .field("endpoint_id", &self.endpoint_id)
            .field("method", &self.method)
            .field("headers", &Redacted(self.headers.len()))
            .field("body", &Redacted(self.body.len()))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ClaimedReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedReplay")
            .field("id", &self.id)
            .field("request_id", &self.request_id)
            .field("target_url", &Redacted(self.target_url.len()))
            .field("scheme", &self.scheme)
            .field("attempts_made", &self.attempts_made)
            .field("max_attempts", &self.max_attempts)
            .field("method", &self.method)
            .field("headers", &Redacted(self.headers.len()))
            .field("body", &Redacted(self.body.len()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_captured_request_debugs_without_its_headers_or_body() {
        let headers = hookvault_core::headers::encode(&[hookvault_core::headers::RawHeader::new(
            "Authorization",
            "Bearer sk_live_secret",
        )]);
        let mut capture = crate::testing::capture(
            hookvault_core::ids::EndpointId::nil(),
            b"card=4242424242424242",
        );
        capture.headers = headers;
        let shown = format!("{capture:?}");
        assert!(!shown.contains("sk_live_secret"), "{shown}");
        assert!(!shown.contains("4242"), "{shown}");
        assert!(!shown.contains("66, 101"), "no raw byte lists: {shown}");
        assert!(shown.contains("bytes redacted"), "{shown}");
    }
}
