//! Turns jsonschema errors into problems whose messages are built from the error kind and the
//! schema only. jsonschema's own messages quote the offending value; ours never do, so patient
//! data sent in a request is not echoed back in a 400 response or a log line.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

use super::path::{segments, Segment};

/// What an error is being reported against: decides how unknown members are described.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// A whole document (request, feedback, device).
    Document,
    /// The context of a known hook; its root is closed.
    HookContext(&'static str),
}

/// A problem before sorting and rendering.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RawProblem {
    pub(crate) path: Vec<Segment>,
    pub(crate) message: String,
}

/// Readable messages for the regular expressions used in the schemas (keyed by the exact
/// pattern text). A test checks that every pattern in every schema is listed here.
pub(crate) const PATTERN_MESSAGES: &[(&str, &str)] = &[
    (
        r"^[A-Za-z0-9\-.]{1,64}$",
        "must be a FHIR id (1 to 64 letters, digits, '-' or '.')",
    ),
    (
        r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$",
        "must be a reference of the form ResourceType/id",
    ),
    (
        r"^Patient/[A-Za-z0-9\-.]{1,64}$",
        "must be a reference of the form Patient/id",
    ),
    (r"^[A-Z][A-Za-z]+$", "must be a FHIR resource type name"),
    (r"^https?://[^\s]+$", "must be an http or https URL"),
    (
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$",
        "must be an RFC 3339 date-time with a time zone, e.g. 2021-12-11T10:05:31Z",
    ),
    (r"^[Bb][Ee][Aa][Rr][Ee][Rr]$", "must be Bearer"),
];

/// Members required only under a condition in a schema (`dependentRequired`, or `if`/`then`), with the condition.
const CONDITIONAL_REQUIRED: &[(&str, &str)] = &[
    (
        "acceptedSuggestions",
        "is required when outcome is accepted",
    ),
    (
        "fhirServer",
        "is required when fhirAuthorization is present",
    ),
];

/// Appends the problems that `error` stands for. `prefix` is where the validated instance sits
/// in the whole body; `instance` is the validated instance itself.
pub(crate) fn collect(
    error: &ValidationError<'_>,
    instance: &Value,
    prefix: &[Segment],
    scope: Scope,
    out: &mut Vec<RawProblem>,
) {
    let located = segments(error.instance_path().as_str(), instance);
    let at = |extra: Option<&str>| -> Vec<Segment> {
        let mut path = prefix.to_vec();
        path.extend(located.iter().cloned());
        if let Some(member) = extra {
            path.push(Segment::Key(member.to_owned()));
        }
        path
    };
    let mut push = |path: Vec<Segment>, message: String| out.push(RawProblem { path, message });

    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            push(
                at(Some(name)),
                required_message(name, error.schema_path().as_str()),
            );
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let message = match scope {
                Scope::HookContext(hook) if located.is_empty() => {
                    format!("unknown hook context field for {hook}")
                }
                _ => "unknown field".to_owned(),
            };
            for member in unexpected {
                push(at(Some(member)), message.clone());
            }
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            let message = match alternatives_required(context, error) {
                Some(names) => format!("must have at least one of: {}", names.join(", ")),
                None => "does not match any of the allowed forms".to_owned(),
            };
            push(at(None), message);
        }
        kind => push(at(None), kind_message(kind)),
    }
}

fn required_message(property: &str, schema_path: &str) -> String {
    let conditional = schema_path
        .split('/')
        .any(|step| matches!(step, "dependentRequired" | "then" | "else"));
    if conditional {
        if let Some((_, message)) = CONDITIONAL_REQUIRED.iter().find(|(p, _)| *p == property) {
            return (*message).to_owned();
        }
    }
    "is required".to_owned()
}

/// When every alternative of an anyOf/oneOf failed only for a missing member at the same place,
/// the names of those members (the "identifier or id" case).
fn alternatives_required(
    alternatives: &[Vec<ValidationError<'static>>],
    error: &ValidationError<'_>,
) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for branch in alternatives {
        if branch.is_empty() {
            return None;
        }
        for failure in branch {
            match failure.kind() {
                ValidationErrorKind::Required { property }
                    if failure.instance_path() == error.instance_path() =>
                {
                    names.push(property.as_str()?.to_owned());
                }
                _ => return None,
            }
        }
    }
    names.dedup();
    Some(names)
}

