//! "Edit and replay" (issue 17): a capture's body and headers edited in the dashboard are
//! checked and stored as an edited copy beside the original (a new capture of the same
//! endpoint, marked with `edited_from`); the original is never changed. The copy is then
//! replayed like any capture, so its signature headers are computed fresh for the edited bytes.

use hookvault_core::headers::{self, RawHeader};
use hookvault_core::ids::RequestId;
use hookvault_core::provider;
use hookvault_store::requests::{NewCapture, StoredRequest, StripeFacts};
use time::OffsetDateTime;

use crate::error::AppError;
use crate::state::AppState;

/// Largest body an edit may have (the page edits text in a textarea).
pub(crate) const MAX_EDIT_BYTES: usize = 1024 * 1024;
/// Most header lines an edit may have.
pub(crate) const MAX_EDIT_HEADERS: usize = 200;

/// Why an edit was refused, with the field it is about (the page shows it next to that field).
pub(crate) enum EditError {
    Body(String),
    Headers(String),
}

/// Whether a content type is JSON (`application/json`, `application/*+json`).
pub(crate) fn is_json_content_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Reads `Name: value` lines (blank lines skipped) into headers, refusing a line without a
/// colon, an empty or invalid name, or a value with a control character.
pub(crate) fn parse_header_lines(text: &str, max: usize) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("Header line \"{line}\" has no colon (write Name: value)."))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(format!("\"{name}\" is not a valid header name."));
        }
        let value = value.trim();
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("The value of {name} has a control character."));
        }
        out.push((name.to_string(), value.to_string()));
        if out.len() > max {
            return Err(format!("At most {max} header lines."));
        }
    }
    Ok(out)
}

/// Checks an edit: headers as `Name: value` lines; a body within [`MAX_EDIT_BYTES`] that,
/// when the headers' content type is JSON, is valid JSON.
pub(crate) fn check_edit(
    body: &str,
    header_lines: &str,
) -> Result<(Vec<RawHeader>, Option<String>), EditError> {
    let pairs = parse_header_lines(header_lines, MAX_EDIT_HEADERS).map_err(EditError::Headers)?;
    let hs: Vec<RawHeader> = pairs
        .iter()
        .map(|(n, v)| RawHeader::new(n, v.as_bytes()))
        .collect();
    if body.len() > MAX_EDIT_BYTES {
        return Err(EditError::Body(format!(
            "The body is {} bytes; an edited body can be at most {MAX_EDIT_BYTES} bytes.",
            body.len()
        )));
    }
    let content_type =
        headers::find(&hs, "content-type").map(|v| String::from_utf8_lossy(v).into_owned());
    if content_type.as_deref().is_some_and(is_json_content_type) {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(body) {
            return Err(EditError::Body(format!(
                "The body is not valid JSON (line {}, column {}): {}. Fix it, or change the Content-Type header.",
                e.line(),
                e.column(),
                json_reason(&e)
            )));
        }
    }
    Ok((hs, content_type))
}

/// serde_json's message without its " at line … column …" suffix (given separately).
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Stores the checked edit of `original` as its edited copy; returns the copy's id.
pub(crate) async fn store_copy(
    state: &AppState,
    original: &StoredRequest,
    hs: &[RawHeader],
    content_type: Option<String>,
    body: Vec<u8>,
) -> Result<RequestId, AppError> {
    let detected = provider::detect(hs, &body, content_type.as_deref());
    let id = RequestId::now_v7();
    let copy = NewCapture {
        id,
        endpoint_id: original.endpoint_id,
        received_at: OffsetDateTime::now_utc(),
        method: original.method.clone(),
        path: original.path.clone(),
        query: original.query.clone(),
        http_version: original.http_version.clone(),
        remote_addr: original.remote_addr.clone(),
        headers: headers::encode(hs),
        content_type,
        body: body.into(),
        provider: detected.provider,
        event_type: detected.event_type,
        event_id: detected.event_id,
        // Never received from a sender: there is no signature to judge.
        signature_scheme: None,
        signature_status: None,
        signature_reason: None,
        stripe: detected.stripe.map(|m| StripeFacts {
            livemode: m.livemode,
            api_version: m.api_version,
            event_created: m.created,
            object_id: m.object_id,
            object_type: m.object_type,
        }),
    };
    if !hookvault_store::requests::insert_edited_copy(&state.pool, &copy, original.id).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(request.id = %id, edited_from = %original.id, "edited copy stored");
    Ok(id)
}
