//! Errors of loading and validating FHIR data: where (file, line, column, JSON path) and what kind
//! of problem, never the offending patient value.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A resource (or a whole file) that could not be loaded.
///
/// Displayed as `file:line:column: problem`; the line and column point at the start of the
/// offending NDJSON line or Bundle entry (or, for malformed JSON, at the syntax error itself).
/// Messages name places and kinds of problems only, never patient data values.
#[derive(Debug, thiserror::Error)]
pub struct LoadError {
    /// The file the problem is in.
    pub file: Arc<Path>,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// 1-based column (in bytes) in that line, when known.
    pub column: Option<usize>,
    /// The index of the Bundle entry, when the problem is inside a Bundle.
    pub entry: Option<usize>,
    /// What went wrong.
    #[source]
    pub kind: LoadErrorKind,
}

impl LoadError {
    /// An error about `file` with no position yet.
    pub fn new(file: Arc<Path>, kind: LoadErrorKind) -> Self {
        LoadError {
            file,
            line: None,
            column: None,
            entry: None,
            kind,
        }
    }

    /// The same error at `line`:`column`.
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// `file:line:column` (as much of it as is known), as shown at the start of the message.
    pub fn location(&self) -> String {
        let mut s = self.file.display().to_string();
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
            if let Some(column) = self.column {
                s.push_str(&format!(":{column}"));
            }
        }
        s
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location())?;
        if let Some(entry) = self.entry {
            write!(f, "Bundle entry[{entry}]: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

/// The kinds of problems met while loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be opened or read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The text is not well-formed JSON.
    #[error("malformed JSON: {message}")]
    Syntax {
        /// The parser's description of the problem (without position or input text).
        message: String,
    },
    /// The JSON ends in the middle of a value: a cut-off line or file.
    #[error("truncated JSON: the input ends inside a value")]
    Truncated,
    /// The JSON value is not an object, so it cannot be a resource.
    #[error("expected a JSON object (a FHIR resource), found {found}")]
    NotAnObject {
        /// The kind of JSON value found (`array`, `string`, ...).
        found: &'static str,
    },
    /// The object has no `resourceType`.
    #[error("missing resourceType")]
    MissingResourceType,
    /// `resourceType` is not a string.
    #[error("resourceType must be a string, found {found}")]
    InvalidResourceType {
        /// The kind of JSON value found.
        found: &'static str,
    },
    /// `resourceType` names no FHIR R4 resource type.
    #[error("unknown FHIR R4 resource type {name}")]
    UnknownResourceType {
        /// The name, quoted, when it looks like a type name; otherwise a description.
        name: String,
    },
    /// The resource's type is not the one the file holds (NDJSON files hold one type each).
    #[error("expected resource type {expected} (from the file name), found {found}")]
    UnexpectedType {
        /// The type the file name promises.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// The resource breaks a rule of FHIR R4 or of the engine's record.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
}

impl LoadErrorKind {
    /// A short, stable name for the kind (for counts and machine-readable output).
    pub fn code(&self) -> &'static str {
        match self {
            LoadErrorKind::Io(_) => "io",
            LoadErrorKind::Syntax { .. } => "syntax",
            LoadErrorKind::Truncated => "truncated",
            LoadErrorKind::NotAnObject { .. } => "not-an-object",
            LoadErrorKind::MissingResourceType => "missing-resource-type",
            LoadErrorKind::InvalidResourceType { .. } => "invalid-resource-type",
            LoadErrorKind::UnknownResourceType { .. } => "unknown-resource-type",
            LoadErrorKind::UnexpectedType { .. } => "unexpected-type",
            LoadErrorKind::Invalid(_) => "invalid",
        }
    }

    /// The kind for an unknown type name; the name is shown only when it looks like one.
    pub(crate) fn unknown_type(name: &str) -> Self {
        let looks_like_type =
            !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric());
        let name = if looks_like_type {
            format!("`{name}`")
        } else {
            "(a value that is not a type name)".to_string()
        };
        LoadErrorKind::UnknownResourceType { name }
    }
}

/// A rule broken inside a resource, at a JSON path such as
/// `Observation.component[1].valueQuantity.value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct ValidationError {
    /// Where, as a FHIRPath-like path starting with the resource type.
    pub path: String,
    /// What kind of problem.
    pub problem: Problem,
}

/// What is wrong with an element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A required element is absent.
    #[error("required element missing")]
    Missing,
    /// The element has the wrong JSON type.
    #[error("expected {0}")]
    Expected(&'static str),
    /// A date, dateTime or instant that is not valid FHIR.
    #[error("not a valid FHIR {0}")]
    BadTime(&'static str),
    /// More than one element of a choice (`value[x]`, `effective[x]`, ...).
    #[error("more than one {0} element")]
    MultipleChoices(&'static str),
    /// A code outside the value set FHIR R4 binds the element to (required strength).
    #[error("not a code of the required value set")]
    NotInValueSet,
    /// A choice element of a form FHIR R4 does not allow here.
    #[error("not an allowed form of {0}")]
    UnknownChoice(&'static str),
    /// A Bundle entry with no resource (and no request or response that explains it).
    #[error("entry without a resource")]
    EntryWithoutResource,
}

/// The JSON type name of a value, for messages.
pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_location_entry_and_path() {
        let err = LoadError {
            file: Arc::from(Path::new("b.json")),
            line: Some(12),
            column: Some(5),
            entry: Some(3),
            kind: LoadErrorKind::Invalid(ValidationError {
                path: "Observation.component[1].valueQuantity.value".into(),
                problem: Problem::Expected("a number"),
            }),
        };
        assert_eq!(
            err.to_string(),
            "b.json:12:5: Bundle entry[3]: Observation.component[1].valueQuantity.value: expected a number"
        );
    }

    #[test]
    fn unknown_type_hides_values_that_are_not_names() {
        let k = LoadErrorKind::unknown_type("Jane Doe 1970-01-01");
        assert!(!k.to_string().contains("Jane"));
        let k = LoadErrorKind::unknown_type("Observaton");
        assert_eq!(k.to_string(), "unknown FHIR R4 resource type `Observaton`");
    }
}
