//! The Parameters resource of a `$cds-evaluate` call, read into an [`EvaluateRequest`]: every
//! problem named by its FHIRPath (`Parameters.parameter[2].valueDateTime`), never quoting a
//! value.

use cds_core::temporal::DateTime;
use serde_json::{Map, Value};

use crate::outcome::{ApiError, Problem};

/// The parameters `$cds-evaluate` takes.
pub const NAMES: [&str; 4] = ["patient", "ruleset", "evaluationTime", "hook"];

/// A string parameter and the FHIRPath of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// `Parameters.parameter[i].valueString`.
    pub path: String,
    /// The value.
    pub value: String,
}

/// A `$cds-evaluate` call, read.
#[derive(Debug, Clone)]
pub struct EvaluateRequest {
    /// The FHIRPath of the patient's Bundle (`Parameters.parameter[i].resource`).
    pub patient_path: String,
    /// The patient's Bundle (or single resource).
    pub patient: Value,
    /// The rulesets asked for, in order (empty: all).
    pub rulesets: Vec<Named>,
    /// The evaluation time (`None`: now).
    pub at: Option<DateTime>,
    /// The hook (`None`: every rule).
    pub hook: Option<Named>,
}

/// Reads the body of a `$cds-evaluate` call.
pub fn parse(body: Value) -> Result<EvaluateRequest, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::invalid_at(
            "",
            "the body must be a FHIR Parameters resource (a JSON object)",
        ));
    };
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(ApiError::invalid_at(
            "resourceType",
            "must be Parameters: the body of $cds-evaluate is a Parameters resource",
        ));
    }
    let params = match body.remove("parameter") {
        Some(Value::Array(p)) if !p.is_empty() => p,
        None | Some(Value::Null) | Some(Value::Array(_)) => {
            return Err(ApiError::invalid_at(
                "Parameters.parameter",
                "is required: at least the patient parameter",
            ))
        }
        Some(_) => {
            return Err(ApiError::invalid_at(
                "Parameters.parameter",
                "must be an array",
            ))
        }
    };
    let mut problems = Vec::new();
    let mut patient: Option<(String, Value)> = None;
    let mut patient_seen = false;
    let mut rulesets = Vec::new();
    let mut at = None;
    let mut at_seen = false;
    let mut hook: Option<Named> = None;
    for (i, p) in params.into_iter().enumerate() {
        let base = format!("Parameters.parameter[{i}]");
        let Value::Object(mut p) = p else {
            problems.push(Problem::at(base, "must be an object"));
            continue;
        };
        let name = match p.get("name") {
            Some(Value::String(n)) => n.clone(),
            Some(_) => {
                problems.push(Problem::at(format!("{base}.name"), "must be a string"));
                continue;
            }
            None => {
                problems.push(Problem::at(format!("{base}.name"), "is required"));
                continue;
            }
        };
        match name.as_str() {
            "patient" => {
                let path = format!("{base}.resource");
                let seen = std::mem::replace(&mut patient_seen, true);
                match p.remove("resource") {
                    _ if seen => problems.push(Problem::at(
                        format!("{base}.name"),
                        "patient is given more than once: a call is about one patient",
                    )),
                    Some(r @ Value::Object(_)) => patient = Some((path, r)),
                    Some(_) => problems.push(Problem::at(path, "must be a resource (a Bundle)")),
                    None => problems.push(Problem::at(
                        path,
                        "is required: the patient's record as a Bundle",
                    )),
                }
            }
            "ruleset" => {
                if let Some(v) = string_value(&p, &base, "valueString", &mut problems) {
                    rulesets.push(v);
                }
            }
            "hook" => {
                if hook.is_some() {
                    problems.push(Problem::at(
                        format!("{base}.name"),
                        "hook is given more than once (0..1)",
                    ));
                } else {
                    hook = string_value(&p, &base, "valueString", &mut problems);
                }
            }
            "evaluationTime" => {
                if at_seen {
                    problems.push(Problem::at(
                        format!("{base}.name"),
                        "evaluationTime is given more than once (0..1)",
                    ));
                    continue;
                }
                at_seen = true;
                if let Some(v) = string_value(&p, &base, "valueDateTime", &mut problems) {
                    match fhir_date_time(&v.value) {
                        Some(t) => at = Some(t),
                        None => problems.push(Problem::at(
                            v.path,
                            "must be a FHIR dateTime (2024-06-01, or 2024-06-01T09:30:00Z with \
                             seconds and a time zone)",
                        )),
                    }
                }
            }
            _ => problems.push(Problem::at(
                format!("{base}.name"),
                format!(
                    "is not a parameter of $cds-evaluate; it takes {}",
                    NAMES.join(", ")
                ),
            )),
        }
    }
    if !patient_seen {
        problems.push(Problem::at(
            "Parameters.parameter",
            "the patient parameter is required: the patient's record as a Bundle in resource",
        ));
    }
    if !problems.is_empty() {
        problems.truncate(crate::validate::MAX_PROBLEMS);
        return Err(ApiError::invalid(problems));
    }
    let (patient_path, patient) = patient.expect("checked above");
    Ok(EvaluateRequest {
        patient_path,
        patient,
        rulesets,
        at,
        hook,
    })
}

