//! Which field of the replay form a refusal is shown next to: the refusal names the member of
//! the target it is about ([`crate::error::Invalid::field`], from the replay crate's checks);
//! the form adds what depends on how the target was chosen.

use super::replays::{FormChoices, ReplayForm};

impl FormChoices {
    /// The error, when it is about `field` (`""`: the form as a whole).
    pub fn error_at(&self, field: &str) -> Option<&str> {
        self.error.as_ref()?.at(field)
    }
}

/// The field of the replay form a refusal about `field` is shown next to: a saved target's
/// refusal next to the choice of target, none for "my dev server" and the last target, and a
/// refusal of the form as a whole next to the URL while none is typed.
pub(super) fn replay_form_field(form: &ReplayForm, field: &'static str) -> &'static str {
    match form.mode.as_str() {
        "saved" => "target_id",
        "cli" | "last" => "",
        _ => url_field(&form.target_url, field),
    }
}

/// `field`, or `target_url` for a refusal of the form as a whole while no URL is typed.
pub(super) fn url_field(target_url: &str, field: &'static str) -> &'static str {
    match field {
        "" if target_url.trim().is_empty() => "target_url",
        field => field,
    }
}
