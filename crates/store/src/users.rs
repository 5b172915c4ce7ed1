//! Accounts.

use hookvault_core::ids::UserId;
use sqlx::PgExecutor;

use crate::{conflict, StoreError};

/// A user as needed for login: the password hash is included (so no `Debug`).
#[derive(Clone)]
pub struct UserCredentials {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    /// Sessions created under an older generation are signed out.
    pub session_generation: i64,
}

/// A user as shown in pages.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    /// Sessions created under an older generation are signed out.
    pub session_generation: i64,
    /// Whether the current email was verified (issue 13).
    pub email_verified: bool,
}

/// Inserts a user; a taken email (any case) is [`StoreError::Conflict`].
pub async fn insert_user(
    ex: impl PgExecutor<'_>,
    id: UserId,
    email: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)",
        id as _,
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
        "SELECT id, email, password_hash, session_generation FROM users
         WHERE lower(email) = lower($1) AND deleting_at IS NULL",
        email
    )
    .fetch_optional(ex)
    .await?)
}

/// The user with this id, with the password hash (to check the current password).
pub async fn find_user_credentials(
    ex: impl PgExecutor<'_>,
    id: UserId,
) -> Result<Option<UserCredentials>, StoreError> {
    Ok(sqlx::query_as!(
        UserCredentials,
        "SELECT id, email, password_hash, session_generation FROM users
         WHERE id = $1 AND deleting_at IS NULL",
        id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// Sets a new password hash and starts a new session generation, which signs out every session
/// created before; returns the new generation.
pub async fn update_password(
    ex: impl PgExecutor<'_>,
    id: UserId,
    password_hash: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar!(
        "UPDATE users SET password_hash = $2, session_generation = session_generation + 1
         WHERE id = $1 RETURNING session_generation",
        id as _,
        password_hash
    )
    .fetch_optional(ex)
    .await?)
}

/// The user with this id.
pub async fn find_user(ex: impl PgExecutor<'_>, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(sqlx::query_as!(
        User,
        r#"SELECT id, email, session_generation, email_verified_at IS NOT NULL AS "email_verified!"
           FROM users WHERE id = $1 AND deleting_at IS NULL"#,
        id as _
    )
    .fetch_optional(ex)
    .await?)
}
