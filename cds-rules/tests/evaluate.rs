//! Compile-and-evaluate tests: the meaning of each construct on small records, sharing of
//! nodes across rules and rulesets, hook plans, data needs, cards and evidence.

use std::sync::Arc;

use cds_core::data::{PatientRecord, Resource, Source};
use cds_core::fhirpath::ValueSetRegistry;
use cds_core::graph::Value;
use cds_core::temporal::DateTime;
use cds_rules::compile::{compile, Compiled};
use serde_json::{json, Value as Json};

fn build(sources: &[&str]) -> Compiled {
    let parsed: Vec<_> = sources
        .iter()
        .map(|s| {
            let rs = cds_rules::parse(s, "t.rules").unwrap_or_else(|e| panic!("{e:?}"));
            let report = cds_rules::check(&rs, s, "t.rules");
            assert!(!report.has_errors(), "{:?}", report.diagnostics());
            rs
        })
        .collect();
    let inputs: Vec<_> = parsed.iter().zip(sources).map(|(r, s)| (r, *s)).collect();
    compile(&inputs, Arc::new(ValueSetRegistry::new())).unwrap()
}

fn obs(id: &str, code: &str, when: &str, value: Json) -> Json {
    let mut o = json!({
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": when,
    });
    match value {
        Json::Array(a) => {
            o["valueQuantity"] =
                json!({"value": a[0], "system": "http://unitsofmeasure.org", "code": a[1]})
        }
        Json::Object(_) => o["valueCodeableConcept"] = value,
        _ => {}
    }
    o
}

fn record(resources: Vec<Json>) -> PatientRecord {
    let mut all = vec![
        json!({"resourceType": "Patient", "id": "p1", "birthDate": "1950-06-15", "gender": "female"}),
    ];
    all.extend(resources);
    PatientRecord::build(
        all.into_iter()
            .map(|j| Arc::new(Resource::from_json(j, Source::memory(), None).unwrap())),
    )
    .unwrap()
}

const AT: &str = "2024-03-01T12:00:00Z";

fn value(c: &Compiled, rec: &PatientRecord, name: &str) -> String {
    let at = DateTime::parse(AT).unwrap();
    let ev = c.graph.evaluate(rec, &at, None);
    let node = c.rulesets[0].definition(name).expect("defined");
    ev.value(node).map(|v| v.to_string()).unwrap_or_default()
}

fn fired(c: &Compiled, rec: &PatientRecord) -> Vec<String> {
    let at = DateTime::parse(AT).unwrap();
    let ev = c.graph.evaluate(rec, &at, None);
    ev.cards().iter().map(|c| c.rule.clone()).collect()
}

const K: &str = r#"ruleset k version 1.0.0
define potassium = latest observation loinc 2823-3 within 12 hours
define abnormal  = not (potassium between 3.5 'mmol/L' and 5.5 'mmol/L')

rule abnormal-k
  when abnormal
  then warning "Potassium {potassium}"
"#;

#[test]
fn absence_is_unknown_not_false_under_not() {
    let c = build(&[K]);
    // No potassium: `not (between ...)` is unknown, the rule does not fire.
    let none = record(vec![]);
    assert_eq!(value(&c, &none, "potassium"), "not recorded");
    assert_eq!(value(&c, &none, "abnormal"), "not recorded");
    assert!(fired(&c, &none).is_empty());
    // Too old: outside the window.
    let old = record(vec![obs(
        "k0",
        "2823-3",
        "2024-02-28T12:00:00Z",
        json!([6.5, "mmol/L"]),
    )]);
    assert!(fired(&c, &old).is_empty());
    let high = record(vec![obs(
        "k1",
        "2823-3",
        "2024-03-01T08:00:00Z",
        json!([6.5, "mmol/L"]),
    )]);
    assert_eq!(fired(&c, &high), ["abnormal-k"]);
    let normal = record(vec![obs(
        "k2",
        "2823-3",
        "2024-03-01T08:00:00Z",
        json!([4.1, "mmol/L"]),
    )]);
    assert!(fired(&c, &normal).is_empty());
}

