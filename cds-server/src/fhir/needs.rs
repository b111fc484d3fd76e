//! What a ruleset could not decide for want of data, as FHIR DataRequirements: the
//! Observation codes it reads of which the record holds no reading within the window read,
//! the Patient's birth date (age), and resource types read without a code filter (by
//! FHIRPath) of which the record holds none.
//!
//! Conditions and medications read by code are never listed: the engine reads their absence
//! as "no" (no active condition), which decides a rule rather than leaving it open.

use cds_core::data::{PatientRecord, Window};
use cds_core::graph::{CodeFilter, DataNeed, PeriodUnit, Plan};
use cds_core::temporal::DateTime;
use cds_rules::engine::Engine;
use serde_json::{json, Value};

/// The DataRequirements of what a plan reads and the record lacks at `at`.
pub fn lacking(engine: &Engine, plan: &Plan, record: &PatientRecord, at: &DateTime) -> Vec<Value> {
    engine
        .data_needs_of_plan(plan)
        .iter()
        .filter_map(|n| lacked(record, n, engine, at))
        .collect()
}

/// The DataRequirement of what the record lacks of one need, if anything.
fn lacked(
    record: &PatientRecord,
    need: &DataNeed,
    engine: &Engine,
    at: &DateTime,
) -> Option<Value> {
    match need.resource_type.as_str() {
        "Patient" => record
            .patient()
            .get("birthDate")
            .is_none()
            .then(|| json!({"type": "Patient", "mustSupport": ["birthDate"]})),
        "Observation" => {
            let window = need
                .lookback
                .map_or_else(|| Window::up_to(at), |p| p.window_ending_at(at));
            match codes(&need.codes, engine) {
                Some(all) if !all.is_empty() => {
                    let absent: Vec<(String, String)> = all
                        .into_iter()
                        .filter(|(s, c)| record.observations_in(s, c, window).is_empty())
                        .collect();
                    (!absent.is_empty()).then(|| requirement(need, Some(&absent)))
                }
                _ => record
                    .resources_of_type("Observation")
                    .is_empty()
                    .then(|| requirement(need, None)),
            }
        }
        t => (need.codes.is_empty() && record.resources_of_type(t).is_empty())
            .then(|| requirement(need, None)),
    }
}

/// The (system, code) pairs of code filters, value sets expanded, sorted, without duplicates
/// (the order of the needs' codes is not stable across loads); `None` when a value set cannot
/// be listed.
fn codes(filters: &[CodeFilter], engine: &Engine) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for f in filters {
        match f {
            CodeFilter::Code { system, code } => out.push((system.clone(), code.clone())),
            CodeFilter::ValueSet(url) => out.extend(
                engine
                    .graph()
                    .valuesets()
                    .get(url)?
                    .codes()?
                    .into_iter()
                    .map(|(s, c)| (s.to_string(), c.to_string())),
            ),
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// A DataRequirement for a need: its type; the codes given, else its lone value set; for
/// Observations, how far back.
pub fn requirement(need: &DataNeed, codes: Option<&[(String, String)]>) -> Value {
    let mut out = json!({"type": need.resource_type});
    let path = if need.resource_type == "MedicationRequest" {
        "medication"
    } else {
        "code"
    };
    match (codes, need.codes.as_slice()) {
        (Some(list), _) => {
            let list: Vec<Value> = list
                .iter()
                .map(|(s, c)| json!({"system": s, "code": c}))
                .collect();
            out["codeFilter"] = json!([{"path": path, "code": list}]);
        }
        (None, [CodeFilter::ValueSet(url)]) => {
            out["codeFilter"] = json!([{"path": path, "valueSet": url}]);
        }
        (None, _) => {}
    }
    if let (Some(p), "Observation") = (need.lookback, need.resource_type.as_str()) {
        let (unit, code) = match p.unit {
            PeriodUnit::Minutes => ("minutes", "min"),
            PeriodUnit::Hours => ("hours", "h"),
            PeriodUnit::Days => ("days", "d"),
            PeriodUnit::Weeks => ("weeks", "wk"),
            PeriodUnit::Months => ("months", "mo"),
            PeriodUnit::Years => ("years", "a"),
        };
        out["dateFilter"] = json!([{"path": "effective", "valueDuration": {
            "value": p.amount, "unit": unit,
            "system": "http://unitsofmeasure.org", "code": code,
        }}]);
    }
    out
}

#[cfg(test)]
mod tests {
    use cds_rules::engine::record_from_json;

    use super::*;

    const RULES: &str = "ruleset bp version 1.0.0\n  \"Blood pressure\"\n  answers patient-view\n\n\
        define adult = age >= 18\n\
        define systolic = latest observation loinc 8480-6 within 90 days\n\
        define diastolic = latest observation loinc 8462-4 within 30 days\n\
        define ckd = active condition snomed 709044004\n\n\
        rule high\n  when adult and not ckd and (systolic >= 140 'mm[Hg]' or diastolic >= 90 'mm[Hg]')\n  then warning \"High\"\n";

    fn lacking_at(resources: serde_json::Value, at: &str) -> Vec<Value> {
        let engine = Engine::from_source("bp.rules", RULES).unwrap();
        let record = record_from_json(resources).unwrap();
        let plan = engine.plan_of_ruleset(None, "bp");
        lacking(&engine, &plan, &record, &DateTime::parse(at).unwrap())
    }

    #[test]
    fn lists_the_codes_without_readings_in_the_window_and_the_birth_date() {
        let sbp = json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-05-01T10:00:00Z",
            "valueQuantity": {"value": 120, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}});
        let got = lacking_at(
            json!([{"resourceType": "Patient", "id": "p1"}, sbp]),
            "2024-06-01T00:00:00Z",
        );
        let loinc = |c: &str| json!({"system": "http://loinc.org", "code": c});
        assert_eq!(
            got,
            [
                json!({"type": "Observation",
                       "codeFilter": [{"path": "code", "code": [loinc("8462-4")]}],
                       "dateFilter": [{"path": "effective", "valueDuration": {"value": 90, "unit": "days",
                                       "system": "http://unitsofmeasure.org", "code": "d"}}]}),
                json!({"type": "Patient", "mustSupport": ["birthDate"]}),
            ]
        );
        // Out of the window, the systolic reading no longer counts; no Condition is asked for.
        let got = lacking_at(
            json!([{"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01"}, sbp]),
            "2025-01-01T00:00:00Z",
        );
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0]["codeFilter"][0]["code"],
            json!([loinc("8462-4"), loinc("8480-6")])
        );
    }
}
