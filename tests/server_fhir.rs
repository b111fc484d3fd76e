//! The FHIR door of `cds serve` (`/fhir/metadata`, `/fhir/$cds-evaluate`) and `/openapi.json`,
//! called over HTTP on the real binary with the shipped rulesets.

mod support;

use serde_json::{json, Value};
use support::server::{root, Server};

/// A server per test, each with its own log file.
fn server(test: &str) -> Server {
    Server::start(&format!("fhir-{test}"), &[])
}

fn hypertensive_bundle() -> Value {
    let text = std::fs::read_to_string(root().join("examples/data/hypertensive-patient.json"))
        .expect("the example patient");
    serde_json::from_str(&text).unwrap()
}

/// A `$cds-evaluate` Parameters: the patient Bundle first, then `more`.
fn parameters(bundle: Value, more: &[Value]) -> Value {
    let mut parameter = vec![json!({"name": "patient", "resource": bundle})];
    parameter.extend(more.iter().cloned());
    json!({"resourceType": "Parameters", "parameter": parameter})
}

fn at(t: &str) -> Value {
    json!({"name": "evaluationTime", "valueDateTime": t})
}

fn ruleset(name: &str) -> Value {
    json!({"name": "ruleset", "valueString": name})
}

/// POSTs Parameters as `application/fhir+json`.
fn evaluate(s: &Server, body: &Value) -> (u16, Value) {
    s.post_raw(
        "/fhir/$cds-evaluate",
        "application/fhir+json",
        serde_json::to_vec(body).unwrap(),
    )
}

/// The request id and the urn:uuids made from it differ per call.
fn redact(mut bundle: Value) -> Value {
    for e in bundle["entry"].as_array_mut().into_iter().flatten() {
        e["fullUrl"] = json!("[urn:uuid]");
        let g = &mut e["resource"]["requestIdentifier"]["value"];
        assert!(g.as_str().is_some_and(|s| !s.is_empty()));
        *g = json!("[request id]");
    }
    bundle
}

/// (moduleCanonical, status, number of cards) of each GuidanceResponse.
fn overview(bundle: &Value) -> Vec<(String, String, usize)> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let g = &e["resource"];
            let cards = g["contained"]
                .as_array()
                .and_then(|c| c.iter().find(|r| r["resourceType"] == "RequestGroup"))
                .map_or(0, |rg| rg["action"].as_array().unwrap().len());
            (
                g["moduleCanonical"].as_str().unwrap().to_string(),
                g["status"].as_str().unwrap().to_string(),
                cards,
            )
        })
        .collect()
}

#[test]
fn metadata_declares_the_operation() {
    let s = server("metadata");
    let (status, cs) = s.get("/fhir/metadata");
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("capability_statement", cs);
    let definition = cs["rest"][0]["operation"][0]["definition"]
        .as_str()
        .unwrap();
    let (status, od) = s.get("/fhir/OperationDefinition/cds-evaluate");
    assert_eq!(status, 200);
    assert_eq!(od["url"], definition);
    assert_eq!(od["code"], "cds-evaluate");
    insta::assert_json_snapshot!("operation_definition", od);
}

#[test]
fn a_hypertensive_patient_gets_guidance_from_every_ruleset() {
    let s = server("evaluate");
    let body = parameters(hypertensive_bundle(), &[at("2024-06-01T00:00:00Z")]);
    let (status, bundle) = evaluate(&s, &body);
    assert_eq!(status, 200, "{bundle}");
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    // One GuidanceResponse per loaded ruleset, each naming the request.
    let (_, readyz) = s.get("/readyz");
    assert_eq!(
        bundle["entry"].as_array().unwrap().len() as u64,
        readyz["rulesets"].as_u64().unwrap()
    );
    let ids: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"]["requestIdentifier"]["value"])
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    // The same call gives the same guidance (card ids included).
    let (_, again) = evaluate(&s, &body);
    assert_eq!(redact(again), redact(bundle.clone()));
    insta::assert_json_snapshot!("hypertensive_patient_bundle", redact(bundle));
}