#[test]
fn units_convert_and_round_before_banding() {
    let src = r#"ruleset t version 1.0.0
define temperature = latest observation loinc 8310-5 within 1 day in 'Cel' rounded to 1 decimal
define points      = bands of temperature
  <= 35.0 'Cel'             -> 3
  35.1 'Cel' to 36.0 'Cel'  -> 1
  36.1 'Cel' to 38.0 'Cel'  -> 0
  38.1 'Cel' to 39.0 'Cel'  -> 1
  otherwise                 -> 2
end
"#;
    let c = build(&[src]);
    // 100.6 [degF] = 38.111 Cel → 38.1 → 1 point.
    let f = record(vec![obs(
        "t1",
        "8310-5",
        "2024-03-01T10:00:00Z",
        json!([100.6, "[degF]"]),
    )]);
    assert_eq!(value(&c, &f, "temperature"), "38.1 Cel");
    assert_eq!(value(&c, &f, "points"), "1");
    let none = record(vec![]);
    // `otherwise` is for a present value that matches no row; absent stays absent.
    assert_eq!(value(&c, &none, "points"), "not recorded");
}

#[test]
fn changes_counts_and_aggregates() {
    let src = r#"ruleset t version 1.0.0
define creatinine = all observations loinc 2160-0 within 7 days
define rise-48h   = rise in creatinine within 48 hours
define change-7d  = change in creatinine
define fall-7d    = fall in creatinine
define lowest     = min of creatinine
define n          = count of creatinine
define mean       = average of creatinine
define none       = count of all observations loinc 1-8 within 1 day
"#;
    let c = build(&[src]);
    let r = record(vec![
        obs(
            "c1",
            "2160-0",
            "2024-02-25T12:00:00Z",
            json!([0.9, "mg/dL"]),
        ),
        obs(
            "c2",
            "2160-0",
            "2024-02-29T18:00:00Z",
            json!([1.0, "mg/dL"]),
        ),
        obs("c3", "2160-0", "2024-03-01T06:00:00Z", json!([12, "mg/L"])),
    ]);
    // 12 mg/L minus the lowest reading of the last 48 hours before it (1.0 mg/dL).
    assert_eq!(value(&c, &r, "rise-48h"), "2 mg/L");
    assert_eq!(value(&c, &r, "change-7d"), "3 mg/L");
    // The highest reading before the latest (1.0 mg/dL) minus the latest (12 mg/L).
    assert_eq!(value(&c, &r, "fall-7d"), "-0.2 mg/dL");
    assert_eq!(value(&c, &r, "lowest"), "0.9 mg/dL");
    assert_eq!(value(&c, &r, "n"), "3");
    assert_eq!(
        value(&c, &r, "mean"),
        "1.0333333333333333333333333333 mg/dL"
    );
    // A count of nothing is zero; that is a count, not a missing value.
    assert_eq!(value(&c, &r, "none"), "0");
    // One reading: no change.
    let one = record(vec![obs(
        "c1",
        "2160-0",
        "2024-03-01T06:00:00Z",
        json!([1.0, "mg/dL"]),
    )]);
    assert_eq!(value(&c, &one, "rise-48h"), "not recorded");
}

#[test]
fn coded_values_case_and_kleene_logic() {
    let src = r#"ruleset t version 1.0.0
define acvpu      = latest observation loinc 67775-7 within 1 day
define alert      = acvpu is snomed 248234008
define points     = case
  when alert then 0
  otherwise 3
end
define either     = alert or age > 60
define both       = alert and age > 200
"#;
    let c = build(&[src]);
    let alert = json!({"coding": [{"system": "http://snomed.info/sct", "code": "248234008"}]});
    let voice = json!({"coding": [{"system": "http://snomed.info/sct", "code": "300202002"}]});
    let a = record(vec![obs("a", "67775-7", "2024-03-01T10:00:00Z", alert)]);
    let v = record(vec![obs("v", "67775-7", "2024-03-01T10:00:00Z", voice)]);
    let none = record(vec![]);
    assert_eq!(value(&c, &a, "points"), "0");
    assert_eq!(value(&c, &v, "points"), "3");
    // An unknown condition makes the case unknown, not its otherwise.
    assert_eq!(value(&c, &none, "points"), "not recorded");
    // Kleene: unknown or true is true; unknown and false is false.
    assert_eq!(value(&c, &none, "either"), "yes");
    assert_eq!(value(&c, &none, "both"), "no");
}

