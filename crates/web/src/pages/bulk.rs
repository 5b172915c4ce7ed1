//! Bulk replay from the dashboard: the captures ticked on the endpoint page, or every capture
//! matching its search; a preview of the count and the sending order before anything is sent;
//! and "Retry failed" for a finished bulk replay.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hookvault_core::ids::{BatchId, EndpointId, RequestId};
use hookvault_replay::order::{self, ReplayOrder};
use hookvault_store::requests::{list_requests, summaries_by_ids};
use hookvault_store::search::search_requests;

use super::replays::{choices, form_target, FormChoices, ReplayForm};
use crate::auth::{CheckedForm, CheckedRawForm, CsrfForm, CurrentUser};
use crate::error::{AppError, Invalid};
use crate::ops::last_target;
use crate::ops::replays::{candidates, queue_bulk, retry_failed, MAX_BULK};
use crate::state::AppState;
use crate::views::{render, rfc3339, Page};

/// Most rows of the sending order the preview lists.
const PREVIEW_ROWS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/endpoints/{id}/bulk-replay",
            get(bulk_page).post(replay_bulk),
        )
        .route("/endpoints/{id}/batches/{batch}/retry", post(retry_batch))
}

/// One capture in the preview, in sending order.
pub struct PreviewRow {
    pub position: usize,
    pub id: RequestId,
    pub what: String,
    pub received_at: String,
}

#[derive(Template)]
#[template(path = "replays/bulk.html")]
struct BulkPage {
    page: Page,
    endpoint_id: EndpointId,
    request_ids: Vec<RequestId>,
    /// The search the captures were chosen by ("all matching"), if any.
    q: Option<String>,
    order: String,
    preview: Vec<PreviewRow>,
    form: FormChoices,
}

/// Reads repeated `request_id` fields (serde_urlencoded cannot collect repeated keys).
fn selected(pairs: &[(String, String)]) -> Result<Vec<RequestId>, AppError> {
    pairs
        .iter()
        .filter(|(k, _)| k == "request_id")
        .map(|(_, v)| v.parse::<RequestId>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| AppError::invalid("A selected capture id is not valid."))
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Every capture of the endpoint matching the search `q` (all of them when empty), newest
/// first; more than [`MAX_BULK`] is refused.
async fn matching(
    state: &AppState,
    user: &CurrentUser,
    endpoint_id: EndpointId,
    q: &str,
) -> Result<Vec<RequestId>, AppError> {
    let limit = i64::try_from(MAX_BULK).unwrap_or(i64::MAX) + 1;
    let rows = match hookvault_core::search::parse(q.trim()) {
        Ok(s) if s.is_empty() => {
            list_requests(&state.pool, user.id, endpoint_id, None, limit).await?
        }
        Ok(s) => {
            let slot = state.heavy.enter(user.id).await?;
            search_requests(slot.pool(), user.id, endpoint_id, &s, None, limit).await?
        }
        Err(e) => return Err(AppError::invalid(e.to_string())),
    };
    if rows.len() > MAX_BULK {
        return Err(AppError::invalid(format!(
            "More than {MAX_BULK} captures match; a bulk replay sends at most {MAX_BULK}. Narrow the search (for example with after: or type:)."
        )));
    }
    Ok(rows.into_iter().map(|r| r.id).collect())
}

fn parse_order(text: Option<&str>) -> Result<ReplayOrder, AppError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(ReplayOrder::default()),
        Some(t) => t.parse().map_err(AppError::invalid),
    }
}

/// The captures in the order they would be sent (the first [`PREVIEW_ROWS`]).
async fn preview(
    state: &AppState,
    user: &CurrentUser,
    endpoint_id: EndpointId,
    ids: &[RequestId],
    order: ReplayOrder,
) -> Result<Vec<PreviewRow>, AppError> {
    let mut arranged = candidates(state, user.id, endpoint_id, ids, order).await?;
    order::arrange(&mut arranged, order);
    let shown: Vec<RequestId> = arranged.iter().take(PREVIEW_ROWS).map(|c| c.id).collect();
    let rows = summaries_by_ids(&state.pool, user.id, &shown).await?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| PreviewRow {
            position: i + 1,
            id: r.id,
            what: super::requests::capture_title(
                &r.method,
                &r.path,
                r.provider,
                r.event_type.as_deref(),
            ),
            received_at: rfc3339(&r.received_at),
        })
        .collect())
}

