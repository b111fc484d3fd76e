//! One FHIR resource, kept as its JSON.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::error::{json_kind, LoadError, LoadErrorKind};
use super::resource_types::intern_resource_type;

/// Where a resource came from: for error reports and provenance of a result, never patient data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    /// The file it was read from (`<memory>` for resources built in code).
    pub file: Arc<Path>,
    /// 1-based line of its start in the file (the NDJSON line, or the Bundle entry's line).
    pub line: usize,
    /// 1-based column (in bytes) of its start in that line.
    pub column: usize,
    /// Its index among the entries of the Bundle it came in, if any.
    pub entry: Option<usize>,
}

impl Source {
    /// A source for resources that were not read from a file.
    pub fn memory() -> Self {
        Source {
            file: Arc::from(Path::new("<memory>")),
            line: 1,
            column: 1,
            entry: None,
        }
    }

    /// A [`LoadError`] positioned at this source.
    pub fn error(&self, kind: LoadErrorKind) -> LoadError {
        LoadError {
            file: self.file.clone(),
            line: Some(self.line),
            column: Some(self.column),
            entry: self.entry,
            kind,
        }
    }
}

/// One FHIR R4 resource: its JSON object as read (field order preserved), its interned type, the
/// `fullUrl` it had in a Bundle, and where it came from. Shared as `Arc<Resource>`.
///
/// ```
/// use cds_core::data::{Resource, Source};
/// let json = serde_json::json!({"resourceType": "Patient", "id": "p1"});
/// let r = Resource::from_json(json, Source::memory(), None).unwrap();
/// assert_eq!(r.resource_type(), "Patient");
/// assert_eq!(r.id(), Some("p1"));
/// assert_eq!(r.reference().as_deref(), Some("Patient/p1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    json: Value,
    resource_type: &'static str,
    full_url: Option<Arc<str>>,
    source: Source,
}

impl Resource {
    /// Checks that `json` is an object with a known R4 `resourceType` and wraps it.
    ///
    /// No element beyond `resourceType` is checked here; see [`crate::data::validate`].
    pub fn from_json(
        json: Value,
        source: Source,
        full_url: Option<Arc<str>>,
    ) -> Result<Self, LoadError> {
        let resource_type = resource_type_of(&json).map_err(|kind| source.error(kind))?;
        Ok(Resource {
            json,
            resource_type,
            full_url,
            source,
        })
    }

    /// The resource type, e.g. `Observation`.
    pub fn resource_type(&self) -> &'static str {
        self.resource_type
    }

    /// The logical id, when present and a string.
    pub fn id(&self) -> Option<&str> {
        self.json.get("id").and_then(Value::as_str)
    }

    /// The resource as JSON (always an object).
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Takes the JSON out.
    pub fn into_json(self) -> Value {
        self.json
    }

    /// An element of the resource by name.
    pub fn get(&self, element: &str) -> Option<&Value> {
        self.json.get(element)
    }

    /// The `fullUrl` of the Bundle entry it came in (e.g. `urn:uuid:...`), if any.
    pub fn full_url(&self) -> Option<&str> {
        self.full_url.as_deref()
    }

    /// Where it came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The relative reference `Type/id` to this resource, when it has an id.
    pub fn reference(&self) -> Option<String> {
        self.id().map(|id| format!("{}/{}", self.resource_type, id))
    }
}

/// The interned `resourceType` of a JSON value, or why it has none.
pub(crate) fn resource_type_of(json: &Value) -> Result<&'static str, LoadErrorKind> {
    let Value::Object(map) = json else {
        return Err(LoadErrorKind::NotAnObject {
            found: json_kind(json),
        });
    };
    match map.get("resourceType") {
        None => Err(LoadErrorKind::MissingResourceType),
        Some(Value::String(name)) => {
            intern_resource_type(name).ok_or_else(|| LoadErrorKind::unknown_type(name))
        }
        Some(other) => Err(LoadErrorKind::InvalidResourceType {
            found: json_kind(other),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_non_resources() {
        let cases = [
            (json!([1]), "not-an-object"),
            (json!({"id": "x"}), "missing-resource-type"),
            (json!({"resourceType": 3}), "invalid-resource-type"),
            (json!({"resourceType": "Foo"}), "unknown-resource-type"),
        ];
        for (value, code) in cases {
            let err = Resource::from_json(value, Source::memory(), None).unwrap_err();
            assert_eq!(err.kind.code(), code);
            assert_eq!(err.line, Some(1));
        }
    }

    #[test]
    fn accessors() {
        let r = Resource::from_json(
            json!({"resourceType": "Observation", "id": "o1", "status": "final"}),
            Source::memory(),
            Some(Arc::from("urn:uuid:1")),
        )
        .unwrap();
        assert_eq!(r.get("status"), Some(&json!("final")));
        assert_eq!(r.full_url(), Some("urn:uuid:1"));
        assert_eq!(r.source().file.to_str(), Some("<memory>"));
    }
}
