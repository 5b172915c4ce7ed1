//! Tokens stored only as a hash: API tokens (made from the OS RNG, shown once) and the
//! single-use links of account mails.

use base64::Engine;
use hookvault_core::ids::{TokenId, UserId};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::ops::endpoints as ops;
use crate::state::AppState;

/// What is stored of a token (API token or mail link): its SHA-256.
pub(crate) fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new token for a link sent by mail (256 random bits, URL-safe base64) and the hash that
/// is stored.
pub(crate) fn new_link_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
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
