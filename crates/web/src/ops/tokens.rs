//! Tokens stored only as a hash: API tokens (made from the OS RNG, shown once) here; the
//! single-use links of account mails (`ops::links`) are hashed with the same function.

use hookvault_core::ids::{TokenId, UserId};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::ops::endpoints as ops;
use crate::state::AppState;

/// What is stored of a token (API token or mail link): its SHA-256.
pub(crate) fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates an API token for a user; returns (id, token). The token is never stored.
pub(crate) async fn create_token(
    state: &AppState,
    user_id: UserId,
    name: &str,
) -> Result<(TokenId, String), AppError> {
    let token = format!("hv_{}", ops::random_base62(40));
    let id = TokenId::now_v7();
    hookvault_store::tokens::insert_api_token(
        &state.pool,
        id,
        user_id,
        name,
        &hash_token(&token),
        &token[..7],
    )
    .await?;
    tracing::info!(token.id = %id, "API token created");
    Ok((id, token))
}
