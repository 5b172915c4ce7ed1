//! Handler audits started from the dashboard or the API: one row per audit, its report stored
//! whole as JSON when it finishes. A user has at most one audit running at a time (a unique
//! partial index), so audits cannot be used to flood a host; an audit left `running` by a
//! server that stopped is closed as interrupted before the user's next one starts.

use hookvault_core::ids::{AuditId, EndpointId, RequestId, UserId};
use hookvault_core::signing::Scheme;
use hookvault_core::stored::AuditStatus;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::StoreError;

/// Recorded on an audit whose server stopped while it ran.
pub const INTERRUPTED_ERROR: &str = "interrupted: the server stopped while the audit ran";

/// An audit still `running` after this long belongs to a server that stopped (nine probes take
/// at most nine send timeouts plus the pauses).
pub const STALE_AFTER_SECS: f64 = 600.0;

/// An audit to start.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub id: AuditId,
    pub user_id: UserId,
    pub request_id: RequestId,
    pub target_url: String,
    pub scheme: Scheme,
}

/// An audit as stored.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: AuditId,
    pub endpoint_id: EndpointId,
    pub request_id: RequestId,
    pub target_url: String,
    pub scheme: Scheme,
    pub status: AuditStatus,
    /// The report (`hookvault_core::audit::Report` as JSON) once finished.
    pub report: Option<Value>,
    pub error: Option<String>,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// Closes the user's audits left `running` by a server that stopped.
pub async fn close_stale_audits(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<u64, StoreError> {
    let r = sqlx::query!(
        "UPDATE audits SET status = 'error', error = $2, finished_at = now()
         WHERE user_id = $1 AND status = 'running'
           AND created_at < now() - make_interval(secs => $3)",
        user_id as _,
        INTERRUPTED_ERROR,
        STALE_AFTER_SECS
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected())
}

/// Starts an audit of one of the user's captures. Returns false, storing nothing, when the
/// user already has an audit running or the capture is not theirs.
pub async fn insert_audit(ex: impl PgExecutor<'_>, audit: &NewAudit) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "INSERT INTO audits (id, user_id, endpoint_id, request_id, target_url, scheme)
         SELECT $1, e.user_id, r.endpoint_id, r.id, $4, $5
         FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
         WHERE r.id = $3 AND e.user_id = $2
         ON CONFLICT (user_id) WHERE status = 'running' DO NOTHING",
        audit.id as _,
        audit.user_id as _,
        audit.request_id as _,
        audit.target_url,
        audit.scheme as _
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records how a running audit ended.
pub async fn finish_audit(
    ex: impl PgExecutor<'_>,
    id: AuditId,
    status: AuditStatus,
    report: Option<&Value>,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "UPDATE audits SET status = $2, report = $3, error = $4, finished_at = now()
         WHERE id = $1 AND status = 'running'",
        id as _,
        status as _,
        report.map(Json) as Option<Json<&Value>>,
        error
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// One of the user's audits.
pub async fn find_audit(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: AuditId,
) -> Result<Option<AuditRow>, StoreError> {
    Ok(sqlx::query_as!(
        AuditRow,
        r#"SELECT id, endpoint_id, request_id, target_url, scheme AS "scheme: _", status AS "status: _",
                  report AS "report: Value", error, created_at, finished_at
           FROM audits WHERE id = $1 AND user_id = $2"#,
        id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// The audits of one of the user's captures, newest first.
pub async fn list_request_audits(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    request_id: RequestId,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    Ok(sqlx::query_as!(
        AuditRow,
        r#"SELECT id, endpoint_id, request_id, target_url, scheme AS "scheme: _", status AS "status: _",
                  report AS "report: Value", error, created_at, finished_at
           FROM audits WHERE request_id = $1 AND user_id = $2
           ORDER BY created_at DESC, id DESC LIMIT $3"#,
        request_id as _,
        user_id as _,
        limit
    )
    .fetch_all(ex)
    .await?)
}
