//! An axum handler that answers a POSTed FHIR Bundle (JSON) with the cards of every shipped
//! ruleset, in the CDS Hooks response shape `{"cards": [...]}`.
//!
//!     cargo run --example axum_handler                # one request, in process, then exit
//!     cargo run --example axum_handler -- --serve     # serve on 127.0.0.1:3000
//!
//! By default the example sends one request to its own router with `tower`'s `oneshot` (no
//! network), with the Bundle `examples/data/hypertensive-patient.json`, and prints the response.
//! With `--serve [ADDR]` it listens (default `127.0.0.1:3000`); try
//! `curl -s -XPOST -H 'content-type: application/json' --data @examples/data/hypertensive-patient.json 'http://127.0.0.1:3000/cds/evaluate?at=2024-06-01T09:00:00Z'`.
//! The evaluation time is the `at` query parameter (RFC 3339), or now.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use cds::{DateTime, Engine};
use serde_json::{json, Value};
use tower::ServiceExt;

/// `POST /cds/evaluate`: the body is a Bundle (or one resource, or an array) of one patient.
async fn evaluate(
    State(engine): State<Arc<Engine>>,
    Query(params): Query<HashMap<String, String>>,
    Json(bundle): Json<Value>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let bad = |status: StatusCode, message: String| (status, Json(json!({ "error": message })));
    let at = match params.get("at") {
        Some(text) => DateTime::parse(text),
        None => DateTime::now_utc(),
    }
    .map_err(|e| bad(StatusCode::BAD_REQUEST, format!("at: {e}")))?;
    // Messages of these errors name JSON paths and kinds, never patient values.
    let record = cds::record_from_json(bundle)
        .map_err(|e| bad(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    // Evaluation is CPU work of microseconds: no need to leave the async runtime.
    let result = engine.evaluate(&record, &at, None);
    let cards: Vec<&cds::Card> = result.cards().iter().map(|f| &f.card).collect();
    Ok(Json(json!({ "cards": cards })))
}

fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/cds/evaluate", post(evaluate))
        .with_state(engine)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let engine = match Engine::load(root.join("rulesets")) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            std::process::exit(1);
        }
    };
    let app = router(engine);

    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--serve") {
        let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_string());
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!(
            "listening on http://{}/cds/evaluate",
            listener.local_addr()?
        );
        axum::serve(listener, app).await?;
        return Ok(());
    }

    let bundle = std::fs::read(root.join("examples/data/hypertensive-patient.json"))?;
    let request = Request::post("/cds/evaluate?at=2024-06-01T09:00:00Z")
        .header("content-type", "application/json")
        .body(Body::from(bundle))?;
    let response = app.oneshot(request).await?;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
    let json: Value = serde_json::from_slice(&body)?;
    println!("{status}\n{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
