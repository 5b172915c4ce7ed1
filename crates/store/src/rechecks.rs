//! Re-checking the signatures of an endpoint's existing captures after its signature check
//! changed: the run's row (generation, cursor, progress), the pages of captures it reads and
//! the verdicts it writes.

use hookvault_core::headers::Headers;
use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_core::signing::{Scheme, SignatureStatus};
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// A run's state, as the endpoint page shows it.
#[derive(Debug, Clone)]
pub struct Recheck {
    pub endpoint_id: EndpointId,
    pub generation: i64,
    pub after_seq: i64,
    pub total: i64,
    pub done: i64,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// A capture to re-check.
pub struct RecheckSource {
    pub id: RequestId,
    pub seq: i64,
    pub received_at: OffsetDateTime,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A new verdict for one capture (all `None`: no check configured).
pub struct Verdict {
    pub id: RequestId,
    pub scheme: Option<Scheme>,
    pub status: Option<SignatureStatus>,
    pub reason: Option<String>,
}

/// Starts (or restarts, for a newer change) the run of an endpoint; returns its generation.
pub async fn start_recheck(
    ex: impl PgExecutor<'_>,
    endpoint_id: EndpointId,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO signature_rechecks AS s (endpoint_id, total)
           SELECT $1, (SELECT count(*) FROM requests WHERE endpoint_id = $1)
           ON CONFLICT (endpoint_id) DO UPDATE SET
               generation = s.generation + 1, after_seq = 0, done = 0,
               total = excluded.total, started_at = now(), finished_at = NULL
           RETURNING generation"#,
        endpoint_id as _
    )
    .fetch_one(ex)
    .await?)
}

/// The run of an endpoint of the user's, if there ever was one.
pub async fn find_recheck(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<Option<Recheck>, StoreError> {
    Ok(sqlx::query_as!(
        Recheck,
        r#"SELECT s.endpoint_id AS "endpoint_id: EndpointId", s.generation, s.after_seq, s.total, s.done, s.started_at,
                s.finished_at
         FROM signature_rechecks s JOIN endpoints e ON e.id = s.endpoint_id
         WHERE s.endpoint_id = $1 AND e.user_id = $2"#,
        endpoint_id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// Runs a stop interrupted, oldest first.
pub async fn list_unfinished_rechecks(ex: impl PgExecutor<'_>) -> Result<Vec<Recheck>, StoreError> {
    Ok(sqlx::query_as!(
        Recheck,
        r#"SELECT endpoint_id AS "endpoint_id: EndpointId", generation, after_seq, total, done,
                  started_at, finished_at
           FROM signature_rechecks WHERE finished_at IS NULL ORDER BY started_at"#
    )
    .fetch_all(ex)
    .await?)
}

/// The next `limit` captures of the endpoint after `after_seq`, in seq order.
pub async fn list_recheck_sources(
    ex: impl PgExecutor<'_>,
    endpoint_id: EndpointId,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<RecheckSource>, StoreError> {
    Ok(sqlx::query_as!(
        RecheckSource,
        r#"SELECT id AS "id: RequestId", seq, received_at, headers AS "headers: _", body FROM requests
           WHERE endpoint_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"#,
        endpoint_id as _,
        after_seq,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// Writes one page's verdicts and moves the run's cursor to `after_seq`, in one transaction,
/// only while the run is still generation `generation` (a newer change wins). `finished` ends
/// the run. False when a newer change took over (nothing written).
pub async fn save_recheck_page(
    pool: &PgPool,
    endpoint_id: EndpointId,
    generation: i64,
    after_seq: i64,
    verdicts: &[Verdict],
    finished: bool,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let n = i64::try_from(verdicts.len()).unwrap_or(i64::MAX);
    let current = sqlx::query!(
        "UPDATE signature_rechecks SET after_seq = $3, done = LEAST(done + $4, total),
                finished_at = CASE WHEN $5 THEN now() ELSE NULL END
         WHERE endpoint_id = $1 AND generation = $2",
        endpoint_id as _,
        generation,
        after_seq,
        n,
        finished
    )
    .execute(&mut *tx)
    .await?;
    if current.rows_affected() != 1 {
        return Ok(false);
    }
    let ids: Vec<Uuid> = verdicts.iter().map(|v| v.id.into_uuid()).collect();
    let schemes: Vec<Option<Scheme>> = verdicts.iter().map(|v| v.scheme).collect();
    let statuses: Vec<Option<SignatureStatus>> = verdicts.iter().map(|v| v.status).collect();
    let reasons: Vec<Option<String>> = verdicts.iter().map(|v| v.reason.clone()).collect();
    sqlx::query!(
        r#"UPDATE requests r SET signature_scheme = v.scheme, signature_status = v.status,
                  signature_reason = v.reason
           FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[])
                AS v(id, scheme, status, reason)
           WHERE r.id = v.id AND r.endpoint_id = $1"#,
        endpoint_id as _,
        &ids,
        &schemes as _,
        &statuses as _,
        &reasons as &[Option<String>],
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// An endpoint's signature check as configured now: (scheme, sealed secret).
pub async fn find_endpoint_signing(
    ex: impl PgExecutor<'_>,
    endpoint_id: EndpointId,
) -> Result<Option<(Option<Scheme>, Option<Vec<u8>>)>, StoreError> {
    Ok(sqlx::query!(
        r#"SELECT signing_scheme AS "signing_scheme: Scheme", signing_secret_sealed
           FROM endpoints WHERE id = $1"#,
        endpoint_id as _
    )
    .fetch_optional(ex)
    .await?
    .map(|r| (r.signing_scheme, r.signing_secret_sealed)))
}
