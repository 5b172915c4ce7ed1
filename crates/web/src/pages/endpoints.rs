//! The endpoint list, one endpoint's captures, and its settings.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hookvault_core::ids::{EndpointId, RequestId};
use hookvault_store::endpoints as store;
use hookvault_store::requests::list_requests;
use hookvault_store::search::search_requests;
use serde::Deserialize;

use super::confirm::{self, ConfirmForm};
use crate::auth::{CheckedForm, CurrentUser};
use crate::error::{AppError, Invalid};
use crate::flash::{self, Flash};
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
        .route("/endpoints/{id}/delete", get(delete_page).post(delete))
        .route("/endpoints/{id}/clear", get(clear_page).post(clear))
}

pub struct EndpointRow {
    pub id: EndpointId,
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
    render_list(&state, &user, None).await
}

async fn render_list(
    state: &AppState,
    user: &CurrentUser,
    refusal: Option<Flash>,
) -> Result<Response, AppError> {
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
    let mut page = Page::for_user("Endpoints", user).await?;
    let refused = refusal.is_some();
    if let Some(r) = refusal {
        page.flash = r;
    }
    let mut resp = render(&ListPage {
        page,
        endpoints,
        usage: crate::usage::view(state, user.id).await?,
    })?;
    if refused {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    CheckedForm(form): CheckedForm<NameForm>,
) -> Result<Response, AppError> {
    let id = EndpointId::now_v7();
    let created = async {
        let name = crate::ops::endpoints::clean_name(&form.name)?;
        crate::usage::create_endpoint(
            &state,
            user.id,
            id,
            &name,
            &crate::ops::endpoints::new_capture_token(),
        )
        .await?;
        Ok::<_, AppError>(name)
    }
    .await;
    match created {
        Ok(name) => {
            tracing::info!(endpoint.id = %id, "endpoint created");
            flash::notice(
                &user.session,
                format!("Endpoint \"{name}\" created. Send a request to its capture URL."),
            )
            .await?;
            Ok(Redirect::to(&format!("/endpoints/{id}")).into_response())
        }
        Err(AppError::Unprocessable(Invalid { message: m, .. }) | AppError::PlanLimit(m)) => {
            let refusal = Flash::refusal("create", "name", m, &[("name", &form.name)]);
            render_list(&state, &user, Some(refusal)).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "endpoints/show.html")]
struct ShowPage {
    page: Page,
    id: EndpointId,
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
    /// A `hookvault listen` is connected: the replay form sends to it by default.
    listener_connected: bool,
    /// Progress of the re-check of existing captures' signatures after a change, if any.
    recheck: Option<String>,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    before: Option<i64>,
    /// A search (`hookvault_core::search`); empty shows everything, live.
    #[serde(default)]
    q: String,
    /// The capture open in the inspector pane.
    r: Option<RequestId>,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    render_show(&state, &user, id, q, None).await
}

/// The endpoint page; with `refusal`, a settings form refused (422) and shown as it was sent.
async fn render_show(
    state: &AppState,
    user: &CurrentUser,
    id: EndpointId,
    q: PageQuery,
    refusal: Option<Flash>,
) -> Result<Response, AppError> {
    let state = state.clone();
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
            let slot = state.heavy.enter(user.id).await?;
            (
                search_requests(slot.pool(), user.id, id, &s, q.before, PAGE_SIZE + 1).await?,
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
        Some(rid) => match super::requests::DetailPane::load(&state, user, rid).await {
            Ok(pane) if pane.endpoint_id() == id => Some(pane.render()?),
            // Another endpoint's capture, or gone: show the page without it.
            Ok(_) | Err(AppError::NotFound | AppError::Expired(_)) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let r = &endpoint.response;
    let mut page = Page::for_user(endpoint.name.clone(), user).await?;
    let refused = refusal.is_some();
    if let Some(refusal) = refusal {
        page.flash = refusal;
    }
    let mut resp = render(&ShowPage {
        selected,
        page,
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
        listener_connected: crate::ops::replays::listener_connected(&state, user.id, id).await?,
        recheck: crate::ops::rechecks::progress(&state, user.id, id).await?,
    })?;
    if refused {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// Answers a refused settings form of endpoint `id`: the page again (422), with the form as
/// typed and the reason next to `field`.
pub(super) async fn refuse_settings(
    state: &AppState,
    user: &CurrentUser,
    id: EndpointId,
    refusal: Flash,
) -> Result<Response, AppError> {
    render_show(state, user, id, PageQuery::default(), Some(refusal)).await
}

/// After a settings form succeeded: back to the endpoint page with `message`.
pub(super) async fn saved(
    user: &CurrentUser,
    id: EndpointId,
    message: &str,
) -> Result<Response, AppError> {
    flash::notice(&user.session, message).await?;
    Ok(Redirect::to(&format!("/endpoints/{id}")).into_response())
}

async fn rename(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
    CheckedForm(form): CheckedForm<NameForm>,
) -> Result<Response, AppError> {
    let name = match crate::ops::endpoints::clean_name(&form.name) {
        Ok(name) => name,
        Err(AppError::Unprocessable(m)) => {
            let refusal = Flash::refusal("rename", "name", m.message, &[("name", &form.name)]);
            return refuse_settings(&state, &user, id, refusal).await;
        }
        Err(e) => return Err(e),
    };
    if !store::update_endpoint_name(&state.pool, user.id, id, &name).await? {
        return Err(AppError::NotFound);
    }
    saved(&user, id, &format!("Renamed to \"{name}\".")).await
}

#[derive(Deserialize)]
struct ResponseForm {
    status: String,
    content_type: String,
    body: String,
    headers: String,
    delay_ms: String,
}

/// The response form's field a refusal is about.
fn response_field(e: &hookvault_core::response::ResponseError) -> &'static str {
    use hookvault_core::response::ResponseError as E;
    match e {
        E::Status => "status",
        E::Delay => "delay_ms",
        E::BodyTooLarge => "body",
        E::ContentType => "content_type",
        _ => "headers",
    }
}

async fn set_response(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
    CheckedForm(form): CheckedForm<ResponseForm>,
) -> Result<Response, AppError> {
    let refuse = |field: &str, m: String| {
        Flash::refusal(
            "response",
            field,
            m,
            &[
                ("status", &form.status),
                ("content_type", &form.content_type),
                ("body", &form.body),
                ("headers", &form.headers),
                ("delay_ms", &form.delay_ms),
            ],
        )
    };
    let checked = (|| {
        let headers = crate::ops::edits::parse_header_lines(&form.headers, 100)
            .map_err(|m| ("headers", m))?;
        let status = form
            .status
            .trim()
            .parse()
            .map_err(|_| ("status", "Status must be a number.".to_string()))?;
        let delay = form.delay_ms.trim().parse().map_err(|_| {
            (
                "delay_ms",
                "Delay must be a number of milliseconds.".to_string(),
            )
        })?;
        // The one validator's reason, next to the field it is about.
        hookvault_core::response::check(
            status,
            form.content_type.trim(),
            form.body.as_bytes(),
            &headers,
            delay,
        )
        .map_err(|e| (response_field(&e), e.to_string()))?;
        crate::ops::endpoints::validate_response(
            status,
            form.content_type.trim().to_string(),
            form.body.clone().into_bytes(),
            headers,
            delay,
        )
        .map_err(|e| ("", e.to_string()))
    })();
    let response = match checked {
        Ok(r) => r,
        Err((field, m)) => return refuse_settings(&state, &user, id, refuse(field, m)).await,
    };
    let endpoint = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::ops::endpoints::set_response(&state, user.id, &endpoint, response).await?;
    saved(&user, id, "Response saved: new captures get it.").await
}

async fn delete_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
) -> Result<Response, AppError> {
    let endpoint = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let count = hookvault_store::requests::count_requests(&state.pool, id).await?;
    let message = format!(
        "Endpoint \"{}\" and its {} captured request{} are deleted for good, with their replays and saved targets; its capture URL stops accepting requests.",
        endpoint.name,
        count,
        if count == 1 { "" } else { "s" }
    );
    confirm::page(
        &user,
        confirm::Ask {
            heading: "Delete this endpoint?",
            message: &message,
            action: &format!("/endpoints/{id}/delete"),
            button: "Delete endpoint",
            cancel: &format!("/endpoints/{id}"),
        },
    )
    .await
}

async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
    CheckedForm(form): CheckedForm<ConfirmForm>,
) -> Result<Response, AppError> {
    store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !form.confirmed() {
        return Ok(confirm::ask_first(&format!("/endpoints/{id}/delete")));
    }
    crate::ops::endpoints::delete(&state, user.id, id).await?;
    // The notice does not repeat the name: the list no longer shows it anywhere.
    flash::notice(&user.session, "Endpoint deleted, with its captures.").await?;
    Ok(Redirect::to("/").into_response())
}

async fn clear_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
) -> Result<Response, AppError> {
    let endpoint = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let count = hookvault_store::requests::count_requests(&state.pool, id).await?;
    let message = format!(
        "The {} captured request{} of \"{}\" are deleted for good, with their replays. The endpoint, its capture URL and its settings stay.",
        count,
        if count == 1 { "" } else { "s" },
        endpoint.name
    );
    confirm::page(
        &user,
        confirm::Ask {
            heading: "Clear the captures?",
            message: &message,
            action: &format!("/endpoints/{id}/clear"),
            button: "Clear captures",
            cancel: &format!("/endpoints/{id}"),
        },
    )
    .await
}

/// Deletes every capture of the endpoint (and their replays); the endpoint stays.
async fn clear(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
    CheckedForm(form): CheckedForm<ConfirmForm>,
) -> Result<Response, AppError> {
    store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !form.confirmed() {
        return Ok(confirm::ask_first(&format!("/endpoints/{id}/clear")));
    }
    let n = store::clear_endpoint_requests(&state.pool, user.id, id).await?;
    tracing::info!(endpoint.id = %id, count = n, "captures cleared");
    saved(
        &user,
        id,
        &format!("Cleared {n} capture{}.", if n == 1 { "" } else { "s" }),
    )
    .await
}
