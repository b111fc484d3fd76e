//! One patient's resources, indexed for the questions rules ask.
//!
//! [`PatientRecord::build`] takes a patient's resources (from a Bundle, or grouped from NDJSON
//! files by [`Cohort`](crate::data::Cohort)) and indexes, once:
//!
//! * observations by (system, code) of `Observation.code` **and** of each
//!   `Observation.component.code` (the 85354-9 blood pressure panel's 8480-6 and 8462-4
//!   components are found under their own codes, each entry pointing at the observation and the
//!   component index), ordered by time (effective\[x\] start, else `issued`; entries without a time
//!   sort first and never fall in a [`Window`]);
//! * conditions by (system, code), with clinical and verification status;
//! * medication requests by (system, code) of `medicationCodeableConcept` or of the referenced
//!   Medication's `code`, ordered by `authoredOn`;
//! * encounters (by `period`), appointments (by `start`) and devices, by id;
//! * every resource by `Type/id` and Bundle `fullUrl`, for [`PatientRecord::resolve`].
//!
//! Times without a zone are read in UTC. A fact of partial precision (`2020-05`) is ordered and
//! windowed by the earliest instant it can mean, so an as-of query at 2020-05-15 sees it.
//!
//! ```
//! use std::sync::Arc;
//! use cds_core::data::{PatientRecord, Resource, Source, Window};
//! use cds_core::temporal::DateTime;
//! use serde_json::json;
//!
//! let r = |v| Arc::new(Resource::from_json(v, Source::memory(), None).unwrap());
//! let record = PatientRecord::build(vec![
//!     r(json!({"resourceType": "Patient", "id": "p"})),
//!     r(json!({"resourceType": "Observation", "id": "o", "status": "final",
//!         "subject": {"reference": "Patient/p"},
//!         "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
//!         "effectiveDateTime": "2020-01-01T10:00:00Z",
//!         "component": [
//!           {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
//!            "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
//!         ]})),
//! ]).unwrap();
//! let at = DateTime::parse("2020-06-01T00:00:00Z").unwrap();
//! let sbp = record.latest_observation("http://loinc.org", "8480-6", Window::up_to(&at)).unwrap();
//! assert_eq!(sbp.component_index(), Some(0));
//! assert_eq!(sbp.value().unwrap().as_quantity().unwrap().ucum_code(), Some("mm[Hg]"));
//! assert_eq!(record.resolve("Patient/p").unwrap().id(), Some("p"));
//! ```

mod entries;
mod resolver;
pub(crate) mod times;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub use entries::{
    ClinicalStatus, ConditionEntry, Decoded, MedicationEntry, ObservationEntry, VerificationStatus,
};
pub use resolver::ScopedResolver;
pub use times::{FactTime, TimeSource, Window};

use super::codes::{codings, CodeIndex};
use super::reference::{contained, parse_reference, ResourceIndex, Target};
use super::{Resource, Source};
use times::{condition_time, date_time_at, observation_time, period_at, slice_in, sort_by_time};

/// Why a record could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// No Patient resource among the resources.
    #[error("no Patient resource among the {resources} resources of the record")]
    NoPatient {
        /// How many resources there were.
        resources: usize,
    },
    /// More than one distinct Patient (by id).
    #[error(
        "{count} different Patient resources in one record (first at {first}, second at {second})"
    )]
    MultiplePatients {
        /// How many distinct patients.
        count: usize,
        /// Where the first came from (`file:line`).
        first: String,
        /// Where the second came from.
        second: String,
    },
}

/// Something odd but tolerated while building a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWarning {
    /// The resource concerned.
    pub source: Source,
    /// What.
    pub kind: RecordWarningKind,
}

/// The kinds of [`RecordWarning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordWarningKind {
    /// An observation without effective\[x\] or issued: sorted first, never in a time window.
    UntimedObservation,
    /// A second resource with the same `Type/id` (the first one is what references resolve to).
    DuplicateResource,
    /// A MedicationRequest whose `medicationReference` does not resolve (it is indexed under no
    /// code).
    UnresolvedMedication,
}

impl std::fmt::Display for RecordWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            RecordWarningKind::UntimedObservation => "observation without effective[x] or issued",
            RecordWarningKind::DuplicateResource => "duplicate resource (same type and id)",
            RecordWarningKind::UnresolvedMedication => "medicationReference does not resolve",
        };
        write!(
            f,
            "{}:{}:{}: {what}",
            self.source.file.display(),
            self.source.line,
            self.source.column
        )
    }
}

