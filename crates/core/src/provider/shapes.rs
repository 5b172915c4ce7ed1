//! Reading a JSON body's members for the detection rules: typed lookups, reportable text,
//! and the event of a batched delivery.

use serde_json::{Map, Value};

use super::clean;

/// At most this many elements of a JSON array body are examined.
const MAX_ARRAY_SCAN: usize = 1024;

pub(super) fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)?.as_str()
}

pub(super) fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    str_of(m, key).and_then(clean)
}

pub(super) fn obj_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    m.get(key)?.as_object()
}

pub(super) fn has_str(m: &Map<String, Value>, key: &str) -> bool {
    str_of(m, key).is_some()
}

pub(super) fn str_starts(m: &Map<String, Value>, key: &str, prefix: &str) -> bool {
    str_of(m, key).is_some_and(|v| v.starts_with(prefix))
}

/// For batched deliveries (SendGrid Event Webhook, Mandrill): the event type when every
/// element agrees, and the element's id when the batch holds exactly one event.
pub(super) fn batch_event(events: &[Value], id_key: &str) -> (Option<String>, Option<String>) {
    let mut kinds = events
        .iter()
        .take(MAX_ARRAY_SCAN)
        .map(|e| e.get("event").and_then(Value::as_str));
    let first = kinds.next().flatten();
    let event_type = first
        .filter(|f| events.len() <= MAX_ARRAY_SCAN && kinds.all(|k| k == Some(*f)))
        .and_then(clean);
    let event_id = match events {
        [only] => only.get(id_key).and_then(Value::as_str).and_then(clean),
        _ => None,
    };
    (event_type, event_id)
}
