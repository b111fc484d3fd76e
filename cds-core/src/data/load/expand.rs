//! From one parsed JSON value (a resource or a Bundle) to resources: Bundle entries unpacked with
//! their `fullUrl`, search outcomes skipped, types checked against the file, resources validated.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::positions::EntryPositions;
use super::LoadOptions;
use crate::data::error::{LoadError, LoadErrorKind, Problem, ValidationError};
use crate::data::resource::resource_type_of;
use crate::data::validate::{bundle_shell, validate_json};
use crate::data::{Resource, Source};

/// Counts kept while loading a file, beside the resources and errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Bundles unpacked.
    pub bundles: usize,
    /// Searchset entries with `search.mode = outcome` (OperationOutcomes), skipped.
    pub outcomes_skipped: usize,
    /// Bundle entries without a resource but with a `request` or `response` (e.g. a DELETE in a
    /// transaction), skipped.
    pub entries_without_resource: usize,
}

impl FileCounts {
    pub(crate) fn add(&mut self, other: FileCounts) {
        self.bundles += other.bundles;
        self.outcomes_skipped += other.outcomes_skipped;
        self.entries_without_resource += other.entries_without_resource;
    }
}

/// Where a JSON value sits in its file, for positioning errors and sources.
pub(crate) struct Origin<'a> {
    pub file: &'a Arc<Path>,
    /// The value's raw text (for finding Bundle entry positions).
    pub raw: &'a [u8],
    /// The file line on which `raw` starts.
    pub first_line: usize,
    /// The column of `raw`'s first byte on that line.
    pub first_column: usize,
    /// The type the file promises (NDJSON files named after a type).
    pub expected: Option<&'static str>,
}

impl Origin<'_> {
    /// The source of a position (`line`, `column` within `raw`, both 1-based).
    fn source_at(&self, line: usize, column: usize, entry: Option<usize>) -> Source {
        Source {
            file: self.file.clone(),
            line: self.first_line + line - 1,
            column: if line == 1 {
                self.first_column + column - 1
            } else {
                column
            },
            entry,
        }
    }
}

/// Turns one top-level JSON value into resources (or errors), appended to `out` in file order.
pub(crate) fn expand(
    value: Value,
    origin: &Origin<'_>,
    opts: &LoadOptions,
    out: &mut Vec<Result<Resource, LoadError>>,
    counts: &mut FileCounts,
) {
    let (line, column) = first_token(origin.raw);
    let source = origin.source_at(line, column, None);
    let resource_type = match resource_type_of(&value) {
        Ok(t) => t,
        Err(kind) => {
            out.push(Err(source.error(kind)));
            return;
        }
    };
    if resource_type == "Bundle" && origin.expected.is_none() {
        expand_bundle(value, origin, source, opts, out, counts);
        return;
    }
    out.push(check(
        value,
        resource_type,
        source,
        None,
        origin.expected,
        opts,
    ));
}

fn expand_bundle(
    mut value: Value,
    origin: &Origin<'_>,
    source: Source,
    opts: &LoadOptions,
    out: &mut Vec<Result<Resource, LoadError>>,
    counts: &mut FileCounts,
) {
    counts.bundles += 1;
    let Some(map) = value.as_object_mut() else {
        return;
    };
    if let Err(e) = bundle_shell(map) {
        out.push(Err(source.error(LoadErrorKind::Invalid(e))));
        if !map.get("entry").is_some_and(|e| e.is_array()) {
            return;
        }
    }
    let Some(Value::Array(entries)) = map.remove("entry") else {
        return;
    };
    let positions = EntryPositions::scan(origin.raw);
    for (i, entry) in entries.into_iter().enumerate() {
        let (line, column) = positions.get(i).unwrap_or((1, 1));
        let entry_source = origin.source_at(line, column, Some(i));
        let Value::Object(mut entry) = entry else {
            continue; // bundle_shell has reported it
        };
        let outcome = entry
            .get("search")
            .and_then(|s| s.get("mode"))
            .and_then(Value::as_str)
            == Some("outcome");
        if outcome {
            counts.outcomes_skipped += 1;
            continue;
        }
        let full_url = match entry.get("fullUrl") {
            Some(Value::String(s)) => Some(Arc::<str>::from(s.as_str())),
            None => None,
            Some(_) => {
                out.push(Err(entry_source.error(LoadErrorKind::Invalid(
                    ValidationError {
                        path: format!("Bundle.entry[{i}].fullUrl"),
                        problem: Problem::Expected("a string"),
                    },
                ))));
                continue;
            }
        };
        let Some(resource) = entry.remove("resource") else {
            if entry.contains_key("request") || entry.contains_key("response") {
                counts.entries_without_resource += 1;
            } else {
                out.push(Err(entry_source.error(LoadErrorKind::Invalid(
                    ValidationError {
                        path: format!("Bundle.entry[{i}].resource"),
                        problem: Problem::EntryWithoutResource,
                    },
                ))));
            }
            continue;
        };
        let resource_type = match resource_type_of(&resource) {
            Ok(t) => t,
            Err(kind) => {
                out.push(Err(entry_source.error(kind)));
                continue;
            }
        };
        out.push(check(
            resource,
            resource_type,
            entry_source,
            full_url,
            None,
            opts,
        ));
    }
}

/// Type check against the file, validation, and wrapping.
pub(crate) fn check(
    json: Value,
    resource_type: &'static str,
    source: Source,
    full_url: Option<Arc<str>>,
    expected: Option<&'static str>,
    opts: &LoadOptions,
) -> Result<Resource, LoadError> {
    if let Some(expected) = expected {
        if expected != resource_type {
            return Err(source.error(LoadErrorKind::UnexpectedType {
                expected,
                found: resource_type,
            }));
        }
    }
    if opts.validate {
        if let Err(e) = validate_json(resource_type, &json) {
            return Err(source.error(LoadErrorKind::Invalid(e)));
        }
    }
    Resource::from_json(json, source, full_url)
}

/// The 1-based line and column of the first non-whitespace byte of `raw` (1:1 if none).
fn first_token(raw: &[u8]) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for &b in raw {
        match b {
            b'\n' => {
                line += 1;
                column = 1;
            }
            b' ' | b'\t' | b'\r' => column += 1,
            _ => break,
        }
    }
    (line, column)
}
