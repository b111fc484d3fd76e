//! Value sets for `memberOf()`, loaded from FHIR ValueSet JSON.
//!
//! A value set's members are taken from `expansion.contains` (recursively) and from
//! `compose.include`: a system with a `concept` list adds those codes, a system without one
//! includes every code of that system. `compose.exclude` and filters are not interpreted.
//!
//! ```
//! use cds_core::fhirpath::{self, EvalContext, ValueSetRegistry};
//! use cds_core::temporal::DateTime;
//!
//! let mut registry = ValueSetRegistry::new();
//! registry.add(&serde_json::json!({
//!     "resourceType": "ValueSet",
//!     "url": "http://example.org/vs/bp",
//!     "compose": {"include": [{"system": "http://loinc.org", "concept": [{"code": "8480-6"}]}]}
//! })).unwrap();
//! let obs = serde_json::json!({"resourceType": "Observation",
//!     "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}});
//! let ctx = EvalContext::new(DateTime::parse("2024-01-01T00:00:00Z").unwrap()).with_valuesets(&registry);
//! let expr = fhirpath::parse("code.memberOf('http://example.org/vs/bp')").unwrap();
//! assert_eq!(expr.evaluate(&obs, &ctx).unwrap().as_bool(), Some(true));
//! ```

use super::value::{FhirNode, Item};
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A problem loading value sets.
#[derive(Debug, Error)]
pub enum ValueSetError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid JSON.
    #[error("{path} is not valid JSON: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message (line and column).
        message: String,
    },
    /// A resource is not a ValueSet with a `url`.
    #[error("{location}: not a ValueSet with a url")]
    NotAValueSet {
        /// Where it came from (file path or `json`).
        location: String,
    },
}

/// The codes of one value set.
#[derive(Debug, Default, Clone)]
pub struct ValueSet {
    codes: HashMap<String, HashSet<String>>,
    whole_systems: HashSet<String>,
}

impl ValueSet {
    fn add_code(&mut self, system: &str, code: &str) {
        self.codes
            .entry(system.to_string())
            .or_default()
            .insert(code.to_string());
    }

    /// Whether `(system, code)` is a member.
    pub fn contains(&self, system: &str, code: &str) -> bool {
        self.whole_systems.contains(system)
            || self.codes.get(system).is_some_and(|c| c.contains(code))
    }

    /// The enumerated codes, as `(system, code)`, sorted; `None` when the value set includes a
    /// whole code system (it cannot be listed).
    pub fn codes(&self) -> Option<Vec<(&str, &str)>> {
        if !self.whole_systems.is_empty() {
            return None;
        }
        let mut out: Vec<(&str, &str)> = self
            .codes
            .iter()
            .flat_map(|(s, cs)| cs.iter().map(move |c| (s.as_str(), c.as_str())))
            .collect();
        out.sort_unstable();
        Some(out)
    }

    /// Whether a bare code (no system) is a member under any system.
    pub fn contains_code(&self, code: &str) -> bool {
        self.codes.values().any(|c| c.contains(code))
    }

    /// Membership of a Coding, CodeableConcept or code; `None` when the item carries no code.
    pub(crate) fn contains_item(
        &self,
        item: &Item<'_>,
        node: Option<FhirNode<'_>>,
    ) -> Option<bool> {
        if let Some(n) = node {
            if let Json::Object(o) = n.json {
                if let Some(Json::Array(codings)) = o.get("coding") {
                    let mut any = false;
                    for c in codings {
                        any = true;
                        if self.coding(c) == Some(true) {
                            return Some(true);
                        }
                    }
                    return any.then_some(false);
                }
                return self.coding(n.json);
            }
        }
        match item {
            Item::String(s) => Some(self.contains_code(s.as_str())),
            _ => None,
        }
    }

    fn coding(&self, c: &Json) -> Option<bool> {
        let code = c.get("code").and_then(Json::as_str)?;
        Some(match c.get("system").and_then(Json::as_str) {
            Some(system) => self.contains(system, code),
            None => self.contains_code(code),
        })
    }
}

/// Value sets by canonical URL.
#[derive(Debug, Default, Clone)]
pub struct ValueSetRegistry {
    sets: HashMap<String, ValueSet>,
}

impl ValueSetRegistry {
    /// An empty registry.
    pub fn new() -> ValueSetRegistry {
        ValueSetRegistry::default()
    }

    /// Load every `*.json` file of a folder (each a ValueSet, or a Bundle of them).
    pub fn load_dir(path: impl AsRef<Path>) -> Result<ValueSetRegistry, ValueSetError> {
        let dir = path.as_ref();
        let io = |source| ValueSetError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        entries.sort();
        let mut reg = ValueSetRegistry::new();
        for file in entries {
            let text = std::fs::read_to_string(&file).map_err(|source| ValueSetError::Io {
                path: file.clone(),
                source,
            })?;
            let json: Json = serde_json::from_str(&text).map_err(|e| ValueSetError::Json {
                path: file.clone(),
                message: e.to_string(),
            })?;
            reg.add_located(&json, &file.display().to_string())?;
        }
        Ok(reg)
    }

    /// Add a ValueSet (or a Bundle of ValueSets) given as JSON.
    pub fn add(&mut self, json: &Json) -> Result<(), ValueSetError> {
        self.add_located(json, "json")
    }

    fn add_located(&mut self, json: &Json, location: &str) -> Result<(), ValueSetError> {
        if json.get("resourceType").and_then(Json::as_str) == Some("Bundle") {
            if let Some(Json::Array(entries)) = json.get("entry") {
                for e in entries {
                    if let Some(r) = e.get("resource") {
                        self.add_located(r, location)?;
                    }
                }
            }
            return Ok(());
        }
        let not_vs = || ValueSetError::NotAValueSet {
            location: location.to_string(),
        };
        if json.get("resourceType").and_then(Json::as_str) != Some("ValueSet") {
            return Err(not_vs());
        }
        let url = json.get("url").and_then(Json::as_str).ok_or_else(not_vs)?;
        let mut vs = ValueSet::default();
        if let Some(Json::Array(contains)) = json.pointer("/expansion/contains") {
            add_contains(&mut vs, contains);
        }
        if let Some(Json::Array(includes)) = json.pointer("/compose/include") {
            for inc in includes {
                let Some(system) = inc.get("system").and_then(Json::as_str) else {
                    continue;
                };
                match inc.get("concept") {
                    Some(Json::Array(concepts)) => {
                        for c in concepts {
                            if let Some(code) = c.get("code").and_then(Json::as_str) {
                                vs.add_code(system, code);
                            }
                        }
                    }
                    _ if inc.get("filter").is_none() => {
                        vs.whole_systems.insert(system.to_string());
                    }
                    _ => {}
                }
            }
        }
        self.sets.insert(url.to_string(), vs);
        Ok(())
    }

    /// The value set with this canonical URL (a `|version` suffix is ignored).
    pub fn get(&self, url: &str) -> Option<&ValueSet> {
        self.sets
            .get(url)
            .or_else(|| self.sets.get(url.split('|').next().unwrap_or(url)))
    }

    /// Number of value sets.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether no value set is loaded.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

fn add_contains(vs: &mut ValueSet, contains: &[Json]) {
    for c in contains {
        if let (Some(system), Some(code)) = (
            c.get("system").and_then(Json::as_str),
            c.get("code").and_then(Json::as_str),
        ) {
            vs.add_code(system, code);
        }
        if let Some(Json::Array(nested)) = c.get("contains") {
            add_contains(vs, nested);
        }
    }
}