/// The bulk page's title names the captures' events: "Replay · {event}" for one, else the
/// count and the first few distinct events in sending order.
fn bulk_title(count: usize, preview: &[PreviewRow]) -> String {
    let mut events: Vec<&str> = Vec::new();
    for p in preview {
        if !events.contains(&p.what.as_str()) {
            events.push(&p.what);
        }
    }
    match (count, events.as_slice()) {
        (1, [one]) => format!("Replay · {one}"),
        (_, []) => format!("Replay {count} captures"),
        (_, some) => {
            let shown = some.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            let more = if some.len() > 3 || preview.len() < count {
                ", …"
            } else {
                ""
            };
            format!("Replay {count} captures · {shown}{more}")
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the page's parts, as sent back after a refusal"
)]
async fn render_bulk(
    state: &AppState,
    user: &CurrentUser,
    endpoint_id: EndpointId,
    ids: Vec<RequestId>,
    q: Option<String>,
    order: ReplayOrder,
    error: Option<Invalid>,
    form: Option<&ReplayForm>,
) -> Result<Response, AppError> {
    let failed = error.is_some();
    let preview = preview(state, user, endpoint_id, &ids, order).await?;
    let mut resp = render(&BulkPage {
        page: Page::for_user(bulk_title(ids.len(), &preview), user).await?,
        endpoint_id,
        request_ids: ids,
        q,
        order: order.as_str().to_string(),
        preview,
        form: choices(state, user.id, endpoint_id, error, form, None).await?,
    })?;
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `?request_id=…` (repeated; the ticked captures) or `?all=1&q=…` (everything matching the
/// search); `order=` previews another sending order.
async fn bulk_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(endpoint_id): Path<EndpointId>,
    raw: axum::extract::RawQuery,
) -> Result<Response, AppError> {
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, endpoint_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let pairs = hookvault_core::render::query_params(raw.0.as_deref().unwrap_or(""));
    let order = parse_order(field(&pairs, "order"))?;
    let (ids, q) = if field(&pairs, "all") == Some("1") {
        let q = field(&pairs, "q").unwrap_or_default().to_string();
        (matching(&state, &user, endpoint_id, &q).await?, Some(q))
    } else {
        (selected(&pairs)?, None)
    };
    if ids.is_empty() {
        return Err(AppError::invalid(match q {
            Some(_) => "No capture matches this search.",
            None => "Select at least one capture to replay.",
        }));
    }
    render_bulk(&state, &user, endpoint_id, ids, q, order, None, None).await
}

/// Sends the bulk replay, or (`action=preview`) shows the sending order for the chosen order.
async fn replay_bulk(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(endpoint_id): Path<EndpointId>,
    CheckedRawForm(raw): CheckedRawForm,
) -> Result<Response, AppError> {
    let text = String::from_utf8_lossy(&raw).into_owned();
    let pairs = hookvault_core::render::query_params(&text);
    let form = form_fields(&pairs);
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, endpoint_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let ids = selected(&pairs)?;
    let q = field(&pairs, "q").map(str::to_string);
    let order = parse_order(Some(form.order.as_str()))?;
    if form.action == "preview" {
        return render_bulk(&state, &user, endpoint_id, ids, q, order, None, Some(&form)).await;
    }
    let queued = async {
        let target = form_target(&state, user.id, endpoint_id, &form).await?;
        let (_, replays) = queue_bulk(&state, user.id, endpoint_id, &ids, order, &target).await?;
        last_target::remember(&state, user.id, endpoint_id, &target).await?;
        Ok::<_, AppError>(replays.len())
    }
    .await;
    match queued {
        Ok(n) => {
            let plural = if n == 1 { "" } else { "s" };
            let how = if order.is_ordered() {
                format!(" in {} order", order.as_str())
            } else {
                ", sent concurrently in no particular order".to_string()
            };
            crate::flash::notice(
                &user.session,
                format!("Bulk replay queued: {n} capture{plural}{how}."),
            )
            .await?;
            Ok(Redirect::to(&format!("/endpoints/{endpoint_id}/replays")).into_response())
        }
        Err(AppError::Unprocessable(msg)) => {
            render_bulk(
                &state,
                &user,
                endpoint_id,
                ids,
                q,
                order,
                Some(msg),
                Some(&form),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// Single-valued fields of a form whose `request_id` repeats.
fn form_fields(pairs: &[(String, String)]) -> ReplayForm {
    let mut form = ReplayForm::default();
    for (k, v) in pairs {
        let v = v.clone();
        match k.as_str() {
            "csrf" => form.csrf = v,
            "mode" => form.mode = v,
            "target_url" => form.target_url = v,
            "scheme" => form.scheme = v,
            "secret" => form.secret = v,
            "target_id" => form.target_id = v,
            "order" => form.order = v,
            "action" => form.action = v,
            _ => {}
        }
    }
    form
}

/// "Retry failed" of a finished bulk replay.
async fn retry_batch(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((endpoint_id, batch_id)): Path<(EndpointId, BatchId)>,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, AppError> {
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, endpoint_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let message = match retry_failed(&state, user.id, endpoint_id, batch_id).await {
        Ok((_, n)) => format!(
            "Retrying {n} failed replay{}, in their order.",
            if n == 1 { "" } else { "s" }
        ),
        Err(AppError::Unprocessable(m)) => m.message,
        Err(e) => return Err(e),
    };
    crate::flash::notice(&user.session, message).await?;
    Ok(Redirect::to(&format!("/endpoints/{endpoint_id}/replays")).into_response())
}
