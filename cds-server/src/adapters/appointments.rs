//! `appointment-book`: appointments being booked (`context.appointments`, a Bundle or — as some
//! clients send — a bare array). Rules are evaluated as of the earliest appointment's start, so
//! "due before the visit" means due at the visit.

use cds_core::temporal::DateTime;
use serde_json::{Map, Value};

use super::{patient_id, HookInput};
use crate::outcome::ApiError;
use crate::record::unpack;

/// Maps the `appointment-book` context.
pub fn appointment_book(
    context: &Map<String, Value>,
    now: DateTime,
) -> Result<HookInput, ApiError> {
    let patient_id = patient_id(context)?;
    let mut resources = Vec::new();
    match context.get("appointments") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_at("context.appointments", "is required"))
        }
        Some(v) => unpack(v.clone(), "context.appointments", &mut resources)?,
    }
    let mut at: Option<DateTime> = None;
    for r in &resources {
        if r.json.get("resourceType").and_then(Value::as_str) != Some("Appointment") {
            return Err(ApiError::invalid_at(
                format!("{}.resourceType", r.path),
                "must be an Appointment",
            ));
        }
        if let Some(start) = r.json.get("start") {
            let s = start
                .as_str()
                .and_then(|s| DateTime::parse(s).ok())
                .ok_or_else(|| {
                    ApiError::invalid_at(
                        format!("{}.start", r.path),
                        "must be a FHIR instant (e.g. 2024-03-01T09:00:00Z)",
                    )
                })?;
            if at.is_none_or(|a| s.lower_bound_millis(0) < a.lower_bound_millis(0)) {
                at = Some(s);
            }
        }
    }
    Ok(HookInput {
        patient_id,
        // An appointment without a start (a proposal) is evaluated now.
        at: at.unwrap_or(now),
        resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn appt(id: &str, start: &str) -> Value {
        json!({"resourceType": "Appointment", "id": id, "status": "proposed", "start": start,
               "participant": [{"actor": {"reference": "Patient/p1"}, "status": "needs-action"}]})
    }

    #[test]
    fn evaluated_as_of_the_earliest_start_bundle_or_array() {
        let now = DateTime::parse("2024-01-01T00:00:00Z").unwrap();
        let bundle = json!({"patientId": "p1", "appointments": {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": appt("a1", "2024-05-02T09:00:00Z")}, {"resource": appt("a2", "2024-04-02T09:00:00Z")}]}});
        let array = json!({"patientId": "p1", "appointments": [appt("a1", "2024-05-02T09:00:00Z"), appt("a2", "2024-04-02T09:00:00Z")]});
        for c in [bundle, array] {
            let input = appointment_book(c.as_object().unwrap(), now).unwrap();
            assert_eq!(input.at, DateTime::parse("2024-04-02T09:00:00Z").unwrap());
            assert_eq!(input.resources.len(), 2);
        }
    }

    #[test]
    fn a_bad_start_is_named() {
        let now = DateTime::parse("2024-01-01T00:00:00Z").unwrap();
        let c = json!({"patientId": "p1", "appointments": [appt("a1", "next tuesday")]});
        let e = appointment_book(c.as_object().unwrap(), now).unwrap_err();
        assert_eq!(e.problems[0].path, "context.appointments[0].start");
    }
}
