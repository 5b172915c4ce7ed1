//! GitHub: `X-GitHub-Event` or the `GitHub-Hookshot/` user agent (not from Gitea, Gogs or
//! Forgejo, which send GitHub-compatible headers too); payloads recognised by shape (GitHub's
//! own user and repository objects), and the event name a payload's top-level keys imply when
//! the `X-GitHub-Event` header is missing. Reads `<event>.<action>` and the delivery id.

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::shapes::{has_str, obj_of, str_of};
use crate::provider::{clean, Detected};

pub(super) fn by_headers(h: &HeaderView) -> bool {
    let clone = h.has_any(&["x-gitea-event", "x-gogs-event", "x-forgejo-event"]);
    !clone && (h.has("x-github-event") || h.ua_starts("GitHub-Hookshot/"))
}

/// A GitHub user/repository object: GitHub ids carry `node_id` (Gitea/Gogs ones do not).
pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    let user = obj_of(m, "sender").is_some_and(|s| has_str(s, "login") && has_str(s, "node_id"));
    let repo =
        obj_of(m, "repository").is_some_and(|r| has_str(r, "full_name") && has_str(r, "node_id"));
    let ping = m.contains_key("zen") && m.contains_key("hook_id");
    user || repo || ping
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    let obj = d.object();
    let event = d
        .header("x-github-event")
        .map(str::to_owned)
        .or_else(|| obj.and_then(github_event).map(str::to_owned));
    let action = obj.and_then(|m| str_of(m, "action"));
    out.event_type = event.and_then(|e| match action {
        Some(a) if !a.trim().is_empty() => clean(&format!("{e}.{}", a.trim())),
        _ => clean(&e),
    });
    out.event_id = d.header_text("x-github-delivery");
}

