//! A local HTTP server standing in for a developer's dev server.

use std::sync::{Arc, Mutex};

/// A local target on 127.0.0.1:0 that records the bodies POSTed to `/hook` and answers 200.
/// Returns its `/hook` URL and the bodies received so far.
pub async fn recording_target() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body.to_vec());
                "thanks from the dev server"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}
