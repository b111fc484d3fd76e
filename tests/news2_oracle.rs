//! The NEWS2 ruleset against the independent oracle (`../shared/oracles/news2/cases.jsonl`).
//!
//! Each oracle case is a set of vital signs with the seven NEWS2 sub-scores, the total and the
//! clinical risk, scored from the RCP chart outside this project. The test turns every case
//! into the FHIR resources that `rulesets/news2/README.md` documents, all taken at one time,
//! evaluates `rulesets/news2` at that time and compares the sub-scores, total, risk and the
//! card that fires with the oracle's.
//!
//! The FHIR varies deterministically by case index, as EHR data does: some temperatures are in
//! `[degF]` (converted exactly from the case's Celsius), some systolic pressures are components
//! of an 85354-9 panel, and air or oxygen is recorded as an inhaled oxygen flow rate (its own
//! Observation or a component of the SpO2 Observation) or as an inhaled oxygen concentration.
//!
//! Output: one line `news2 oracle: N cases, M disagree` (M cases with at least one field that
//! differs), then one line per differing field (`case id, field, expected, got`). The test fails when M > 0. The case file is the one named
//! by the environment variable `NEWS2_CASES`, by default
//! `../shared/oracles/news2/cases.jsonl` beside the project root.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Value};

/// The evaluation time; every observation is taken ten minutes earlier.
const AT: &str = "2024-01-01T10:00:00Z";
const TAKEN: &str = "2024-01-01T09:50:00Z";

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const UCUM: &str = "http://unitsofmeasure.org";

/// Oracle sub-score key → NEWS2 ruleset definition.
const SUBSCORES: [(&str, &str); 7] = [
    ("respiration_rate", "respiration-points"),
    ("spo2", "spo2-points"),
    ("air_or_oxygen", "air-or-oxygen-points"),
    ("systolic_bp", "systolic-points"),
    ("pulse", "pulse-points"),
    ("consciousness", "consciousness-points"),
    ("temperature", "temperature-points"),
];

fn cases_path() -> PathBuf {
    match std::env::var_os("NEWS2_CASES") {
        Some(path) => PathBuf::from(path),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/oracles/news2/cases.jsonl")
        }
    }
}

/// A number of the case file as an exact decimal (through its JSON text, never through f64
/// arithmetic).
fn decimal(v: &Value) -> Decimal {
    Decimal::from_str(&v.to_string()).unwrap_or_else(|_| panic!("not a number: {v}"))
}

/// An exact decimal as a JSON number (its shortest text, e.g. `98.24`).
fn number(d: Decimal) -> Value {
    let text = d.normalize().to_string();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not a JSON number: {text}"))
}

fn quantity(value: Value, unit: &str) -> Value {
    json!({ "value": value, "unit": unit, "system": UCUM, "code": unit })
}

fn coding(system: &str, code: &str) -> Value {
    json!({ "coding": [ { "system": system, "code": code } ] })
}

fn observation(id: String, code: &str, value: Option<Value>, components: Vec<Value>) -> Value {
    let mut obs = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": coding(LOINC, code),
        "subject": { "reference": "Patient/p" },
        "effectiveDateTime": TAKEN,
    });
    if let Some(value) = value {
        obs["valueQuantity"] = value;
    }
    if !components.is_empty() {
        obs["component"] = Value::Array(components);
    }
    obs
}

fn component(code: &str, value: Value) -> Value {
    json!({ "code": coding(LOINC, code), "valueQuantity": value })
}

fn acvpu_code(level: &str) -> &'static str {
    match level {
        "alert" => "248234008",
        "new-confusion" => "130987000",
        "voice" => "300202002",
        "pain" => "450847001",
        "unresponsive" => "422768004",
        other => panic!("unknown consciousness level in the case file: {other}"),
    }
}

