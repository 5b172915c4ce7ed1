//! What detection reads from a body: the JSON document (or the JSON inside a `payload=` form
//! field) and the form or multipart fields, each parsed with bounded work.

use serde_json::{Map, Value};

use super::form::{
    boundary_param, looks_like_form, mime_essence, parse_form, parse_multipart, sniff_boundary,
    Fields,
};
use super::json::parse_json;
use super::MAX_PARSE_BYTES;

/// The parts of a body that detection looks at.
#[derive(Default)]
pub(super) struct Parsed {
    /// The JSON body, or the JSON inside a form field `payload=` (Slack interactivity,
    /// GitHub form-encoded deliveries).
    pub(super) json: Option<Value>,
    /// Form or multipart fields.
    pub(super) fields: Option<Fields>,
}

impl Parsed {
    pub(super) fn new(body: &[u8], content_type: Option<&str>) -> Parsed {
        let mime = content_type.map(mime_essence).unwrap_or_default();
        let start = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let start = trim_ascii_start(start);
        let truncated = start.len() > MAX_PARSE_BYTES;
        let prefix = start.get(..MAX_PARSE_BYTES).unwrap_or(start);

        if matches!(start.first(), Some(b'{' | b'[')) {
            return Parsed {
                json: if truncated { None } else { parse_json(start) },
                fields: None,
            };
        }
        let boundary = if mime == "multipart/form-data" {
            content_type.and_then(boundary_param)
        } else {
            None
        };
        let fields = if let Some(b) = boundary.or_else(|| sniff_boundary(prefix)) {
            parse_multipart(prefix, b.as_bytes())
        } else if mime == "application/x-www-form-urlencoded" || looks_like_form(prefix) {
            parse_form(prefix, truncated)
        } else {
            return Parsed::default();
        };
        let json = fields
            .get("payload")
            .filter(|p| p.trim_start().starts_with('{'))
            .and_then(|p| parse_json(p.as_bytes()));
        Parsed {
            json,
            fields: Some(fields),
        }
    }

    pub(super) fn object(&self) -> Option<&Map<String, Value>> {
        self.json.as_ref().and_then(Value::as_object)
    }
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    b.get(n..).unwrap_or_default()
}