fn kind_message(kind: &ValidationErrorKind) -> String {
    match kind {
        ValidationErrorKind::Type { kind } => {
            let names: Vec<&str> = match kind {
                TypeKind::Single(one) => vec![type_name(*one)],
                TypeKind::Multiple(set) => set.iter().map(type_name).collect(),
            };
            format!("must be {}", names.join(" or "))
        }
        ValidationErrorKind::Enum { options } => {
            let shown: Vec<String> = match options {
                Value::Array(values) => values.iter().map(schema_value).collect(),
                other => vec![schema_value(other)],
            };
            format!("must be one of: {}", shown.join(", "))
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!("must be {}", schema_value(expected_value))
        }
        ValidationErrorKind::Pattern { pattern } => PATTERN_MESSAGES
            .iter()
            .find(|(p, _)| p == pattern)
            .map_or("has an invalid format", |(_, m)| m)
            .to_owned(),
        ValidationErrorKind::MinLength { limit: 1 }
        | ValidationErrorKind::MinItems { limit: 1 }
        | ValidationErrorKind::MinProperties { limit: 1 } => "must not be empty".to_owned(),
        ValidationErrorKind::MinLength { limit } => {
            format!("must be at least {limit} characters long")
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("must be at most {limit} characters long")
        }
        ValidationErrorKind::MinItems { limit } => format!("must have at least {limit} items"),
        ValidationErrorKind::MaxItems { limit } => format!("must have at most {limit} items"),
        ValidationErrorKind::MinProperties { limit } => {
            format!("must have at least {limit} members")
        }
        ValidationErrorKind::MaxProperties { limit } => {
            format!("must have at most {limit} members")
        }
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            format!("must be greater than {limit}")
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        ValidationErrorKind::MultipleOf { multiple_of } => {
            format!("must be a multiple of {multiple_of}")
        }
        ValidationErrorKind::Format { format } => format!("must be a valid {format}"),
        ValidationErrorKind::UniqueItems => "must not contain duplicate items".to_owned(),
        ValidationErrorKind::Contains => "has no item of the required kind".to_owned(),
        ValidationErrorKind::AdditionalItems { .. }
        | ValidationErrorKind::UnevaluatedItems { .. } => "has more items than allowed".to_owned(),
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            "matches more than one of the allowed forms".to_owned()
        }
        ValidationErrorKind::FalseSchema | ValidationErrorKind::Not { .. } => {
            "is not allowed here".to_owned()
        }
        ValidationErrorKind::PropertyNames { .. } => "has a member with an invalid name".to_owned(),
        ValidationErrorKind::ContentEncoding { .. }
        | ValidationErrorKind::ContentMediaType { .. }
        | ValidationErrorKind::FromUtf8 { .. } => "has content in an invalid encoding".to_owned(),
        ValidationErrorKind::BacktrackLimitExceeded { .. } => {
            "could not be checked against its pattern".to_owned()
        }
        // Handled in `collect`; listed so that this match stays exhaustive.
        ValidationErrorKind::Required { .. } => "is required".to_owned(),
        ValidationErrorKind::AdditionalProperties { .. }
        | ValidationErrorKind::UnevaluatedProperties { .. } => "unknown field".to_owned(),
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
            "does not match any of the allowed forms".to_owned()
        }
        // Schema-side failures: they carry no instance data, but their text is not for clients.
        ValidationErrorKind::Custom { .. } | ValidationErrorKind::Referencing(_) => {
            "could not be checked".to_owned()
        }
    }
}

fn type_name(kind: JsonType) -> &'static str {
    match kind {
        JsonType::Array => "an array",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "an object",
        JsonType::String => "a string",
    }
}

/// A value taken from a schema (never from the instance): strings bare, the rest as JSON.
fn schema_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
