//! Conformance of `cds_server::validate` against the JSON examples of the CDS Hooks 2.0.1
//! specification and of the hook library (fixtures in `tests/fixtures/spec/`, sources and
//! repairs in its `SOURCES.md`).
//!
//! Every request example must pass `Schemas::request`, every hook context example (wrapped in a
//! request for its hook) too, and every feedback example `Schemas::feedback`. The other
//! examples (discovery, responses, fragments) are checked for the fields the specification
//! requires of them.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use cds_server::validate::Schemas;
use serde_json::{json, Value};

/// What a fixture is, and so how it is checked.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A whole service request.
    Request,
    /// `{"context": ...}` for the named hook.
    Context(&'static str),
    /// A feedback body.
    Feedback,
    /// A discovery response.
    Discovery,
    /// A service response (cards, systemActions).
    Response,
    /// A fragment shown for illustration (prefetch templates, a source, an action ...).
    Fragment,
}

const FIXTURES: &[(&str, Kind)] = &[
    ("spec-2.0-discovery-example.json", Kind::Discovery),
    ("spec-2.0-discovery-extension-example.json", Kind::Discovery),
    ("spec-2.0-request-example.json", Kind::Request),
    ("spec-2.0-request-extension-example.json", Kind::Request),
    ("spec-2.0-prefetch-template.json", Kind::Fragment),
    ("spec-2.0-prefetch-token-user-read.json", Kind::Fragment),
    ("spec-2.0-prefetch-token-user-search.json", Kind::Fragment),
    ("spec-2.0-prefetch-token-context.json", Kind::Fragment),
    (
        "spec-2.0-prefetch-token-context-draft-orders.json",
        Kind::Fragment,
    ),
    (
        "spec-2.0-prefetch-token-context-medication-request-id.json",
        Kind::Fragment,
    ),
    ("spec-2.0-prefetch-templates-example.json", Kind::Fragment),
    ("spec-2.0-prefetch-data-example.json", Kind::Fragment),
    ("spec-2.0-fhir-authorization-example.json", Kind::Fragment),
    ("spec-2.0-response-empty.json", Kind::Response),
    ("spec-2.0-card-source-example.json", Kind::Fragment),
    ("spec-2.0-action-create.json", Kind::Fragment),
    ("spec-2.0-action-update.json", Kind::Fragment),
    ("spec-2.0-action-delete.json", Kind::Fragment),
    ("spec-2.0-override-reasons-example.json", Kind::Fragment),
    ("spec-2.0-system-action-example.json", Kind::Response),
    ("spec-2.0-response-example.json", Kind::Response),
    ("spec-2.0-feedback-suggestion-accepted.json", Kind::Feedback),
    (
        "spec-2.0-feedback-overridden-without-reason.json",
        Kind::Feedback,
    ),
    (
        "spec-2.0-feedback-overridden-with-reason.json",
        Kind::Feedback,
    ),
    (
        "spec-2.0-hook-context-example.json",
        Kind::Context("patient-view"),
    ),
    ("spec-2.0-hook-prefetch-example.json", Kind::Fragment),
    (
        "hooks-patient-view-1.0-example-1.json",
        Kind::Context("patient-view"),
    ),
    (
        "hooks-patient-view-1.0-example-2.json",
        Kind::Context("patient-view"),
    ),
    (
        "hooks-order-select-1.0-example-r4.json",
        Kind::Context("order-select"),
    ),
    (
        "hooks-order-select-1.0-example-stu3.json",
        Kind::Context("order-select"),
    ),
    (
        "hooks-order-select-1.0-example-dstu2.json",
        Kind::Context("order-select"),
    ),
    (
        "hooks-order-sign-1.0-example-r4.json",
        Kind::Context("order-sign"),
    ),
    (
        "hooks-order-sign-1.0-example-stu3.json",
        Kind::Context("order-sign"),
    ),
    (
        "hooks-order-sign-1.0-example-dstu2.json",
        Kind::Context("order-sign"),
    ),
    (
        "hooks-appointment-book-1.0-example-1.json",
        Kind::Context("appointment-book"),
    ),
    (
        "hooks-appointment-book-1.0-example-2.json",
        Kind::Context("appointment-book"),
    ),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spec")
}