/// The GitHub event name implied by a payload's top-level keys, when unambiguous.
fn github_event(m: &Map<String, Value>) -> Option<&'static str> {
    if !by_object(m) {
        return None;
    }
    let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
    let key = |k: &str| m.contains_key(k);
    let action = str_of(m, "action").unwrap_or("");
    let event = if key("zen") && key("hook_id") {
        "ping"
    } else if key("hook_id") && key("hook") && action == "deleted" {
        "meta"
    } else if has("ref") && key("before") && key("after") && key("pusher") {
        "push"
    } else if has("ref") && key("ref_type") && key("pusher_type") {
        if key("master_branch") {
            "create"
        } else {
            "delete"
        }
    } else if has("issue") && has("comment") {
        "issue_comment"
    } else if has("pull_request") && has("review") {
        "pull_request_review"
    } else if has("pull_request") && has("comment") {
        "pull_request_review_comment"
    } else if has("pull_request") && has("thread") {
        "pull_request_review_thread"
    } else if has("pull_request") {
        "pull_request"
    } else if has("issue") {
        "issues"
    } else if has("discussion") && has("comment") {
        "discussion_comment"
    } else if has("discussion") {
        "discussion"
    } else if has("check_run") {
        "check_run"
    } else if has("check_suite") {
        "check_suite"
    } else if has("workflow_job") {
        "workflow_job"
    } else if has("workflow_run") {
        "workflow_run"
    } else if has("workflow") && key("inputs") {
        "workflow_dispatch"
    } else if has("release") {
        "release"
    } else if has("deployment_status") {
        "deployment_status"
    } else if has("deployment") {
        "deployment"
    } else if let Some(alert) = obj_of(m, "alert") {
        if alert.contains_key("dependency") || alert.contains_key("security_advisory") {
            "dependabot_alert"
        } else if alert.contains_key("secret_type") {
            "secret_scanning_alert"
        } else if alert.contains_key("rule") {
            "code_scanning_alert"
        } else {
            return None;
        }
    } else if key("starred_at") {
        "star"
    } else if has("forkee") {
        "fork"
    } else if has("pages") {
        "gollum"
    } else if key("client_payload") {
        "repository_dispatch"
    } else if key("repositories_added") || key("repositories_removed") {
        "installation_repositories"
    } else if obj_of(m, "installation").is_some_and(|i| i.contains_key("app_id"))
        && !key("repository")
    {
        "installation"
    } else if has("marketplace_purchase") {
        "marketplace_purchase"
    } else if has("sponsorship") {
        "sponsorship"
    } else if has("registry_package") {
        "registry_package"
    } else if has("package") {
        "package"
    } else if has("projects_v2_item") {
        "projects_v2_item"
    } else if has("projects_v2") {
        "projects_v2"
    } else if has("project_card") {
        "project_card"
    } else if has("project_column") {
        "project_column"
    } else if has("project") {
        "project"
    } else if has("merge_group") {
        "merge_group"
    } else if has("security_advisory") {
        "security_advisory"
    } else if has("membership") {
        "membership"
    } else if has("member") {
        "member"
    } else if has("milestone") {
        "milestone"
    } else if has("label") {
        "label"
    } else if has("team") {
        if action.is_empty() {
            "team_add"
        } else {
            "team"
        }
    } else if has("key") && !action.is_empty() {
        "deploy_key"
    } else if obj_of(m, "comment").is_some_and(|c| c.contains_key("commit_id")) {
        "commit_comment"
    } else if key("sha") && key("state") && key("context") && key("commit") {
        "status"
    } else if action == "revoked" && !key("repository") && !key("installation") {
        "github_app_authorization"
    } else {
        return None;
    };
    Some(event)
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn github_event_header_plus_action_and_delivery_id() {
        let h = hs(&[
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", "d-1"),
        ]);
        let d = detect(&h, br#"{"action":"opened","number":1}"#, None);
        check(
            &d,
            Some(Provider::Github),
            Some("pull_request.opened"),
            Some("d-1"),
        );
        let d = detect(&hs(&[("x-github-event", "push")]), br#"{"ref":"x"}"#, None);
        check(&d, Some(Provider::Github), Some("push"), None);
    }

    #[test]
    fn github_payload_shapes_without_headers() {
        let sender = r#""sender":{"login":"octocat","node_id":"MDQ6"}"#;
        let repo = r#""repository":{"full_name":"o/r","node_id":"R_1"}"#;
        let cases = [
            (
                format!(r#"{{"zen":"z","hook_id":1,"hook":{{}},{sender}}}"#),
                Some("ping"),
            ),
            (
                format!(
                    r#"{{"ref":"refs/heads/m","before":"0","after":"1","pusher":{{"name":"o"}},{repo},{sender}}}"#
                ),
                Some("push"),
            ),
            (
                format!(r#"{{"action":"opened","issue":{{"id":1}},{repo},{sender}}}"#),
                Some("issues.opened"),
            ),
            (
                format!(r#"{{"action":"created","issue":{{}},"comment":{{}},{repo},{sender}}}"#),
                Some("issue_comment.created"),
            ),
            (
                format!(r#"{{"ref":"t","ref_type":"tag","pusher_type":"user",{repo},{sender}}}"#),
                Some("delete"),
            ),
            (
                format!(r#"{{"action":"weird","unknown_thing":{{}},{repo},{sender}}}"#),
                None,
            ),
        ];
        for (body, ty) in cases {
            let d = detect(&[], body.as_bytes(), None);
            check(&d, Some(Provider::Github), ty, None);
        }
        // Without GitHub's node ids the same shape is not claimed (Gitea/Gogs look alike).
        let gitea = br#"{"ref":"refs/heads/m","before":"0","after":"1","pusher":{"login":"o"},
            "repository":{"full_name":"o/r"},"sender":{"login":"o"}}"#;
        check(&detect(&[], gitea, None), None, None, None);
        let h = hs(&[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push")]);
        check(&detect(&h, gitea, None), None, None, None);
    }

    #[test]
    fn github_form_encoded_payload() {
        let body = b"payload=%7B%22zen%22%3A%22z%22%2C%22hook_id%22%3A7%7D";
        let d = detect(
            &hs(&[("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "x")]),
            body,
            Some("application/x-www-form-urlencoded"),
        );
        check(&d, Some(Provider::Github), Some("ping"), Some("x"));
        check(
            &detect(&[], body, None),
            Some(Provider::Github),
            Some("ping"),
            None,
        );
    }
}
