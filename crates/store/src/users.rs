//! Accounts.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{conflict, StoreError};

/// A user as needed for login: the password hash is included.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
}

/// A user as shown in pages.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
}

/// Inserts a user; a taken email (any case) is [`StoreError::Conflict`].
pub async fn insert_user(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    email: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)",
        id,
        email,
        password_hash
    )
    .execute(ex)
    .await
    .map_err(conflict)?;
    Ok(())
}

/// The user with this email (case-insensitive), for login.
pub async fn find_user_by_email(
    ex: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<UserCredentials>, StoreError> {
    Ok(sqlx::query_as!(
        UserCredentials,
        "SELECT id, email, password_hash FROM users WHERE lower(email) = lower($1)",
        email
    )
    .fetch_optional(ex)
    .await?)
}

/// The user with this id.
pub async fn find_user(ex: impl PgExecutor<'_>, id: Uuid) -> Result<Option<User>, StoreError> {
    Ok(
        sqlx::query_as!(User, "SELECT id, email FROM users WHERE id = $1", id)
            .fetch_optional(ex)
            .await?,
    )
}
