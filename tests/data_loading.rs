//! End-to-end loading: the shared sample data loads with nothing rejected, the Bundle and NDJSON
//! forms of pysynthea-20 agree, and each kind of bad input is reported at the right place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cds_core::data::load::{load_path, read_file, LoadOptions};
use cds_core::data::LoadError;

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(rel)
}

/// Error messages with the fixture folder made relative, for stable snapshots.
fn messages(errors: &[LoadError]) -> String {
    let root = fixture("");
    errors
        .iter()
        .map(|e| e.to_string().replace(root.to_str().unwrap_or_default(), ""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn counts_by_type(path: &Path) -> (BTreeMap<&'static str, usize>, usize) {
    let loaded = load_path(path, LoadOptions::default()).expect("shared data folder is listed");
    assert!(
        loaded.rejected.is_empty(),
        "rejected under {}:\n{}",
        path.display(),
        messages(&loaded.rejected)
    );
    let mut by_type = BTreeMap::new();
    for r in &loaded.resources {
        *by_type.entry(r.resource_type()).or_default() += 1;
    }
    (by_type, loaded.counts.bundles)
}

#[test]
fn all_shared_data_loads_with_nothing_rejected() {
    let loaded = load_path(shared(""), LoadOptions::default()).unwrap();
    assert!(loaded.rejected.is_empty(), "{}", messages(&loaded.rejected));
    assert_eq!(loaded.files.len(), 20 + 25 + 13);
    assert_eq!(loaded.counts.bundles, 20);
    assert_eq!(loaded.counts.outcomes_skipped, 0);
}

#[test]
fn bundle_and_ndjson_forms_of_pysynthea_agree() {
    let (bundles, n_bundles) = counts_by_type(&shared("pysynthea-20/bundles"));
    let (ndjson, n_ndjson_bundles) = counts_by_type(&shared("pysynthea-20/ndjson"));
    assert_eq!(n_bundles, 20);
    assert_eq!(n_ndjson_bundles, 0);
    assert_eq!(bundles, ndjson);
    assert_eq!(bundles.get("Patient"), Some(&20));
    assert_eq!(bundles.get("Observation"), Some(&22_267));
    assert_eq!(bundles.values().sum::<usize>(), 44_444);
}

#[test]
fn smart_bulk_export_loads() {
    let (by_type, _) = counts_by_type(&shared("smart-bulk-10"));
    assert_eq!(by_type.get("Patient"), Some(&13));
    assert_eq!(by_type.get("Observation"), None);
    assert!(by_type.get("MedicationRequest").is_some_and(|n| *n > 0));
}

#[test]
fn bundle_entries_keep_full_urls_and_positions() {
    let path = shared("pysynthea-20/bundles/Darrell_Erdman_c9efcb62.json");
    let resources: Vec<_> = read_file(&path, LoadOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(resources
        .iter()
        .all(|r| r.full_url().is_some_and(|u| u.starts_with("urn:uuid:"))));
    let lines: Vec<usize> = resources.iter().map(|r| r.source().line).collect();
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "entries on increasing lines"
    );
    assert!(resources
        .iter()
        .enumerate()
        .all(|(i, r)| r.source().entry == Some(i)));
}

#[test]
fn typed_ndjson_errors_name_file_line_and_column() {
    let results: Vec<_> = read_file(
        &fixture("errors/Observation.000.ndjson"),
        LoadOptions::default(),
    )
    .collect();
    let ok: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().and_then(|r| r.id()))
        .collect();
    assert_eq!(ok, ["o1"]);
    let errors: Vec<LoadError> = results.into_iter().filter_map(Result::err).collect();
    let codes: Vec<_> = errors.iter().map(|e| e.kind.code()).collect();
    assert_eq!(
        codes,
        [
            "unexpected-type",
            "not-an-object",
            "invalid",
            "invalid",
            "unknown-resource-type",
            "truncated"
        ]
    );
    insta::assert_snapshot!("typed_ndjson_errors", messages(&errors));
}

#[test]
fn malformed_ndjson_lines_are_skipped_and_reported() {
    let results: Vec<_> =
        read_file(&fixture("errors/malformed.ndjson"), LoadOptions::default()).collect();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok());
    let errors: Vec<LoadError> = results.into_iter().filter_map(Result::err).collect();
    assert_eq!(errors[0].line, Some(2));
    assert_eq!(errors[0].column, Some(37));
    insta::assert_snapshot!("malformed_ndjson", messages(&errors));
}

#[test]
fn json_file_errors() {
    let mut errors = Vec::new();
    for name in [
        "unknown_type.json",
        "not_an_object.json",
        "truncated.json",
        "bundle_with_errors.json",
    ] {
        errors.extend(
            read_file(&fixture(&format!("errors/{name}")), LoadOptions::default())
                .filter_map(Result::err),
        );
    }
    insta::assert_snapshot!("json_file_errors", messages(&errors));
}

#[test]
fn messages_carry_no_patient_values() {
    let loaded = load_path(fixture("errors"), LoadOptions::default()).unwrap();
    let text = messages(&loaded.rejected);
    for value in [
        "p2",
        "p3",
        "female",
        "1970-01-01",
        "2020-01-01 10:00",
        "2020-02-30",
        "Observation/o2",
    ] {
        assert!(!text.contains(value), "message leaks {value}:\n{text}");
    }
}
