//! The FHIR R4 Patient compartment: which elements of which resource types link a resource to a
//! patient (CompartmentDefinition `patient`), and walking them for their references.
//!
//! ```
//! use cds_core::data::compartment::{compartment_paths, for_each_reference};
//! let obs = serde_json::json!({"resourceType": "Observation", "subject": {"reference": "Patient/p"}});
//! let mut refs = Vec::new();
//! for path in compartment_paths("Observation").unwrap() {
//!     for_each_reference(&obs, path, &mut |r| refs.push(r.to_string()));
//! }
//! assert_eq!(refs, ["Patient/p"]);
//! assert!(compartment_paths("Practitioner").is_none());
//! ```

use serde_json::Value;

/// The elements of each type that put a resource in a patient's compartment (FHIR R4
/// CompartmentDefinition `patient`; dotted paths go through arrays).
const COMPARTMENT: &[(&str, &[&str])] = &[
    ("Account", &["subject"]),
    ("AdverseEvent", &["subject"]),
    ("AllergyIntolerance", &["patient", "recorder", "asserter"]),
    ("Appointment", &["participant.actor"]),
    ("AppointmentResponse", &["actor"]),
    ("AuditEvent", &["agent.who", "entity.what"]),
    ("Basic", &["subject", "author"]),
    ("BodyStructure", &["patient"]),
    ("CarePlan", &["subject", "activity.detail.performer"]),
    ("CareTeam", &["subject", "participant.member"]),
    ("ChargeItem", &["subject"]),
    ("Claim", &["patient", "payee.party"]),
    ("ClaimResponse", &["patient"]),
    ("ClinicalImpression", &["subject"]),
    ("Communication", &["subject", "sender", "recipient"]),
    (
        "CommunicationRequest",
        &["subject", "sender", "recipient", "requester"],
    ),
    ("Composition", &["subject", "author", "attester.party"]),
    ("Condition", &["subject", "asserter"]),
    ("Consent", &["patient"]),
    (
        "Coverage",
        &["policyHolder", "subscriber", "beneficiary", "payor"],
    ),
    ("CoverageEligibilityRequest", &["patient"]),
    ("CoverageEligibilityResponse", &["patient"]),
    ("DetectedIssue", &["patient"]),
    ("Device", &["patient"]),
    ("DeviceRequest", &["subject", "performer"]),
    ("DeviceUseStatement", &["subject"]),
    ("DiagnosticReport", &["subject"]),
    ("DocumentManifest", &["subject", "author", "recipient"]),
    ("DocumentReference", &["subject", "author"]),
    ("Encounter", &["subject"]),
    ("EnrollmentRequest", &["candidate"]),
    ("EpisodeOfCare", &["patient"]),
    ("ExplanationOfBenefit", &["patient", "payee.party"]),
    ("FamilyMemberHistory", &["patient"]),
    ("Flag", &["subject"]),
    ("Goal", &["subject"]),
    ("Group", &["member.entity"]),
    ("ImagingStudy", &["subject"]),
    ("Immunization", &["patient"]),
    ("ImmunizationEvaluation", &["patient"]),
    ("ImmunizationRecommendation", &["patient"]),
    ("Invoice", &["subject", "recipient"]),
    ("List", &["subject", "source"]),
    ("MeasureReport", &["subject"]),
    ("Media", &["subject"]),
    ("MedicationAdministration", &["subject", "performer.actor"]),
    ("MedicationDispense", &["subject", "receiver"]),
    ("MedicationRequest", &["subject"]),
    ("MedicationStatement", &["subject"]),
    ("MolecularSequence", &["patient"]),
    ("NutritionOrder", &["patient"]),
    ("Observation", &["subject", "performer"]),
    ("Procedure", &["subject", "performer.actor"]),
    ("Provenance", &["target"]),
    ("QuestionnaireResponse", &["subject", "author"]),
    ("RelatedPerson", &["patient"]),
    ("RequestGroup", &["subject"]),
    ("ResearchSubject", &["individual"]),
    ("RiskAssessment", &["subject"]),
    ("Schedule", &["actor"]),
    ("ServiceRequest", &["subject", "performer"]),
    ("Specimen", &["subject"]),
    ("SupplyDelivery", &["patient"]),
    ("VisionPrescription", &["patient"]),
];

/// The compartment elements of a type (dotted paths), or `None` when the type is outside the
/// Patient compartment.
pub fn compartment_paths(resource_type: &str) -> Option<&'static [&'static str]> {
    COMPARTMENT
        .binary_search_by(|(t, _)| t.cmp(&resource_type))
        .ok()
        .and_then(|i| COMPARTMENT.get(i))
        .map(|(_, paths)| *paths)
}

/// The distinct top-level elements that compartment paths start from, sorted.
pub fn compartment_heads() -> Vec<&'static str> {
    let mut heads: Vec<&'static str> = COMPARTMENT
        .iter()
        .flat_map(|(_, paths)| paths.iter().map(|p| p.split('.').next().unwrap_or(p)))
        .collect();
    heads.sort_unstable();
    heads.dedup();
    heads
}

/// Calls `f` with every `reference` string at the dotted `path` (through arrays) of `json`.
pub fn for_each_reference(json: &Value, path: &str, f: &mut impl FnMut(&str)) {
    match json {
        Value::Array(items) => {
            for item in items {
                for_each_reference(item, path, f);
            }
        }
        Value::Object(obj) => match path.split_once('.') {
            Some((head, rest)) => {
                if let Some(child) = obj.get(head) {
                    for_each_reference(child, rest, f);
                }
            }
            None => match obj.get(path) {
                Some(Value::Array(items)) => {
                    for item in items {
                        if let Some(s) = item.get("reference").and_then(Value::as_str) {
                            f(s);
                        }
                    }
                }
                Some(item) => {
                    if let Some(s) = item.get("reference").and_then(Value::as_str) {
                        f(s);
                    }
                }
                None => {}
            },
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted() {
        assert!(COMPARTMENT.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(
            compartment_paths("Observation"),
            Some(&["subject", "performer"][..])
        );
        assert_eq!(compartment_paths("Practitioner"), None);
    }

    #[test]
    fn heads_cover_every_path() {
        let heads = compartment_heads();
        for (_, paths) in COMPARTMENT {
            for p in *paths {
                let head = p.split('.').next().unwrap();
                assert!(heads.binary_search(&head).is_ok(), "{head}");
            }
        }
        assert!(heads.contains(&"subject") && heads.contains(&"participant"));
    }
}
