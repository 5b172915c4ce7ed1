//! Dashboard pages.

pub(crate) mod account;
mod audits;
mod diff;
mod endpoints;
mod export;
pub(crate) mod insight;
mod order;
mod replays;
mod requests;
mod settings;
mod signing;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(endpoints::router())
        .merge(requests::router())
        .merge(replays::router())
        .merge(settings::router())
        .merge(signing::router())
        .merge(order::router())
        .merge(export::router())
        .merge(diff::router())
        .merge(audits::router())
        .merge(account::router())
}

/// A random base62 string of `len` characters (≈5.95 bits each) from the OS RNG.
pub(crate) fn random_base62(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// A new capture token: 24 base62 characters, about 143 random bits.
pub(crate) fn new_capture_token() -> String {
    random_base62(24)
}

/// Checks an endpoint name from a form or the API.
pub(crate) fn clean_name(name: &str) -> Result<String, crate::error::AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(crate::error::AppError::BadRequest(
            "The name cannot be empty.".into(),
        ));
    }
    if name.chars().count() > 100 {
        return Err(crate::error::AppError::BadRequest(
            "The name can have at most 100 characters.".into(),
        ));
    }
    Ok(name.to_string())
}

pub(crate) use endpoints::validate_response;
pub(crate) use requests::raw_body_response;
