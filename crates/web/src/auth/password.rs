//! Passwords: the rules for a new one, argon2id hashing and checking, bounded by the hashing
//! semaphore (each costs ~19 MiB and tens of ms of CPU).

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::AppError;
use crate::state::AppState;

/// What is wrong with a new password, if anything.
pub(crate) fn problem(password: &str) -> Option<&'static str> {
    if password.chars().count() < 8 {
        Some("Choose a password of at least 8 characters.")
    } else if password.len() > 1024 {
        Some("Choose a password of at most 1024 bytes.")
    } else {
        None
    }
}

/// Whether `password` matches `hash`. With no hash (unknown email) the same work is done
/// against a dummy hash, so neither the answer nor its timing tells whether an account exists.
pub(crate) async fn verify(
    state: &AppState,
    hash: Option<String>,
    password: String,
) -> Result<bool, AppError> {
    let _permit = state.hashing.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(AppError::internal)
}

/// A real argon2id hash (default parameters) of a random password, verified against for
/// unknown emails so that they cost the same work as known ones.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let password: [u8; 16] = rand::random();
        Argon2::default()
            .hash_password(&password, &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// An argon2id hash (OWASP parameters, the crate's defaults) of a new password.
pub(crate) async fn hash(state: &AppState, password: String) -> Result<String, AppError> {
    let _permit = state.hashing.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::Error::new(e).context("hashing a password")))
    })
    .await
    .map_err(AppError::internal)?
}