/// One patient's resources, indexed (see the module documentation).
#[derive(Debug, Clone)]
pub struct PatientRecord {
    patient: Arc<Resource>,
    index: ResourceIndex,
    context: Arc<ResourceIndex>,
    by_type: HashMap<&'static str, Vec<Arc<Resource>>>,
    observations: CodeIndex<ObservationEntry>,
    conditions: CodeIndex<ConditionEntry>,
    medications: CodeIndex<MedicationEntry>,
    encounters: Vec<(Option<FactTime>, Arc<Resource>)>,
    appointments: Vec<(Option<FactTime>, Arc<Resource>)>,
    warnings: Vec<RecordWarning>,
}

impl PatientRecord {
    /// Builds the record of the one patient among `resources`.
    pub fn build(
        resources: impl IntoIterator<Item = Arc<Resource>>,
    ) -> Result<PatientRecord, RecordError> {
        Self::build_with_context(resources, Arc::new(ResourceIndex::new()))
    }

    /// Builds a record whose references may also resolve into `context`: resources shared by
    /// many patients (Practitioner, Organization, Location, Medication, ...).
    pub fn build_with_context(
        resources: impl IntoIterator<Item = Arc<Resource>>,
        context: Arc<ResourceIndex>,
    ) -> Result<PatientRecord, RecordError> {
        let mut index = ResourceIndex::new();
        let mut warnings = Vec::new();
        for r in resources {
            let source = r.source().clone();
            if !index.insert(r) {
                warnings.push(RecordWarning {
                    source,
                    kind: RecordWarningKind::DuplicateResource,
                });
            }
        }
        let patient = the_patient(&index)?;
        let mut record = PatientRecord {
            patient,
            index,
            context,
            by_type: HashMap::new(),
            observations: CodeIndex::default(),
            conditions: CodeIndex::default(),
            medications: CodeIndex::default(),
            encounters: Vec::new(),
            appointments: Vec::new(),
            warnings,
        };
        let resources: Vec<Arc<Resource>> = record.index.resources().to_vec();
        for r in resources {
            record.add(&r);
            record.by_type.entry(r.resource_type()).or_default().push(r);
        }
        record
            .observations
            .for_each_list(|v| sort_by_time(v, |e| e.time));
        record
            .conditions
            .for_each_list(|v| sort_by_time(v, |e| e.time));
        record
            .medications
            .for_each_list(|v| sort_by_time(v, |e| e.time));
        sort_by_time(&mut record.encounters, |e| e.0);
        sort_by_time(&mut record.appointments, |e| e.0);
        Ok(record)
    }

    fn add(&mut self, r: &Arc<Resource>) {
        let json = r.json();
        match r.resource_type() {
            "Observation" => {
                let time = observation_time(json);
                if time.is_none() {
                    self.warn(r, RecordWarningKind::UntimedObservation);
                }
                // One entry per coding; the value is decoded once per Observation (and per
                // component) and the entry cloned for its other codings.
                let mut decoded: Option<ObservationEntry> = None;
                for (system, code) in codings(json.get("code")) {
                    let entry = decoded
                        .get_or_insert_with(|| ObservationEntry::new(r.clone(), None, time))
                        .clone();
                    self.observations.push(system, code, entry);
                }
                let components = json.get("component").and_then(Value::as_array);
                for (i, component) in components.into_iter().flatten().enumerate() {
                    let mut decoded: Option<ObservationEntry> = None;
                    for (system, code) in codings(component.get("code")) {
                        let entry = decoded
                            .get_or_insert_with(|| ObservationEntry::new(r.clone(), Some(i), time))
                            .clone();
                        self.observations.push(system, code, entry);
                    }
                }
            }
            "Condition" => {
                let time = condition_time(json);
                for (system, code) in codings(json.get("code")) {
                    self.conditions
                        .push(system, code, ConditionEntry::new(r.clone(), time));
                }
            }
            "MedicationRequest" => self.add_medication_request(r),
            "Encounter" => self
                .encounters
                .push((period_at(json, "period", TimeSource::Period), r.clone())),
            "Appointment" => self
                .appointments
                .push((date_time_at(json, "start", TimeSource::Start), r.clone())),
            _ => {}
        }
    }

