//! Patient records: `patient-view` (the chart is opened), `order-select` and `order-sign`
//! (orders being written). Draft orders (MedicationRequest, ServiceRequest, ...) join the
//! record, so rules can read them (`ordered medication ...`).

use cds_core::temporal::DateTime;
use serde_json::{Map, Value};

use super::{patient_id, HookInput};
use crate::outcome::ApiError;
use crate::record::unpack;

/// `patient-view`: the patient's record, now.
pub fn patient_view(context: &Map<String, Value>, now: DateTime) -> Result<HookInput, ApiError> {
    Ok(HookInput {
        patient_id: patient_id(context)?,
        at: now,
        resources: Vec::new(),
    })
}

/// `order-select` / `order-sign`: the record plus `context.draftOrders` (a Bundle; a bare
/// array is accepted too), now. Each draft order must be a request resource.
pub fn orders(context: &Map<String, Value>, now: DateTime) -> Result<HookInput, ApiError> {
    let patient_id = patient_id(context)?;
    let mut resources = Vec::new();
    match context.get("draftOrders") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_at("context.draftOrders", "is required"))
        }
        Some(v) => unpack(v.clone(), "context.draftOrders", &mut resources)?,
    }
    for r in &resources {
        let t = r.json.get("resourceType").and_then(Value::as_str);
        if !t.is_some_and(is_order) {
            return Err(ApiError::invalid_at(
                format!("{}.resourceType", r.path),
                "a draft order must be a request resource (MedicationRequest, ServiceRequest, NutritionOrder, ...)",
            ));
        }
    }
    Ok(HookInput {
        patient_id,
        at: now,
        resources,
    })
}

fn is_order(t: &str) -> bool {
    matches!(
        t,
        "MedicationRequest"
            | "ServiceRequest"
            | "NutritionOrder"
            | "DeviceRequest"
            | "VisionPrescription"
            | "SupplyRequest"
            | "CommunicationRequest"
            | "ImmunizationRecommendation"
            | "MedicationDispense"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime {
        DateTime::parse("2024-03-01T10:00:00Z").unwrap()
    }

    #[test]
    fn draft_orders_join_the_record() {
        let c = json!({"patientId": "p1", "draftOrders": {"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft",
              "intent": "proposal", "subject": {"reference": "Patient/p1"},
              "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8787"}]}}}]}});
        let input = orders(c.as_object().unwrap(), now()).unwrap();
        assert_eq!(input.resources.len(), 1);
        assert_eq!(
            input.resources[0].path,
            "context.draftOrders.entry[0].resource"
        );
    }

    #[test]
    fn a_non_order_is_refused_at_its_path() {
        let c = json!({"patientId": "p1", "draftOrders": [{"resourceType": "Observation"}]});
        let e = orders(c.as_object().unwrap(), now()).unwrap_err();
        assert_eq!(e.problems[0].path, "context.draftOrders[0].resourceType");
    }
}
