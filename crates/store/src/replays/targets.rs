//! Saved replay targets.

use super::*;

/// Saves a target for one of the user's endpoints; false when the endpoint is not theirs.
/// `secret_sealed` must be sealed with `target.id` as associated data.
pub async fn insert_replay_target(
    ex: impl PgExecutor<'_>,
    target: &ReplayTarget,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "INSERT INTO replay_targets (id, user_id, endpoint_id, name, url, scheme, secret_sealed,
                max_attempts)
         SELECT $1, $2, e.id, $4, $5, $6, $7, $8 FROM endpoints e
         WHERE e.id = $3 AND e.user_id = $2",
        target.id as _,
        target.user_id as _,
        target.endpoint_id as _,
        target.name,
        target.url,
        target.scheme as _,
        target.secret_sealed,
        target.max_attempts
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The saved targets of one of the user's endpoints, newest first.
pub async fn list_replay_targets(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<Vec<ReplayTarget>, StoreError> {
    Ok(sqlx::query_as!(
        ReplayTarget,
        r#"SELECT id, user_id, endpoint_id, name, url, scheme AS "scheme: _", secret_sealed, max_attempts,
                created_at
         FROM replay_targets WHERE endpoint_id = $1 AND user_id = $2
         ORDER BY created_at DESC, id DESC"#,
        endpoint_id as _,
        user_id as _
    )
    .fetch_all(ex)
    .await?)
}

/// One of the user's saved targets.
pub async fn find_replay_target(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: TargetId,
) -> Result<Option<ReplayTarget>, StoreError> {
    Ok(sqlx::query_as!(
        ReplayTarget,
        r#"SELECT id, user_id, endpoint_id, name, url, scheme AS "scheme: _", secret_sealed, max_attempts,
                created_at
         FROM replay_targets WHERE id = $1 AND user_id = $2"#,
        id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// Deletes one of the user's saved targets (replays made with it keep their copy); false when
/// not found.
pub async fn delete_replay_target(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: TargetId,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "DELETE FROM replay_targets WHERE id = $1 AND user_id = $2",
        id as _,
        user_id as _
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The last target a replay was sent to from the dashboard for one endpoint: a saved target
/// (with its current name and URL) or a URL with its scheme and sealed secret.
pub struct LastTarget {
    pub target_id: Option<TargetId>,
    pub target_name: Option<String>,
    /// The URL typed, or the saved target's URL.
    pub url: String,
    /// The URL's scheme, or the saved target's.
    pub scheme: Scheme,
    /// Sealed with the endpoint's id as associated data (only for a typed URL).
    pub secret_sealed: Option<Vec<u8>>,
}

/// Remembers the last target of one of the user's endpoints (replacing the previous one):
/// either `target_id` (a saved target of that endpoint) or `target_url` with `secret_sealed`
/// sealed with the endpoint's id and its `scheme` (`None` for a saved target, whose own scheme
/// is used). False when the endpoint (or the saved target) is not theirs.
pub async fn remember_last_target(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    target_id: Option<TargetId>,
    target_url: Option<&str>,
    scheme: Option<Scheme>,
    secret_sealed: Option<&[u8]>,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "INSERT INTO endpoint_last_targets (endpoint_id, user_id, target_id, target_url, scheme,
                secret_sealed)
         SELECT e.id, e.user_id, $3, $4, $5, $6 FROM endpoints e
         WHERE e.id = $1 AND e.user_id = $2
           AND ($3::uuid IS NULL OR EXISTS (
               SELECT 1 FROM replay_targets t
               WHERE t.id = $3 AND t.endpoint_id = e.id AND t.user_id = $2))
         ON CONFLICT (endpoint_id) DO UPDATE SET target_id = EXCLUDED.target_id,
                target_url = EXCLUDED.target_url, scheme = EXCLUDED.scheme,
                secret_sealed = EXCLUDED.secret_sealed, updated_at = now()",
        endpoint_id as _,
        user_id as _,
        target_id as _,
        target_url,
        scheme as _,
        secret_sealed
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The last target of one of the user's endpoints, if one is remembered.
pub async fn find_last_target(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<Option<LastTarget>, StoreError> {
    Ok(sqlx::query_as!(
        LastTarget,
        r#"SELECT l.target_id AS "target_id: _", t.name AS "target_name?",
                  COALESCE(t.url, l.target_url) AS "url!",
                  COALESCE(t.scheme, l.scheme) AS "scheme!: Scheme", l.secret_sealed
           FROM endpoint_last_targets l
           LEFT JOIN replay_targets t ON t.id = l.target_id
           WHERE l.endpoint_id = $1 AND l.user_id = $2"#,
        endpoint_id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}
