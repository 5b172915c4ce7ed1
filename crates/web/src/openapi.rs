//! The OpenAPI document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations and the API's serde types, served at `GET /api/v1/openapi.json` (public: it
//! describes the API, it holds no data). A test checks it against the real route table
//! ([`crate::api_routes::api_route_table`]).

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

use crate::api_routes::ApiRoutes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hookvault API",
        version = "1",
        description = "Webhook capture and replay. Authenticate with `Authorization: Bearer <token>` (from `POST /api/v1/tokens` or `hookvault login`), or the browser session plus `X-CSRF-Token` for changes. Errors are `{\"error\":{\"code\",\"message\"}}`; times are RFC 3339 UTC."
    ),
    paths(
        crate::api::create_token_basic,
        crate::api::revoke_current_token,
        crate::api::list_endpoints,
        crate::api::create_endpoint,
        crate::api::get_endpoint,
        crate::api::update_endpoint,
        crate::api::delete_endpoint,
        crate::api::list_endpoint_requests,
        crate::api::get_request,
        crate::api::get_body,
        crate::api_replays::list_request_replays,
        crate::api_replays::create_replay,
        crate::api_replays::list_endpoint_replays,
        crate::api_replays::create_bulk_replay,
        crate::api_replays::get_replay,
        crate::api_replays::targets::list_targets,
        crate::api_replays::targets::create_target,
        crate::api_replays::targets::delete_target,
        crate::api_audits::list_request_audits,
        crate::api_audits::create_audit,
        crate::api_audits::get_audit,
        crate::usage::get_account,
        crate::cli_stream::stream,
        crate::cli_stream::report_delivery,
        crate::cli_stream::report_result,
        openapi_json,
    ),
    components(schemas(hookvault_core::api::CliReplayJson, hookvault_core::api::HelloJson)),
    modifiers(&Auth),
    security(("bearer" = []))
)]
struct ApiDoc;

/// The two ways to authenticate: a bearer API token everywhere, HTTP Basic (email and
/// password) only to create a token.
struct Auth;

impl Modify for Auth {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

pub(crate) fn router() -> ApiRoutes {
    ApiRoutes::new().get("/api/v1/openapi.json", openapi_json)
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This document", body = serde_json::Value))
)]
async fn openapi_json() -> Json<Document> {
    Json(document())
}

/// The document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// Every documented operation, as `(METHOD, path)`.
pub fn documented_routes() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in &document().paths.paths {
        let ops = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
            ("HEAD", &item.head),
            ("OPTIONS", &item.options),
            ("TRACE", &item.trace),
        ];
        for (method, op) in ops {
            if op.is_some() {
                out.push((method.to_string(), path.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real router's `/api/v1` routes and the document's operations are the same set.
    #[test]
    fn every_api_route_is_documented_and_every_documented_route_exists() {
        let mut routes = crate::api_routes::api_route_table();
        let mut documented = documented_routes();
        routes.sort();
        documented.sort();
        let undocumented: Vec<_> = routes.iter().filter(|r| !documented.contains(r)).collect();
        let missing: Vec<_> = documented.iter().filter(|d| !routes.contains(d)).collect();
        assert!(
            undocumented.is_empty(),
            "routes without documentation: {undocumented:?}"
        );
        assert!(
            missing.is_empty(),
            "documented routes that do not exist: {missing:?}"
        );
        assert!(routes.len() >= 26, "{routes:?}");
        assert!(routes.iter().all(|(_, p)| p.starts_with("/api/v1/")));
    }

    #[test]
    fn the_request_schema_comes_from_the_api_type() {
        let doc = serde_json::to_value(document()).unwrap();
        let request = &doc["components"]["schemas"]["RequestJson"]["properties"];
        for field in ["id", "headers", "body_base64", "signature", "event_type"] {
            assert!(
                request.get(field).is_some(),
                "RequestJson lacks {field}: {request}"
            );
        }
    }
}
