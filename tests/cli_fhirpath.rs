//! `cds fhirpath`: results, the evaluation clock, and errors with positions.

use std::process::{Command, Output};

fn cds(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cds"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the cds binary runs")
}

const BP_PANEL: &str = "tests/fixtures/data/record/bp_panel.json";

#[test]
fn prints_non_empty_results_per_resource() {
    let out = cds(&[
        "fhirpath",
        "Observation.component.where(code.coding.code = '8480-6').value.value",
        BP_PANEL,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty(), "no result lines");
    for line in &lines {
        let (label, json) = line.split_once('\t').expect("label<TAB>json");
        assert!(label.starts_with("Observation/"), "{line}");
        let value: serde_json::Value = serde_json::from_str(json).expect("JSON result");
        assert!(value.as_array().is_some_and(|a| !a.is_empty()), "{line}");
    }
}

#[test]
fn the_clock_comes_from_at() {
    let expr = "today() = @2024-03-05";
    let on_day = cds(&[
        "fhirpath",
        expr,
        BP_PANEL,
        "--type",
        "Patient",
        "--at",
        "2024-03-05T10:00:00Z",
    ]);
    let other_day = cds(&[
        "fhirpath",
        expr,
        BP_PANEL,
        "--type",
        "Patient",
        "--at",
        "2025-01-01",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&on_day.stdout)
            .matches("[true]")
            .count(),
        1
    );
    assert_eq!(
        String::from_utf8_lossy(&other_day.stdout)
            .matches("[false]")
            .count(),
        1
    );
}

#[test]
fn invalid_expression_names_the_position_and_exits_2() {
    let out = cds(&["fhirpath", "Observation.where(code = )", BP_PANEL]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1, column 26"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_clock_is_a_usage_error() {
    let out = cds(&["fhirpath", "true", BP_PANEL, "--at", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at"));
}
