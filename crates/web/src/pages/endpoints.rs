//! The endpoint list, one endpoint's captures, and its settings.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use hookvault_store::endpoints as store;
use hookvault_store::requests::list_requests;
use hookvault_store::search::search_requests;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{check_csrf, CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, url_component, Page, RequestRow};

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list))
        .route("/endpoints", post(create))
        .route("/endpoints/{id}", get(show))
        .route("/endpoints/{id}/rename", post(rename))
        .route("/endpoints/{id}/response", post(set_response))
        .route("/endpoints/{id}/delete", post(delete))
}

pub struct EndpointRow {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub request_count: i64,
}

#[derive(Template)]
#[template(path = "endpoints/list.html")]
struct ListPage {
    page: Page,
    endpoints: Vec<EndpointRow>,
    usage: Option<crate::usage::UsageView>,
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let endpoints = store::list_endpoints(&state.pool, user.id)
        .await?
        .into_iter()
        .map(|e| EndpointRow {
            url: state.capture_url(&e.token),
            id: e.id,
            name: e.name,
            request_count: e.request_count,
        })
        .collect();
    render(&ListPage {
        page: Page::for_user("Endpoints", &user).await?,
        endpoints,
        usage: crate::usage::view(&state, user.id).await?,
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
    let name = crate::ops::endpoints::clean_name(&form.name)?;
    let id = Uuid::now_v7();
    crate::usage::create_endpoint(
        &state,
        user.id,
        id,
        &name,
        &crate::ops::endpoints::new_capture_token(),
    )
    .await?;
    tracing::info!(endpoint.id = %id, "endpoint created");
    Ok(Redirect::to(&format!("/endpoints/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "endpoints/show.html")]
struct ShowPage {
    page: Page,
    id: Uuid,
    name: String,
    url: String,
    requests: Vec<RequestRow>,
    older_href: Option<String>,
    /// Where the live list starts (the position before the page's rows were read); `None`
    /// turns live insertion off (older pages, searches).
    live_after: Option<String>,
    /// The search as typed, and why it could not be run.
    q: String,
    search_error: Option<String>,
    /// The inspector pane's content for `?r=` (HTML rendered by `requests/_detail.html`).
    selected: Option<String>,
    signing: super::signing::SigningView,
    response_status: i32,
    response_content_type: String,
    response_body: String,
    response_headers: String,
    response_delay_ms: i32,
}

#[derive(Deserialize)]
struct PageQuery {
    before: Option<i64>,
    /// A search (`hookvault_core::search`); empty shows everything, live.
    #[serde(default)]
    q: String,
    /// The capture open in the inspector pane.
    r: Option<Uuid>,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let endpoint = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let search = q.q.trim();
    // Live insertion only on the unfiltered first page. Its position is taken before the rows
    // are read: a capture committed in between is on the page and may come live as well (the
    // script drops repeats by id), but none is missed.
    let live_after = if q.before.is_none() && search.is_empty() {
        Some(hookvault_store::feed::head(&state.pool).await?.to_string())
    } else {
        None
    };
    let (rows, search_error) = match hookvault_core::search::parse(search) {
        Ok(s) if s.is_empty() => (
            list_requests(&state.pool, user.id, id, q.before, PAGE_SIZE + 1).await?,
            None,
        ),
        Ok(s) => {
            let _slot = state.heavy.enter(user.id).await?;
            (
                search_requests(&state.pool, user.id, id, &s, q.before, PAGE_SIZE + 1).await?,
                None,
            )
        }
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let more = rows.len() as i64 > PAGE_SIZE;
    let requests: Vec<RequestRow> = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(RequestRow::from)
        .collect();
    let older_href =
        more.then(|| requests.last().map(|r| r.seq))
            .flatten()
            .map(|seq| match search {
                "" => format!("/endpoints/{id}?before={seq}"),
                s => format!("/endpoints/{id}?before={seq}&q={}", url_component(s)),
            });
    let selected = match q.r {
        Some(rid) => match super::requests::DetailPane::load(&state, &user, rid).await {
            Ok(pane) if pane.endpoint_id() == id => Some(pane.render()?),
            // Another endpoint's capture, or gone: show the page without it.
            Ok(_) | Err(AppError::NotFound | AppError::Expired(_)) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let r = &endpoint.response;
    render(&ShowPage {
        selected,
        page: Page::for_user(endpoint.name.clone(), &user).await?,
        id,
        url: state.capture_url(&endpoint.token),
        name: endpoint.name.clone(),
        requests,
        older_href,
        live_after,
        q: search.to_string(),
        search_error,
        signing: super::signing::SigningView::of(&endpoint),
        response_status: r.status,
        response_content_type: r.content_type.clone(),
        response_body: String::from_utf8_lossy(&r.body).into_owned(),
        response_headers: r
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        response_delay_ms: r.delay_ms,
    })
}

async fn rename(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Form(form): Form<NameForm>,
) -> Result<Response, AppError> {
    check_csrf(&user.session, &form.csrf).await?;
    let name = crate::ops::endpoints::clean_name(&form.name)?;
    if !store::update_endpoint_name(&state.pool, user.id, id, &name).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("/endpoints/{id}")).into_response())
}

#[derive(Deserialize)]
struct ResponseForm {
    /// Missing counts as empty, so the request is refused as a CSRF failure (403).
    #[serde(default)]
    csrf: String,
    status: String,
    content_type: String,
    body: String,
    headers: String,
    delay_ms: String,
}

async fn set_response(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Form(form): Form<ResponseForm>,
) -> Result<Response, AppError> {
    check_csrf(&user.session, &form.csrf).await?;
    let headers = crate::ops::edits::parse_header_lines(&form.headers, 100)
        .map_err(AppError::BadRequest)?;
    let response = crate::ops::endpoints::validate_response(
        form.status
            .trim()
            .parse()
            .map_err(|_| AppError::BadRequest("Status must be a number.".into()))?,
        form.content_type.trim().to_string(),
        form.body.into_bytes(),
        headers,
        form.delay_ms
            .trim()
            .parse()
            .map_err(|_| AppError::BadRequest("Delay must be a number of milliseconds.".into()))?,
    )?;
    let token = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?
        .token;
    store::update_endpoint_response(&state.pool, user.id, id, &response).await?;
    store::notify_route_changed(&state.pool, &token).await?;
    Ok(Redirect::to(&format!("/endpoints/{id}")).into_response())
}

async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    check_csrf(&user.session, &form.csrf).await?;
    let token = store::delete_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::notify_route_changed(&state.pool, &token).await?;
    tracing::info!(endpoint.id = %id, "endpoint deleted");
    Ok(Redirect::to("/").into_response())
}
