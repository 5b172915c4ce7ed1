//! Endpoint rules, one validator each, called by the pages and the JSON API alike: names,
//! capture tokens, custom responses and the signature check at capture.

use hookvault_core::ids::EndpointId;
use hookvault_core::signing::Scheme;
use hookvault_store::endpoints::EndpointResponse;

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
        return Err(crate::error::AppError::Unprocessable(
            "The name cannot be empty.".into(),
        ));
    }
    if name.chars().count() > 100 {
        return Err(crate::error::AppError::Unprocessable(
            "The name can have at most 100 characters.".into(),
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
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
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
        .map_err(|e: hookvault_core::signing::UnknownScheme| {
            AppError::Unprocessable(e.to_string())
        })?;
    if scheme == Scheme::None {
        return Ok(None);
    }
    if !scheme.signs() {
        return Err(AppError::Unprocessable(format!(
            "{} does not check signatures",
            scheme.label()
        )));
    }
    let secret = secret.map(str::trim).unwrap_or("");
    if secret.is_empty() {
        return match current {
            // Only the scheme changes; the sealed secret is bound to the endpoint, not the scheme.
            Some(sealed) => Ok(Some((scheme, sealed.to_vec()))),
            None => Err(AppError::Unprocessable(format!(
                "scheme {} needs a secret",
                scheme.as_str()
            ))),
        };
    }
    if scheme == Scheme::StandardWebhooks {
        hookvault_core::signing::standard_webhooks_key(secret)
            .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    }
    let sealed = state
        .secret_key
        .seal(secret.as_bytes(), endpoint_id.as_bytes());
    Ok(Some((scheme, sealed)))
}
