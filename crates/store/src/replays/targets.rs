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