#[test]
fn identical_expressions_share_nodes_across_rulesets_and_hooks_plan_their_own() {
    let a = r#"ruleset a version 1.0.0
  answers patient-view
define sbp = latest observation loinc 8480-6 within 90 days
rule high
  when sbp >= 140 'mm[Hg]'
  then warning "high"
"#;
    let b = r#"ruleset b version 1.0.0
  answers order-sign
define systolic = latest observation loinc 8480-6 within 90 days
rule very-high
  when systolic >= 140 'mm[Hg]' and age >= 18
  then critical "very high"
"#;
    let c = build(&[a, b]);
    let st = c.graph.stats();
    // query, latest, 140 constant, comparison: shared; plus age, 18, >=, and, two cards.
    assert_eq!(st.nodes, 10, "{st:?}");
    assert!(st.unshared > st.nodes as u64);
    assert_eq!(
        c.rulesets[0].definition("sbp"),
        c.rulesets[1].definition("systolic")
    );
    let plan = c.graph.plan(Some("patient-view"));
    assert_eq!(plan.cards.len(), 1);
    assert!(plan.nodes.len() < st.nodes);
    let needs = c.graph.data_needs(Some("order-sign"));
    let types: Vec<_> = needs.iter().map(|n| n.resource_type.as_str()).collect();
    assert_eq!(types, ["Observation", "Patient"]);
    assert_eq!(
        needs[0].lookback.map(|p| p.to_string()).as_deref(),
        Some("90 days")
    );
}

#[test]
fn cards_carry_cds_hooks_fields_and_evidence() {
    let src = r#"ruleset k version 2.1.0
  "Critical potassium"
  answers patient-view
define potassium = latest observation loinc 2823-3 within 12 hours
rule critical-high
  when potassium >= 6.0 'mmol/L'
  then critical "Potassium {potassium} is critically high, and this summary goes on and on to check that it is cut at one hundred and forty characters exactly {potassium} {potassium}"
       detail "Repeat the test; ECG."
       source "Lab critical values" link "https://example.org/k"
       link "Protocol" "https://example.org/protocol"
       suggest "Repeat potassium" create """{ "resourceType": "ServiceRequest", "status": "draft", "note": [{"text": "K {potassium}"}] }"""
       suggest "Remove reading" delete "Observation/{potassium}"
       override reason "haemolysed" "Sample haemolysed"
"#;
    let c = build(&[src]);
    let r = record(vec![obs(
        "k9",
        "2823-3",
        "2024-03-01T09:00:00Z",
        json!([6.8, "mmol/L"]),
    )]);
    let at = DateTime::parse(AT).unwrap();
    let ev = c.graph.evaluate(&r, &at, Some("patient-view"));
    let card = &ev.cards()[0];
    assert_eq!(card.card.summary.chars().count(), 140);
    assert!(card.card.summary.ends_with('…'));
    let j = serde_json::to_value(&card.card).unwrap();
    assert_eq!(j["indicator"], "critical");
    assert_eq!(j["source"]["url"], "https://example.org/k");
    assert_eq!(j["links"][0]["type"], "absolute");
    assert_eq!(j["selectionBehavior"], "any");
    assert_eq!(
        j["suggestions"][0]["actions"][0]["resource"]["note"][0]["text"],
        "K 6.8 mmol/L"
    );
    assert_eq!(
        j["suggestions"][1]["actions"][0]["resourceId"],
        "Observation/k9"
    );
    assert_eq!(j["overrideReasons"][0]["code"], "haemolysed");
    assert_eq!(j["extension"]["cds-evidence"]["rule"], "critical-high");
    assert_eq!(card.evidence.values[0].resources, ["Observation/k9"]);
    // Deterministic uuid: same inputs, same card id.
    let again = c.graph.evaluate(&r, &at, None);
    assert_eq!(again.cards()[0].card.uuid, card.card.uuid);
    // Another hook: this ruleset does not answer it.
    assert!(c
        .graph
        .evaluate(&r, &at, Some("order-sign"))
        .cards()
        .is_empty());
}

