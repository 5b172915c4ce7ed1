//! Dashboard pages.

mod account;
mod audits;
mod bulk;
mod confirm;
mod delete_account;
mod diff;
mod edit;
mod endpoints;
mod export;
pub(crate) mod insight;
mod order;
mod replay_fields;
mod replay_history;
mod replays;
mod requests;
mod settings;
mod signing;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(endpoints::router())
        .merge(requests::router())
        .merge(replays::router())
        .merge(replay_history::router())
        .merge(bulk::router())
        .merge(settings::router())
        .merge(signing::router())
        .merge(order::router())
        .merge(export::router())
        .merge(diff::router())
        .merge(edit::router())
        .merge(audits::router())
        .merge(account::router())
        .merge(account::public_router())
}
