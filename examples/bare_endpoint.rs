//! The reference of the load benchmark (`benches/load.sh`): an axum server whose one handler
//! reads the request body, parses it into a `serde_json::Value` and answers `{"cards": []}` —
//! the floor of HTTP plus JSON parsing that `cds serve` is compared with.
//!
//!     cargo run --release --example bare_endpoint -- [ADDR]    # default 127.0.0.1:0
//!
//! Any `POST` path is answered (so the benchmark sends the same request line to both servers).
//! Like `cds serve` it uses mimalloc, a multi-threaded tokio runtime and an 8 MiB body limit,
//! and prints one line `listening on http://ADDR` on stdout once bound.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `cds serve`'s default `limits.max_body_bytes`.
const MAX_BODY_BYTES: usize = 8 << 20;

/// Parses the body as JSON; 400 when it is not JSON, `{"cards": []}` otherwise.
async fn answer(body: Bytes) -> Result<Json<Value>, StatusCode> {
    let parsed: Value = serde_json::from_slice(&body).map_err(|_| StatusCode::BAD_REQUEST)?;
    // Keep the parse from being optimised away: look at the parsed value.
    if !parsed.is_object() {
        return Err(StatusCode::BAD_REQUEST);
    }
    Ok(Json(json!({ "cards": [] })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let app = Router::new()
        .route("/{*path}", post(answer))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
