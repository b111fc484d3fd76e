//! From the JSON a call brings (context resources, prefetch, fetched data) to one patient's
//! record: unpack Bundles, check each resource, reject data about another patient, build the
//! [`PatientRecord`]. Every error names the JSON path of the offending element.

use std::sync::Arc;

use cds_core::data::validate::validate_json;
use cds_core::data::{LoadErrorKind, PatientRecord, Resource, Source};
use serde_json::{json, Value};

use crate::outcome::{ApiError, Problem};

/// A resource and where it sits in the request (`prefetch.observations.entry[2].resource`).
#[derive(Debug, Clone)]
pub struct Located {
    /// The JSON path of the resource in the request (or `fetched.<key>...` for fetched data).
    pub path: String,
    /// The resource.
    pub json: Value,
    /// Its Bundle entry's `fullUrl`, if any.
    pub full_url: Option<String>,
}

/// Unpacks a resource or a Bundle (or an array of them) found at `path` into `out`. Search
/// Bundles' OperationOutcome entries (`search.mode = outcome`) are skipped.
pub fn unpack(value: Value, path: &str, out: &mut Vec<Located>) -> Result<(), ApiError> {
    unpack_entry(value, path, None, out)
}

fn unpack_entry(
    value: Value,
    path: &str,
    full_url: Option<String>,
    out: &mut Vec<Located>,
) -> Result<(), ApiError> {
    match value {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                unpack_entry(item, &format!("{path}[{i}]"), None, out)?;
            }
            Ok(())
        }
        Value::Object(mut obj) => {
            if obj.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                out.push(Located {
                    path: path.to_string(),
                    json: Value::Object(obj),
                    full_url,
                });
                return Ok(());
            }
            let entries = match obj.remove("entry") {
                None | Some(Value::Null) => return Ok(()),
                Some(Value::Array(e)) => e,
                Some(_) => {
                    return Err(ApiError::invalid_at(
                        format!("{path}.entry"),
                        "must be an array",
                    ))
                }
            };
            for (i, entry) in entries.into_iter().enumerate() {
                let at = format!("{path}.entry[{i}]");
                let Value::Object(mut entry) = entry else {
                    return Err(ApiError::invalid_at(at, "must be an object"));
                };
                let outcome = entry
                    .get("search")
                    .and_then(|s| s.get("mode"))
                    .and_then(Value::as_str)
                    == Some("outcome");
                match entry.remove("resource") {
                    None | Some(Value::Null) => {}
                    Some(_) if outcome => {}
                    Some(r @ Value::Object(_)) => {
                        let full = match entry.remove("fullUrl") {
                            Some(Value::String(f)) => Some(f),
                            _ => None,
                        };
                        unpack_entry(r, &format!("{at}.resource"), full, out)?;
                    }
                    Some(_) => {
                        return Err(ApiError::invalid_at(
                            format!("{at}.resource"),
                            "must be an object",
                        ))
                    }
                }
            }
            Ok(())
        }
        Value::Null => Ok(()),
        _ => Err(ApiError::invalid_at(
            path,
            "must be a FHIR resource or Bundle",
        )),
    }
}

/// Whether a JSON value is an OperationOutcome (a client's failed prefetch).
pub fn is_operation_outcome(v: &Value) -> bool {
    v.get("resourceType").and_then(Value::as_str) == Some("OperationOutcome")
}

/// The id a reference points to, when it points to a Patient: `Patient/x`,
/// `https://host/fhir/Patient/x`, `Patient/x/_history/2`.
fn patient_id_of(reference: &str) -> Option<&str> {
    let rest = if let Some(r) = reference.strip_prefix("Patient/") {
        r
    } else {
        let i = reference.rfind("/Patient/")?;
        &reference[i + "/Patient/".len()..]
    };
    Some(rest.split('/').next().unwrap_or(rest))
}

/// The references to a patient a resource makes about whom it is (its subject).
fn subject_refs(json: &Value) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    for field in ["subject", "patient"] {
        if let Some(r) = json
            .get(field)
            .and_then(|s| s.get("reference"))
            .and_then(Value::as_str)
        {
            out.push((field, r));
        }
    }
    out
}

/// A load error as the client is told it: an unknown `resourceType` is not named (a client's
/// value — an MRN, a name — must not come back in the answer, even when it looks like a type).
fn load_message(kind: &LoadErrorKind) -> String {
    match kind {
        LoadErrorKind::UnknownResourceType { .. } => {
            "is not a FHIR R4 resource type (see http://hl7.org/fhir/R4/resourcelist.html)"
                .to_string()
        }
        other => other.to_string(),
    }
}

