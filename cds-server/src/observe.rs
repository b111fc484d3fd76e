//! What every request leaves behind: a count and a latency in the metrics, one JSON log line,
//! and — for calls that touch patient data or administer the server — one audit record
//! ([`crate::audit`]). None of them holds a request body, a resource or a raw identifier of a
//! patient or user: handlers report what the audit needs as [`CallFacts`], whose identifiers the
//! audit store hashes before writing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::RequestId;

use crate::access::Access;
use crate::audit::{CallKind, CallRecord};
use crate::hooks::ServiceLabel;
use crate::metrics::{RequestLabels, ServiceLabels};
use crate::state::AppState;

/// What a handler tells the audit about a call, as a response extension.
#[derive(Debug, Clone, Default)]
pub struct CallFacts {
    /// The hook answered.
    pub hook: Option<String>,
    /// The request's `hookInstance`, when it is an opaque id (a UUID or similar).
    pub hook_instance: Option<String>,
    /// The patient's id, raw: the audit store hashes it.
    pub patient_id: Option<String>,
    /// The user's id (`context.userId`), raw: the audit store hashes it.
    pub user_id: Option<String>,
    /// Cards answered, by `ruleset/rule`.
    pub cards_by_rule: BTreeMap<String, u32>,
}

impl CallFacts {
    /// The opaque ids of a CDS Hooks request body, read leniently (the body may be invalid).
    pub fn of_request(body: &serde_json::Value) -> CallFacts {
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
        let context = body.get("context");
        CallFacts {
            hook: None,
            hook_instance: text(body.get("hookInstance")).filter(|h| is_opaque_id(h)),
            patient_id: text(context.and_then(|c| c.get("patientId"))),
            user_id: text(context.and_then(|c| c.get("userId"))),
            cards_by_rule: BTreeMap::new(),
        }
    }
}

/// Whether a client-chosen id can be stored as it is: at most 64 letters, digits, `-`, `.` or
/// `_` (a `hookInstance` is a UUID; anything else might carry free text, and is left out).
pub fn is_opaque_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// Which calls are audited, by route. The studio's calls that read sample patients or change
/// files are admin calls; checking and formatting text (as one types) touch neither.
fn kind(method: &Method, route: &str) -> Option<CallKind> {
    match route {
        "/studio/api/check" | "/studio/api/format" => None,
        r if r.starts_with("/studio/api/") => Some(CallKind::Admin),
        "/cds-services/{id}" if method == Method::POST => Some(CallKind::ServiceCall),
        "/cds-services/{id}/feedback" => Some(CallKind::Feedback),
        "/fhir/$cds-evaluate" => Some(CallKind::FhirOperation),
        r if r.starts_with("/admin/") => Some(CallKind::Admin),
        r if r.starts_with("/devices") => Some(CallKind::DeviceReadings),
        _ => None,
    }
}

/// The middleware: counts, times, logs and audits every request.
pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let time = chrono::Utc::now();
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
    let audited = kind(&method, &route);
    if audited.is_some() && state.audit.saturated() {
        // Every such call must leave its record; while the store is down and the queue full,
        // calls are shed rather than answered unaudited or kept waiting.
        return crate::outcome::ApiError::unavailable(
            "the audit store is unavailable; retry shortly",
            5,
        )
        .into_response();
    }
    state.metrics.in_flight.inc();
    let res = next.run(req).await;
    state.metrics.in_flight.dec();
    let elapsed = start.elapsed();
    let service = res
        .extensions()
        .get::<ServiceLabel>()
        .map(|s| s.0.clone())
        .unwrap_or_else(|| route.clone());
    let (tenant, client) = res
        .extensions()
        .get::<Access>()
        .map(|a| (a.tenant.clone(), a.client.clone()))
        .unwrap_or_default();
    let status = res.status();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            tenant: tenant.clone(),
            service: service.clone(),
            class: format!("{}xx", status.as_u16() / 100),
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&ServiceLabels {
            tenant: tenant.clone(),
            service: service.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        service = %service,
        tenant = %tenant,
        status = status.as_u16(),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    if let Some(kind) = audited {
        let facts = res
            .extensions()
            .get::<CallFacts>()
            .cloned()
            .unwrap_or_default();
        state
            .audit
            .record(CallRecord {
                time,
                kind,
                tenant,
                client,
                service,
                hook: facts.hook,
                hook_instance: facts.hook_instance,
                status: status.as_u16(),
                cards_by_rule: facts.cards_by_rule,
                duration_ms: elapsed.as_secs_f64() * 1000.0,
                request_id: id,
                patient_id: facts.patient_id,
                user_id: facts.user_id,
            })
            .await;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_opaque_hook_instances_are_kept() {
        assert!(is_opaque_id("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"));
        assert!(!is_opaque_id("Mrs Smith, 3 Elm St"));
        assert!(!is_opaque_id(&"a".repeat(65)));
        let f = CallFacts::of_request(&serde_json::json!({
            "hookInstance": "free text about a patient",
            "context": {"patientId": "p1", "userId": "Practitioner/9"}
        }));
        assert_eq!(f.hook_instance, None);
        assert_eq!(f.patient_id.as_deref(), Some("p1"));
        assert_eq!(f.user_id.as_deref(), Some("Practitioner/9"));
    }
}