    fn add_medication_request(&mut self, r: &Arc<Resource>) {
        let json = r.json();
        let time = date_time_at(json, "authoredOn", TimeSource::AuthoredOn);
        let mut medication = None;
        let concept = match (
            json.get("medicationCodeableConcept"),
            json.get("medicationReference"),
        ) {
            (Some(concept), _) => Some(concept),
            (None, Some(reference)) => {
                let target = reference.get("reference").and_then(Value::as_str);
                medication = target.and_then(|t| self.resolve_medication(r, t));
                if medication.is_none() {
                    self.warn(r, RecordWarningKind::UnresolvedMedication);
                }
                None
            }
            (None, None) => None,
        };
        let codes: Vec<(String, String)> = match (&medication, concept) {
            (Some(m), _) => owned(codings(m.json().get("code"))),
            (None, Some(c)) => owned(codings(Some(c))),
            (None, None) => Vec::new(),
        };
        for (system, code) in codes {
            let entry = MedicationEntry {
                request: r.clone(),
                medication: medication.clone(),
                time,
            };
            self.medications.push(&system, &code, entry);
        }
    }

    fn resolve_medication(&self, from: &Arc<Resource>, reference: &str) -> Option<Arc<Resource>> {
        if let Some(Target::Contained(id)) = parse_reference(reference) {
            let json = contained(from.json(), id)?.clone();
            return Resource::from_json(json, from.source().clone(), None)
                .ok()
                .filter(|m| m.resource_type() == "Medication")
                .map(Arc::new);
        }
        self.resolve(reference)
            .filter(|m| m.resource_type() == "Medication")
            .cloned()
    }

    fn warn(&mut self, r: &Resource, kind: RecordWarningKind) {
        self.warnings.push(RecordWarning {
            source: r.source().clone(),
            kind,
        });
    }

    /// The patient.
    pub fn patient(&self) -> &Arc<Resource> {
        &self.patient
    }

    /// All of the record's own resources, in the order given (not the shared context).
    pub fn resources(&self) -> &[Arc<Resource>] {
        self.index.resources()
    }

    /// The record's resources of one type, in the order given.
    pub fn resources_of_type(&self, resource_type: &str) -> &[Arc<Resource>] {
        self.by_type.get(resource_type).map_or(&[], Vec::as_slice)
    }

    /// The shared context references may also resolve into.
    pub fn context(&self) -> &Arc<ResourceIndex> {
        &self.context
    }

    /// What was odd but tolerated while building.
    pub fn warnings(&self) -> &[RecordWarning] {
        &self.warnings
    }

    /// Resolves a reference (`Type/id`, `Type/id/_history/n`, `urn:uuid:...` Bundle fullUrls,
    /// absolute URLs ending in `Type/id`) among the record's resources, then the shared context.
    /// Contained references (`#id`) need the referring resource: see [`Self::resolve_from`].
    pub fn resolve(&self, reference: &str) -> Option<&Arc<Resource>> {
        self.index
            .resolve(reference)
            .or_else(|| self.context.resolve(reference))
    }

    /// Resolves a reference made by `from`, including contained ones (`#id`), to JSON.
    pub fn resolve_from<'a>(&'a self, from: &'a Resource, reference: &str) -> Option<&'a Value> {
        match parse_reference(reference)? {
            Target::Contained(id) => contained(from.json(), id),
            _ => self.resolve(reference).map(|r| r.json()),
        }
    }

    /// Every observation entry for a code, ordered by time (untimed entries first).
    pub fn observations(&self, system: &str, code: &str) -> &[ObservationEntry] {
        self.observations.get(system, code)
    }

    /// The observation entries for a code whose time is in `window`, in time order.
    pub fn observations_in(&self, system: &str, code: &str, window: Window) -> &[ObservationEntry] {
        slice_in(self.observations.get(system, code), window, |e| e.time)
    }

    /// The latest observation entry for a code in `window` (e.g. [`Window::up_to`] the
    /// evaluation time: a replay never sees the future).
    pub fn latest_observation(
        &self,
        system: &str,
        code: &str,
        window: Window,
    ) -> Option<&ObservationEntry> {
        self.observations_in(system, code, window).last()
    }

    /// The earliest observation entry for a code in `window`.
    pub fn earliest_observation(
        &self,
        system: &str,
        code: &str,
        window: Window,
    ) -> Option<&ObservationEntry> {
        self.observations_in(system, code, window).first()
    }

    /// The observation index (to enumerate the codes present).
    pub fn observation_index(&self) -> &CodeIndex<ObservationEntry> {
        &self.observations
    }

    /// Every condition with a code, ordered by onset (else recorded date; untimed first).
    pub fn conditions(&self, system: &str, code: &str) -> &[ConditionEntry] {
        self.conditions.get(system, code)
    }

