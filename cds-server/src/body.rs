//! Reading a JSON request body: JSON media type (415 otherwise), the size limit (413), and
//! well-formed JSON (400 naming line and column, never the text).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::Value;

use crate::outcome::ApiError;

/// A request body parsed as JSON.
pub struct JsonBody(pub Value);

/// Whether a content type is JSON (`application/json`, `application/fhir+json`, `*+json`).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses JSON bytes; errors say where, never what.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = if e.to_string().contains("recursion limit") {
            "JSON nested too deeply"
        } else if e.is_eof() {
            "the JSON ends too early"
        } else if e.to_string().contains("unicode") || e.to_string().contains("UTF-8") {
            "invalid unicode in the JSON"
        } else {
            "malformed JSON"
        };
        ApiError::invalid_at(
            "",
            format!("{what} at line {}, column {}", e.line(), e.column()),
        )
    })
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !is_json(ct) {
            return Err(ApiError::unsupported_media_type());
        }
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(usize::MAX);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::too_large(limit)
            }
            _ => ApiError::invalid_at("", "the request body could not be read"),
        })?;
        Ok(JsonBody(parse(&bytes)?))
    }
}

/// The body limit in force (set by the router), for the 413 message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/fhir+json; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }

    #[test]
    fn parse_errors_say_where_not_what() {
        let e = parse(b"{\"patientId\": \"secret-id\" ").unwrap_err();
        assert_eq!(
            e.problems[0].message,
            "the JSON ends too early at line 1, column 26"
        );
        let e = parse(b"{\"a\": secret}").unwrap_err();
        assert!(e.problems[0]
            .message
            .starts_with("malformed JSON at line 1"));
        assert!(!e.to_string().contains("secret"));
        let deep = "[".repeat(1000);
        assert!(parse(deep.as_bytes()).unwrap_err().problems[0]
            .message
            .starts_with("JSON nested too deeply"));
    }
}
