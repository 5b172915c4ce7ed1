//! One error type for the web crate. Clients never see internal text: pages get an HTML error
//! page, the API gets `{"error":{"code","message"}}`, and internal errors are logged once.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use hookvault_core::api::{ErrorBody, ErrorJson};
use hookvault_store::StoreError;

/// Errors of page handlers.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Refused input, with the reason in words and what it is about: 422 (the API's
    /// `invalid`).
    #[error("{0}")]
    Unprocessable(Invalid),
    #[error("the form has expired; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    TooManyRequests(String),
    /// Busy for this account now, with how many seconds to wait: 429 with `Retry-After`.
    #[error("{0}")]
    TryLater(String, u64),
    /// Over a limit of the account's plan that waits for a new period (replays per day): 429.
    #[error("{0}")]
    QuotaExceeded(String),
    /// Over a limit of the account's plan that does not reset by itself (endpoints): 422.
    #[error("{0}")]
    PlanLimit(String),
    /// The capture was deleted by retention: 410 with when and why.
    #[error("{0}")]
    Expired(String),
    #[error("the database is unavailable; try again in a moment")]
    Unavailable,
    /// Logged with its whole cause chain; the client sees only "internal error".
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// A refusal of what the user sent: the reason in words, and the form field (or JSON member)
/// it is about, so a page shows it right after that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field's name (`target_url`, `scheme`, `secret`, `max_attempts`, `name`, …), or `""`
    /// when the refusal is about the request as a whole.
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            field,
            message: message.into(),
        }
    }

    /// The reason, when it is about `field` (`""`: the form as a whole): what a page shows
    /// right after that field.
    pub fn at(&self, field: &str) -> Option<&str> {
        (self.field == field).then_some(self.message.as_str())
    }
}

impl From<String> for Invalid {
    fn from(message: String) -> Self {
        Invalid { field: "", message }
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

impl AppError {
    /// Refused input about the form or request as a whole (422).
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Unprocessable(Invalid::from(message.into()))
    }

    /// Refused input about one field (422).
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Unprocessable(Invalid::new(field, message))
    }

    /// An internal error, keeping its cause chain for the log.
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::TooManyRequests(_) | AppError::TryLater(..) | AppError::QuotaExceeded(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::PlanLimit(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Expired(_) => StatusCode::GONE,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::Unprocessable(_) => "invalid",
            AppError::Csrf => "csrf",
            AppError::TooManyRequests(_) | AppError::TryLater(..) => "rate_limited",
            AppError::QuotaExceeded(_) => "quota_exceeded",
            AppError::PlanLimit(_) => "plan_limit",
            AppError::Expired(_) => "expired",
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// The `Retry-After` header an answer carries, if any.
    fn retry_after(&self) -> Option<[(axum::http::HeaderName, String); 1]> {
        match self {
            AppError::TryLater(_, secs) => {
                Some([(axum::http::header::RETRY_AFTER, secs.max(&1).to_string())])
            }
            _ => None,
        }
    }

    fn log(&self) {
        if let AppError::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            AppError::Unavailable
        } else {
            AppError::internal(e)
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::internal(anyhow::Error::new(e).context("rendering a template"))
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        AppError::internal(anyhow::Error::new(e).context("reading the session"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let page = ErrorPage {
            title: status.canonical_reason().unwrap_or("Error"),
            message: self.to_string(),
        };
        let retry_after = self.retry_after();
        match page.render() {
            Ok(body) => (status, retry_after, Html(body)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "rendering the error page");
                (status, self.to_string()).into_response()
            }
        }
    }
}

/// The HTML error page (escaped by askama like every page).
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: &'static str,
    message: String,
}

/// Errors of API handlers: the same cases rendered as JSON.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl ApiError {
    pub fn unauthorized() -> Response {
        (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            Json(ErrorJson {
                error: ErrorBody {
                    code: "unauthorized".into(),
                    message: "a valid API token or session is required".into(),
                },
            }),
        )
            .into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let status = self.0.status();
        let body = ErrorJson {
            error: ErrorBody {
                code: self.0.code().into(),
                message: self.0.to_string(),
            },
        };
        (status, self.0.retry_after(), Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn page_of(e: AppError) -> (StatusCode, String) {
        let r = e.into_response();
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8(body.to_vec()).expect("utf-8"))
    }

    #[tokio::test]
    async fn an_error_page_has_the_site_header_and_escapes_its_message() {
        let (status, html) = page_of(AppError::NotFound).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            html.contains("<title>Not Found · Hookvault</title>"),
            "{html}"
        );
        assert!(
            html.contains(r#"<a class="brand" href="/">Hookvault</a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="/settings">Settings</a>"#),
            "{html}"
        );

        let (status, html) = page_of(AppError::invalid("<script>x</script>")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&#60;script&#62;x"), "{html}");
    }
}
