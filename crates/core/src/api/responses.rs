//! The rest of the JSON API's answers (replays, targets, audits, the account, capture lists and
//! the CLI's reports), with the field names and values README's "API reference" documents. The
//! server serialises these; a client reads them back with the same types.

use serde::{Deserialize, Serialize};

use super::RequestJson;
use crate::ids::{AuditId, BatchId, EndpointId, ReplayId, RequestId, TargetId, UserId};
use crate::signing::{Scheme, SignatureStatus};
use crate::stored::{AuditStatus, ReplayStatus};

/// A replay and where it stands (`POST /api/v1/requests/{id}/replays` → `queued`;
/// `POST /api/v1/replays/{id}/result` → `succeeded` or `failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayStateJson {
    pub id: ReplayId,
    pub status: ReplayStatus,
}

/// A bulk replay (`POST /api/v1/endpoints/{id}/replays`): its replays in sending order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchJson {
    pub batch_id: BatchId,
    pub replays: Vec<BatchItemJson>,
}

/// One replay of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchItemJson {
    pub id: ReplayId,
    pub request_id: RequestId,
}

/// One replay with every attempt, oldest first (`GET /api/v1/replays/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayJson {
    pub id: ReplayId,
    pub request_id: RequestId,
    pub endpoint_id: EndpointId,
    pub target_id: Option<TargetId>,
    pub target_url: String,
    pub scheme: Scheme,
    pub status: ReplayStatus,
    pub attempts_made: i32,
    pub max_attempts: i32,
    /// When the next attempt is due; only while `queued`.
    pub next_attempt_at: Option<String>,
    pub batch_id: Option<BatchId>,
    pub position: i32,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub attempts: Vec<AttemptJson>,
}

/// One attempt of a replay.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptJson {
    pub started_at: String,
    pub duration_ms: Option<i32>,
    pub status_code: Option<i32>,
    pub response_headers: Vec<(String, String)>,
    /// The answer's body as text (invalid UTF-8 replaced).
    pub response_body: String,
    pub response_truncated: bool,
    pub error: Option<String>,
}

/// A page of replays, newest first; `next` is the cursor for the following page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayListJson {
    pub replays: Vec<ReplaySummaryJson>,
    pub next: Option<ReplayId>,
}

/// A replay in a list, with the outcome of its latest attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplaySummaryJson {
    pub id: ReplayId,
    pub request_id: RequestId,
    pub endpoint_id: EndpointId,
    pub target_id: Option<TargetId>,
    pub target_url: String,
    pub scheme: Scheme,
    pub status: ReplayStatus,
    pub attempts_made: i32,
    pub max_attempts: i32,
    pub batch_id: Option<BatchId>,
    pub position: i32,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i32>,
    /// The first 300 bytes of the latest answer, as text.
    pub last_response_excerpt: Option<String>,
    pub to_cli: bool,
}

/// A saved replay target; the secret is never returned, only a masked hint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetJson {
    pub id: TargetId,
    pub endpoint_id: EndpointId,
    pub name: String,
    pub url: String,
    pub scheme: Scheme,
    pub secret_hint: Option<String>,
    pub max_attempts: i32,
    pub created_at: String,
}

/// `GET /api/v1/endpoints/{id}/targets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetListJson {
    pub targets: Vec<TargetJson>,
}

/// A handler audit (`GET /api/v1/audits/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditJson {
    pub id: AuditId,
    pub request_id: RequestId,
    pub endpoint_id: EndpointId,
    pub target_url: String,
    pub scheme: Scheme,
    pub status: AuditStatus,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// The report (`audit::Report`) once finished, as stored.
    pub report: Option<serde_json::Value>,
}

/// `GET /api/v1/requests/{id}/audits`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditListJson {
    pub audits: Vec<AuditJson>,
}

/// A started audit (`POST /api/v1/requests/{id}/audits` → `running`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditStateJson {
    pub id: AuditId,
    pub status: AuditStatus,
}

/// The account, its plan's limits and its usage (`GET /api/v1/account`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountJson {
    pub id: UserId,
    pub email: String,
    /// The plan's name.
    pub plan: String,
    pub limits: LimitsJson,
    pub usage: UsageJson,
}

