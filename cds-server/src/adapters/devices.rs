//! `device-observation` (this project's hook): a device delivered readings for a patient.
//! `context.observations` (an Observation, a Bundle of them — possibly empty — or a bare
//! array) joins the record; with `context.deviceId`, a reading whose `device` names another
//! Device is refused. Evaluated now.
//!
//! This call is stateless: the evaluation sees the readings of the call and the prefetch (the
//! EHR's charting), not the server's window of readings from `/devices/{id}/observations`
//! (see [`crate::devices`]), even when `deviceId` names a device registered there.

use cds_core::temporal::DateTime;
use serde_json::{Map, Value};

use super::{patient_id, HookInput};
use crate::devices::readings::check_observation;
use crate::outcome::ApiError;
use crate::record::unpack;

/// Maps the `device-observation` context.
pub fn device_observation(
    context: &Map<String, Value>,
    now: DateTime,
) -> Result<HookInput, ApiError> {
    let patient_id = patient_id(context)?;
    let device = match context.get("deviceId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.as_str()),
        Some(_) => {
            return Err(ApiError::invalid_at(
                "context.deviceId",
                "must be a non-empty string",
            ))
        }
    };
    let mut resources = Vec::new();
    match context.get("observations") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_at("context.observations", "is required"))
        }
        Some(v) => unpack(v.clone(), "context.observations", &mut resources)?,
    }
    let mut problems = Vec::new();
    for r in &resources {
        check_observation(r, device, &mut problems);
    }
    if !problems.is_empty() {
        problems.truncate(crate::validate::MAX_PROBLEMS);
        return Err(ApiError::invalid(problems));
    }
    Ok(HookInput {
        patient_id,
        at: now,
        resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime {
        DateTime::parse("2024-03-01T10:00:00Z").unwrap()
    }

    fn hr(device: &str) -> Value {
        json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"}, "device": {"reference": device},
            "effectiveDateTime": "2024-03-01T09:59:00Z",
            "valueQuantity": {"value": 130, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}})
    }

    #[test]
    fn readings_join_the_record_with_their_paths() {
        let c = json!({"patientId": "p1", "deviceId": "watch",
            "observations": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": hr("Device/watch")}]}});
        let input = device_observation(c.as_object().unwrap(), now()).unwrap();
        assert_eq!(input.patient_id, "p1");
        assert_eq!(
            input.resources[0].path,
            "context.observations.entry[0].resource"
        );
        let single = json!({"patientId": "p1", "observations": hr("Device/other")});
        let input = device_observation(single.as_object().unwrap(), now()).unwrap();
        assert_eq!(input.resources[0].path, "context.observations");
    }

    #[test]
    fn another_device_or_resource_type_is_refused_at_its_path() {
        let c = json!({"patientId": "p1", "deviceId": "watch",
            "observations": [hr("Device/cgm"), {"resourceType": "Condition"}]});
        let e = device_observation(c.as_object().unwrap(), now()).unwrap_err();
        let paths: Vec<_> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "context.observations[0].device.reference",
                "context.observations[1].resourceType"
            ]
        );
    }

    #[test]
    fn observations_are_required_but_may_be_an_empty_bundle() {
        let c = json!({"patientId": "p1", "observations": {"resourceType": "Bundle", "type": "collection"}});
        let input = device_observation(c.as_object().unwrap(), now()).unwrap();
        assert!(input.resources.is_empty());
        let e =
            device_observation(json!({"patientId": "p1"}).as_object().unwrap(), now()).unwrap_err();
        assert_eq!(e.problems[0].message, "is required");
    }
}
