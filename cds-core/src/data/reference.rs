//! FHIR references (`Reference.reference` strings) and an index of resources they resolve into.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::resource_types::intern_resource_type;
use super::Resource;

/// What a reference string points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// `#id`: a resource contained in the referring resource.
    Contained(&'a str),
    /// `Type/id`, `Type/id/_history/n`, or an absolute URL ending in one of those (`url` is then
    /// the whole reference, which may match a Bundle `fullUrl` first).
    Typed {
        /// The resource type.
        resource_type: &'static str,
        /// The logical id.
        id: &'a str,
        /// The absolute URL, when the reference is one.
        url: Option<&'a str>,
    },
    /// Another URL (`urn:uuid:...`, `urn:oid:...`): only a Bundle `fullUrl` can match it.
    Url(&'a str),
}

/// Parses a reference string; `None` for what cannot be resolved locally (conditional references
/// such as `Patient?identifier=...`, empty strings, unknown types).
///
/// ```
/// use cds_core::data::reference::{parse_reference, Target};
/// assert_eq!(
///     parse_reference("http://x.org/fhir/Patient/p1/_history/2"),
///     Some(Target::Typed { resource_type: "Patient", id: "p1", url: Some("http://x.org/fhir/Patient/p1/_history/2") })
/// );
/// assert_eq!(parse_reference("urn:uuid:1234"), Some(Target::Url("urn:uuid:1234")));
/// assert_eq!(parse_reference("#med1"), Some(Target::Contained("med1")));
/// assert_eq!(parse_reference("Practitioner?identifier=x|1"), None);
/// ```
pub fn parse_reference(reference: &str) -> Option<Target<'_>> {
    if reference.is_empty() || reference.contains('?') {
        return None;
    }
    if let Some(id) = reference.strip_prefix('#') {
        return (!id.is_empty()).then_some(Target::Contained(id));
    }
    if reference.starts_with("urn:") {
        return Some(Target::Url(reference));
    }
    let absolute = reference.contains("://");
    let mut segments: Vec<&str> = reference.split('/').collect();
    if segments.len() >= 4 && segments.get(segments.len() - 2) == Some(&"_history") {
        segments.truncate(segments.len() - 2);
    }
    let n = segments.len();
    let typed = match (segments.get(n.wrapping_sub(2)), segments.last()) {
        (Some(t), Some(id)) if n >= 2 && !id.is_empty() => {
            intern_resource_type(t).map(|resource_type| (resource_type, *id))
        }
        _ => None,
    };
    match typed {
        Some((resource_type, id)) if absolute || n == 2 => Some(Target::Typed {
            resource_type,
            id,
            url: absolute.then_some(reference),
        }),
        _ if absolute => Some(Target::Url(reference)),
        _ => None,
    }
}

/// Resources findable by `Type/id` and by Bundle `fullUrl`.
#[derive(Debug, Default, Clone)]
pub struct ResourceIndex {
    resources: Vec<Arc<Resource>>,
    by_id: HashMap<&'static str, HashMap<Box<str>, usize>>,
    by_url: HashMap<Box<str>, usize>,
}

impl ResourceIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes `resources`; the first of duplicates (same `Type/id` or `fullUrl`) wins.
    pub fn from_resources(resources: impl IntoIterator<Item = Arc<Resource>>) -> Self {
        let mut index = ResourceIndex::new();
        for r in resources {
            index.insert(r);
        }
        index
    }

    /// Adds a resource; returns false when one with the same `Type/id` was already there (the
    /// earlier one stays findable by that key).
    pub fn insert(&mut self, resource: Arc<Resource>) -> bool {
        let i = self.resources.len();
        let mut fresh = true;
        if let Some(id) = resource.id() {
            let ids = self.by_id.entry(resource.resource_type()).or_default();
            if ids.contains_key(id) {
                fresh = false;
            } else {
                ids.insert(id.into(), i);
            }
        }
        if let Some(url) = resource.full_url() {
            self.by_url.entry(url.into()).or_insert(i);
        }
        self.resources.push(resource);
        fresh
    }

    /// All resources, in insertion order.
    pub fn resources(&self) -> &[Arc<Resource>] {
        &self.resources
    }

    /// The number of resources.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The resource `resource_type/id`.
    pub fn get(&self, resource_type: &str, id: &str) -> Option<&Arc<Resource>> {
        let i = *self.by_id.get(resource_type)?.get(id)?;
        self.resources.get(i)
    }

    /// The resource whose Bundle entry had this `fullUrl`.
    pub fn get_by_full_url(&self, url: &str) -> Option<&Arc<Resource>> {
        self.resources.get(*self.by_url.get(url)?)
    }

    /// Resolves a reference string that is not a contained (`#id`) one.
    pub fn resolve(&self, reference: &str) -> Option<&Arc<Resource>> {
        match parse_reference(reference)? {
            Target::Contained(_) => None,
            Target::Url(url) => self.get_by_full_url(url),
            Target::Typed {
                resource_type,
                id,
                url,
            } => url
                .and_then(|u| self.get_by_full_url(u))
                .or_else(|| self.get(resource_type, id)),
        }
    }
}

/// The contained resource `#id` inside `container`'s JSON.
pub fn contained<'a>(container: &'a Value, id: &str) -> Option<&'a Value> {
    container
        .get("contained")?
        .as_array()?
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Source;
    use serde_json::json;

    fn res(v: Value, url: Option<&str>) -> Arc<Resource> {
        Arc::new(Resource::from_json(v, Source::memory(), url.map(Arc::from)).unwrap())
    }

    #[test]
    fn parses_forms() {
        assert_eq!(
            parse_reference("Patient/p1"),
            Some(Target::Typed {
                resource_type: "Patient",
                id: "p1",
                url: None
            })
        );
        assert_eq!(
            parse_reference("Patient/p1/_history/3"),
            Some(Target::Typed {
                resource_type: "Patient",
                id: "p1",
                url: None
            })
        );
        assert_eq!(parse_reference("Patient/"), None);
        assert_eq!(parse_reference("Foo/1"), None);
        assert_eq!(parse_reference("a/Patient/1"), None);
        assert_eq!(parse_reference("#"), None);
        assert_eq!(
            parse_reference("http://x/y"),
            Some(Target::Url("http://x/y"))
        );
    }

    #[test]
    fn resolves_by_id_and_full_url() {
        let index = ResourceIndex::from_resources([
            res(
                json!({"resourceType": "Patient", "id": "p1"}),
                Some("urn:uuid:a"),
            ),
            res(
                json!({"resourceType": "Patient", "id": "p2"}),
                Some("http://s/fhir/Patient/p2"),
            ),
        ]);
        let id = |r: Option<&Arc<Resource>>| r.and_then(|r| r.id().map(String::from));
        assert_eq!(id(index.resolve("Patient/p1")), Some("p1".into()));
        assert_eq!(id(index.resolve("urn:uuid:a")), Some("p1".into()));
        assert_eq!(
            id(index.resolve("http://other/Patient/p1")),
            Some("p1".into())
        );
        assert_eq!(
            id(index.resolve("http://s/fhir/Patient/p2")),
            Some("p2".into())
        );
        assert_eq!(
            id(index.resolve("Patient/p2/_history/1")),
            Some("p2".into())
        );
        assert_eq!(index.resolve("Patient/p3"), None);
        assert_eq!(index.resolve("Observation/p1"), None);
    }

    #[test]
    fn finds_contained() {
        let v = json!({"contained": [{"resourceType": "Medication", "id": "m"}]});
        assert!(contained(&v, "m").is_some());
        assert!(contained(&v, "x").is_none());
    }
}
