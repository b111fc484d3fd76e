//! The compiled evaluation graph of the edited ruleset as a picture.
//!
//! `POST /studio/api/graph` `{file, text}` → `{svg, nodes, edges, shared}`: the ruleset
//! folder of `file` with `text` in place of the file, compiled, drawn by
//! [`cds_rules::draw`] — nodes shared between rules (computed once for all of them) marked.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::trial::{engine_with, Unloadable};
use super::{admin, blocking, body};
use crate::access::Access;
use crate::body::JsonBody;
use crate::state::AppState;

/// The body of a drawing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawRequest {
    /// The ruleset file edited.
    pub file: String,
    /// Its text as edited.
    pub text: String,
}

/// `POST /studio/api/graph`.
pub async fn draw(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    json: JsonBody,
) -> Response {
    let req: DrawRequest = match admin(&access).and_then(|()| body(json)) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let result = blocking(move || Ok(draw_blocking(&state, &access, &req))).await;
    match result {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(u)) => u.into_response("the ruleset has errors; fix them to see its graph"),
        Err(e) => e.into_response(),
    }
}

fn draw_blocking(
    state: &AppState,
    access: &Access,
    req: &DrawRequest,
) -> Result<Value, Unloadable> {
    let (engine, _) = engine_with(state, access, &req.file, &req.text)?;
    let name = super::edit::declared_name(&req.text)
        .unwrap_or_default()
        .to_string();
    let picture = cds_rules::draw::draw(&engine, &[name.as_str()]);
    Ok(json!({
        "svg": picture.svg,
        "nodes": picture.nodes,
        "edges": picture.edges,
        "shared": picture.shared,
    }))
}
