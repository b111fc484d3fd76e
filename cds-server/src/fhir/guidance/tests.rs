use cds_core::temporal::DateTime;
use cds_rules::engine::{record_from_json, Engine};
use serde_json::json;

use super::*;

const RULES: &str = r#"ruleset bp version 2.1.0
  "Blood pressure"
  answers patient-view

define systolic = latest observation loinc 8480-6 within 90 days
define readings = all observations loinc 8480-6 within 90 days

rule very-high
  when systolic > 180 'mm[Hg]'
  then critical "Systolic {systolic}: crisis range"
       detail "Assess **now**."
       source "ACC/AHA 2017" link "https://doi.org/10.1161/HYP.0000000000000065"
       link "Guideline summary" "https://example.org/bp"
       suggest "Repeat the reading" create """{ "resourceType": "ServiceRequest", "id": "template-id", "meta": {"versionId": "3"}, "status": "draft", "intent": "proposal" }"""
       suggest "Replace the flag" update """{ "resourceType": "Flag", "id": "f1", "status": "active" }""" delete "Observation/{systolic}"

rule measured
  when count of readings >= 1
  then info "Measured in the last 90 days: {readings}"
       source "Local policy"
"#;

fn record() -> cds_core::data::PatientRecord {
    let obs = |id: &str, v: i64, t: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
               "subject": {"reference": "Patient/p1"}, "effectiveDateTime": t,
               "valueQuantity": {"value": v, "unit": "mm[Hg]",
                                 "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}})
    };
    record_from_json(json!([
        {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"},
        obs("o1", 150, "2024-05-01T10:00:00Z"),
        obs("o2", 185, "2024-05-31T10:00:00Z"),
    ]))
    .unwrap()
}

const SUBJECT: Subject = Subject {
    patient: "Patient/p1",
    at: "2024-06-01T00:00:00Z",
    request_id: "req-1",
};

#[test]
fn a_card_becomes_an_action_its_issue_and_proposals() {
    let engine = Engine::from_source("bp.rules", RULES).unwrap();
    let record = record();
    let at = DateTime::parse(SUBJECT.at).unwrap();
    let eval = engine.evaluate(&record, &at, None);
    let cards = eval.cards();
    assert_eq!(cards.len(), 2);
    let mut contained = Vec::new();
    let action = card_action(1, &cards[0], SUBJECT, &mut contained);
    insta::assert_json_snapshot!("critical_card_action", action);
    insta::assert_json_snapshot!("critical_card_contained", contained);
    // The DetectedIssue the action points at is the first contained resource.
    assert_eq!(action["resource"]["reference"], "#issue-1");
    assert_eq!(contained[0]["id"], "issue-1");
    // Every reference to a contained resource resolves.
    let ids: Vec<&str> = contained.iter().filter_map(|r| r["id"].as_str()).collect();
    for r in action["action"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["action"].as_array().unwrap())
        .filter_map(|a| a["resource"]["reference"].as_str())
        .filter_map(|r| r.strip_prefix('#'))
    {
        assert!(ids.contains(&r), "{r} is not contained");
    }
}

#[test]
fn the_evidence_extension_keeps_all_of_cds_evidence() {
    let engine = Engine::from_source("bp.rules", RULES).unwrap();
    let record = record();
    let at = DateTime::parse(SUBJECT.at).unwrap();
    let eval = engine.evaluate(&record, &at, None);
    for fired in eval.cards() {
        let ext = evidence_extension(&fired.evidence);
        // Rebuild the evidence from the extension alone.
        let parts = ext["extension"].as_array().unwrap();
        let get = |url: &str, key: &str| {
            parts
                .iter()
                .find(|p| p["url"] == url)
                .map(|p| p[key].clone())
                .unwrap()
        };
        let values: Vec<Value> = parts
            .iter()
            .filter(|p| p["url"] == "value")
            .map(|v| {
                let sub = v["extension"].as_array().unwrap();
                let one = |url: &str| {
                    sub.iter().find(|p| p["url"] == url).unwrap()["valueString"].clone()
                };
                let json_text = one("json");
                json!({
                    "name": one("name"),
                    "shown": one("shown"),
                    "value": serde_json::from_str::<Value>(json_text.as_str().unwrap()).unwrap(),
                    "resources": sub.iter().filter(|p| p["url"] == "resource")
                        .map(|p| p["valueReference"]["reference"].clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let rebuilt = json!({
            "ruleset": get("ruleset", "valueString"),
            "version": get("version", "valueString"),
            "rule": get("rule", "valueString"),
            "at": get("at", "valueDateTime"),
            "values": values,
        });
        assert_eq!(rebuilt, serde_json::to_value(&fired.evidence).unwrap());
        assert_eq!(
            fired.card.extension.as_ref().unwrap()["cds-evidence"],
            rebuilt
        );
    }
}

#[test]
fn a_guidance_response_per_status() {
    let engine = Engine::from_source("bp.rules", RULES).unwrap();
    let record = record();
    let at = DateTime::parse(SUBJECT.at).unwrap();
    let eval = engine.evaluate(&record, &at, None);
    let fired = RulesetResult {
        name: "bp",
        version: "2.1.0",
        cards: eval.cards()[1..].iter().collect(),
        issues: vec![],
        undecided: vec![],
        missing: vec![],
    };
    assert_eq!(status(&fired), "success");
    insta::assert_json_snapshot!(
        "info_card_guidance_response",
        guidance_response(&fired, SUBJECT)
    );

    let quiet = RulesetResult {
        cards: vec![],
        ..fired.clone()
    };
    let g = guidance_response(&quiet, SUBJECT);
    assert_eq!(g["status"], "success");
    assert!(g.get("result").is_none() && g.get("contained").is_none());
    assert_eq!(g["moduleCanonical"], "urn:cds:ruleset:bp|2.1.0");

    let missing = RulesetResult {
        undecided: vec!["very-high".into()],
        missing: vec![json!({"type": "Observation"})],
        ..quiet.clone()
    };
    let g = guidance_response(&missing, SUBJECT);
    assert_eq!(g["status"], "data-required");
    assert_eq!(g["dataRequirement"], json!([{"type": "Observation"}]));
    assert_eq!(
        g["evaluationMessage"],
        json!([{"reference": "#evaluation"}])
    );
    assert_eq!(
        g["contained"][0]["issue"],
        json!([{"severity": "information", "code": "incomplete",
                "diagnostics": "rule very-high could not be decided: data it reads is missing"}])
    );

    let failed = RulesetResult {
        issues: vec!["'x' is not a UCUM unit".into()],
        ..missing.clone()
    };
    let g = guidance_response(&failed, SUBJECT);
    assert_eq!(g["status"], "failure");
    assert!(g.get("dataRequirement").is_none());
    assert_eq!(g["contained"][0]["issue"][0]["severity"], "warning");
    assert_eq!(g["contained"][0]["issue"][1]["severity"], "information");

    // Cards raised despite an issue: success, with the issue reported.
    let partial = RulesetResult {
        cards: fired.cards.clone(),
        ..failed
    };
    let g = guidance_response(&partial, SUBJECT);
    assert_eq!(g["status"], "success");
    assert_eq!(g["contained"][2]["resourceType"], "OperationOutcome");
}

#[test]
fn indicators_map_to_priorities_and_severities() {
    assert_eq!(
        [Indicator::Info, Indicator::Warning, Indicator::Critical]
            .map(|i| (priority(i), severity(i))),
        [("routine", "low"), ("urgent", "moderate"), ("stat", "high")]
    );
}
