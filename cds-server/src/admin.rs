//! The admin API: a tenant's rulesets and versions, reloading, feedback statistics and audit
//! events. Every route needs the admin role (a token whose `roles` or `scope` holds
//! `auth.admin_role`); without authentication (loopback quick start) anyone on the machine is
//! admin. A tenant's admin sees only its tenant.
//!
//! | route | |
//! | --- | --- |
//! | `GET /admin/rulesets` | the tenant's rulesets: name, version, hooks, service ids |
//! | `POST /admin/reload` | reloads the rulesets folder; the result and the tenant's services |
//! | `GET /admin/feedback` | feedback counts per service, rule, outcome and reason, from the store |
//! | `GET /admin/audit?limit=N` | the tenant's newest audit records (AuditEvents; N ≤ 1000, default 100) |

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use crate::access::Access;
use crate::outcome::ApiError;
use crate::state::AppState;

/// The admin routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/rulesets", get(rulesets))
        .route("/admin/reload", post(reload))
        .route("/admin/feedback", get(feedback))
        .route("/admin/audit", get(audit))
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The tenant's rulesets and their services.
fn visible_rulesets(state: &AppState, access: &Access) -> Value {
    let rules = state.rules.load();
    let list: Vec<Value> = rules
        .engine
        .rulesets()
        .iter()
        .filter(|rs| access.sees(&rs.name))
        .map(|rs| {
            let services: Vec<&str> = rules
                .services
                .iter()
                .filter(|s| s.ruleset == rs.name)
                .map(|s| s.id.as_str())
                .collect();
            json!({
                "name": rs.name,
                "version": rs.version,
                "hooks": rs.hooks,
                "services": services,
            })
        })
        .collect();
    json!({"tenant": access.tenant, "rulesets": list})
}

async fn rulesets(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
) -> Response {
    respond(
        access
            .require_admin()
            .map(|()| visible_rulesets(&state, &access)),
    )
}

async fn reload(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
) -> Response {
    if let Err(e) = access.require_admin() {
        return e.into_response();
    }
    let s = state.clone();
    let Ok(problems) = tokio::task::spawn_blocking(move || s.reload()).await else {
        return ApiError::internal("the reload failed").into_response();
    };
    let mut out = visible_rulesets(&state, &access);
    out["result"] = json!(if problems.is_empty() { "ok" } else { "partial" });
    // Problems name ruleset files; a tenant's admin gets their number only, as the files may
    // be other tenants'.
    out["problems"] = if access.tenant.is_empty() {
        json!(problems)
    } else {
        json!(problems.len())
    };
    Json(out).into_response()
}

async fn feedback(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
) -> Response {
    if let Err(e) = access.require_admin() {
        return e.into_response();
    }
    let counts = match state.audit.feedback_counts(&access.tenant).await {
        Ok(c) => c,
        Err(_) => {
            return ApiError::unavailable("the audit store cannot be read now", 5).into_response()
        }
    };
    let list: Vec<Value> = counts
        .iter()
        .filter(|c| c.key.ruleset == "unknown" || access.sees(&c.key.ruleset))
        .map(|c| {
            json!({
                "service": c.key.service,
                "ruleset": c.key.ruleset,
                "rule": c.key.rule,
                "outcome": c.key.outcome,
                "reason": c.key.reason,
                "count": c.count,
            })
        })
        .collect();
    Json(json!({"tenant": access.tenant, "feedback": list})).into_response()
}

async fn audit(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    if let Err(e) = access.require_admin() {
        return e.into_response();
    }
    let limit = match query.as_ref().ok().and_then(|Query(q)| q.get("limit")) {
        None => 100,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return ApiError::invalid_at("limit", "must be a number from 1 to 1000")
                    .into_response()
            }
        },
    };
    let events = match state.audit.events(&access.tenant, limit).await {
        Ok(e) => e,
        Err(_) => {
            return ApiError::unavailable("the audit store cannot be read now", 5).into_response()
        }
    };
    let entry: Vec<Value> = events.into_iter().map(|e| json!({"resource": e})).collect();
    Json(json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entry.len(),
        "entry": entry,
    }))
    .into_response()
}
