//! GitLab: `X-Gitlab-Event` or `X-Gitlab-Token`; a body with an `object_kind` and a project,
//! repository or user. Reads the `object_kind` (or `event_name`, or the event header) and
//! the event UUID.

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::shapes::{str_of, text};
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has("x-gitlab-event") || h.has("x-gitlab-token")
}

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    str_of(m, "object_kind").is_some_and(|k| !k.is_empty())
        && [
            "project",
            "project_id",
            "object_attributes",
            "repository",
            "user",
        ]
        .iter()
        .any(|k| m.contains_key(*k))
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    out.event_type = d
        .object()
        .and_then(|m| text(m, "object_kind").or_else(|| text(m, "event_name")))
        .or_else(|| d.header_text("x-gitlab-event"));
    out.event_id = d.header_text("x-gitlab-event-uuid");
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn gitlab_by_event_header_or_object_kind() {
        let h = hs(&[
            ("X-Gitlab-Event", "Merge Request Hook"),
            ("X-Gitlab-Event-UUID", "u1"),
        ]);
        let mr = br#"{"object_kind":"merge_request","project":{},"object_attributes":{}}"#;
        check(
            &detect(&h, mr, None),
            Some(Provider::Gitlab),
            Some("merge_request"),
            Some("u1"),
        );
        check(
            &detect(&[], mr, None),
            Some(Provider::Gitlab),
            Some("merge_request"),
            None,
        );
        check(
            &detect(&h, b"", None),
            Some(Provider::Gitlab),
            Some("Merge Request Hook"),
            Some("u1"),
        );
    }
}