#[test]
fn fhirpath_and_rhai_scores_are_nodes() {
    let src = r#"ruleset s version 1.0.0
define female   = fhirpath "Patient.gender = 'female'"
define hr-count = fhirpath "Observation.where(code.coding.code = '8867-4').count()"
score points using rhai """
let s = 0;
if female { s += 1 }
if age >= 65 { s += 1 }
s
"""
"#;
    let c = build(&[src]);
    let r = record(vec![
        obs("h1", "8867-4", "2024-03-01T09:00:00Z", json!([80, "/min"])),
        obs("h2", "8867-4", "2024-03-01T10:00:00Z", json!([82, "/min"])),
    ]);
    assert_eq!(value(&c, &r, "female"), "yes");
    assert_eq!(value(&c, &r, "hr-count"), "2");
    assert_eq!(value(&c, &r, "points"), "2");
}

#[test]
fn entered_in_error_and_valueless_readings_are_ignored() {
    let c = build(&[K]);
    let mut bad = obs(
        "k1",
        "2823-3",
        "2024-03-01T10:00:00Z",
        json!([7.5, "mmol/L"]),
    );
    bad["status"] = json!("entered-in-error");
    let good = obs(
        "k2",
        "2823-3",
        "2024-03-01T08:00:00Z",
        json!([4.0, "mmol/L"]),
    );
    let mut absent = obs("k3", "2823-3", "2024-03-01T11:00:00Z", json!(null));
    absent["dataAbsentReason"] = json!({"text": "haemolysed"});
    let r = record(vec![bad, good, absent]);
    assert_eq!(value(&c, &r, "potassium"), "4 mmol/L");
    assert!(matches!(
        c.graph
            .evaluate(&r, &DateTime::parse(AT).unwrap(), None)
            .value(c.rulesets[0].definition("abnormal").unwrap()),
        Some(Value::Bool(false))
    ));
}

fn med(id: &str, status: &str, rxnorm: &str) -> Json {
    json!({
        "resourceType": "MedicationRequest", "id": id, "status": status, "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": rxnorm
        }]},
    })
}

const ORDERED: &str = r#"ruleset orders version 1.0.0
  answers order-select, order-sign
define ordering = ordered medication rxnorm 8591
define taking   = active medication rxnorm 8591
rule ordered
  when ordering
  then warning "Potassium chloride ordered"
rule taking-it
  when taking
  then info "On potassium chloride"
"#;

#[test]
fn ordered_medication_reads_drafts_and_active_medication_does_not() {
    let c = build(&[ORDERED]);
    let draft = record(vec![med("d1", "draft", "8591")]);
    assert_eq!(value(&c, &draft, "ordering"), "yes");
    assert_eq!(value(&c, &draft, "taking"), "no");
    assert_eq!(fired(&c, &draft), ["ordered"]);
    let active = record(vec![med("a1", "active", "8591")]);
    assert_eq!(value(&c, &active, "ordering"), "no");
    assert_eq!(value(&c, &active, "taking"), "yes");
    assert_eq!(fired(&c, &active), ["taking-it"]);
    let other_drug = record(vec![med("d2", "draft", "29046")]);
    assert_eq!(value(&c, &other_drug, "ordering"), "no");
    let none = record(vec![]);
    assert_eq!(value(&c, &none, "ordering"), "no");
    assert!(fired(&c, &none).is_empty());
    // Both at once: each reads its own.
    let both = record(vec![
        med("d1", "draft", "8591"),
        med("a1", "active", "8591"),
    ]);
    assert_eq!(fired(&c, &both), ["ordered", "taking-it"]);
    // The card's evidence names the draft order.
    let at = DateTime::parse(AT).unwrap();
    let ev = c.graph.evaluate(&draft, &at, Some("order-select"));
    let j = serde_json::to_string(&ev.cards()[0].card).unwrap();
    assert!(j.contains("MedicationRequest/d1"), "{j}");
}

