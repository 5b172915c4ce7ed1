//! Endpoint rules, one validator each, and the writes, called by the pages and the JSON API
//! alike: names, capture tokens, custom responses, the signature check at capture, and saving
//! or deleting an endpoint's settings.

use hookvault_core::ids::EndpointId;
use hookvault_core::ids::UserId;
use hookvault_core::signing::Scheme;
use hookvault_store::endpoints::{self as store, Endpoint, EndpointResponse};
use hookvault_store::StoreError;

use crate::error::AppError;
use crate::state::AppState;

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
        return Err(crate::error::AppError::invalid_field(
            "name",
            "The name cannot be empty.",
        ));
    }
    if name.chars().count() > 100 {
        return Err(crate::error::AppError::invalid_field(
            "name",
            "The name can have at most 100 characters.",
        ));
    }
    Ok(name.to_string())
}

/// Checks a custom response with the one validator, [`hookvault_core::response::check`]
/// (status 200–599, delay, sizes, and extra headers from its allow-list); its reason is the
/// message of the 422 on the page and in the API.
pub(crate) fn validate_response(
    status: i32,
    content_type: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    delay_ms: i32,
) -> Result<EndpointResponse, AppError> {
    hookvault_core::response::check(status, &content_type, &body, &headers, delay_ms)
        .map_err(|e| AppError::invalid(e.to_string()))?;
    Ok(EndpointResponse {
        status,
        content_type,
        body,
        headers,
        delay_ms,
    })
}

/// The signature check an endpoint asks for: the scheme, and its secret sealed to the endpoint.
/// `scheme` empty or `none` turns the check off (`Ok(None)`). `original` is refused: it is a
/// way to replay, not a way to check. A scheme that signs needs a secret, unless `current` (the
/// endpoint's sealed secret) is kept because `secret` is empty.
pub(crate) fn signature_check(
    state: &AppState,
    endpoint_id: EndpointId,
    scheme: &str,
    secret: Option<&str>,
    current: Option<&[u8]>,
) -> Result<Option<(Scheme, Vec<u8>)>, AppError> {
    let scheme = scheme.trim();
    if scheme.is_empty() {
        return Ok(None);
    }
    let scheme: Scheme = scheme
        .parse()
        .map_err(|e: hookvault_core::signing::UnknownScheme| AppError::invalid(e.to_string()))?;
    if scheme == Scheme::None {
        return Ok(None);
    }
    if !scheme.signs() {
        return Err(AppError::invalid(format!(
            "{} does not check signatures",
            scheme.label()
        )));
    }
    if secret.is_none_or(|s| s.trim().is_empty()) {
        if let Some(sealed) = current {
            // Only the scheme changes; the sealed secret is bound to the endpoint, not the scheme.
            return Ok(Some((scheme, sealed.to_vec())));
        }
    }
    // The one secret rule, shared with replay targets (same check, same words).
    let secret = hookvault_core::signing::check_secret(scheme, secret)
        .map_err(|e| AppError::invalid(e.to_string()))?;
    let sealed = state
        .secret_key
        .seal(secret.as_bytes(), endpoint_id.as_bytes());
    Ok(Some((scheme, sealed)))
}

/// Checked changes to an endpoint; `None` leaves that part as it is.
#[derive(Default)]
pub(crate) struct Changes {
    pub name: Option<String>,
    pub response: Option<EndpointResponse>,
    /// `Some(None)` turns the signature check off; see [`signature_check`].
    pub signing: Option<Option<(Scheme, Vec<u8>)>>,
}

/// Writes checked changes to one of the user's endpoints: all of them or none, in one
/// transaction with the route-change announcement (so capture servers load the new settings);
/// then, when the signature check changed, re-checks the existing captures with it.
pub(crate) async fn update(
    state: &AppState,
    user_id: UserId,
    endpoint: &Endpoint,
    changes: &Changes,
) -> Result<(), AppError> {
    let id = endpoint.id;
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let mut found = true;
    if let Some(name) = &changes.name {
        found &= store::update_endpoint_name(&mut *tx, user_id, id, name).await?;
    }
    if let Some(r) = &changes.response {
        found &= store::update_endpoint_response(&mut *tx, user_id, id, r).await?;
    }
    if let Some(check) = &changes.signing {
        let (scheme, sealed) = match check {
            Some((scheme, sealed)) => (Some(*scheme), Some(sealed.as_slice())),
            None => (None, None),
        };
        found &= store::update_endpoint_signing(&mut *tx, user_id, id, scheme, sealed).await?;
    }
    if !found {
        // Deleted meanwhile: nothing is written (the transaction rolls back).
        return Err(AppError::NotFound);
    }
    store::notify_route_changed(&mut *tx, &endpoint.token).await?;
    tx.commit().await.map_err(StoreError::from)?;
    if let Some(check) = &changes.signing {
        let scheme = check.as_ref().map_or("none", |(s, _)| s.as_str());
        tracing::info!(endpoint.id = %id, signing.scheme = scheme, "signature check changed");
        crate::ops::rechecks::start(state, id).await?;
    }
    Ok(())
}

/// Saves the endpoint's signature check (checked by [`signature_check`]; `None` turns it off).
pub(crate) async fn set_signing(
    state: &AppState,
    user_id: UserId,
    endpoint: &Endpoint,
    check: Option<(Scheme, Vec<u8>)>,
) -> Result<(), AppError> {
    let changes = Changes {
        signing: Some(check),
        ..Changes::default()
    };
    update(state, user_id, endpoint, &changes).await
}

/// Saves the endpoint's custom response (checked by [`validate_response`]).
pub(crate) async fn set_response(
    state: &AppState,
    user_id: UserId,
    endpoint: &Endpoint,
    response: EndpointResponse,
) -> Result<(), AppError> {
    let changes = Changes {
        response: Some(response),
        ..Changes::default()
    };
    update(state, user_id, endpoint, &changes).await
}

/// Deletes one of the user's endpoints with its captures, replays and saved targets, and tells
/// capture servers its URL is gone. Not theirs (or already gone): 404.
pub(crate) async fn delete(
    state: &AppState,
    user_id: UserId,
    id: EndpointId,
) -> Result<(), AppError> {
    let token = store::delete_endpoint(&state.pool, user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::notify_route_changed(&state.pool, &token).await?;
    tracing::info!(endpoint.id = %id, "endpoint deleted");
    Ok(())
}
