//! Patient records: indexes, ordering, windows, status semantics, reference resolution, and
//! grouping of NDJSON files by patient, on hand-made fixtures and on the shared sample data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cds_core::data::load::{load_path, read_file, LoadOptions};
use cds_core::data::{
    ClinicalStatus, Cohort, ObservationValue, PatientRecord, RecordWarningKind, Resource,
    TimeSource, Window,
};
use cds_core::temporal::DateTime;
use rust_decimal::Decimal;

const LOINC: &str = "http://loinc.org";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data/record")
        .join(rel)
}

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

fn load(path: &Path) -> Vec<Arc<Resource>> {
    let loaded = load_path(path, LoadOptions::default()).unwrap();
    assert!(loaded.rejected.is_empty(), "{:?}", loaded.rejected);
    loaded.resources
}

fn record(path: &Path) -> PatientRecord {
    PatientRecord::build(load(path)).unwrap()
}

fn at(text: &str) -> DateTime {
    DateTime::parse(text).unwrap()
}

fn ids<'a>(it: impl IntoIterator<Item = &'a Arc<Resource>>) -> Vec<String> {
    it.into_iter()
        .filter_map(|r| r.id().map(String::from))
        .collect()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn sbp_value(e: &cds_core::data::ObservationEntry) -> Decimal {
    e.value()
        .and_then(|v| v.as_quantity().and_then(|q| q.value))
        .unwrap()
}

#[test]
fn bp_panel_components_are_indexed_under_their_own_codes_in_time_order() {
    let record = record(&fixture("bp_panel.json"));
    let sbp = record.observations(LOINC, "8480-6");
    let order: Vec<(Option<String>, Option<usize>)> = sbp
        .iter()
        .map(|e| (e.observation().id().map(String::from), e.component_index()))
        .collect();
    let expected = [
        ("sbp-untimed", None),
        ("bp-1", Some(0)),
        ("bp-2", Some(0)),
        ("sbp-alone", None),
        ("bp-3", Some(0)),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(id, c)| (Some(id.to_string()), *c))
        .collect();
    assert_eq!(order, expected);
    assert!(sbp[0].time().is_none());
    assert_eq!(
        record
            .warnings()
            .iter()
            .filter(|w| w.kind == RecordWarningKind::UntimedObservation)
            .count(),
        1
    );

    let dbp = record.observations(LOINC, "8462-4");
    assert_eq!(dbp.len(), 3);
    assert!(dbp.iter().all(|e| e.component_index() == Some(1)));
    assert_eq!(record.observations(LOINC, "85354-9").len(), 3);
    assert!(record.observations(LOINC, "85354-9")[0].value().is_none());

    // As of mid-2021, the latest systolic is bp-2's component, never the future bp-3 or sbp-alone.
    let as_of = Window::up_to(&at("2021-06-01T00:00:00Z"));
    let latest = record.latest_observation(LOINC, "8480-6", as_of).unwrap();
    assert_eq!(latest.observation().id(), Some("bp-2"));
    assert_eq!(sbp_value(latest), dec("150"));
    assert_eq!(record.observations_in(LOINC, "8480-6", as_of).len(), 2);
    let first = record.earliest_observation(LOINC, "8480-6", as_of).unwrap();
    assert_eq!(first.observation().id(), Some("bp-1"));

    // A window of one year ending at 2022-07-01T12:00Z: bp-3 is 2022-07-01T03:30Z.
    let year = Window::ending_at(
        &at("2022-07-01T12:00:00Z"),
        Duration::from_secs(365 * 86_400),
    );
    let in_year: Vec<_> = record
        .observations_in(LOINC, "8480-6", year)
        .iter()
        .map(sbp_value)
        .collect();
    assert_eq!(in_year, [dec("141"), dec("135")]);
    // An as-of time just before bp-3 (a zone offset away) does not see it.
    let before = Window::up_to(&at("2022-07-01T03:29:59Z"));
    assert_eq!(
        record
            .latest_observation(LOINC, "8480-6", before)
            .and_then(|e| e.observation().id()),
        Some("sbp-alone")
    );
    // The component value converts through UCUM.
    let q = latest
        .value()
        .unwrap()
        .as_quantity()
        .unwrap()
        .to_ucum()
        .unwrap();
    assert_eq!(q.unit.code(), "mm[Hg]");
}

#[test]
fn every_value_and_effective_form_is_read() {
    let record = record(&fixture("value_forms.ndjson"));
    let entry = |code: &str| {
        let entries = record.observations("urn:test", code);
        assert_eq!(entries.len(), 1, "{code}");
        entries[0].clone()
    };
    let value_is = |code: &str, f: fn(&ObservationValue) -> bool| {
        let e = entry(code);
        let v = e.value();
        assert!(v.as_ref().is_some_and(f), "{code}: {v:?}");
    };
    value_is(
        "quantity",
        |v| matches!(v, ObservationValue::Quantity(q) if q.ucum_code() == Some("%")),
    );
    value_is("codeable", |v| {
        matches!(v, ObservationValue::CodeableConcept(_))
    });
    value_is("string", |v| {
        matches!(v, ObservationValue::String("free text"))
    });
    value_is("boolean", |v| matches!(v, ObservationValue::Boolean(true)));
    value_is("integer", |v| matches!(v, ObservationValue::Integer(7)));
    value_is("range", |v| {
        matches!(
            v,
            ObservationValue::Range {
                low: Some(_),
                high: Some(_)
            }
        )
    });
    value_is("ratio", |v| {
        matches!(
            v,
            ObservationValue::Ratio {
                numerator: Some(_),
                denominator: Some(_)
            }
        )
    });
    value_is("sampled", |v| matches!(v, ObservationValue::SampledData(_)));
    value_is("time", |v| matches!(v, ObservationValue::Time(_)));
    value_is("datetime", |v| matches!(v, ObservationValue::DateTime(_)));
    value_is("period", |v| {
        matches!(
            v,
            ObservationValue::Period {
                start: Some(_),
                end: Some(_)
            }
        )
    });
    assert!(entry("absent").value().is_none());
    assert!(entry("absent").data_absent());
    assert!(!entry("quantity").data_absent());

    let source = |code: &str| entry(code).time().map(|t| t.source);
    assert_eq!(source("quantity"), Some(TimeSource::EffectiveDateTime));
    assert_eq!(source("codeable"), Some(TimeSource::EffectivePeriod));
    assert_eq!(source("string"), Some(TimeSource::EffectiveInstant));
    assert_eq!(source("boolean"), Some(TimeSource::EffectiveTiming));
    assert_eq!(source("integer"), Some(TimeSource::Issued));
    // The timing's earliest event, and the whole span of a period.
    let timing = entry("boolean").time().unwrap();
    assert_eq!(timing.at, at("2020-04-01"));
    let period = entry("codeable").time().unwrap();
    assert_eq!(
        period.span.upper_ms - period.span.lower_ms,
        3 * 86_400_000 - 1
    );
    // Partial precision: a month-precision effective time is in a window at its first day.
    let june = Window::up_to(&at("2020-06-01T00:00:00Z"));
    assert_eq!(record.observations_in("urn:test", "range", june).len(), 1);
}

#[test]
fn conditions_medications_encounters_and_references() {
    let record = record(&fixture("conditions_meds.json"));
    let sct = "http://snomed.info/sct";
    let mut active: Vec<String> = record
        .active_conditions(sct, "44054006")
        .filter_map(|c| c.condition().id().map(String::from))
        .collect();
    active.sort();
    assert_eq!(active, ["active", "relapse"]);
    assert_eq!(record.conditions(sct, "44054006").len(), 6);
    let resolved = record
        .conditions(sct, "44054006")
        .iter()
        .find(|c| c.condition().id() == Some("resolved"))
        .unwrap();
    assert_eq!(resolved.clinical_status(), Some(ClinicalStatus::Resolved));

    let rx = "http://www.nlm.nih.gov/research/umls/rxnorm";
    let requests: Vec<String> = record
        .medication_requests(rx, "860975")
        .iter()
        .filter_map(|m| m.request().id().map(String::from))
        .collect();
    assert_eq!(
        requests,
        ["mr-ref", "mr-concept", "mr-contained"],
        "ordered by authoredOn"
    );
    let active: Vec<_> = record
        .active_medications(rx, "860975")
        .filter_map(|m| m.request().id())
        .collect();
    assert_eq!(active, ["mr-concept", "mr-contained"]);
    let by_ref = &record.medication_requests(rx, "860975")[0];
    assert_eq!(by_ref.medication().and_then(|m| m.id()), Some("metformin"));
    assert!(record
        .warnings()
        .iter()
        .any(|w| w.kind == RecordWarningKind::UnresolvedMedication));

    assert_eq!(ids(record.encounters()), ["e1", "e2"]);
    assert_eq!(ids(record.appointments()), ["a1"]);
    assert_eq!(ids(record.devices()), ["d1"]);
    assert!(record.get("Encounter", "e2").is_some());

    let contained_from = record.get("MedicationRequest", "mr-contained").unwrap();
    let med = record.resolve_from(contained_from, "#m1").unwrap();
    assert_eq!(med.get("id").and_then(|v| v.as_str()), Some("m1"));
    assert!(record.resolve("#m1").is_none());
    assert_eq!(
        record.resolve("Patient/cm/_history/4").and_then(|p| p.id()),
        Some("cm")
    );
    assert_eq!(
        record
            .resolve("https://ehr.example/fhir/Device/d1")
            .and_then(|p| p.id()),
        Some("d1")
    );
}

#[test]
fn a_record_needs_exactly_one_patient() {
    let resources = load(&fixture("value_forms.ndjson"));
    let without: Vec<_> = resources
        .iter()
        .filter(|r| r.resource_type() != "Patient")
        .cloned()
        .collect();
    assert_eq!(
        PatientRecord::build(without).unwrap_err().to_string(),
        "no Patient resource among the 12 resources of the record"
    );
    let mut two = load(&fixture("value_forms.ndjson"));
    two.extend(load(&fixture("conditions_meds.json")));
    let err = PatientRecord::build(two).unwrap_err().to_string();
    assert!(
        err.starts_with("2 different Patient resources in one record"),
        "{err}"
    );
}

/// Every Observation's subject resolves to the record's patient.
fn assert_subjects_resolve(record: &PatientRecord) -> usize {
    let mut n = 0;
    for obs in record.resources_of_type("Observation") {
        let subject = obs
            .json()
            .get("subject")
            .and_then(|s| s.get("reference"))
            .and_then(|s| s.as_str())
            .unwrap();
        let resolved = record.resolve(subject).unwrap();
        assert!(Arc::ptr_eq(resolved, record.patient()));
        n += 1;
    }
    n
}

/// Per patient id: count of resources by type.
type Census = BTreeMap<String, BTreeMap<&'static str, usize>>;

fn census(record: &PatientRecord, census: &mut Census) {
    let id = record.patient().id().unwrap().to_string();
    let entry = census.entry(id).or_default();
    for r in record.resources() {
        *entry.entry(r.resource_type()).or_default() += 1;
    }
}

#[test]
fn pysynthea_bundles_and_ndjson_give_the_same_records() {
    let mut from_bundles = Census::new();
    let mut observations = 0;
    for file in cds_core::data::load::files_in(&shared("pysynthea-20/bundles")).unwrap() {
        let resources: Vec<Arc<Resource>> = read_file(&file, LoadOptions::default())
            .map(|r| r.map(Arc::new))
            .collect::<Result<_, _>>()
            .unwrap();
        let record = PatientRecord::build(resources).unwrap();
        observations += assert_subjects_resolve(&record);
        census(&record, &mut from_bundles);
    }
    assert_eq!(observations, 22_267);

    let cohort = Cohort::group(load(&shared("pysynthea-20/ndjson")));
    assert_eq!(cohort.patients().len(), 20);
    assert!(cohort.unlinked().is_empty());
    let mut from_ndjson = Census::new();
    let mut observations = 0;
    for record in cohort.records() {
        let record = record.unwrap();
        observations += assert_subjects_resolve(&record);
        census(&record, &mut from_ndjson);
    }
    assert_eq!(observations, 22_267);

    // A bundle holds the practitioners, organizations and locations its patient's resources
    // refer to; NDJSON keeps them once, as shared context. Everything else must agree.
    let shared_types = [
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Location",
    ];
    for census in [&mut from_bundles, &mut from_ndjson] {
        for counts in census.values_mut() {
            counts.retain(|t, _| !shared_types.contains(t));
        }
    }
    assert_eq!(from_bundles, from_ndjson);
    // Blood pressure panels and their components are found in both forms.
    let record = cohort.record(0).unwrap().unwrap();
    assert!(!record.observations(LOINC, "85354-9").is_empty());
    assert_eq!(
        record.observations(LOINC, "8480-6").len(),
        record.observations(LOINC, "85354-9").len()
            + record
                .resources_of_type("Observation")
                .iter()
                .filter(|o| o.json()["code"]["coding"][0]["code"] == "8480-6")
                .count()
    );
}

#[test]
fn smart_bulk_export_groups_into_thirteen_records() {
    let cohort = Cohort::group(load(&shared("smart-bulk-10")));
    assert_eq!(cohort.patients().len(), 13);
    assert!(cohort.unlinked().is_empty());
    assert!(!cohort.context().is_empty());
    let mut requests = 0;
    for record in cohort.records() {
        let record = record.unwrap();
        requests += record.resources_of_type("MedicationRequest").len();
        for r in record.resources() {
            if let Some(subject) = r
                .json()
                .get("subject")
                .and_then(|s| s["reference"].as_str())
            {
                assert!(Arc::ptr_eq(
                    record.resolve(subject).unwrap(),
                    record.patient()
                ));
            }
        }
        // Encounters' practitioners resolve into the shared context when referenced by id.
        for e in record.encounters() {
            for p in e.json()["participant"].as_array().into_iter().flatten() {
                if let Some(r) = p["individual"]["reference"].as_str() {
                    if r.starts_with("Practitioner/") {
                        assert!(record.resolve(r).is_some(), "{r}");
                    }
                }
            }
        }
    }
    assert_eq!(
        requests, 1745,
        "every MedicationRequest of the export is in a record"
    );
}
