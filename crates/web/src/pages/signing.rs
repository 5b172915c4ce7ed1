//! The endpoint's signature check, set from the dashboard: `POST /endpoints/{id}/signing`.
//! The secret is sealed like the API does it and never shown again; the page only says
//! whether one is set.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use hookvault_core::ids::EndpointId;
use hookvault_core::signing::Scheme;
use hookvault_store::endpoints::{self as store, Endpoint};
use serde::Deserialize;

use crate::auth::{CheckedForm, CurrentUser};
use crate::error::AppError;
use crate::ops::endpoints::signature_check;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/endpoints/{id}/signing", post(set_signing))
}

#[derive(Deserialize)]
struct SigningForm {
    /// A signing scheme name, or empty for "no check".
    #[serde(default)]
    scheme: String,
    /// Empty keeps the current secret (when one is set).
    #[serde(default)]
    secret: String,
}

async fn set_signing(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
    CheckedForm(form): CheckedForm<SigningForm>,
) -> Result<Response, AppError> {
    let endpoint = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let check = match signature_check(
        &state,
        id,
        &form.scheme,
        Some(&form.secret),
        endpoint.signing_secret_sealed.as_deref(),
    ) {
        Ok(check) => check,
        Err(AppError::Unprocessable(m)) => {
            // The secret typed is not kept (it is never put back into a page).
            let refusal = crate::flash::Flash::refusal(
                "signing",
                "secret",
                m.message,
                &[("scheme", &form.scheme)],
            );
            return super::endpoints::refuse_settings(&state, &user, id, refusal).await;
        }
        Err(e) => return Err(e),
    };
    crate::ops::endpoints::set_signing(&state, user.id, &endpoint, check).await?;
    super::endpoints::saved(
        &user,
        id,
        "Signature check saved: new captures are checked with it.",
    )
    .await
}

/// What the endpoint page shows about the signature check.
pub struct SigningView {
    /// Label of the scheme checked, if any.
    pub label: Option<String>,
    pub secret_set: bool,
    /// (value, label, selected) for the select; the first is "no check".
    pub options: Vec<(String, String, bool)>,
}

impl SigningView {
    pub fn of(e: &Endpoint) -> Self {
        let current = e.signing_scheme.filter(|s| s.signs());
        let mut options = vec![(String::new(), "No check".to_string(), current.is_none())];
        options.extend(Scheme::ALL.into_iter().filter(|s| s.signs()).map(|s| {
            (
                s.as_str().to_string(),
                s.label().to_string(),
                Some(s) == current,
            )
        }));
        SigningView {
            label: current.map(|s| s.label().to_string()),
            secret_set: e.signing_secret_sealed.is_some(),
            options,
        }
    }
}
