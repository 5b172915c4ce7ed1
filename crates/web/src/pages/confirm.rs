//! The confirmation step before a destructive action (delete an endpoint, clear its captures,
//! delete a saved target, revoke a token): the button on the page links to a confirmation page
//! (no script needed), whose form posts with `confirm=yes`. A POST without it is sent to that
//! page instead of acting.

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::views::{render, Page};

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    page: Page,
    heading: &'a str,
    message: &'a str,
    action: &'a str,
    button: &'a str,
    cancel: &'a str,
}

/// A destructive form: the CSRF token and the confirmation.
#[derive(Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

impl ConfirmForm {
    pub fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// What is about to happen, and where the confirmed form posts.
pub(super) struct Ask<'a> {
    pub heading: &'a str,
    pub message: &'a str,
    /// The POST route (also the GET route of this page).
    pub action: &'a str,
    pub button: &'a str,
    pub cancel: &'a str,
}

pub(super) async fn page(user: &CurrentUser, ask: Ask<'_>) -> Result<Response, AppError> {
    render(&ConfirmPage {
        page: Page::for_user(ask.heading, user).await?,
        heading: ask.heading,
        message: ask.message,
        action: ask.action,
        button: ask.button,
        cancel: ask.cancel,
    })
}

/// An unconfirmed POST: to the confirmation page.
pub(super) fn ask_first(action: &str) -> Response {
    Redirect::to(action).into_response()
}
