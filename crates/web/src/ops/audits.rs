//! Starting an audit of a handler from a capture (the dashboard and the API share it): the
//! target is checked by the guarded client's rules, the audit runs in the background, and its
//! report is stored.

use crate::error::AppError;
use crate::state::AppState;
use hookvault_core::audit::{
    self, Audit, AuditError, AuditEvent, EventSource, Report, DEFAULT_SPACING,
};
use hookvault_core::ids::{AuditId, RequestId, UserId};
use hookvault_core::stored::AuditStatus;
use hookvault_replay::audit::GuardedTransport;
use hookvault_replay::target;
use hookvault_store::audits::{self as store, AuditRow, NewAudit};
use hookvault_store::PgPool;

/// Answer when the user already has an audit running.
pub(crate) const BUSY: &str = "an audit of yours is already running; wait for it to finish";

/// The stored report of a finished audit, if it reads as one.
pub(crate) fn report_of(r: &AuditRow) -> Option<Report> {
    r.report
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Checks the target and signing, stores a running audit of the user's capture and starts it
/// in the background; returns its id.
pub(crate) async fn start_audit(
    state: &AppState,
    user_id: UserId,
    request_id: RequestId,
    target_url: &str,
    scheme: Option<&str>,
    secret: Option<&str>,
) -> Result<AuditId, AppError> {
    let found = hookvault_store::requests::find_request(&state.pool, user_id, request_id).await?;
    let req = crate::usage::found(state, user_id, request_id, found).await?;
    let checked = target::check_target(
        &state.replay_client,
        target_url.trim(),
        scheme,
        secret,
        None,
    )
    .map_err(|e| AppError::invalid_field(e.field(), e.to_string()))?;
    let event = AuditEvent {
        method: req.method,
        headers: req.headers.into_vec(),
        body: req.body,
    };
    let audit = Audit::new(
        checked.scheme,
        checked.secret.as_deref().unwrap_or(""),
        event,
        EventSource::Capture(request_id.to_string()),
    )
    .map_err(|e| {
        let field = match e {
            AuditError::NotSigning(_) => "scheme",
            AuditError::Secret(_) => "secret",
        };
        AppError::invalid_field(field, e.to_string())
    })?;
    store::close_stale_audits(&state.pool, user_id).await?;
    let id = AuditId::now_v7();
    let inserted = store::insert_audit(
        &state.pool,
        &NewAudit {
            id,
            user_id,
            request_id,
            target_url: checked.url.to_string(),
            scheme: checked.scheme,
        },
    )
    .await?;
    if !inserted {
        return Err(AppError::TooManyRequests(BUSY.into()));
    }
    tracing::info!(audit.id = %id, request.id = %request_id, "audit started");
    let target = checked.url.to_string();
    let transport = GuardedTransport::new(state.replay_client.clone(), checked.url);
    tokio::spawn(run_and_store(
        state.pool.clone(),
        transport,
        target,
        id,
        audit,
    ));
    Ok(id)
}

/// Runs the audit through the guarded client and stores its report.
async fn run_and_store(
    pool: PgPool,
    transport: GuardedTransport,
    target: String,
    id: AuditId,
    audit: Audit,
) {
    let report = audit::run(&audit, &target, &transport, DEFAULT_SPACING, |_| {}).await;
    let status = if report.passed {
        AuditStatus::Passed
    } else {
        AuditStatus::Failed
    };
    let stored = match serde_json::to_value(&report) {
        Ok(v) => store::finish_audit(&pool, id, status, Some(&v), None).await,
        Err(e) => {
            tracing::error!(audit.id = %id, error = %e, "audit report not serialisable");
            store::finish_audit(
                &pool,
                id,
                AuditStatus::Error,
                None,
                Some("the report could not be stored"),
            )
            .await
        }
    };
    match stored {
        Ok(_) => tracing::info!(audit.id = %id, audit.status = status.as_str(), "audit finished"),
        Err(e) => tracing::error!(audit.id = %id, error = %e, "could not store an audit's report"),
    }
}
