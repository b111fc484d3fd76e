//! Parsing JSON text into a value, with errors that keep serde_json's position but drop any text.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::data::error::{LoadError, LoadErrorKind};

/// Parses `raw`; on failure, an error positioned at the syntax error (line and column relative to
/// `first_line`/`first_column`, where `raw` starts in the file).
pub(crate) fn parse(
    raw: &[u8],
    file: &Arc<Path>,
    first_line: usize,
    first_column: usize,
) -> Result<Value, LoadError> {
    serde_json::from_slice(raw).map_err(|e| {
        let kind = if e.is_eof() {
            LoadErrorKind::Truncated
        } else {
            LoadErrorKind::Syntax {
                message: message_without_position(&e),
            }
        };
        let line = e.line().max(1);
        let column = if line == 1 {
            first_column + e.column().max(1) - 1
        } else {
            e.column()
        };
        LoadError::new(file.clone(), kind).at(first_line + line - 1, column)
    })
}

/// serde_json's message without its ` at line N column M` suffix.
fn message_without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or_default().to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<Path> {
        Arc::from(Path::new("f.ndjson"))
    }

    #[test]
    fn syntax_error_positions() {
        let e = parse(br#"{"a": 1,, }"#, &file(), 7, 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.ndjson:7:9: malformed JSON: key must be a string"
        );
        let e = parse(b"{\n  \"a\": tru }", &file(), 1, 1).unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(11)));
    }

    #[test]
    fn truncation() {
        let e = parse(br#"{"resourceType": "Obs"#, &file(), 3, 1).unwrap_err();
        assert_eq!(e.kind.code(), "truncated");
        assert_eq!(e.line, Some(3));
    }
}
