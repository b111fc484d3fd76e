//! Grouping resources from many files (Bulk Data NDJSON: one file per type) by patient, through
//! the Patient compartment references (`subject`, `patient`, `beneficiary`, ...), into the inputs
//! of per-patient [`PatientRecord`]s.
//!
//! References to patients may be `Patient/id` (NDJSON), `urn:uuid:...` (Bundle `fullUrl`s) or
//! absolute URLs. Resources of types outside the Patient compartment (Practitioner, Organization,
//! Location, Medication, ...) become the shared context that every record's references resolve
//! into. Resources of compartment types that link to no known patient are kept apart as
//! unlinked. A resource linked to several patients (e.g. a Coverage whose subscriber and
//! beneficiary differ) goes to each of them.
//!
//! ```
//! use std::sync::Arc;
//! use cds_core::data::{Cohort, Resource, Source};
//! use serde_json::json;
//! let r = |v| Arc::new(Resource::from_json(v, Source::memory(), None).unwrap());
//! let cohort = Cohort::group(vec![
//!     r(json!({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"}})),
//!     r(json!({"resourceType": "Practitioner", "id": "d"})),
//!     r(json!({"resourceType": "Patient", "id": "p"})),
//! ]);
//! assert_eq!(cohort.patients().len(), 1);
//! assert_eq!(cohort.patients()[0].resources.len(), 2);
//! let record = cohort.record(0).unwrap().unwrap();
//! assert!(record.resolve("Practitioner/d").is_some());
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::record::{PatientRecord, RecordError};
use super::reference::{parse_reference, ResourceIndex, Target};
use super::Resource;

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

/// The compartment elements of a type, or `None` when the type is outside the compartment.
fn compartment_paths(resource_type: &str) -> Option<&'static [&'static str]> {
    COMPARTMENT
        .binary_search_by(|(t, _)| t.cmp(&resource_type))
        .ok()
        .and_then(|i| COMPARTMENT.get(i))
        .map(|(_, paths)| *paths)
}

/// One patient and the resources in their compartment (the Patient first).
#[derive(Debug, Clone)]
pub struct PatientGroup {
    /// The patient.
    pub patient: Arc<Resource>,
    /// The patient's resources, the Patient first, then in input order.
    pub resources: Vec<Arc<Resource>>,
}

/// Resources grouped by patient, with the shared context.
#[derive(Debug, Clone, Default)]
pub struct Cohort {
    patients: Vec<PatientGroup>,
    context: Arc<ResourceIndex>,
    unlinked: Vec<Arc<Resource>>,
}

impl Cohort {
    /// Groups resources by patient (see the module documentation). Patients keep input order;
    /// a second Patient with an id already seen joins the first one's group.
    pub fn group(resources: impl IntoIterator<Item = Arc<Resource>>) -> Cohort {
        let resources: Vec<Arc<Resource>> = resources.into_iter().collect();
        let mut patients: Vec<PatientGroup> = Vec::new();
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        let mut by_url: HashMap<&str, usize> = HashMap::new();
        for p in resources.iter().filter(|r| r.resource_type() == "Patient") {
            let known = p.id().and_then(|id| by_id.get(id).copied());
            let group = match known {
                Some(g) => {
                    if let Some(group) = patients.get_mut(g) {
                        group.resources.push(p.clone());
                    }
                    g
                }
                None => {
                    patients.push(PatientGroup {
                        patient: p.clone(),
                        resources: vec![p.clone()],
                    });
                    patients.len() - 1
                }
            };
            if let Some(id) = p.id() {
                by_id.entry(id).or_insert(group);
            }
            if let Some(url) = p.full_url() {
                by_url.entry(url).or_insert(group);
            }
        }
        let find = |reference: &str| -> Option<usize> {
            match parse_reference(reference)? {
                Target::Typed {
                    resource_type: "Patient",
                    id,
                    url,
                } => url
                    .and_then(|u| by_url.get(u))
                    .or_else(|| by_id.get(id))
                    .copied(),
                Target::Url(url) => by_url.get(url).copied(),
                _ => None,
            }
        };
        let mut context = ResourceIndex::new();
        let mut unlinked = Vec::new();
        let mut links: Vec<(usize, Arc<Resource>)> = Vec::new();
        for r in &resources {
            if r.resource_type() == "Patient" {
                continue;
            }
            let Some(paths) = compartment_paths(r.resource_type()) else {
                context.insert(r.clone());
                continue;
            };
            let mut groups: Vec<usize> = Vec::new();
            for path in paths {
                for_each_reference(r.json(), path, &mut |reference| {
                    if let Some(g) = find(reference) {
                        if !groups.contains(&g) {
                            groups.push(g);
                        }
                    }
                });
            }
            if groups.is_empty() {
                unlinked.push(r.clone());
            }
            links.extend(groups.into_iter().map(|g| (g, r.clone())));
        }
        for (g, r) in links {
            if let Some(group) = patients.get_mut(g) {
                group.resources.push(r);
            }
        }
        Cohort {
            patients,
            context: Arc::new(context),
            unlinked,
        }
    }

