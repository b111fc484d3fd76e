//! The HTTP surface: routes, and the layers every request passes, outermost first — request id,
//! metrics, log line and audit record ([`crate::observe`]), body limit, load shedding (503 with
//! `Retry-After`) and a time limit, then authentication ([`crate::access`]).

use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Json, Router};
use serde_json::json;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::body::BodyLimit;
use crate::outcome::ApiError;
use crate::state::AppState;
use crate::{feedback, hooks};

/// The router of the whole server.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.config.limits.clone();
    let shed = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|e: BoxError| async move {
            if e.is::<tower::timeout::error::Elapsed>() {
                ApiError::unavailable("the request took longer than the server allows", 1)
            } else {
                ApiError::unavailable("the server is at capacity; retry shortly", 1)
            }
        }))
        .load_shed()
        // One limit for the whole server (the plain concurrency limit would be per route).
        .layer(GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests.max(1),
        ))
        .timeout(Duration::from_millis(limits.request_timeout_ms));
    let request_id = header::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/cds-services", get(hooks::discover))
        .route("/cds-services/{id}", post(hooks::call))
        .route("/cds-services/{id}/feedback", post(feedback::feedback))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::devices::routes())
        .route("/openapi.json", get(crate::openapi::document))
        .merge(crate::fhir::routes())
        .merge(crate::admin::routes())
        .merge(crate::studio::routes(state.config.studio.enabled))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::access::authenticate,
        ))
        .layer(shed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::observe::observe,
        ))
        .layer(axum::Extension(BodyLimit {
            bytes: limits.max_body_bytes,
            depth: limits.max_json_depth,
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; GET /cds-services lists the CDS services")
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let rules = state.rules.load();
    let mut body = json!({
        "status": if rules.services.is_empty() { "not ready" } else { "ready" },
        "services": rules.services.len(),
        "rulesets": rules.engine.rulesets().len(),
    });
    // Public route: with authentication on, the problems (which name ruleset files) are only in
    // the admin API and the log.
    if !state.verifier.enabled() {
        body["reloadProblems"] = json!(state.reload_problems.load().as_slice());
    }
    let status = if rules.services.is_empty() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

/// `GET /metrics`: everything without authentication; with it, the admin role and only the
/// caller's tenant's series.
async fn metrics(
    State(state): State<Arc<AppState>>,
    axum::Extension(access): axum::Extension<crate::access::Access>,
) -> Response {
    if let Err(e) = access.require_admin() {
        return e.into_response();
    }
    state.metrics.set_audit(&state.audit.stats());
    let text = if access.tenant.is_empty() {
        state.metrics.render()
    } else {
        state.metrics.render_for(&access.tenant)
    };
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    res
}
