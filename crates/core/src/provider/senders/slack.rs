//! Slack: its signature headers or a `Slackbot` user agent; Events API and interactivity
//! bodies, and slash-command form posts. Reads the event type (`event_callback.<inner>` for
//! Events API callbacks, `slash_command`, `ssl_check`) and the `event_id`.

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::form::Fields;
use crate::provider::shapes::{has_str, str_of, text};
use crate::provider::{clean, Detected};

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has("x-slack-signature") || h.has("x-slack-request-timestamp") || h.ua_starts("Slackbot")
}

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    match str_of(m, "type") {
        Some("url_verification") => has_str(m, "challenge"),
        Some("event_callback") => {
            m.get("event").is_some_and(Value::is_object)
                && (has_str(m, "team_id") || has_str(m, "api_app_id"))
        }
        Some("app_rate_limited") => has_str(m, "api_app_id"),
        // Interactivity payloads (block_actions, view_submission, shortcut, …).
        Some(_) => {
            has_str(m, "api_app_id")
                || (has_str(m, "token")
                    && m.get("team").is_some_and(Value::is_object)
                    && m.get("user").is_some_and(Value::is_object))
        }
        None => false,
    }
}

/// A slash command's form post.
pub(super) fn by_fields(f: &Fields) -> bool {
    f.get("command").is_some_and(|c| c.starts_with('/'))
        && f.has("team_id")
        && (f.has("response_url") || f.has("trigger_id"))
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    if let Some(m) = d.object() {
        out.event_type = match str_of(m, "type") {
            Some("event_callback") => match m.get("event").and_then(|e| e.get("type")?.as_str()) {
                Some(inner) => clean(&format!("event_callback.{inner}")),
                None => Some("event_callback".to_owned()),
            },
            Some(t) => clean(t),
            None => None,
        };
        out.event_id = text(m, "event_id");
    } else if let Some(f) = d.parsed.fields.as_ref() {
        if f.has("command") {
            out.event_type = Some("slash_command".to_owned());
        } else if f.has("ssl_check") {
            out.event_type = Some("ssl_check".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn slack_events_api_interactivity_and_slash_commands() {
        let ev = br#"{"token":"t","team_id":"T1","api_app_id":"A1","type":"event_callback",
        "event":{"type":"app_mention","text":"hi"},"event_id":"Ev1"}"#;
        check(
            &detect(&[], ev, None),
            Some(Provider::Slack),
            Some("event_callback.app_mention"),
            Some("Ev1"),
        );
        let challenge = br#"{"token":"t","challenge":"c","type":"url_verification"}"#;
        check(
            &detect(&[], challenge, None),
            Some(Provider::Slack),
            Some("url_verification"),
            None,
        );
        let interactive =
            b"payload=%7B%22type%22%3A%22block_actions%22%2C%22api_app_id%22%3A%22A1%22%7D";
        check(
            &detect(&[], interactive, None),
            Some(Provider::Slack),
            Some("block_actions"),
            None,
        );
        let slash = b"token=t&team_id=T1&command=%2Fhello&text=hi&response_url=https%3A%2F%2Fhooks.slack.com%2Fx";
        check(
            &detect(&[], slash, None),
            Some(Provider::Slack),
            Some("slash_command"),
            None,
        );
        let h = hs(&[
            ("X-Slack-Signature", "v0=ab"),
            ("X-Slack-Request-Timestamp", "1"),
        ]);
        check(
            &detect(&h, b"ssl_check=1&token=t", None),
            Some(Provider::Slack),
            Some("ssl_check"),
            None,
        );
    }
}