/// The non-empty string in `p[field]`; a problem at its path otherwise.
fn string_value(
    p: &Map<String, Value>,
    base: &str,
    field: &str,
    problems: &mut Vec<Problem>,
) -> Option<Named> {
    let path = format!("{base}.{field}");
    match p.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(Named {
            path,
            value: s.clone(),
        }),
        Some(_) => {
            problems.push(Problem::at(path, "must be a non-empty string"));
            None
        }
        None => {
            problems.push(Problem::at(path, "is required"));
            None
        }
    }
}

/// A FHIR `dateTime`: a year, year-month or date, or a full time with seconds and a zone.
fn fhir_date_time(s: &str) -> Option<DateTime> {
    let t = DateTime::parse(s).ok()?;
    if s.contains('T') && (t.second().is_none() || t.offset_minutes().is_none()) {
        return None;
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(e: &ApiError) -> Vec<&str> {
        e.problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn reads_every_parameter() {
        let r = parse(json!({"resourceType": "Parameters", "parameter": [
            {"name": "patient", "resource": {"resourceType": "Bundle", "type": "collection"}},
            {"name": "ruleset", "valueString": "news2"},
            {"name": "ruleset", "valueString": "qsofa"},
            {"name": "evaluationTime", "valueDateTime": "2024-06-01T10:00:00+02:00"},
            {"name": "hook", "valueString": "patient-view"}]}))
        .unwrap();
        assert_eq!(r.patient_path, "Parameters.parameter[0].resource");
        assert_eq!(
            r.rulesets,
            [
                Named {
                    path: "Parameters.parameter[1].valueString".into(),
                    value: "news2".into()
                },
                Named {
                    path: "Parameters.parameter[2].valueString".into(),
                    value: "qsofa".into()
                }
            ]
        );
        assert_eq!(r.at.unwrap().to_string(), "2024-06-01T10:00:00+02:00");
        assert_eq!(r.hook.unwrap().value, "patient-view");
    }

    #[test]
    fn problems_are_named_by_fhirpath_without_values() {
        let e = parse(json!({"resourceType": "Parameters", "parameter": [
            {"name": "patient", "valueString": "secret"},
            {"name": "evaluationTime", "valueDateTime": "2024-06-01T10:00"},
            {"name": "ruleset", "valueInteger": 3},
            {"name": "colour", "valueString": "secret"},
            "secret"]}))
        .unwrap_err();
        assert_eq!(
            paths(&e),
            [
                "Parameters.parameter[0].resource",
                "Parameters.parameter[1].valueDateTime",
                "Parameters.parameter[2].valueString",
                "Parameters.parameter[3].name",
                "Parameters.parameter[4]"
            ]
        );
        assert!(!e.to_string().contains("secret"));
        assert!(!e.to_string().contains("10:00"));
    }

    #[test]
    fn the_body_must_be_parameters_with_a_patient() {
        let e = parse(json!({"resourceType": "Bundle"})).unwrap_err();
        assert_eq!(paths(&e), ["resourceType"]);
        let e = parse(json!([1])).unwrap_err();
        assert_eq!(paths(&e), [""]);
        let e = parse(json!({"resourceType": "Parameters"})).unwrap_err();
        assert_eq!(paths(&e), ["Parameters.parameter"]);
        let e = parse(json!({"resourceType": "Parameters", "parameter": [
            {"name": "ruleset", "valueString": "news2"}]}))
        .unwrap_err();
        assert_eq!(paths(&e), ["Parameters.parameter"]);
        let e = parse(json!({"resourceType": "Parameters", "parameter": [
            {"name": "patient", "resource": {"resourceType": "Bundle"}},
            {"name": "patient", "resource": {"resourceType": "Bundle"}}]}))
        .unwrap_err();
        assert_eq!(paths(&e), ["Parameters.parameter[1].name"]);
    }

    #[test]
    fn fhir_date_times_need_a_zone_with_a_time() {
        assert!(fhir_date_time("2024").is_some());
        assert!(fhir_date_time("2024-06-01").is_some());
        assert!(fhir_date_time("2024-06-01T10:00:00Z").is_some());
        assert!(fhir_date_time("2024-06-01T10:00:00").is_none());
        assert!(fhir_date_time("2024-06-01T10:00Z").is_none());
        assert!(fhir_date_time("2024-06-01T").is_none());
        assert!(fhir_date_time("yesterday").is_none());
    }
}
