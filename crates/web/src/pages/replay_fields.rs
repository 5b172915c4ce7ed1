//! Which field of the replay form or the saved-target form a refusal is about, so the page
//! shows the reason right after that field: the replay crate's own checks are asked again on
//! the typed values, and their error kinds name the field.

use super::replays::{FormChoices, ReplayForm};
use crate::state::AppState;

impl FormChoices {
    /// The error, when it is about `field` (`""`: the form as a whole).
    pub fn error_at(&self, field: &str) -> Option<&str> {
        (self.error_field == field)
            .then_some(self.error.as_deref())
            .flatten()
    }
}

/// The field of a target that the replay crate's checks refuse (`""` when they accept it, so
/// the refusal was about something else).
pub(super) fn target_field(
    state: &AppState,
    url: &str,
    scheme: &str,
    secret: &str,
    max_attempts: Option<i64>,
) -> &'static str {
    use hookvault_replay::target::{check_target, TargetError};
    fn filled(s: &str) -> Option<&str> {
        Some(s).filter(|s| !s.is_empty())
    }
    match check_target(
        &state.replay_client,
        url.trim(),
        filled(scheme),
        filled(secret),
        max_attempts,
    ) {
        Err(TargetError::Refused(_)) => "target_url",
        Err(TargetError::Scheme(_)) => "scheme",
        Err(TargetError::Secret(_)) => "secret",
        Err(TargetError::MaxAttempts(_)) => "max_attempts",
        Ok(_) => "",
    }
}

/// The field of the replay form a refusal is about (see [`FormChoices::error_field`]).
pub(super) fn replay_form_field(
    state: &AppState,
    form: &ReplayForm,
    secret_remembered: bool,
) -> &'static str {
    match form.mode.as_str() {
        "saved" => "target_id",
        "cli" | "last" => "",
        _ => {
            // A remembered secret stands in for an empty field.
            let secret = if form.secret.is_empty() && secret_remembered {
                "remembered"
            } else {
                form.secret.as_str()
            };
            match target_field(state, &form.target_url, &form.scheme, secret, None) {
                "" if form.target_url.trim().is_empty() => "target_url",
                field => field,
            }
        }
    }
}

/// The field of the saved-target form a refusal is about: `max_attempts` that is not a
/// number, else what the target checks refuse, else a name that is not valid, else `""`.
pub(super) fn saved_target_field(
    state: &AppState,
    [name, url, scheme, secret]: [&str; 4],
    max_attempts: &str,
) -> &'static str {
    let attempts = max_attempts.trim();
    let parsed = match attempts.parse::<i64>() {
        Err(_) if !attempts.is_empty() => return "max_attempts",
        parsed => parsed.ok(),
    };
    match target_field(state, url, scheme, secret, parsed) {
        "" if !name.trim().is_empty() && crate::ops::endpoints::clean_name(name).is_err() => "name",
        field => field,
    }
}
