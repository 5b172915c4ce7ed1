//! `hookvault admin billing-events`: the billing webhook's inbox and jobs, for operators.

use hookvault_core::stored::BillingEventStatus;
use hookvault_store::PgPool;

/// One block per event, newest first: id, type, status, attempts, next attempt (when
/// pending), the last error and what was done.
pub async fn admin_billing_events(
    pool: &PgPool,
    unfinished: bool,
    limit: i64,
) -> anyhow::Result<String> {
    use std::fmt::Write;
    let events =
        hookvault_store::billing::list_events(pool, unfinished, limit.clamp(1, 10_000)).await?;
    if events.is_empty() {
        return Ok(if unfinished {
            "no billing events pending or failed".into()
        } else {
            "no billing events yet".into()
        });
    }
    let mut out = format!(
        "{:<24} {:<32} {:<8} {:>8}  {:<24} {}\n",
        "RECEIVED", "TYPE", "STATUS", "ATTEMPTS", "EVENT", "DETAIL"
    );
    for e in events {
        let detail = match e.status {
            BillingEventStatus::Pending if e.attempts > 0 => format!(
                "retry at {}; last error: {}",
                rfc3339(e.next_attempt_at),
                e.last_error.as_deref().unwrap_or("-")
            ),
            BillingEventStatus::Pending => "queued".to_string(),
            BillingEventStatus::Failed => format!(
                "gave up; last error: {}",
                e.last_error.as_deref().unwrap_or("-")
            ),
            BillingEventStatus::Done | BillingEventStatus::Ignored => e.outcome.unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "{:<24} {:<32} {:<8} {:>8}  {:<24} {}",
            rfc3339(e.received_at),
            printable(&e.kind),
            e.status,
            e.attempts,
            printable(&e.event_id),
            printable(&detail)
        );
    }
    Ok(out)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Text from events, safe for a terminal: control characters become spaces.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `hookvault admin billing-retry EVENT_ID`: queues a failed billing event again.
pub async fn admin_billing_retry(pool: &PgPool, event_id: &str) -> anyhow::Result<String> {
    if hookvault_store::billing::retry_failed_event(pool, event_id).await? {
        Ok(format!(
            "billing event {event_id} queued again; a running server's billing worker applies it within seconds"
        ))
    } else {
        anyhow::bail!(
            "no failed billing event {event_id} (hookvault admin billing-events --unfinished lists them)"
        )
    }
}
