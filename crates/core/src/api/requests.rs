//! Request bodies of the JSON API that more than one operation reads: where a replay goes and
//! how a request is signed. The pages build the same types from their forms.

use serde::{Deserialize, Serialize};

use crate::ids::TargetId;

/// Where a replay goes: a URL with its signing, a saved target, or the connected CLI
/// (`POST /api/v1/requests/{id}/replays`, the bulk replay's `target`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ReplayTargetBody))]
pub struct TargetBody {
    pub target_url: Option<String>,
    pub target_id: Option<TargetId>,
    pub signing: Option<SigningBody>,
    pub max_attempts: Option<i64>,
    #[serde(default)]
    pub to_cli: bool,
}

/// A signing scheme by name and its secret: how a replay, a saved target or an audit signs,
/// and the signature check of an endpoint (`PATCH /api/v1/endpoints/{id}`, where `scheme` is
/// required). `Debug` never shows the secret.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigningBody {
    pub scheme: Option<String>,
    pub secret: Option<String>,
}

impl std::fmt::Debug for SigningBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningBody")
            .field("scheme", &self.scheme)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
