//! The typed R4B view (`--features typed-r4b`): every resource of the shared sample data has one,
//! and resources R4B cannot represent fail with an error that names the place, not the value.

use std::collections::BTreeMap;
use std::path::Path;

use cds_core::data::load::{load_path, LoadOptions};
use cds_core::data::typed::{R4bResource, TypedProblem};
use cds_core::data::{Resource, Source};

#[test]
fn all_shared_data_converts_to_r4b() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let loaded = load_path(&root, LoadOptions::default()).expect("shared data folder is listed");
    assert!(
        loaded.rejected.is_empty(),
        "{} rejected",
        loaded.rejected.len()
    );
    assert!(
        loaded.resources.len() > 90_000,
        "{}",
        loaded.resources.len()
    );

    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut patients = 0;
    for resource in &loaded.resources {
        match resource.to_r4b() {
            Ok(R4bResource::Patient(p)) => {
                assert_eq!(p.id.as_deref(), resource.id());
                patients += 1;
            }
            Ok(_) => {}
            // Display is value-free, so it is safe to show which kinds of problem occurred.
            Err(e) => *failures.entry(e.to_string()).or_default() += 1,
        }
    }
    assert!(failures.is_empty(), "no R4B view for: {failures:#?}");
    assert!(patients > 0);
    eprintln!(
        "{} resources ({patients} Patients) converted to R4B",
        loaded.resources.len()
    );
}

fn resource(json: serde_json::Value) -> Resource {
    Resource::from_json(json, Source::memory(), None).expect("a known R4 resource type")
}

#[test]
fn r4_only_resource_type_is_rejected() {
    let r = resource(serde_json::json!({
        "resourceType": "EffectEvidenceSynthesis", "id": "ees1", "status": "active",
        "name": "Confidential synthesis"
    }));
    let err = r.to_r4b().expect_err("EffectEvidenceSynthesis is R4 only");
    assert_eq!(err.problem(), &TypedProblem::NotInR4b);
    assert_eq!(err.resource_type(), "EffectEvidenceSynthesis");
    let shown = err.to_string();
    assert!(shown.contains("EffectEvidenceSynthesis"), "{shown}");
    assert!(
        !shown.contains("ees1") && !shown.contains("Confidential"),
        "{shown}"
    );
}

#[test]
fn out_of_value_set_gender_names_the_element_not_the_value() {
    let r = resource(serde_json::json!({
        "resourceType": "Patient", "id": "pat-secret-7", "gender": "M",
        "birthDate": "1961-07-04", "name": [{"family": "Quimby"}]
    }));
    let err = r
        .to_r4b()
        .expect_err("`M` is not an AdministrativeGender code");
    assert_eq!(err.path(), "Patient.gender");
    assert_eq!(err.problem(), &TypedProblem::UnknownCode);
    for shown in [err.to_string(), format!("{err:?}")] {
        for value in ["\"M\"", ": M", "pat-secret-7", "1961", "Quimby"] {
            assert!(!shown.contains(value), "{value} in {shown}");
        }
    }
    assert_eq!(
        err.to_string(),
        "<memory>:1:1: no R4B view: Patient.gender: not a code of the R4B value set"
    );
    // The raw message, documented as possibly holding data, does quote it.
    assert!(err.serde_message().contains('M'));
}