/// A plan's limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitsJson {
    pub endpoints: i32,
    pub captures_per_month: i64,
    pub retention_days: i32,
    pub max_body_bytes: i32,
    pub replays_per_day: i32,
    pub listen_streams: i32,
}

/// What the account has used.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageJson {
    pub captures_this_period: i64,
    pub period_resets_at: String,
    pub endpoints: i64,
    pub replays_today: i64,
    pub storage_bytes: i64,
}

/// `GET /api/v1/endpoints/{id}/requests`: a page of captures, newest first; `next` is the
/// cursor (a `seq`) for the following page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestListJson {
    pub requests: Vec<RequestSummaryJson>,
    pub next: Option<String>,
}

/// A capture in a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestSummaryJson {
    pub id: RequestId,
    pub seq: i64,
    pub method: String,
    /// `/` when the capture had no path after its token.
    pub path: String,
    pub query: Option<String>,
    pub body_size: i32,
    /// The body size for people (`1.2 KB`).
    pub size: String,
    pub content_type: Option<String>,
    pub received_at: String,
    pub provider: Option<String>,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub signature_status: Option<SignatureStatus>,
    pub signature_reason: Option<String>,
    /// The capture this one is an edited copy of; `null` for a capture that arrived over HTTP.
    #[serde(default)]
    pub edited_from: Option<RequestId>,
}

/// A capture in full with the first delivery of the same event (`GET /api/v1/requests/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestDetailJson {
    #[serde(flatten)]
    pub request: RequestJson,
    /// The first delivery of the same event id at this endpoint, when this one came later.
    pub duplicate_of: Option<RequestId>,
}

/// What `hookvault listen` reports after delivering a capture or a replay to the local server
/// (`POST /api/v1/requests/{id}/deliveries`, `POST /api/v1/replays/{id}/result`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryJson {
    #[serde(default)]
    pub forward_to: String,
    pub status_code: Option<u16>,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default)]
    pub response_headers: Vec<(String, String)>,
    #[serde(default)]
    pub response_body: String,
    pub error: Option<String>,
}

/// A recorded CLI delivery (`POST /api/v1/requests/{id}/deliveries` → 201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryRecordedJson {
    pub id: ReplayId,
}

/// An endpoint's line in the account's NDJSON export (`{"type":"endpoint",…}`); its captures
/// follow it as [`RequestJson`] lines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportEndpointJson {
    /// Always `endpoint`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: EndpointId,
    pub name: String,
    pub url: String,
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_state_is_written_with_its_documented_names() {
        let id = ReplayId::from(uuid::Uuid::nil());
        let json = serde_json::to_string(&ReplayStateJson {
            id,
            status: ReplayStatus::Queued,
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"id":"00000000-0000-0000-0000-000000000000","status":"queued"}"#
        );
        let back: ReplayStateJson = serde_json::from_str(&json).unwrap();
        assert_eq!(back.status, ReplayStatus::Queued);
    }

    #[test]
    fn a_summarys_signature_status_is_written_as_its_documented_name() {
        let summary = RequestSummaryJson {
            id: RequestId::from(uuid::Uuid::nil()),
            seq: 1,
            method: "POST".into(),
            path: "/".into(),
            query: None,
            body_size: 0,
            size: "0 B".into(),
            content_type: None,
            received_at: "2026-11-30T00:00:00.000Z".into(),
            provider: None,
            event_type: None,
            event_id: None,
            signature_status: Some(SignatureStatus::ValidButStale),
            signature_reason: None,
            edited_from: None,
        };
        let v = serde_json::to_value(&summary).unwrap();
        assert_eq!(v["signature_status"], "valid_but_stale");
        let none = RequestSummaryJson {
            signature_status: None,
            ..summary
        };
        assert!(serde_json::to_value(&none).unwrap()["signature_status"].is_null());
    }

    #[test]
    fn a_cli_delivery_report_may_leave_out_what_it_did_not_get() {
        let d: DeliveryJson = serde_json::from_str(r#"{"error":"connection refused"}"#).unwrap();
        assert_eq!(d.error.as_deref(), Some("connection refused"));
        assert_eq!((d.status_code, d.duration_ms), (None, 0));
    }
}
