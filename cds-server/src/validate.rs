//! Input validation against the JSON Schemas in `fhir-profiles/`.
//!
//! [`Schemas`] compiles the embedded schemas once; its checks return every [`Problem`] found
//! (sorted, deduplicated, at most [`MAX_PROBLEMS`]), each naming a readable JSON path and saying
//! what is wrong without quoting the value that was sent, so that patient data never travels
//! back in an error response or into a log.
//!
//! | check | schema |
//! | --- | --- |
//! | [`Schemas::request`] | `cds-hooks/request.schema.json`, then `cds-hooks/context/{hook}.schema.json` for a hook in [`KNOWN_HOOKS`] |
//! | [`Schemas::feedback`] | `cds-hooks/feedback.schema.json` |
//! | [`Schemas::device`] | `device/device-onboarding.schema.json` |

mod messages;
mod path;

use std::fmt;

use jsonschema::{Resource, Validator};
use serde::Serialize;
use serde_json::Value;

use messages::{RawProblem, Scope};
use path::Segment;

/// At most this many problems are returned by one check.
pub const MAX_PROBLEMS: usize = 20;

/// The hooks whose context is checked by [`Schemas::request`]; other hooks get no context check.
pub const KNOWN_HOOKS: [&str; 5] = [
    "patient-view",
    "order-select",
    "order-sign",
    "appointment-book",
    "device-observation",
];

const FHIR_SCHEMA_ID: &str = "https://cds-server.invalid/schemas/fhir.schema.json";

/// An embedded schema: its file (relative to `fhir-profiles/`) and text.
struct Source {
    name: &'static str,
    text: &'static str,
}

macro_rules! schema {
    ($name:literal) => {
        Source {
            name: $name,
            text: include_str!(concat!("../../fhir-profiles/", $name)),
        }
    };
}

const FHIR: Source = schema!("cds-hooks/fhir.schema.json");
const REQUEST: Source = schema!("cds-hooks/request.schema.json");
const FEEDBACK: Source = schema!("cds-hooks/feedback.schema.json");
const DEVICE: Source = schema!("device/device-onboarding.schema.json");
/// One context schema per entry of [`KNOWN_HOOKS`], in the same order.
const CONTEXTS: [Source; 5] = [
    schema!("cds-hooks/context/patient-view.schema.json"),
    schema!("cds-hooks/context/order-select.schema.json"),
    schema!("cds-hooks/context/order-sign.schema.json"),
    schema!("cds-hooks/context/appointment-book.schema.json"),
    schema!("cds-hooks/context/device-observation.schema.json"),
];

/// One thing wrong with a validated body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where, as a readable JSON path from the body's root, e.g.
    /// `context.draftOrders.entry[2].resource.resourceType`; the empty string is the root.
    pub path: String,
    /// What is wrong, e.g. "is required" or "must be one of: accepted, overridden". Never
    /// contains the value that was sent.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// An embedded schema could not be loaded: a defect of this build, not of any input.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The schema file is not JSON.
    #[error("embedded schema fhir-profiles/{name} is not valid JSON: {source}")]
    Json {
        /// The schema file, relative to `fhir-profiles/`.
        name: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The schema is JSON but not a schema jsonschema can compile.
    #[error("embedded schema fhir-profiles/{name} does not compile: {message}")]
    Compile {
        /// The schema file, relative to `fhir-profiles/`.
        name: &'static str,
        /// jsonschema's description (about the schema, not about any input).
        message: String,
    },
}

/// The compiled schemas. Build once with [`Schemas::new`] and share (`Schemas` is `Send + Sync`).
pub struct Schemas {
    request: Validator,
    contexts: Vec<(&'static str, Validator)>,
    feedback: Validator,
    device: Validator,
}

impl fmt::Debug for Schemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schemas")
            .field("hooks", &KNOWN_HOOKS)
            .finish_non_exhaustive()
    }
}

