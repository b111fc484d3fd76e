//! Arbitrary JSON fed to validation, record building and grouping never panics.

use std::sync::Arc;

use cds_core::data::validate::validate_json;
use cds_core::data::{Cohort, PatientRecord, Resource, Source, Window};
use cds_core::temporal::DateTime;
use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "resourceType",
    "id",
    "status",
    "intent",
    "code",
    "coding",
    "system",
    "text",
    "component",
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
    "value",
    "unit",
    "low",
    "high",
    "numerator",
    "denominator",
    "origin",
    "dimensions",
    "effectiveDateTime",
    "effectivePeriod",
    "effectiveInstant",
    "effectiveTiming",
    "event",
    "issued",
    "start",
    "end",
    "period",
    "subject",
    "patient",
    "reference",
    "contained",
    "medicationReference",
    "medicationCodeableConcept",
    "clinicalStatus",
    "verificationStatus",
    "onsetDateTime",
    "recordedDate",
    "authoredOn",
    "class",
    "participant",
    "actor",
    "dataAbsentReason",
    "birthDate",
    "entry",
    "resource",
    "fullUrl",
];

const STRINGS: &[&str] = &[
    "Patient",
    "Observation",
    "Medication",
    "Patient/p",
    "Medication/m",
    "#m",
    "urn:uuid:p",
    "http://loinc.org",
    "8480-6",
    "final",
    "active",
    "order",
    "booked",
    "accepted",
    "2020",
    "2020-05",
    "2020-05-17",
    "2020-05-17T10:20:30Z",
    "2020-02-30",
    "10:20:30",
    "",
    "http://unitsofmeasure.org",
    "mm[Hg]",
    "kg/m2",
    "p",
    "m",
    "relapse",
    "refuted",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        proptest::sample::select(STRINGS).prop_map(Value::from),
        "[a-z0-9:/#.-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |pairs| {
                    let map: Map<String, Value> =
                        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                    Value::Object(map)
                }
            ),
        ]
    })
}

const TYPES: &[&str] = &[
    "Patient",
    "Observation",
    "Condition",
    "MedicationRequest",
    "Encounter",
    "Appointment",
    "Device",
    "Medication",
    "Bundle",
];

fn resource(v: Value, resource_type: &str) -> Option<Arc<Resource>> {
    let mut map = match v {
        Value::Object(map) => map,
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    map.insert("resourceType".into(), Value::from(resource_type));
    Resource::from_json(Value::Object(map), Source::memory(), None)
        .ok()
        .map(Arc::new)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn validation_never_panics(v in json_value(), t in proptest::sample::select(TYPES)) {
        let _ = validate_json(t, &v);
        if let Some(r) = resource(v, t) {
            let _ = validate_json(t, r.json());
        }
    }

    #[test]
    fn records_and_cohorts_never_panic(
        values in proptest::collection::vec((json_value(), proptest::sample::select(TYPES)), 0..6)
    ) {
        let mut resources: Vec<Arc<Resource>> = values
            .into_iter()
            .filter_map(|(v, t)| resource(v, t))
            .collect();
        let cohort = Cohort::group(resources.clone());
        for record in cohort.records().flatten() {
            let _ = record.warnings();
        }
        if let Some(p) = resource(serde_json::json!({"id": "p"}), "Patient") {
            resources.insert(0, p);
        }
        if let Ok(record) = PatientRecord::build(resources) {
            let at = DateTime::parse("2020-06-01T00:00:00Z").unwrap();
            for (system, code, entries) in record.observation_index().iter() {
                for e in entries {
                    let _ = (e.value(), e.data_absent(), e.time(), e.element());
                    if let Some(q) = e.value().and_then(|v| v.as_quantity().cloned()) {
                        let _ = q.to_ucum();
                    }
                }
                let _ = record.latest_observation(system, code, Window::up_to(&at));
            }
            for (system, code, _) in record.condition_index().iter() {
                let _ = record.active_conditions(system, code).count();
            }
            for (system, code, _) in record.medication_index().iter() {
                let _ = record.active_medications(system, code).count();
            }
            for r in record.resources() {
                for reference in ["Patient/p", "#m", "urn:uuid:p", "Medication/m"] {
                    let _ = record.resolve_from(r, reference);
                }
            }
        }
    }
}
