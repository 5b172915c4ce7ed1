//! The last replay target used from the dashboard, remembered per endpoint (issue 17): the
//! replay form is pre-filled with it and "Replay to …" sends there in one click. A typed URL
//! is remembered with its scheme and secret (sealed, bound to the endpoint's id); a saved
//! target by reference. Replays to the connected CLI are not remembered.

use hookvault_core::ids::{EndpointId, TargetId, UserId};
use hookvault_core::signing::Scheme;
use hookvault_store::replays as store;

use crate::error::AppError;
use crate::ops::replays::{SigningBody, TargetBody};
use crate::state::AppState;

/// The remembered target of one endpoint.
pub(crate) struct LastTarget {
    /// What the button says after "Replay to": the URL (or the saved target's name and URL)
    /// and the scheme.
    pub label: String,
    pub target_id: Option<TargetId>,
    pub url: String,
    pub scheme: Scheme,
    /// A secret is remembered with the URL.
    pub secret_set: bool,
    endpoint_id: EndpointId,
    sealed: Option<Vec<u8>>,
}

/// The endpoint's remembered target, if any.
pub(crate) async fn find(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<Option<LastTarget>, AppError> {
    let Some(last) = store::find_last_target(&state.pool, user_id, endpoint_id).await? else {
        return Ok(None);
    };
    let label = match &last.target_name {
        Some(name) if name != &last.url => {
            format!("{name} ({}, {})", last.url, last.scheme.label())
        }
        _ => format!("{} ({})", last.url, last.scheme.label()),
    };
    Ok(Some(LastTarget {
        label,
        target_id: last.target_id,
        url: last.url,
        scheme: last.scheme,
        secret_set: last.secret_sealed.is_some(),
        endpoint_id,
        sealed: last.secret_sealed,
    }))
}

impl LastTarget {
    fn secret(&self, state: &AppState) -> Result<Option<String>, AppError> {
        self.sealed
            .as_deref()
            .map(|s| crate::ops::replays::open_bound(state, s, self.endpoint_id.as_bytes()))
            .transpose()
    }

    /// Where "Replay to …" sends: the saved target, or the URL with its scheme and secret.
    pub(crate) fn body(&self, state: &AppState) -> Result<TargetBody, AppError> {
        Ok(match self.target_id {
            Some(id) => TargetBody {
                target_id: Some(id),
                ..TargetBody::default()
            },
            None => TargetBody {
                target_url: Some(self.url.clone()),
                signing: Some(SigningBody {
                    scheme: Some(self.scheme.as_str().to_owned()),
                    secret: self.secret(state)?,
                }),
                ..TargetBody::default()
            },
        })
    }

    /// A form that names this URL and scheme and leaves the secret empty uses the remembered
    /// secret (the form says so next to the field).
    pub(crate) fn fill_secret(
        &self,
        state: &AppState,
        body: &mut TargetBody,
    ) -> Result<(), AppError> {
        if self.target_id.is_some() || body.target_url.as_deref() != Some(self.url.as_str()) {
            return Ok(());
        }
        if let Some(signing) = body.signing.as_mut() {
            let scheme = signing.scheme.as_deref().map(str::parse::<Scheme>);
            if signing.secret.is_none() && scheme == Some(Ok(self.scheme)) {
                signing.secret = self.secret(state)?;
            }
        }
        Ok(())
    }
}

/// Remembers where a dashboard replay went (after it was queued): a URL with its scheme and
/// secret, or a saved target. The CLI is not remembered.
pub(crate) async fn remember(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    body: &TargetBody,
) -> Result<(), AppError> {
    if body.to_cli {
        return Ok(());
    }
    let signing = body.signing.as_ref();
    // The replay was queued, so the scheme is known (none means `original`).
    let scheme = match signing.and_then(|s| s.scheme.as_deref()) {
        Some(name) => name
            .parse::<Scheme>()
            .map_err(|e| AppError::invalid(e.to_string()))?,
        None => Scheme::Original,
    };
    let sealed = signing
        .and_then(|s| s.secret.as_deref())
        .map(|s| state.secret_key.seal(s.as_bytes(), endpoint_id.as_bytes()));
    store::remember_last_target(
        &state.pool,
        user_id,
        endpoint_id,
        body.target_id,
        body.target_url.as_deref().map(str::trim),
        body.target_id.is_none().then_some(scheme),
        if body.target_id.is_some() {
            None
        } else {
            sealed.as_deref()
        },
    )
    .await?;
    Ok(())
}
