//! A capture as the JSON API, the CLI stream and exports show it.

use base64::Engine as _;
use hookvault_core::api::{HeaderJson, RequestJson, SignatureJson, StripeJson};
use hookvault_core::signing::SignatureStatus;
use hookvault_store::requests::StoredRequest;

use crate::error::AppError;
use crate::views::rfc3339_ms;

/// The capture in full, its body inline.
pub(crate) fn request_json(r: &StoredRequest) -> Result<RequestJson, AppError> {
    with_body(r, BodyJson::Inline)
}

/// How the body is given: inline (base64), or as a path to fetch it from.
pub(crate) enum BodyJson {
    Inline,
    ByReference,
}

/// The capture in full, with its body inline or by reference (the body is encoded only when
/// it goes inline).
pub(crate) fn with_body(r: &StoredRequest, body: BodyJson) -> Result<RequestJson, AppError> {
    let (body_base64, body_url) = match body {
        BodyJson::Inline => (
            Some(base64::engine::general_purpose::STANDARD.encode(&r.body)),
            None,
        ),
        BodyJson::ByReference => (None, Some(format!("/api/v1/requests/{}/body", r.id))),
    };
    Ok(RequestJson {
        id: r.id,
        endpoint_id: r.endpoint_id,
        seq: r.seq,
        received_at: rfc3339_ms(&r.received_at),
        method: r.method.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        http_version: r.http_version.clone(),
        remote_addr: r.remote_addr.clone(),
        headers: r.headers.iter().map(HeaderJson::from).collect(),
        body_base64,
        body_url,
        body_size: r.body_size,
        content_type: r.content_type.clone(),
        provider: r.provider.map(|p| p.as_str().to_owned()),
        event_type: r.event_type.clone(),
        event_id: r.event_id.clone(),
        signature: SignatureJson {
            scheme: r.signature_scheme,
            status: r.signature_status.unwrap_or(SignatureStatus::Unchecked),
            reason: r.signature_reason.clone().unwrap_or_else(|| {
                if r.signature_scheme.is_none() {
                    "no signature check is configured for this endpoint".into()
                } else {
                    String::new()
                }
            }),
        },
        stripe: r.event_created.is_some().then(|| StripeJson {
            livemode: r.livemode,
            api_version: r.api_version.clone(),
            created: r.event_created,
            object_id: r.object_id.clone(),
            object_type: r.object_type.clone(),
        }),
        edited_from: r.edited_from,
        catch_up: false,
    })
}
