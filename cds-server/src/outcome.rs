//! Errors as a client needs them: an HTTP status and a FHIR OperationOutcome naming what is
//! wrong and where (a JSON path in `expression`). Messages never quote patient data.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub use crate::validate::Problem;

/// An error answer: a status, an OperationOutcome `issue.code` and the problems.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The OperationOutcome issue type (`invalid`, `not-found`, `too-costly`, ...).
    pub code: &'static str,
    /// What is wrong, and where.
    pub problems: Vec<Problem>,
    /// Seconds for `Retry-After` (503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, problems: Vec<Problem>) -> ApiError {
        ApiError {
            status,
            code,
            problems,
            retry_after: None,
        }
    }

    /// 400: the body is malformed or invalid.
    pub fn invalid(problems: Vec<Problem>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", problems)
    }

    /// 400 with one problem.
    pub fn invalid_at(path: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::invalid(vec![Problem::at(path, message)])
    }

    /// 403: authenticated, but not allowed (the admin API without the admin role).
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            vec![Problem::at("", message)],
        )
    }

    /// 404: no such service (or route).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            vec![Problem::at("", message)],
        )
    }

    /// 412: data the rules need was neither prefetched nor obtainable.
    pub fn precondition(problems: Vec<Problem>) -> ApiError {
        ApiError::new(StatusCode::PRECONDITION_FAILED, "incomplete", problems)
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-costly",
            vec![Problem::at(
                "",
                format!("the request body is over the limit of {limit} bytes"),
            )],
        )
    }

    /// 415: not JSON.
    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            vec![Problem::at(
                "",
                "the body must be JSON: send Content-Type: application/json (or application/fhir+json)",
            )],
        )
    }

    /// 503: overloaded or out of time; retry later.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "transient",
            vec![Problem::at("", message)],
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// 500, for the server's own faults (never for bad input).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            vec![Problem::at("", message)],
        )
    }

    /// The OperationOutcome body.
    pub fn outcome(&self) -> Value {
        let issues: Vec<Value> = self
            .problems
            .iter()
            .map(|p| {
                let mut issue = json!({
                    "severity": "error",
                    "code": self.code,
                    "diagnostics": p.message,
                });
                if !p.path.is_empty() {
                    issue["expression"] = json!([p.path]);
                }
                issue
            })
            .collect();
        json!({"resourceType": "OperationOutcome", "issue": issues})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status)?;
        for p in &self.problems {
            if p.path.is_empty() {
                write!(f, "; {}", p.message)?;
            } else {
                write!(f, "; {}: {}", p.path, p.message)?;
            }
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.outcome()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/fhir+json"),
        );
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not read: the connection cannot carry another request,
            // and the client is told so rather than finding out on its next one.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

/// A JSON path from its parts: `context`, `draftOrders`, `entry`, `3` → `context.draftOrders.entry[3]`.
pub fn path(parts: &[&dyn std::fmt::Display]) -> String {
    let mut out = String::new();
    for p in parts {
        let s = p.to_string();
        if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
            out.push('[');
            out.push_str(&s);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_the_path() {
        let e = ApiError::invalid_at("context.patientId", "must be a string");
        assert_eq!(
            e.outcome(),
            json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error",
              "code": "invalid", "diagnostics": "must be a string",
              "expression": ["context.patientId"]}]})
        );
    }

    #[test]
    fn paths_index_arrays() {
        assert_eq!(
            path(&[&"context", &"draftOrders", &"entry", &3, &"resource"]),
            "context.draftOrders.entry[3].resource"
        );
    }
}
