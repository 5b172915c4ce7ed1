//! API tokens, stored as SHA-256 hashes.

use hookvault_core::ids::{TokenId, UserId};
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::StoreError;

/// A token as listed in settings (never the token itself).
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: TokenId,
    pub name: String,
    pub prefix: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// Stores a new token's hash.
pub async fn insert_api_token(
    ex: impl PgExecutor<'_>,
    id: TokenId,
    user_id: UserId,
    name: &str,
    token_hash: &[u8],
    prefix: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix) VALUES ($1, $2, $3, $4, $5)",
        id as _,
        user_id as _,
        name,
        token_hash,
        prefix
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// The user's tokens, newest first.
pub async fn list_api_tokens(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<ApiToken>, StoreError> {
    Ok(sqlx::query_as!(
        ApiToken,
        "SELECT id, name, prefix, created_at, last_used_at FROM api_tokens
         WHERE user_id = $1 ORDER BY created_at DESC",
        user_id as _
    )
    .fetch_all(ex)
    .await?)
}

/// Revokes one of the user's tokens; false when it is not theirs or does not exist.
pub async fn delete_api_token(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: TokenId,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2",
        id as _,
        user_id as _
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The owner of the token with this hash, marking it used.
pub async fn find_user_id_by_token_hash(
    ex: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<UserId>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"UPDATE api_tokens SET last_used_at = now() WHERE token_hash = $1
           RETURNING user_id AS "user_id: UserId""#,
        token_hash
    )
    .fetch_optional(ex)
    .await?)
}

/// The owner of the token with this hash, without marking it used (a running stream checks
/// that its token was not revoked).
pub async fn find_token_owner(
    ex: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<UserId>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT user_id AS "user_id: UserId" FROM api_tokens WHERE token_hash = $1"#,
        token_hash
    )
    .fetch_optional(ex)
    .await?)
}

/// Revokes the user's token with this hash (the one a request authenticated with); false when
/// there is none.
pub async fn delete_api_token_by_hash(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    token_hash: &[u8],
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "DELETE FROM api_tokens WHERE token_hash = $1 AND user_id = $2",
        token_hash,
        user_id as _
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}
