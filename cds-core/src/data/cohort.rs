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

use super::compartment::{compartment_paths, for_each_reference};
use super::record::{PatientRecord, RecordError};
use super::reference::{parse_reference, ResourceIndex, Target};
use super::Resource;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Source;
    use serde_json::{json, Value};

    fn r(v: Value, url: Option<&str>) -> Arc<Resource> {
        Arc::new(Resource::from_json(v, Source::memory(), url.map(Arc::from)).unwrap())
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
