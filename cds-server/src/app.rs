//! The HTTP surface: routes, and the layers every request passes — request id, JSON log line,
//! metrics, body limit, load shedding (503 with `Retry-After`) and a time limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Json, Router};
use serde_json::json;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::body::BodyLimit;
use crate::hooks::ServiceLabel;
use crate::metrics::{RequestLabels, ServiceLabels};
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
        .fallback(not_found)
        .layer(shed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
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
    let problems = state.reload_problems.load();
    let body = json!({
        "status": if rules.services.is_empty() { "not ready" } else { "ready" },
        "services": rules.services.len(),
        "rulesets": rules.engine.rulesets().len(),
        "reloadProblems": problems.as_slice(),
    });
    let status = if rules.services.is_empty() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    res
}

/// Counts, times and logs every request: one JSON line with the request id, method, route,
/// service, status and duration — never the URL's query, the body or a patient id.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|r| r.header_value().to_str().ok())
        .unwrap_or_default()
        .to_string();
    state.metrics.in_flight.inc();
    let res = next.run(req).await;
    state.metrics.in_flight.dec();
    let elapsed = start.elapsed();
    let service = res
        .extensions()
        .get::<ServiceLabel>()
        .map(|s| s.0.clone())
        .unwrap_or_else(|| route.clone());
    let status = res.status();
    let class = format!("{}xx", status.as_u16() / 100);
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            tenant: String::new(),
            service: service.clone(),
            class,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&ServiceLabels {
            service: service.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        service = %service,
        status = status.as_u16(),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    res
}
