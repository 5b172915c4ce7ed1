//! `/api/v1/openapi.json` on the running service, and every operation it documents answered by
//! a real route (the unit test in `hookvault_web::openapi` checks the other direction against
//! the route table the router is built from).

use crate::common::TestApp;

#[tokio::test]
async fn the_served_openapi_document_matches_the_routes_the_service_answers() {
    let app = TestApp::spawn().await;
    let r = reqwest::get(app.at("/api/v1/openapi.json")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();

    // The served document lists exactly the router's /api/v1 routes.
    let mut served: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let mut table = hookvault_web::api_routes::api_route_table();
    served.sort();
    table.sort();
    assert_eq!(served, table);

    // Each documented operation reaches a handler: without credentials it is refused as
    // unauthenticated (401), never "no such route" (404) or "method not allowed" (405).
    let id = uuid::Uuid::now_v7().to_string();
    let client = reqwest::Client::new();
    for (method, path) in &served {
        let url = app.at(&path.replace("{id}", &id));
        let req = client.request(method.parse().unwrap(), &url);
        let req = if method == "GET" || method == "DELETE" {
            req
        } else {
            req.json(&serde_json::json!({}))
        };
        let status = req.send().await.unwrap().status().as_u16();
        let want = if path == "/api/v1/openapi.json" {
            200
        } else {
            401
        };
        assert_eq!(status, want, "{method} {path}");
    }
    // And a route that is not there is a 404.
    let status = client
        .get(app.at("/api/v1/no-such-route"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}
