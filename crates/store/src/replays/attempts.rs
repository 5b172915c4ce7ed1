//! Attempt records: the one statement that writes them ([`record_attempts`]), used by the
//! workers' recorder, the recovery sweep, and the results (or expiry) of replays handed to
//! `hookvault listen`.

use sqlx::PgConnection;

use super::*;

impl ReplayAttempt {
    /// An attempt that got no answer, only the reason why (interrupted, expired, the CLI gone).
    pub fn error_only(started_at: OffsetDateTime, error: &str) -> Self {
        ReplayAttempt {
            started_at,
            duration_ms: None,
            status_code: None,
            response_headers: Vec::new(),
            response_body: Vec::new(),
            response_truncated: false,
            error: Some(error.to_string()),
        }
    }
}

/// Records attempts of replays, in one statement. Callers that also move the replays do both
/// in one transaction.
pub async fn record_attempts(
    conn: &mut PgConnection,
    attempts: &[(ReplayId, &ReplayAttempt)],
) -> Result<(), StoreError> {
    if attempts.is_empty() {
        return Ok(());
    }
    let n = attempts.len();
    let mut ids = Vec::with_capacity(n);
    let mut started = Vec::with_capacity(n);
    let mut durations = Vec::with_capacity(n);
    let mut codes = Vec::with_capacity(n);
    let mut headers = Vec::with_capacity(n);
    let mut bodies = Vec::with_capacity(n);
    let mut truncated = Vec::with_capacity(n);
    let mut errors = Vec::with_capacity(n);
    for (id, a) in attempts {
        ids.push(*id);
        started.push(a.started_at);
        durations.push(a.duration_ms);
        codes.push(a.status_code);
        headers.push(Json(&a.response_headers));
        bodies.push(a.response_body.as_slice());
        truncated.push(a.response_truncated);
        errors.push(a.error.as_deref());
    }
    sqlx::query!(
        r#"INSERT INTO replay_attempts (replay_id, started_at, duration_ms, status_code,
                  response_headers, response_body, response_truncated, error)
           SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::int4[], $4::int4[],
                  $5::jsonb[], $6::bytea[], $7::bool[], $8::text[])"#,
        &ids as _,
        &started,
        &durations as &[Option<i32>],
        &codes as &[Option<i32>],
        &headers as &[Json<&Vec<(String, String)>>],
        &bodies as &[&[u8]],
        &truncated,
        &errors as &[Option<&str>],
    )
    .execute(conn)
    .await?;
    Ok(())
}
