//! The JSON examples of the CDS Hooks 2.0 specification and of the hook library (1.0), as
//! kept in `cds-server/tests/fixtures/spec/` (sources and repairs in its SOURCES.md), sent to
//! the real server over HTTP.
//!
//! Each request example is sent twice: as published (its prefetch lacks the keys our rules
//! need and its `fhirServer` is not one this test allows the server to call, so the right
//! answer is 412 naming each missing key), and with our prefetch keys given as `null` ("no such
//! data"), answered 200 with `{"cards": []}` since these examples carry no clinical data our
//! rules read. Feedback examples are answered 200.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use support::server::{root, Server};

fn fixture(name: &str) -> Value {
    let p = root().join("cds-server/tests/fixtures/spec").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

#[test]
fn spec_and_hook_library_examples_are_answered() {
    // Only this (unused) prefix may be fetched from: the examples' own servers are refused at
    // once rather than tried over a closed network.
    let server = Server::start_with_env(
        "spec-examples",
        &[],
        &[("CDS_FETCH__ALLOWED_SERVERS", "[\"http://127.0.0.1:9/\"]")],
    );
    let (_, discovery) = server.get("/cds-services");
    let prefetch_keys = |id: &str| -> Vec<String> {
        discovery["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no service {id}"))["prefetch"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let requests: Vec<(&str, &str, Value)> = vec![
        (
            "spec-2.0-request-example.json",
            "hypertension-patient-view",
            fixture("spec-2.0-request-example.json"),
        ),
        (
            "spec-2.0-request-extension-example.json",
            "hypertension-patient-view",
            fixture("spec-2.0-request-extension-example.json"),
        ),
        (
            "hooks-patient-view-1.0-example-1.json",
            "hypertension-patient-view",
            wrap("patient-view", "hooks-patient-view-1.0-example-1.json"),
        ),
        (
            "hooks-patient-view-1.0-example-2.json",
            "hypertension-patient-view",
            wrap("patient-view", "hooks-patient-view-1.0-example-2.json"),
        ),
        (
            "hooks-order-select-1.0-example-r4.json",
            "potassium-order-select",
            wrap("order-select", "hooks-order-select-1.0-example-r4.json"),
        ),
        (
            "hooks-order-select-1.0-example-stu3.json",
            "potassium-order-select",
            wrap("order-select", "hooks-order-select-1.0-example-stu3.json"),
        ),
        (
            "hooks-order-select-1.0-example-dstu2.json",
            "potassium-order-select",
            wrap("order-select", "hooks-order-select-1.0-example-dstu2.json"),
        ),
        (
            "hooks-order-sign-1.0-example-r4.json",
            "potassium-order-sign",
            wrap("order-sign", "hooks-order-sign-1.0-example-r4.json"),
        ),
        (
            "hooks-order-sign-1.0-example-stu3.json",
            "potassium-order-sign",
            wrap("order-sign", "hooks-order-sign-1.0-example-stu3.json"),
        ),
        (
            "hooks-order-sign-1.0-example-dstu2.json",
            "potassium-order-sign",
            wrap("order-sign", "hooks-order-sign-1.0-example-dstu2.json"),
        ),
        (
            "hooks-appointment-book-1.0-example-1.json",
            "diabetes-hba1c-appointment-book",
            wrap(
                "appointment-book",
                "hooks-appointment-book-1.0-example-1.json",
            ),
        ),
        (
            "hooks-appointment-book-1.0-example-2.json",
            "diabetes-hba1c-appointment-book",
            wrap(
                "appointment-book",
                "hooks-appointment-book-1.0-example-2.json",
            ),
        ),
    ];
    let mut answers = BTreeMap::new();
    for (name, service, body) in requests {
        let url = format!("/cds-services/{service}");
        let (status, published) = server.post(&url, &body);
        let mut with_null = body.clone();
        for key in prefetch_keys(service) {
            with_null["prefetch"][&key] = Value::Null;
        }
        let (status_null, answered) = server.post(&url, &with_null);
        answers.insert(
            name.to_string(),
            json!({"as published": {"status": status, "body": published},
                   "our prefetch keys null": {"status": status_null, "body": answered}}),
        );
    }
    insta::assert_json_snapshot!("spec-examples", answers);
    // Defective examples (see SOURCES.md) are refused with a 400 naming the defect:
    // - the DSTU2 order examples carry MedicationOrder, not an R4 resource (this is an R4
    //   service; the R4 and STU3 variants of the same examples are answered);
    // - appointment-book example 1 has `end` times that are not FHIR instants;
    // - appointment-book example 2 has participant status `action-needed`, not an R4 code
    //   (accepted | declined | tentative | needs-action).
    let defective: BTreeMap<&str, &str> = [
        (
            "hooks-order-select-1.0-example-dstu2.json",
            "context.draftOrders.entry[1].resource.resourceType",
        ),
        (
            "hooks-order-sign-1.0-example-dstu2.json",
            "context.draftOrders.entry[1].resource.resourceType",
        ),
        (
            "hooks-appointment-book-1.0-example-1.json",
            "context.appointments[0].end",
        ),
        (
            "hooks-appointment-book-1.0-example-2.json",
            "context.appointments[0].participant[2].status",
        ),
    ]
    .into_iter()
    .collect();
    for (name, a) in &answers {
        let answered = &a["our prefetch keys null"];
        match defective.get(name.as_str()) {
            Some(path) => {
                assert_eq!(answered["status"], 400, "{name}: {a}");
                assert_eq!(
                    answered["body"]["issue"][0]["expression"][0], *path,
                    "{name}"
                );
            }
            None => {
                assert_eq!(answered["status"], 200, "{name}: {a}");
                assert_eq!(answered["body"], json!({"cards": []}), "{name}");
                assert_eq!(a["as published"]["status"], 412, "{name}: {a}");
            }
        }
    }
    for name in [
        "spec-2.0-feedback-overridden-with-reason.json",
        "spec-2.0-feedback-overridden-without-reason.json",
        "spec-2.0-feedback-suggestion-accepted.json",
    ] {
        let (status, body) = server.post(
            "/cds-services/hypertension-patient-view/feedback",
            &fixture(name),
        );
        assert_eq!(status, 200, "{name}: {body}");
    }
}

/// A hook library example (a `context` only) as a whole request.
fn wrap(hook: &str, name: &str) -> Value {
    let example = fixture(name);
    json!({
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://fhir.example.org/r4",
        "context": example["context"],
    })
}
