//! The JSON API's route table: every `/api/v1` route is added through [`ApiRoutes`], which
//! builds the axum router and records each (method, path) as it goes, so the OpenAPI document
//! can be checked against the routes that really exist rather than a hand-kept list.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use axum::Router;

use crate::state::AppState;

/// A router under construction, with the routes added so far.
#[derive(Default)]
pub struct ApiRoutes {
    router: Router<AppState>,
    table: Vec<(Method, &'static str)>,
}

impl ApiRoutes {
    pub fn new() -> Self {
        Self::default()
    }

    fn add(mut self, method: Method, path: &'static str, mr: MethodRouter<AppState>) -> Self {
        // axum merges method routers added to the same path.
        self.router = self.router.route(path, mr);
        self.table.push((method, path));
        self
    }

    pub fn get<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, routing::get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, routing::post(handler))
    }

    pub fn patch<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::PATCH, path, routing::patch(handler))
    }

    pub fn delete<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::DELETE, path, routing::delete(handler))
    }

    pub fn merge(mut self, other: ApiRoutes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// The routes, as `(METHOD, path)`.
    pub fn table(&self) -> Vec<(String, String)> {
        self.table
            .iter()
            .map(|(m, p)| (m.to_string(), (*p).to_string()))
            .collect()
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// Every `/api/v1` route of the service (what [`crate::app`] serves).
pub fn api() -> ApiRoutes {
    ApiRoutes::new()
        .merge(crate::api::router())
        .merge(crate::cli_stream::router())
        .merge(crate::api_replays::router())
        .merge(crate::api_audits::router())
        .merge(crate::usage::router())
        .merge(crate::openapi::router())
}

/// The `/api/v1` route table of the real router, `(METHOD, path)`.
pub fn api_route_table() -> Vec<(String, String)> {
    api().table()
}
