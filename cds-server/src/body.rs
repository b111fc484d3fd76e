//! Reading a JSON request body: JSON media type (415 otherwise), the size limit (413), the
//! nesting limit and well-formed JSON (400 naming line and column, never the text).

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

/// Arrays and objects nested deeper than this are refused by [`parse`].
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Parses JSON bytes nested at most [`DEFAULT_MAX_DEPTH`] deep; errors say where, never what.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    parse_with_depth(bytes, DEFAULT_MAX_DEPTH)
}

/// Parses JSON bytes whose arrays and objects nest at most `max_depth` deep (checked before
/// parsing, in one pass over the bytes); errors say where, never what.
pub fn parse_with_depth(bytes: &[u8], max_depth: usize) -> Result<Value, ApiError> {
    if let Some(at) = too_deep(bytes, max_depth) {
        let (line, column) = line_column(bytes, at);
        return Err(ApiError::invalid_at(
            "",
            format!(
                "JSON nested too deeply at line {line}, column {column}: more than {max_depth} levels of arrays and objects"
            ),
        ));
    }
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

/// The byte offset of the first bracket that opens level `max + 1`, outside strings.
fn too_deep(bytes: &[u8], max: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = before[start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count()
        + 1;
    (line, column)
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
        let limits = req
            .extensions()
            .get::<BodyLimit>()
            .copied()
            .unwrap_or(BodyLimit {
                bytes: usize::MAX,
                depth: DEFAULT_MAX_DEPTH,
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::too_large(limits.bytes)
            }
            _ => ApiError::invalid_at("", "the request body could not be read"),
        })?;
        Ok(JsonBody(parse_with_depth(&bytes, limits.depth)?))
    }
}

/// The body limits in force (set by the router as a request extension).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    /// Largest body, in bytes (named in the 413 message).
    pub bytes: usize,
    /// Deepest nesting of arrays and objects.
    pub depth: usize,
}

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

    #[test]
    fn nesting_is_limited_outside_strings_only() {
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(parse(ok.as_bytes()).is_ok());
        let e = parse_with_depth(b"{\"a\":\n  [[[1]]]}", 3).unwrap_err();
        assert_eq!(
            e.problems[0].message,
            "JSON nested too deeply at line 2, column 5: more than 3 levels of arrays and objects"
        );
        // Brackets inside strings, and escaped quotes, do not count.
        assert!(parse_with_depth(br#"{"a": "[[[[\"[[[[", "b": [1]}"#, 2).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn the_depth_check_agrees_with_the_parser(v in json_value()) {
            let text = serde_json::to_vec(&v).unwrap();
            let depth = depth_of(&v);
            proptest::prop_assert!(parse_with_depth(&text, depth).is_ok());
            if depth > 0 {
                proptest::prop_assert!(parse_with_depth(&text, depth - 1).is_err());
            }
        }
    }

    fn depth_of(v: &Value) -> usize {
        match v {
            Value::Array(a) => 1 + a.iter().map(depth_of).max().unwrap_or(0),
            Value::Object(o) => 1 + o.values().map(depth_of).max().unwrap_or(0),
            _ => 0,
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[\\[\\]{}\"\\\\a-z\u{e9}]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(8, 64, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[\\[{\"a-z]{0,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
