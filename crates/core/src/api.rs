//! The JSON API's shapes that more than one side reads: the server writes them, the CLI (and
//! any client) reads them back with the same types, so neither builds nor picks JSON by hand.
//!
//! A captured header is `[name, value]`; when the value is not UTF-8 a third element carries
//! its exact bytes in base64 (`[name, value with U+FFFD, "base64"]`), so nothing is altered on
//! the way to `hookvault listen`.

use crate::ids::{EndpointId, ReplayId, RequestId, TokenId};
use base64::Engine as _;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::headers::RawHeader;

mod requests;
mod responses;
pub use requests::*;
pub use responses::*;

/// A captured request in full (`GET /api/v1/requests/{id}`, the CLI stream's `request` events,
/// NDJSON export lines).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestJson {
    pub id: RequestId,
    pub endpoint_id: EndpointId,
    /// The capture's number in the database (newest-first page cursors use it).
    pub seq: i64,
    /// RFC 3339, UTC, milliseconds.
    pub received_at: String,
    pub method: String,
    /// The raw path after `/in/{token}`.
    pub path: String,
    pub query: Option<String>,
    pub http_version: String,
    pub remote_addr: String,
    /// In arrival order, with their original case and bytes: `[name, value]`, or
    /// `[name, value with U+FFFD, base64 of the exact bytes]` when the value is not UTF-8.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<String>>))]
    pub headers: Vec<HeaderJson>,
    /// The body; `null` when it is sent by reference (`body_url`).
    pub body_base64: Option<String>,
    /// Where to fetch a large body from (the CLI stream sends bodies over 256 KiB this way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_url: Option<String>,
    pub body_size: i32,
    pub content_type: Option<String>,
    pub provider: Option<String>,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub signature: SignatureJson,
    /// Stripe envelope facts stored at capture time; `null` for other senders.
    pub stripe: Option<StripeJson>,
    /// The capture this one is an edited copy of (made with "Edit and replay"); `null` for a
    /// capture that arrived over HTTP.
    #[serde(default)]
    pub edited_from: Option<RequestId>,
    /// On the CLI stream only: the capture was received before the stream opened (it is
    /// delivered now because the listener was offline). Absent elsewhere.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub catch_up: bool,
}

impl std::fmt::Debug for RequestJson {
    /// Names only: captured headers and bodies may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestJson")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("headers", &self.headers.len())
            .field("body_size", &self.body_size)
            .finish_non_exhaustive()
    }
}

impl RequestJson {
    /// The headers as captured.
    pub fn raw_headers(&self) -> Vec<RawHeader> {
        self.headers
            .iter()
            .map(|h| RawHeader::new(&h.name, h.value.clone()))
            .collect()
    }

    /// The inline body (`None` when it is sent by reference).
    pub fn inline_body(&self) -> Option<Result<Vec<u8>, base64::DecodeError>> {
        self.body_base64
            .as_deref()
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
    }
}

/// The signature check made at capture time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignatureJson {
    pub scheme: Option<crate::signing::Scheme>,
    /// `valid`, `valid_but_stale`, `invalid`, `malformed` or `unchecked`.
    pub status: crate::signing::SignatureStatus,
    pub reason: String,
}

/// Facts of a Stripe event envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StripeJson {
    pub livemode: Option<bool>,
    pub api_version: Option<String>,
    pub created: Option<i64>,
    pub object_id: Option<String>,
    pub object_type: Option<String>,
}

/// A replay handed to the CLI (the stream's `replay` event).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CliReplayJson {
    pub replay_id: ReplayId,
    pub request: RequestJson,
}

/// The stream's opening event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HelloJson {
    pub endpoint_id: EndpointId,
    /// Where the stream starts (also the event's id).
    pub position: String,
}

/// A body that only names something: `POST /api/v1/endpoints`, `POST /api/v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NameJson {
    pub name: String,
}

/// `POST /api/v1/requests/{id}/replays` to the endpoint's `hookvault listen`:
/// `{"to_cli":true}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayToCliJson {
    pub to_cli: bool,
}

/// A new API token (`POST /api/v1/tokens`): the token is shown here only.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTokenJson {
    pub id: TokenId,
    pub name: String,
    pub token: String,
}

impl std::fmt::Debug for NewTokenJson {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTokenJson")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An error answer: `{"error":{"code","message"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorJson {
    pub error: ErrorBody,
}

/// The code and the one-line reason of an error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// An endpoint (`GET`/`POST`/`PATCH /api/v1/endpoints…`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointJson {
    pub id: EndpointId,
    pub name: String,
    /// Its capture URL.
    pub url: String,
    pub created_at: String,
    pub response: EndpointResponseJson,
    /// The signature check at capture; `null` when none is set. The secret is never returned.
    pub signing: Option<SigningJson>,
    /// Only in the answer to its creation (`0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_count: Option<i64>,
}

/// What the endpoint answers senders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointResponseJson {
    pub status: i32,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay_ms: i32,
}

/// An endpoint's signature check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigningJson {
    pub scheme: crate::signing::Scheme,
    pub secret_set: bool,
}

/// `GET /api/v1/endpoints`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointListJson {
    pub endpoints: Vec<EndpointSummaryJson>,
}

/// An endpoint in the list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointSummaryJson {
    pub id: EndpointId,
    pub name: String,
    pub url: String,
    pub created_at: String,
    pub request_count: i64,
}

/// One captured header, value bytes exact.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderJson {
    pub name: String,
    pub value: Vec<u8>,
}

impl std::fmt::Debug for HeaderJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: <{} bytes>", self.name, self.value.len())
    }
}

impl From<&RawHeader> for HeaderJson {
    fn from(h: &RawHeader) -> Self {
        HeaderJson {
            name: h.name.clone(),
            value: h.value.clone(),
        }
    }
}

impl Serialize for HeaderJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (text, bytes) = crate::headers::value_text_and_base64(&self.value);
        let mut seq = s.serialize_seq(Some(if bytes.is_some() { 3 } else { 2 }))?;
        seq.serialize_element(&self.name)?;
        seq.serialize_element(&text)?;
        if let Some(bytes) = bytes {
            seq.serialize_element(&bytes)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for HeaderJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pair;
        impl<'de> Visitor<'de> for Pair {
            type Value = HeaderJson;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("[name, value] or [name, value, base64 bytes]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderJson, A::Error> {
                let name: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let text: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let value = match seq.next_element::<String>()? {
                    Some(b64) => base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(de::Error::custom)?,
                    None => text.into_bytes(),
                };
                Ok(HeaderJson { name, value })
            }
        }
        d.deserialize_seq(Pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_survive_json_whatever_their_bytes() {
        let headers = vec![
            HeaderJson {
                name: "Stripe-Signature".into(),
                value: b"t=1,v1=ab".to_vec(),
            },
            HeaderJson {
                name: "X-Bin".into(),
                value: vec![0xff, 0xfe, b'o', b'k'],
            },
        ];
        let json = serde_json::to_string(&headers).unwrap();
        assert_eq!(
            json,
            r#"[["Stripe-Signature","t=1,v1=ab"],["X-Bin","��ok","//5vaw=="]]"#
        );
        let back: Vec<HeaderJson> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, headers);
    }

    #[test]
    fn a_header_entry_needs_a_name_and_a_value() {
        assert!(serde_json::from_str::<HeaderJson>(r#"["X"]"#).is_err());
        assert!(serde_json::from_str::<HeaderJson>(r#"["X","v","not base64!"]"#).is_err());
    }
}
