//! The HTTP floor for `scripts/bench.sh` (`FLOOR=1`): an axum server that reads each request's
//! body whole and answers `200 ok`, storing nothing, on the same runtime and allocator as
//! `hookvault`. What `wrk` reaches against it on the same machine bounds what any capture
//! path over HTTP can reach there, before a byte is stored.
//!
//!     cargo run --release -p hookvault-server --example http_floor -- 127.0.0.1:8198

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8198".to_owned());
    let app = Router::new().route(
        "/{*path}",
        post(|body: Bytes| async move {
            std::hint::black_box(body.len());
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
