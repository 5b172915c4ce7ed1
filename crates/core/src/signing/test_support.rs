//! Helpers for the signing tests: the signature vectors (`tests/data/signature_vectors.json`)
//! and small builders for header lists.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{SignatureStatus, Verification};
use crate::headers::{self, RawHeader};

const VECTORS: &str = include_str!("../../tests/data/signature_vectors.json");

pub(super) fn vector(group: &str, name: &str) -> Value {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    all[group]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("vector {name} not in {group}"))
        .clone()
}

pub(super) fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string"))
}

pub(super) fn ts(v: &Value) -> i64 {
    v["timestamp"].as_i64().unwrap()
}

/// The authoritative body bytes, checked against the vector's length and SHA-256.
pub(super) fn body(v: &Value) -> Vec<u8> {
    let bytes = STANDARD.decode(s(v, "body_base64")).unwrap();
    assert_eq!(bytes.len() as u64, v["body_len"].as_u64().unwrap());
    assert_eq!(hex::encode(Sha256::digest(&bytes)), s(v, "body_sha256_hex"));
    if let Some(text) = v["body_utf8"].as_str() {
        assert_eq!(text.as_bytes(), bytes.as_slice());
    }
    bytes
}

pub(super) fn vector_headers(v: &Value, field: &str) -> Vec<RawHeader> {
    v[field]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, val)| RawHeader::new(k.as_str(), val.as_str().unwrap()))
        .collect()
}

pub(super) fn hs(pairs: &[(&str, &str)]) -> Vec<RawHeader> {
    pairs.iter().map(|(n, v)| RawHeader::new(*n, *v)).collect()
}

pub(super) fn header<'a>(headers: &'a [RawHeader], name: &str) -> Option<&'a str> {
    headers::find_str(headers, name)
}

pub(super) fn names(headers: &[RawHeader]) -> Vec<&str> {
    headers.iter().map(|h| h.name.as_str()).collect()
}

pub(super) fn assert_status(v: &Verification, status: SignatureStatus) {
    assert_eq!(v.status, status, "reason: {}", v.reason);
}

pub(super) const STRIPE_SECRET: &str = "whsec_plainTestSecretForReplayVectors01";

pub(super) const T: i64 = 1_700_000_000;

pub(super) fn stripe_basic() -> (Vec<RawHeader>, Vec<u8>) {
    let v = vector("stripe", "stripe_basic");
    (vector_headers(&v, "headers"), body(&v))
}