    /// The patients and their resources, in input order of the Patients.
    pub fn patients(&self) -> &[PatientGroup] {
        &self.patients
    }

    /// The resources outside the Patient compartment, shared by all records.
    pub fn context(&self) -> &Arc<ResourceIndex> {
        &self.context
    }

    /// Resources of compartment types that reference no known patient.
    pub fn unlinked(&self) -> &[Arc<Resource>] {
        &self.unlinked
    }

    /// Builds the record of patient `i` (`None` when out of range).
    pub fn record(&self, i: usize) -> Option<Result<PatientRecord, RecordError>> {
        let group = self.patients.get(i)?;
        Some(PatientRecord::build_with_context(
            group.resources.iter().cloned(),
            self.context.clone(),
        ))
    }

    /// Builds every patient's record, in order.
    pub fn records(&self) -> impl Iterator<Item = Result<PatientRecord, RecordError>> + '_ {
        (0..self.patients.len()).filter_map(|i| self.record(i))
    }
}

/// Calls `f` with every `reference` string at the dotted `path` (through arrays) of `json`.
fn for_each_reference(json: &Value, path: &str, f: &mut impl FnMut(&str)) {
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
    use crate::data::Source;
    use serde_json::json;

    fn r(v: Value, url: Option<&str>) -> Arc<Resource> {
        Arc::new(Resource::from_json(v, Source::memory(), url.map(Arc::from)).unwrap())
    }

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
    fn groups_by_id_url_and_nested_paths() {
        let cohort = Cohort::group(vec![
            r(
                json!({"resourceType": "Patient", "id": "a"}),
                Some("urn:uuid:a"),
            ),
            r(json!({"resourceType": "Patient", "id": "b"}), None),
            r(
                json!({"resourceType": "Observation", "id": "o1", "subject": {"reference": "urn:uuid:a"}}),
                None,
            ),
            r(
                json!({"resourceType": "Observation", "id": "o2", "subject": {"reference": "Patient/b"}}),
                None,
            ),
            r(
                json!({"resourceType": "Appointment", "id": "ap", "participant": [
                {"actor": {"reference": "Practitioner/x"}}, {"actor": {"reference": "http://s/Patient/b"}}]}),
                None,
            ),
            r(
                json!({"resourceType": "Coverage", "id": "cv", "subscriber": {"reference": "Patient/a"},
                "beneficiary": {"reference": "Patient/b"}}),
                None,
            ),
            r(
                json!({"resourceType": "Observation", "id": "o3", "subject": {"reference": "Patient/zzz"}}),
                None,
            ),
            r(json!({"resourceType": "Medication", "id": "m"}), None),
            r(json!({"resourceType": "Patient", "id": "a"}), None),
        ]);
        let ids = |g: &PatientGroup| -> Vec<String> {
            g.resources
                .iter()
                .filter_map(|r| r.id().map(String::from))
                .collect()
        };
        assert_eq!(cohort.patients().len(), 2);
        assert_eq!(ids(&cohort.patients()[0]), ["a", "a", "o1", "cv"]);
        assert_eq!(ids(&cohort.patients()[1]), ["b", "o2", "ap", "cv"]);
        assert_eq!(cohort.unlinked().len(), 1);
        assert_eq!(cohort.context().len(), 1);
        assert!(cohort.records().all(|r| r.is_ok()));
    }
}