impl Schemas {
    /// Compiles the embedded schemas.
    pub fn new() -> Result<Self, SchemaError> {
        let fhir = parse(&FHIR)?;
        let compile = |source: &Source| compile(source, &fhir);
        let mut contexts = Vec::with_capacity(KNOWN_HOOKS.len());
        for (hook, source) in KNOWN_HOOKS.iter().zip(CONTEXTS.iter()) {
            contexts.push((*hook, compile(source)?));
        }
        Ok(Self {
            request: compile(&REQUEST)?,
            contexts,
            feedback: compile(&FEEDBACK)?,
            device: compile(&DEVICE)?,
        })
    }

    /// Checks a CDS Hooks service request body; then, when `hook` is one of [`KNOWN_HOOKS`] and
    /// `context` is an object, checks the context against that hook's schema. Paths of context
    /// problems start with `context.`.
    pub fn request(&self, body: &Value) -> Result<(), Vec<Problem>> {
        let mut raw = Vec::new();
        gather(&self.request, body, &[], Scope::Document, &mut raw);
        if let (Some(hook), Some(context)) = (
            body.get("hook").and_then(Value::as_str),
            body.get("context").filter(|c| c.is_object()),
        ) {
            if let Some((known, validator)) = self.contexts.iter().find(|(h, _)| *h == hook) {
                let prefix = [Segment::Key("context".to_owned())];
                gather(
                    validator,
                    context,
                    &prefix,
                    Scope::HookContext(known),
                    &mut raw,
                );
            }
        }
        finish(raw)
    }

    /// Checks a hook context alone (paths relative to the context). `None` when `hook` is not
    /// one of [`KNOWN_HOOKS`].
    pub fn context(&self, hook: &str, context: &Value) -> Option<Result<(), Vec<Problem>>> {
        let (known, validator) = self.contexts.iter().find(|(h, _)| *h == hook)?;
        let mut raw = Vec::new();
        gather(validator, context, &[], Scope::HookContext(known), &mut raw);
        Some(finish(raw))
    }

    /// Checks a feedback body: `{"feedback": [...]}`, a bare array of feedback, or one feedback.
    pub fn feedback(&self, body: &Value) -> Result<(), Vec<Problem>> {
        let mut raw = Vec::new();
        gather(&self.feedback, body, &[], Scope::Document, &mut raw);
        finish(raw)
    }

    /// Checks a Device against the device onboarding profile.
    pub fn device(&self, device: &Value) -> Result<(), Vec<Problem>> {
        let mut raw = Vec::new();
        gather(&self.device, device, &[], Scope::Document, &mut raw);
        finish(raw)
    }
}

fn parse(source: &Source) -> Result<Value, SchemaError> {
    serde_json::from_str(source.text).map_err(|error| SchemaError::Json {
        name: source.name,
        source: error,
    })
}

fn compile(source: &Source, fhir: &Value) -> Result<Validator, SchemaError> {
    let schema = parse(source)?;
    jsonschema::draft202012::options()
        .with_resource(FHIR_SCHEMA_ID, Resource::from_contents(fhir.clone()))
        .build(&schema)
        .map_err(|error| SchemaError::Compile {
            name: source.name,
            message: error.to_string(),
        })
}

fn gather(
    validator: &Validator,
    instance: &Value,
    prefix: &[Segment],
    scope: Scope,
    out: &mut Vec<RawProblem>,
) {
    for error in validator.iter_errors(instance) {
        messages::collect(&error, instance, prefix, scope, out);
    }
}

fn finish(mut raw: Vec<RawProblem>) -> Result<(), Vec<Problem>> {
    if raw.is_empty() {
        return Ok(());
    }
    raw.sort();
    raw.dedup();
    raw.truncate(MAX_PROBLEMS);
    Err(raw
        .into_iter()
        .map(|p| Problem {
            path: path::render(&p.path),
            message: p.message,
        })
        .collect())
}

#[cfg(test)]
mod tests;