#[test]
fn ordered_medication_in_a_value_set() {
    let src = r#"ruleset orders version 1.0.0
  answers order-sign
define ordering = ordered medication in valueset "http://example.org/fhir/ValueSet/k-raising"
rule ordered
  when ordering
  then warning "ordered"
"#;
    let rs = cds_rules::parse(src, "t.rules").unwrap();
    let mut vs = ValueSetRegistry::new();
    vs.add(&json!({
        "resourceType": "ValueSet", "url": "http://example.org/fhir/ValueSet/k-raising",
        "status": "active",
        "compose": {"include": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "concept": [{"code": "8591"}, {"code": "9997"}]}]}
    }))
    .unwrap();
    let c = compile(&[(&rs, src)], Arc::new(vs)).unwrap();
    assert_eq!(
        fired(&c, &record(vec![med("d", "draft", "9997")])),
        ["ordered"]
    );
    assert!(fired(&c, &record(vec![med("a", "active", "9997")])).is_empty());
    assert!(fired(&c, &record(vec![med("d", "draft", "29046")])).is_empty());
}

#[test]
fn ordered_medication_data_needs_are_draft_orders() {
    let c = build(&[ORDERED]);
    let needs = c.graph.data_needs(Some("order-sign"));
    let mr: Vec<_> = needs
        .iter()
        .filter(|n| n.resource_type == "MedicationRequest")
        .collect();
    assert_eq!(mr.len(), 1);
    assert!(mr[0].draft_orders);
    assert!(mr[0].active_only);
    assert_eq!(mr[0].codes.len(), 1);
    let only_ordered = r#"ruleset o version 1.0.0
  answers order-select
rule ordered
  when ordered medication rxnorm 8591
  then warning "ordered"
"#;
    let c = build(&[only_ordered]);
    let needs = c.graph.data_needs(Some("order-select"));
    let mr = needs
        .iter()
        .find(|n| n.resource_type == "MedicationRequest")
        .expect("MedicationRequest is read");
    assert!(mr.draft_orders);
    let k = build(&[K]);
    assert!(k.graph.data_needs(None).iter().all(|n| !n.draft_orders));
}

#[test]
fn ordered_medication_is_explained() {
    let engine = cds_rules::engine::Engine::from_source("orders.rules", ORDERED).unwrap();
    let at = DateTime::parse(AT).unwrap();
    let none = record(vec![med("a1", "active", "8591")]);
    let ev = engine.evaluate(&none, &at, Some("order-sign"));
    let text = ev.explain("orders").unwrap().to_string();
    assert!(
        text.contains("ordered medication rxnorm 8591  →  no: no MedicationRequest with this code being ordered (status draft)"),
        "{text}"
    );
    let draft = record(vec![med("d1", "draft", "8591")]);
    let ev = engine.evaluate(&draft, &at, Some("order-sign"));
    let text = ev.explain("orders").unwrap().to_string();
    assert!(
        text.contains("ordered medication rxnorm 8591  →  yes  (MedicationRequest/d1)"),
        "{text}"
    );
}

/// The same text compiles to the same node numbers every time (definitions in file order).
#[test]
fn compiling_is_deterministic() {
    let news2 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rulesets/news2/news2.rules"
    ))
    .unwrap();
    let numbers = || {
        let c = build(&[news2.as_str()]);
        let mut v: Vec<(String, usize)> = c.rulesets[0]
            .definition_names()
            .map(|n| (n.to_string(), c.rulesets[0].definition(n).unwrap().index()))
            .collect();
        v.sort();
        v
    };
    let first = numbers();
    for _ in 0..4 {
        assert_eq!(numbers(), first);
    }
}
