//! Headers never forwarded (R10): hop-by-hop, framing, cloud metadata and cloud vendors'.

use super::*;

/// Prefixes of cloud vendors' own request headers (AWS, Google Cloud, Azure, Azure Front Door).
/// They authenticate or steer requests inside a provider's network (`x-amz-security-token`,
/// `x-goog-iam-authority-selector`, `x-ms-*` storage auth, …), so a replay must not carry them
/// to a target that might be such a service (Svix strips the same prefixes).
pub(super) const VENDOR_PREFIXES: &[&str] = &[
    "x-amz-",
    "x-amzn-",
    "x-aws-",
    "x-goog-",
    "x-google-",
    "x-gfe-",
    "x-azure-",
    "x-ms-",
    "x-fd-",
];

/// True for request headers that must never be forwarded: hop-by-hop and framing headers
/// (recomputed by the client), headers that unlock cloud metadata services (`Metadata-Flavor`,
/// `Metadata`, `X-aws-ec2-metadata-token*`, `X-IDENTITY-HEADER`) and cloud vendors' own headers
/// ([`VENDOR_PREFIXES`]).
pub fn is_stripped_header(name: &str) -> bool {
    if hookvault_core::headers::is_hop_by_hop(name) {
        return true;
    }
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "metadata-flavor" | "metadata" | "x-identity-header" | "x-cloud-trace-context"
    ) || VENDOR_PREFIXES.iter().any(|p| name.starts_with(p))
}

pub(super) fn build_headers(headers: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if is_stripped_header(name) {
            continue;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) else {
            tracing::debug!("dropping a request header that is not valid HTTP");
            continue;
        };
        map.append(name, value);
    }
    map
}