/// The FHIR resources of one oracle case, varied by its index.
fn resources(index: usize, vitals: &Value) -> Vec<Value> {
    let id = |what: &str| format!("{what}-{index}");
    let on_oxygen = vitals["on_oxygen"].as_bool().expect("on_oxygen");
    let mut out = vec![json!({
        "resourceType": "Patient",
        "id": "p",
        "birthDate": "1950-06-15",
        "gender": if index.is_multiple_of(2) { "female" } else { "male" },
    })];

    out.push(observation(
        id("rr"),
        "9279-1",
        Some(quantity(vitals["respiration_rate"].clone(), "/min")),
        vec![],
    ));

    // Air or oxygen: a flow rate of its own, a flow rate inside the SpO2 observation (US Core
    // pulse oximetry), or an inspired oxygen concentration.
    let flow = quantity(json!(if on_oxygen { 2 } else { 0 }), "L/min");
    let spo2 = Some(quantity(vitals["spo2"].clone(), "%"));
    match index % 3 {
        0 => {
            out.push(observation(id("spo2"), "59408-5", spo2, vec![]));
            out.push(observation(id("o2"), "3151-8", Some(flow), vec![]));
        }
        1 => out.push(observation(
            id("spo2"),
            "59408-5",
            spo2,
            vec![component("3151-8", flow)],
        )),
        _ => {
            out.push(observation(id("spo2"), "59408-5", spo2, vec![]));
            let fio2 = quantity(json!(if on_oxygen { 35 } else { 21 }), "%");
            out.push(observation(id("fio2"), "3150-0", Some(fio2), vec![]));
        }
    }
    if vitals["spo2_scale"].as_i64() == Some(2) {
        out.push(json!({
            "resourceType": "Condition",
            "id": id("hcrf"),
            "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
            "code": coding("http://hl7.org/fhir/sid/icd-10-cm", "J96.12"),
            "subject": { "reference": "Patient/p" },
        }));
    }

    let systolic = quantity(vitals["systolic_bp"].clone(), "mm[Hg]");
    if index % 5 == 1 || index % 5 == 3 {
        let diastolic = quantity(json!(70), "mm[Hg]");
        out.push(observation(
            id("bp"),
            "85354-9",
            None,
            vec![
                component("8480-6", systolic),
                component("8462-4", diastolic),
            ],
        ));
    } else {
        out.push(observation(id("sbp"), "8480-6", Some(systolic), vec![]));
    }

    out.push(observation(
        id("hr"),
        "8867-4",
        Some(quantity(vitals["pulse"].clone(), "/min")),
        vec![],
    ));

    let level = vitals["consciousness"].as_str().expect("consciousness");
    let mut acvpu = observation(id("acvpu"), "67775-7", None, vec![]);
    acvpu["valueCodeableConcept"] = coding(SNOMED, acvpu_code(level));
    out.push(acvpu);

    let celsius = decimal(&vitals["temperature_celsius"]);
    let temperature = if index % 2 == 1 {
        let fahrenheit = celsius * Decimal::from_str("1.8").unwrap() + Decimal::from(32);
        quantity(number(fahrenheit), "[degF]")
    } else {
        quantity(number(celsius), "Cel")
    };
    out.push(observation(id("temp"), "8310-5", Some(temperature), vec![]));
    out
}

/// The rule that should fire for an oracle total and risk (none for a total of 0).
fn expected_rule(total: i64, risk: &str) -> Option<&'static str> {
    match risk {
        "high" => Some("high-risk"),
        "medium" => Some("medium-risk"),
        "low-medium" => Some("single-parameter-red-score"),
        _ if total >= 1 => Some("low-risk"),
        _ => None,
    }
}

fn show(value: Option<&cds::Value<'_>>) -> String {
    match value {
        None => "no such definition".to_string(),
        Some(v) if v.is_absent() => "absent".to_string(),
        Some(v) => v.to_string(),
    }
}

#[test]
fn news2_oracle() {
    let path = cases_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the NEWS2 cases {}: {e}", path.display()));
    let ruleset = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rulesets/news2");
    let engine = cds::Engine::load(&ruleset).expect("the news2 ruleset loads");
    let at = cds::DateTime::parse(AT).expect("evaluation time");

    let mut cases = 0;
    let mut disagreeing_cases = 0;
    let mut disagreements = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        cases += 1;
        let case: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}", path.display(), index + 1));
        let id = case["id"].as_str().unwrap_or("?").to_string();
        let lines_before = disagreements.len();
        let expected = &case["expected"];
        let mut disagree = |field: &str, want: String, got: String| {
            disagreements.push(format!("{id}, {field}, expected {want}, got {got}"));
        };

        let resources = Value::Array(resources(index, &case["vitals"]));
        let record = cds::record_from_json(resources).expect("a patient record");
        let eval = engine.evaluate(&record, &at, None);

        for (key, name) in SUBSCORES {
            let want = expected["subscores"][key].as_i64().expect("sub-score");
            let got = eval.value("news2", name);
            if got.and_then(|v| v.as_decimal()) != Some(Decimal::from(want)) {
                disagree(name, want.to_string(), show(got));
            }
        }
        let total = expected["total"].as_i64().expect("total");
        let got = eval.value("news2", "total");
        if got.and_then(|v| v.as_decimal()) != Some(Decimal::from(total)) {
            disagree("total", total.to_string(), show(got));
        }
        let risk = expected["risk"].as_str().expect("risk");
        let got = eval.value("news2", "risk");
        if got.and_then(|v| v.as_text()) != Some(risk) {
            disagree("risk", risk.to_string(), show(got));
        }

        let want_rule = expected_rule(total, risk);
        let mut fired: Vec<&str> = eval
            .cards()
            .iter()
            .filter(|card| card.ruleset == "news2")
            .map(|card| card.rule.as_str())
            .collect();
        fired.sort_unstable();
        if fired != want_rule.into_iter().collect::<Vec<_>>() {
            disagree(
                "cards",
                want_rule.unwrap_or("none").to_string(),
                if fired.is_empty() {
                    "none".to_string()
                } else {
                    fired.join(" ")
                },
            );
        }
        if disagreements.len() > lines_before {
            disagreeing_cases += 1;
        }
    }

    // Written to stdout directly so that the summary shows even when the test passes.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "news2 oracle: {cases} cases, {disagreeing_cases} disagree"
    );
    for line in &disagreements {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    assert!(cases > 0, "no cases in {}", path.display());
    assert!(
        disagreeing_cases == 0,
        "{disagreeing_cases} of {cases} NEWS2 oracle cases disagree"
    );
}
