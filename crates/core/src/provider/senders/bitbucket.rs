//! Bitbucket Cloud: the `Bitbucket-Webhooks/` user agent, or `X-Event-Key` with a hook UUID
//! or a Bitbucket user agent (the key alone is not enough); a body with a Bitbucket
//! repository (`{uuid}`) and actor. Reads the event key (`repo:push` for a push body) and the
//! request UUID.

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::shapes::{has_str, obj_of, str_of, str_starts};
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.ua_starts("Bitbucket-Webhooks/")
        || (h.has("x-event-key")
            && (h.has("x-hook-uuid") || h.ua().to_ascii_lowercase().contains("bitbucket")))
}

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    obj_of(m, "repository")
        .is_some_and(|r| str_of(r, "type") == Some("repository") && str_starts(r, "uuid", "{"))
        && obj_of(m, "actor").is_some_and(|a| has_str(a, "type"))
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    out.event_type = d.header_text("x-event-key").or_else(|| {
        d.object()
            .filter(|m| m.get("push").is_some_and(Value::is_object))
            .map(|_| "repo:push".to_owned())
    });
    out.event_id = d.header_text("x-request-uuid");
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn bitbucket_by_user_agent_and_event_key_not_by_the_key_alone() {
        let h = hs(&[
            ("User-Agent", "Bitbucket-Webhooks/2.0"),
            ("X-Event-Key", "pullrequest:created"),
            ("X-Request-UUID", "r1"),
        ]);
        check(
            &detect(&h, b"{}", None),
            Some(Provider::Bitbucket),
            Some("pullrequest:created"),
            Some("r1"),
        );
        // X-Event-Key alone is not enough.
        check(
            &detect(&hs(&[("X-Event-Key", "a")]), b"", None),
            None,
            None,
            None,
        );
    }
}