/// Builds the record of `patient_id` (named `whose` in messages: `context.patientId`, "the
/// device's patient", ...) from located resources: every resource is checked
/// (FHIR R4 shape of the types the engine reads), each must be about that patient, and a
/// Patient resource, if any, must be that patient. Without a Patient resource, one holding
/// only the id stands in (age is then unknown).
pub fn build(
    patient_id: &str,
    whose: &str,
    located: Vec<Located>,
    max: usize,
) -> Result<PatientRecord, ApiError> {
    if located.len() > max {
        return Err(ApiError::invalid_at(
            "",
            format!(
                "the call brings {} resources, over the limit of {max}",
                located.len()
            ),
        ));
    }
    let mut problems = Vec::new();
    let mut resources = Vec::with_capacity(located.len() + 1);
    let mut patient_urls: Vec<String> = Vec::new();
    let mut have_patient = false;
    // First pass: the Patient's own fullUrl, so urn:uuid references to it can be recognised.
    for l in &located {
        if l.json.get("resourceType").and_then(Value::as_str) == Some("Patient") {
            if let Some(u) = &l.full_url {
                patient_urls.push(u.clone());
            }
        }
    }
    for Located {
        path,
        json,
        full_url,
    } in located
    {
        let full_url = full_url.map(Arc::from);
        let resource = match Resource::from_json(json, Source::memory(), full_url) {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem::at(
                    format!("{path}.resourceType"),
                    load_message(&e.kind),
                ));
                continue;
            }
        };
        if let Err(e) = validate_json(resource.resource_type(), resource.json()) {
            let rel = e
                .path
                .strip_prefix(resource.resource_type())
                .unwrap_or(&e.path);
            problems.push(Problem::at(format!("{path}{rel}"), e.problem.to_string()));
            continue;
        }
        if resource.resource_type() == "Patient" {
            if resource.id() != Some(patient_id) {
                problems.push(Problem::at(
                    format!("{path}.id"),
                    format!("a Patient other than {whose}: data about another patient is refused"),
                ));
                continue;
            }
            if have_patient {
                // The same patient twice (prefetch and fetched): keep the first.
                continue;
            }
            have_patient = true;
        } else {
            for (field, r) in subject_refs(resource.json()) {
                let same = match patient_id_of(r) {
                    Some(id) => id == patient_id,
                    None if r.starts_with("urn:") => patient_urls.iter().any(|u| u == r),
                    // A reference to a Group or Device: not about another patient.
                    None => true,
                };
                if !same {
                    problems.push(Problem::at(
                        format!("{path}.{field}.reference"),
                        format!("refers to a patient other than {whose}: data about another patient is refused"),
                    ));
                }
            }
            if resource.resource_type() == "Appointment" {
                if let Some(parts) = resource.json().get("participant").and_then(Value::as_array) {
                    for (i, p) in parts.iter().enumerate() {
                        let r = p
                            .get("actor")
                            .and_then(|a| a.get("reference"))
                            .and_then(Value::as_str);
                        if let Some(id) = r.and_then(patient_id_of) {
                            if id != patient_id {
                                problems.push(Problem::at(
                                    format!("{path}.participant[{i}].actor.reference"),
                                    format!("refers to a patient other than {whose}: data about another patient is refused"),
                                ));
                            }
                        }
                    }
                }
            }
        }
        resources.push(Arc::new(resource));
    }
    if !problems.is_empty() {
        problems.truncate(20);
        return Err(ApiError::invalid(problems));
    }
    if !have_patient {
        let stand_in = json!({"resourceType": "Patient", "id": patient_id});
        let r = Resource::from_json(stand_in, Source::memory(), None)
            .map_err(|e| ApiError::invalid_at("context.patientId", e.kind.to_string()))?;
        resources.push(Arc::new(r));
    }
    PatientRecord::build(resources).map_err(|e| ApiError::invalid_at("", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(id: &str, subject: &str) -> Value {
        json!({"resourceType": "Observation", "id": id, "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
               "subject": {"reference": subject}, "effectiveDateTime": "2024-01-01",
               "valueQuantity": {"value": 150, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}})
    }

    /// Found by the `request` fuzz target (fuzz/regressions/request/resource-type-echo.json).
    #[test]
    fn fuzz_regression_unknown_resource_type_is_not_echoed() {
        let located = vec![Located {
            path: "prefetch.p".into(),
            json: json!({"resourceType": "SECRET"}),
            full_url: None,
        }];
        let e = build("p1", "context.patientId", located, 10).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.problems[0].path, "prefetch.p.resourceType");
        assert!(!format!("{e:?}").contains("SECRET"), "{e:?}");
    }

    #[test]
    fn bundles_unpack_with_paths() {
        let mut out = Vec::new();
        let b = json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": obs("o1", "Patient/p1")},
            {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
            {"resource": obs("o2", "Patient/p1")}]});
        unpack(b, "prefetch.observations", &mut out).unwrap();
        let paths: Vec<_> = out.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "prefetch.observations.entry[0].resource",
                "prefetch.observations.entry[2].resource"
            ]
        );
    }

    #[test]
    fn another_patients_data_is_refused_at_its_path() {
        let located = vec![
            Located {
                path: "prefetch.observations.entry[0].resource".into(),
                json: obs("o1", "Patient/p1"),
                full_url: None,
            },
            Located {
                path: "prefetch.observations.entry[1].resource".into(),
                json: obs("o2", "Patient/p2"),
                full_url: None,
            },
        ];
        let e = build("p1", "context.patientId", located, 100).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.problems[0].path,
            "prefetch.observations.entry[1].resource.subject.reference"
        );
        assert!(!e.to_string().contains("p2"));
    }

    #[test]
    fn malformed_resources_are_named_by_path() {
        let mut o = obs("o1", "Patient/p1");
        o["valueQuantity"]["value"] = json!("high");
        let e = build(
            "p1",
            "context.patientId",
            vec![Located {
                path: "prefetch.obs".into(),
                json: o,
                full_url: None,
            }],
            100,
        )
        .unwrap_err();
        assert_eq!(e.problems[0].path, "prefetch.obs.valueQuantity.value");
        assert!(!e.to_string().contains("high"));
    }

    #[test]
    fn absolute_and_versioned_references_are_understood() {
        assert_eq!(
            patient_id_of("https://ehr/fhir/Patient/p1/_history/3"),
            Some("p1")
        );
        assert_eq!(patient_id_of("Patient/p1"), Some("p1"));
        assert_eq!(patient_id_of("Group/g"), None);
        let r = build(
            "p1",
            "context.patientId",
            vec![Located {
                path: "x".into(),
                json: obs("o", "https://ehr/fhir/Patient/p1"),
                full_url: None,
            }],
            10,
        )
        .unwrap();
        assert_eq!(r.patient().id(), Some("p1"));
    }
}