    /// The active conditions with a code (see [`ConditionEntry::is_active`]).
    pub fn active_conditions<'a>(
        &'a self,
        system: &str,
        code: &str,
    ) -> impl Iterator<Item = &'a ConditionEntry> + 'a {
        self.conditions
            .get(system, code)
            .iter()
            .filter(|c| c.is_active())
    }

    /// The condition index.
    pub fn condition_index(&self) -> &CodeIndex<ConditionEntry> {
        &self.conditions
    }

    /// Every medication request for a medication code, ordered by `authoredOn`.
    pub fn medication_requests(&self, system: &str, code: &str) -> &[MedicationEntry] {
        self.medications.get(system, code)
    }

    /// The active medication requests for a code (status `active` only; see
    /// [`MedicationEntry::is_active`]).
    pub fn active_medications<'a>(
        &'a self,
        system: &str,
        code: &str,
    ) -> impl Iterator<Item = &'a MedicationEntry> + 'a {
        self.medications
            .get(system, code)
            .iter()
            .filter(|m| m.is_active())
    }

    /// The medication requests being ordered for a code (status `draft` only; see
    /// [`MedicationEntry::is_draft`]).
    pub fn draft_medications<'a>(
        &'a self,
        system: &str,
        code: &str,
    ) -> impl Iterator<Item = &'a MedicationEntry> + 'a {
        self.medications
            .get(system, code)
            .iter()
            .filter(|m| m.is_draft())
    }

    /// The medication index.
    pub fn medication_index(&self) -> &CodeIndex<MedicationEntry> {
        &self.medications
    }

    /// Encounters ordered by `period` start (those without one first).
    pub fn encounters(&self) -> impl Iterator<Item = &Arc<Resource>> {
        self.encounters.iter().map(|(_, r)| r)
    }

    /// Appointments ordered by `start` (those without one first).
    pub fn appointments(&self) -> impl Iterator<Item = &Arc<Resource>> {
        self.appointments.iter().map(|(_, r)| r)
    }

    /// Devices, in the order given.
    pub fn devices(&self) -> &[Arc<Resource>] {
        self.resources_of_type("Device")
    }

    /// The record's resource `resource_type/id` (Encounter, Appointment, Device, ...).
    pub fn get(&self, resource_type: &str, id: &str) -> Option<&Arc<Resource>> {
        self.index.get(resource_type, id)
    }
}

fn owned(pairs: Vec<(&str, &str)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(s, c)| (s.to_string(), c.to_string()))
        .collect()
}

/// The one patient of the index: Patients with the same id count once.
fn the_patient(index: &ResourceIndex) -> Result<Arc<Resource>, RecordError> {
    let mut patients = index
        .resources()
        .iter()
        .filter(|r| r.resource_type() == "Patient");
    let Some(first) = patients.next() else {
        return Err(RecordError::NoPatient {
            resources: index.len(),
        });
    };
    let others: Vec<&Arc<Resource>> = patients
        .filter(|p| p.id().is_none() || p.id() != first.id())
        .collect();
    if let Some(second) = others.first() {
        let at = |r: &Resource| format!("{}:{}", r.source().file.display(), r.source().line);
        return Err(RecordError::MultiplePatients {
            count: others.len() + 1,
            first: at(first),
            second: at(second),
        });
    }
    Ok(first.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(v: Value) -> Arc<Resource> {
        Arc::new(Resource::from_json(v, Source::memory(), None).unwrap())
    }

    #[test]
    fn draft_and_active_medications_are_told_apart() {
        let rx = "http://www.nlm.nih.gov/research/umls/rxnorm";
        let request = |id: &str, status: &str| {
            r(
                json!({"resourceType": "MedicationRequest", "id": id, "status": status,
                "intent": "order", "subject": {"reference": "Patient/p"},
                "medicationReference": {"reference": "Medication/kcl"}}),
            )
        };
        let record = PatientRecord::build(vec![
            r(json!({"resourceType": "Patient", "id": "p"})),
            r(json!({"resourceType": "Medication", "id": "kcl",
                "code": {"coding": [{"system": rx, "code": "8591"}]}})),
            request("draft", "draft"),
            request("active", "active"),
            request("stopped", "stopped"),
        ])
        .unwrap();
        let ids = |it: &mut dyn Iterator<Item = &MedicationEntry>| -> Vec<String> {
            it.filter_map(|m| m.request().id().map(str::to_string))
                .collect()
        };
        assert_eq!(ids(&mut record.draft_medications(rx, "8591")), ["draft"]);
        assert_eq!(ids(&mut record.active_medications(rx, "8591")), ["active"]);
        assert!(record.draft_medications(rx, "9997").next().is_none());
    }
}
