//! The compiled evaluation graph of the edited ruleset as a picture.
//!
//! `POST /studio/api/graph` `{file, text}` → `{svg, nodes, edges, shared}`: the ruleset
//! folder of `file` with `text` in place of the file, compiled, drawn by
//! [`cds_rules::draw`] — nodes shared between rules (computed once for all of them) marked.

use serde::Deserialize;
use serde_json::{json, Value};

use super::trial::engine_with;
use super::Refusal;
use crate::access::Access;
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
pub fn draw(state: &AppState, access: &Access, req: DrawRequest) -> Result<Value, Refusal> {
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