#[test]
fn rulesets_and_hooks_choose_what_is_evaluated() {
    let s = server("filter");
    let pinned = at("2024-06-01T00:00:00Z");
    let (status, b) = evaluate(
        &s,
        &parameters(
            hypertensive_bundle(),
            &[
                pinned.clone(),
                ruleset("potassium"),
                ruleset("hypertension"),
                ruleset("potassium"),
            ],
        ),
    );
    assert_eq!(status, 200, "{b}");
    let o = overview(&b);
    assert_eq!(o.len(), 2, "asked order, duplicates once: {o:?}");
    assert!(o[0].0.starts_with("urn:cds:ruleset:potassium|"));
    assert!(o[1].0.starts_with("urn:cds:ruleset:hypertension|"));
    assert_eq!((o[1].1.as_str(), o[1].2), ("success", 2));

    // Only the rulesets answering the hook, and only their rules for it.
    let (status, b) = evaluate(
        &s,
        &parameters(
            hypertensive_bundle(),
            &[
                pinned.clone(),
                json!({"name": "hook", "valueString": "order-sign"}),
            ],
        ),
    );
    assert_eq!(status, 200, "{b}");
    let modules: Vec<String> = overview(&b)
        .into_iter()
        .map(|(m, _, _)| m.split('|').next().unwrap().to_string())
        .collect();
    assert_eq!(
        modules,
        [
            "urn:cds:ruleset:af-anticoagulation",
            "urn:cds:ruleset:potassium"
        ]
    );

    // Nothing is being ordered: every rule is decided, none applies.
    for e in b["entry"].as_array().unwrap() {
        assert_eq!(e["resource"]["status"], "success");
        assert!(e["resource"].get("result").is_none());
    }

    // No creatinine in the last week: the AKI rules cannot be decided.
    let (status, b) = evaluate(
        &s,
        &parameters(hypertensive_bundle(), &[pinned.clone(), ruleset("aki")]),
    );
    assert_eq!(status, 200, "{b}");
    let g = &b["entry"][0]["resource"];
    assert_eq!(g["status"], "data-required");
    assert_eq!(g["dataRequirement"][0]["type"], "Observation");
    let outcome = &g["contained"][0];
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["code"], "incomplete");

    // Evaluation time now by default: the readings are old, no card.
    let (status, b) = evaluate(
        &s,
        &parameters(hypertensive_bundle(), &[ruleset("hypertension")]),
    );
    assert_eq!(status, 200, "{b}");
    let g = &b["entry"][0]["resource"];
    assert_eq!(overview(&b)[0].2, 0);
    assert!(g.get("result").is_none());
    assert!(g["occurrenceDateTime"].as_str().unwrap() > "2025");
}

#[test]
fn errors_are_operation_outcomes_naming_the_element() {
    let s = server("errors");
    let pinned = at("2024-06-01T00:00:00Z");

    let (status, missing_patient) = evaluate(
        &s,
        &json!({"resourceType": "Parameters", "parameter": [pinned.clone()]}),
    );
    assert_eq!(status, 400);

    let (status, unknown_ruleset) = evaluate(
        &s,
        &parameters(
            hypertensive_bundle(),
            &[pinned.clone(), ruleset("hypertension"), ruleset("no-such")],
        ),
    );
    assert_eq!(status, 400);
    assert_eq!(
        unknown_ruleset["issue"][0]["expression"][0],
        "Parameters.parameter[3].valueString"
    );

    let (status, not_parameters) = evaluate(&s, &hypertensive_bundle());
    assert_eq!(status, 400);

    let (status, wrong_media_type) = s.post_raw(
        "/fhir/$cds-evaluate",
        "text/plain",
        serde_json::to_vec(&parameters(hypertensive_bundle(), &[])).unwrap(),
    );
    assert_eq!(status, 415);

    let mut bad = hypertensive_bundle();
    bad["entry"][5]["resource"]["valueQuantity"]["value"] = json!("5.9");
    bad["entry"][2]["resource"]["subject"]["reference"] = json!("Patient/someone-else");
    let (status, bad_record) = evaluate(&s, &parameters(bad, std::slice::from_ref(&pinned)));
    assert_eq!(status, 400);
    assert!(!bad_record.to_string().contains("someone-else"));

    let (status, malformed) = s.post_raw(
        "/fhir/$cds-evaluate",
        "application/fhir+json",
        b"{\"resourceType\": \"Parameters\", ".to_vec(),
    );
    assert_eq!(status, 400);

    let (status, wrong_hook) = evaluate(
        &s,
        &parameters(
            hypertensive_bundle(),
            &[
                ruleset("hypertension"),
                json!({"name": "hook", "valueString": "order-sign"}),
            ],
        ),
    );
    assert_eq!(status, 400);

    insta::assert_json_snapshot!(
        "error_outcomes",
        json!({
            "missing patient": missing_patient,
            "unknown ruleset": unknown_ruleset,
            "not Parameters": not_parameters,
            "wrong media type": wrong_media_type,
            "bad record": bad_record,
            "malformed JSON": malformed,
            "ruleset not answering the hook": wrong_hook,
        })
    );
}

#[test]
fn the_openapi_document_is_served() {
    let s = server("openapi");
    let (status, doc) = s.get("/openapi.json");
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let shipped: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("cds-server/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc, shipped);
    assert!(doc["paths"]["/fhir/$cds-evaluate"]["post"].is_object());
}
