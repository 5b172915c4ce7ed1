//! Settings: API tokens (create — shown once —, list, revoke).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{check_csrf, CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, rfc3339, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(show))
        .route("/settings/tokens", post(create))
        .route("/settings/tokens/{id}/revoke", post(revoke))
}

pub struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: String,
}

#[derive(Template)]
#[template(path = "settings/show.html")]
struct SettingsPage {
    page: Page,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

async fn show(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    page(&state, &user, None).await
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    new_token: Option<String>,
) -> Result<Response, AppError> {
    let tokens = hookvault_store::tokens::list_api_tokens(&state.pool, user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: rfc3339(&t.created_at),
            last_used_at: t
                .last_used_at
                .map(|t| rfc3339(&t))
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    render(&SettingsPage {
        page: Page::for_user("Settings", user).await?,
        tokens,
        new_token,
    })
}

#[derive(Deserialize)]
struct NameForm {
    /// Missing counts as empty, so the request is refused as a CSRF failure (403).
    #[serde(default)]
    csrf: String,
    name: String,
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<NameForm>,
) -> Result<Response, AppError> {
    check_csrf(&user.session, &form.csrf).await?;
    let name = super::clean_name(&form.name)?;
    let token = crate::api::create_token(&state, user.id, &name).await?.1;
    // The token is in this one response only; reloading shows the list without it.
    let mut resp = page(&state, &user, Some(token)).await?;
    *resp.status_mut() = axum::http::StatusCode::CREATED;
    Ok(resp)
}

async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    check_csrf(&user.session, &form.csrf).await?;
    if !hookvault_store::tokens::delete_api_token(&state.pool, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/settings").into_response())
}
