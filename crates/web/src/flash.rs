//! Messages for the next page: a success notice carried through the session to the page a
//! form redirects to (post/redirect/get), or a form's refusal shown on the page that answers
//! the POST itself (422) with the field it is about and the values typed, so the form comes
//! back as it was sent with the reason next to the field. Secrets and passwords are never kept.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::AppError;

const KEY: &str = "flash";

/// What the next page shows once.
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Flash {
    /// "Endpoint renamed." and the like.
    pub notice: Option<String>,
    /// The form refused (a name the template knows, e.g. `rename`).
    pub form: Option<String>,
    /// The field the reason is about; `None` for the form as a whole.
    pub field: Option<String>,
    pub error: Option<String>,
    /// The values typed into the refused form, by field name.
    pub values: Vec<(String, String)>,
}

impl Flash {
    /// A form refused: shown on the page answering the POST itself (422), with `values` as
    /// typed and `error` next to `field` (`""`: the form as a whole).
    pub fn refusal(
        form: &str,
        field: &str,
        error: impl Into<String>,
        values: &[(&str, &str)],
    ) -> Flash {
        Flash {
            form: Some(form.to_string()),
            field: Some(field.to_string()),
            error: Some(error.into()),
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            ..Flash::default()
        }
    }

    /// Why `form` was refused, when the reason is about `field` (or about the whole form, for
    /// `field == ""`).
    pub fn error_for(&self, form: &str, field: &str) -> Option<&str> {
        let about = self.field.as_deref().unwrap_or_default();
        (self.form.as_deref() == Some(form) && about == field)
            .then_some(self.error.as_deref())
            .flatten()
    }

    /// `form` was refused (any field).
    pub fn refused(&self, form: &str) -> bool {
        self.form.as_deref() == Some(form)
    }

    /// The value typed into `form`'s `field`, or `current` when that form was not refused.
    pub fn value(&self, form: &str, field: &str, current: &str) -> String {
        if self.refused(form) {
            if let Some((_, v)) = self.values.iter().find(|(k, _)| k == field) {
                return v.clone();
            }
        }
        current.to_string()
    }
}

/// Shows `message` as a success notice on the next page.
pub async fn notice(session: &Session, message: impl Into<String>) -> Result<(), AppError> {
    let flash = Flash {
        notice: Some(message.into()),
        ..Flash::default()
    };
    session.insert(KEY, flash).await?;
    Ok(())
}

/// The flash for this page, removed from the session.
pub async fn take(session: &Session) -> Result<Flash, AppError> {
    Ok(session.remove::<Flash>(KEY).await?.unwrap_or_default())
}
