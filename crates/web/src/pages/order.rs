//! The event-order view, `GET /endpoints/{id}/order`: an endpoint's recent Stripe events
//! sorted by the event's `created` time, each flagged when it arrived after an event about the
//! same object that was created later — the delivery order a webhook handler must not rely on.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use hookvault_core::ids::{EndpointId, RequestId};
use hookvault_store::related::list_timed_events;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::pages::insight::unix_rfc3339;
use crate::state::AppState;
use crate::views::{render, rfc3339_ms, Page};

/// How many of the newest events the view orders.
const WINDOW: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new().route("/endpoints/{id}/order", get(show))
}

/// One event in `created` order.
struct OrderRow {
    id: RequestId,
    created: String,
    received_at: String,
    /// 1 for the first to arrive, in the window.
    arrival: usize,
    event_type: String,
    event_id: String,
    object_id: String,
    livemode: Option<bool>,
    /// The event this one arrived after although that one was created later.
    overtaken_by: Option<(RequestId, String)>,
}

#[derive(Template)]
#[template(path = "endpoints/order.html")]
struct OrderPage {
    page: Page,
    id: EndpointId,
    name: String,
    rows: Vec<OrderRow>,
    late: usize,
    window: i64,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
) -> Result<Response, AppError> {
    let endpoint = hookvault_store::endpoints::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut events = list_timed_events(&state.pool, user.id, id, WINDOW).await?;
    events.reverse(); // arrival order
    let created: Vec<Option<i64>> = events.iter().map(|e| e.event_created).collect();
    let objects: Vec<Option<&str>> = events.iter().map(|e| e.object_id.as_deref()).collect();
    let flags = hookvault_core::stripe::out_of_order_per_object(&created, &objects);
    let mut rows: Vec<(Option<i64>, i64, OrderRow)> = events
        .iter()
        .zip(&flags)
        .enumerate()
        .map(|(i, (e, flag))| {
            let overtaken_by = flag.and_then(|j| events.get(j)).map(|o| {
                (
                    o.id,
                    o.event_id
                        .clone()
                        .or_else(|| o.event_type.clone())
                        .unwrap_or_default(),
                )
            });
            let row = OrderRow {
                id: e.id,
                created: unix_rfc3339(e.event_created),
                received_at: rfc3339_ms(&e.received_at),
                arrival: i + 1,
                event_type: e.event_type.clone().unwrap_or_default(),
                event_id: e.event_id.clone().unwrap_or_default(),
                object_id: e.object_id.clone().unwrap_or_default(),
                livemode: e.livemode,
                overtaken_by,
            };
            (e.event_created, e.seq, row)
        })
        .collect();
    rows.sort_by_key(|(created, seq, _)| (*created, *seq));
    let rows: Vec<OrderRow> = rows.into_iter().map(|(_, _, r)| r).collect();
    let late = rows.iter().filter(|r| r.overtaken_by.is_some()).count();
    render(&OrderPage {
        page: Page::for_user(format!("{} · event order", endpoint.name), &user).await?,
        id,
        name: endpoint.name,
        rows,
        late,
        window: WINDOW,
    })
}