fn read(name: &str) -> String {
    fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

fn files_ending(suffix: &str) -> BTreeSet<String> {
    fs::read_dir(dir())
        .expect("fixture folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(suffix))
        .collect()
}

fn of_kind(wanted: fn(Kind) -> bool) -> impl Iterator<Item = (&'static str, Kind)> {
    FIXTURES
        .iter()
        .copied()
        .filter(move |(_, kind)| wanted(*kind))
}

fn schemas() -> Schemas {
    Schemas::new().expect("embedded schemas compile")
}

#[test]
fn every_fixture_is_listed_parsed_and_sourced() {
    let listed: BTreeSet<String> = FIXTURES.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(listed.len(), FIXTURES.len(), "a fixture is listed twice");
    assert_eq!(files_ending(".json"), listed);
    let sources = read("SOURCES.md");
    for name in &listed {
        load(name);
        assert!(
            sources.contains(name.as_str()),
            "SOURCES.md does not describe {name}"
        );
    }
    for orig in files_ending(".orig") {
        let repaired = orig.trim_end_matches(".orig");
        assert!(listed.contains(repaired), "{orig} has no repaired fixture");
        assert!(
            sources.contains(orig.as_str()),
            "SOURCES.md does not describe {orig}"
        );
    }
}

#[test]
fn request_examples_pass() {
    let schemas = schemas();
    let mut checked = 0;
    for (name, _) in of_kind(|k| matches!(k, Kind::Request)) {
        assert_eq!(schemas.request(&load(name)), Ok(()), "{name}");
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn hook_context_examples_pass_in_a_request_for_their_hook() {
    let schemas = schemas();
    let mut checked = 0;
    for (name, kind) in FIXTURES {
        let Kind::Context(hook) = kind else { continue };
        let fixture = load(name);
        let context = fixture
            .get("context")
            .unwrap_or_else(|| panic!("{name}: no context"));
        let body = json!({
            "hook": hook,
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": context,
        });
        assert_eq!(schemas.request(&body), Ok(()), "{name}");
        checked += 1;
    }
    assert_eq!(checked, 11);
}

#[test]
fn feedback_examples_pass() {
    let schemas = schemas();
    let mut checked = 0;
    for (name, _) in of_kind(|k| matches!(k, Kind::Feedback)) {
        assert_eq!(schemas.feedback(&load(name)), Ok(()), "{name}");
        checked += 1;
    }
    assert_eq!(checked, 3);
}

fn strings_present(object: &Value, fields: &[&str], what: &str) {
    for field in fields {
        assert!(
            object
                .get(*field)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
            "{what}: {field} is required"
        );
    }
}

#[test]
fn discovery_examples_have_the_required_service_fields() {
    for (name, _) in of_kind(|k| matches!(k, Kind::Discovery)) {
        let services = load(name)["services"]
            .as_array()
            .cloned()
            .expect("services");
        assert!(!services.is_empty(), "{name}");
        for service in &services {
            strings_present(service, &["hook", "description", "id"], name);
        }
    }
}

#[test]
fn response_examples_have_the_required_card_and_action_fields() {
    for (name, _) in of_kind(|k| matches!(k, Kind::Response)) {
        let response = load(name);
        for card in response["cards"].as_array().expect("cards") {
            strings_present(card, &["summary", "indicator"], name);
            assert!(["info", "warning", "critical"].contains(&card["indicator"].as_str().unwrap()));
            strings_present(&card["source"], &["label"], name);
            for link in card
                .get("links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                strings_present(link, &["label", "url", "type"], name);
            }
        }
        let actions = response.get("systemActions").and_then(Value::as_array);
        for action in actions.into_iter().flatten() {
            strings_present(action, &["type", "description"], name);
        }
    }
}

/// The repaired examples were defective as published; the repair is what makes them pass.
#[test]
fn originals_of_repaired_fixtures_are_defective() {
    let schemas = schemas();
    for orig in files_ending(".orig") {
        let text = read(&orig);
        let Ok(published) = serde_json::from_str::<Value>(&text) else {
            continue; // not a JSON document as published: a fragment, a comment, an HTTP line
        };
        match orig.as_str() {
            "spec-2.0-request-extension-example.json.orig" => {
                let problems = schemas
                    .request(&published)
                    .expect_err("patientId is missing");
                assert_eq!(problems.len(), 1);
                assert_eq!(problems[0].path, "context.patientId");
            }
            "spec-2.0-system-action-example.json.orig" => {
                assert!(published["systemActions"][0].get("description").is_none());
            }
            other => panic!("{other} parses as published: say in this test what is wrong with it"),
        }
    }
}
