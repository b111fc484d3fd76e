//! Fuzz target `request`: arbitrary bytes as a CDS Hooks request body, through the server's
//! request path without HTTP:
//!
//! `body::parse` → `Schemas::request` → `hooks::envelope` → `adapters::prepare` →
//! `record::unpack` (each prefetch value) → `record::build`.
//!
//! The server stops at the first stage that fails; here every stage after the schema check runs
//! even when the schema check failed (as long as the stage's input exists), so that the later
//! stages, which must be robust on their own, meet malformed data too.
//!
//! Invariants (a violation panics, which libFuzzer reports as a crash):
//! 1. nothing panics;
//! 2. every error is an `ApiError` with a 4xx status (bad input is never a server fault);
//! 3. no problem *message* contains the marker `SECRET` (values sent are never quoted back);
//!    a problem *path* may name an object member the client sent, so it may contain the marker
//!    only when some object key of the body does — never when the marker is only in a value;
//! 4. an error has at least one problem, and every schema problem list is at most
//!    `validate::MAX_PROBLEMS` long.
#![no_main]

use std::sync::OnceLock;

use cds_core::temporal::DateTime;
use cds_server::outcome::{ApiError, Problem};
use cds_server::validate::{Schemas, MAX_PROBLEMS};
use cds_server::{adapters, body, hooks, record};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Input text no error may echo back.
const MARKER: &str = "SECRET";

/// The server's default `limits.max_resources`.
const MAX_RESOURCES: usize = 50_000;

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| Schemas::new().expect("the embedded schemas compile"))
}

fn now() -> DateTime {
    DateTime::parse("2024-03-01T10:00:00Z").expect("a valid dateTime")
}

/// Whether any object key anywhere in `v` contains the marker.
fn marker_in_keys(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.contains(MARKER) || marker_in_keys(v)),
        Value::Array(a) => a.iter().any(marker_in_keys),
        _ => false,
    }
}

/// Checks one stage's problems (invariant 3).
fn check_problems(stage: &str, problems: &[Problem], keys_have_marker: bool) {
    for p in problems {
        assert!(
            !p.message.contains(MARKER),
            "{stage}: a problem message quotes the input: {p:?}"
        );
        assert!(
            keys_have_marker || !p.path.contains(MARKER),
            "{stage}: a problem path quotes a value of the input: {p:?}"
        );
    }
}

/// Checks one stage's error (invariants 2–4).
fn check_error(stage: &str, e: &ApiError, keys_have_marker: bool) {
    assert!(
        e.status.is_client_error(),
        "{stage}: status {} for bad input: {e:?}",
        e.status
    );
    assert!(!e.problems.is_empty(), "{stage}: an error without problems");
    check_problems(stage, &e.problems, keys_have_marker);
    // The rendered forms a client or a log sees.
    let shown = e.to_string();
    let outcome = e.outcome().to_string();
    if !keys_have_marker {
        assert!(
            !shown.contains(MARKER),
            "{stage}: Display quotes the input: {shown}"
        );
        assert!(
            !outcome.contains(MARKER),
            "{stage}: the OperationOutcome quotes the input: {outcome}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let value = match body::parse(data) {
        Ok(v) => v,
        Err(e) => {
            // No JSON value: the message is about positions only, never the text.
            check_error("body::parse", &e, false);
            return;
        }
    };
    let keys = marker_in_keys(&value);

    if let Err(problems) = schemas().request(&value) {
        assert!(!problems.is_empty(), "schema: Err with no problems");
        assert!(
            problems.len() <= MAX_PROBLEMS,
            "schema: {} problems, over {MAX_PROBLEMS}",
            problems.len()
        );
        check_problems("Schemas::request", &problems, keys);
        check_error("Schemas::request", &ApiError::invalid(problems), keys);
    }

    let env = match hooks::envelope(value) {
        Ok(env) => env,
        Err(e) => {
            check_error("hooks::envelope", &e, keys);
            return;
        }
    };
    let at = env.at.unwrap_or_else(now);
    let input = match adapters::prepare(&env.hook, &env.context, at) {
        Ok(input) => input,
        Err(e) => {
            check_error("adapters::prepare", &e, keys);
            return;
        }
    };

    let mut located = input.resources;
    for (key, v) in env.prefetch.into_iter().flatten() {
        // As `prefetch::resolve` does: null is "no data", an OperationOutcome a failed prefetch.
        if v.is_null() || record::is_operation_outcome(&v) {
            continue;
        }
        if let Err(e) = record::unpack(v, &format!("prefetch.{key}"), &mut located) {
            check_error("record::unpack", &e, keys);
            return;
        }
    }
    if let Err(e) = record::build(
        &input.patient_id,
        "context.patientId",
        located,
        MAX_RESOURCES,
    ) {
        check_error("record::build", &e, keys);
    }
});
