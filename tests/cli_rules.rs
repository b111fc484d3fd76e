//! `cds check`, `cds fmt`, `cds test` and `cds explain` on fixtures (insta snapshots of what
//! they print), and the CDS Hooks cards raised for a fixture patient.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cds(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cds"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the cds binary runs")
}

/// The exit code, stdout and (when not empty) stderr, for a snapshot.
fn shown(o: &Output) -> String {
    let mut s = format!(
        "exit code: {:?}\n--- stdout\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout)
    );
    if !o.stderr.is_empty() {
        s.push_str("--- stderr\n");
        s.push_str(&String::from_utf8_lossy(&o.stderr));
    }
    s
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch folder for this test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cds-cli-rules-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

#[test]
fn check_reports_every_diagnostic() {
    let o = cds(&["check", "tests/fixtures/rules/broken"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!(shown(&o));
}

#[test]
fn check_reports_rulesets_with_the_same_name() {
    let o = cds(&["check", "tests/fixtures/rules/duplicate"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!(shown(&o));
}

#[test]
fn check_passes_clean_files() {
    let o = cds(&[
        "check",
        "tests/fixtures/rules/failing",
        "tests/fixtures/rules/unformatted",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.ends_with("checked 2 files: 0 errors, 0 warnings\n"),
        "{text}"
    );
}

#[test]
fn check_on_a_missing_path_is_a_usage_error() {
    let o = cds(&["check", "tests/fixtures/rules/no-such-folder"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn fmt_check_lists_unformatted_files() {
    let o = cds(&[
        "fmt",
        "--check",
        "tests/fixtures/rules/unformatted",
        "tests/fixtures/rules/failing",
    ]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!(shown(&o));
}

#[test]
fn fmt_rewrites_files_in_canonical_form() {
    let dir = scratch("fmt");
    let file = dir.join("bp.rules");
    std::fs::copy(
        root().join("tests/fixtures/rules/unformatted/bp.rules"),
        &file,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let o = cds(&["fmt", path]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    let ast = cds_rules::parse(&text, "bp.rules").expect("formatted text parses");
    assert_eq!(cds_rules::format(&ast), text, "formatting is stable");
    insta::assert_snapshot!(text);
    let again = cds(&["fmt", "--check", path]);
    assert_eq!(again.status.code(), Some(0), "{}", shown(&again));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fmt_refuses_files_that_do_not_parse() {
    let dir = scratch("fmt-broken");
    let file = dir.join("syntax.rules");
    std::fs::copy(
        root().join("tests/fixtures/rules/broken/syntax.rules"),
        &file,
    )
    .unwrap();
    let before = std::fs::read_to_string(&file).unwrap();
    let o = cds(&["fmt", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("unit without quotes"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        before,
        "left untouched"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn test_reports_what_differed() {
    let o = cds(&["test", "tests/fixtures/rules/failing"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!(shown(&o));
}

#[test]
fn test_runs_one_case_file() {
    let o = cds(&["test", "tests/fixtures/rules/failing/tests/a-passes.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1 cases, 1 passed, 0 failed (1 rulesets)\n"
    );
}

#[test]
fn the_runner_is_a_library() {
    let report = cds::testing::run(&[root().join("tests/fixtures/rules/failing")]).unwrap();
    assert_eq!((report.passed(), report.failed()), (1, 3));
    assert_eq!(report.rulesets, 1);
    let first = report.failures().next().unwrap();
    assert!(first.path.ends_with("b-missing-card.json"));
    assert!(matches!(
        &first.mismatches[0],
        cds::testing::Mismatch::Missing { rule, explanation: Some(_) } if rule == "stage-2"
    ));
}

const PATIENT: &str = "tests/fixtures/rules/patients/hypertension-stage-2.json";

#[test]
fn explain_shows_why_each_rule_fired_or_not() {
    let o = cds(&[
        "explain",
        "rulesets/hypertension",
        PATIENT,
        "--at",
        "2024-03-01T10:00:00Z",
        "--hook",
        "patient-view",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    insta::assert_snapshot!(shown(&o));
}

#[test]
fn explain_json_has_cards_and_explanations() {
    let o = cds(&[
        "explain",
        "rulesets/hypertension",
        PATIENT,
        "--at",
        "2024-03-01T10:00:00Z",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON output");
    assert_eq!(v["cards"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["cards"][0]["indicator"], "warning");
    let rules = v["explanations"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    assert_eq!(rules[1]["rule"], "stage-2");
    assert_eq!(rules[1]["fired"], true);
}

#[test]
fn explain_takes_a_test_case_as_the_patient() {
    let o = cds(&[
        "explain",
        "tests/fixtures/rules/failing",
        "tests/fixtures/rules/failing/tests/a-passes.json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", shown(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("rule stage-2: fired"), "{text}");
}

#[test]
fn explain_without_a_time_is_a_usage_error() {
    let o = cds(&["explain", "rulesets/hypertension", PATIENT]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cds_hooks_cards_for_a_patient() {
    let engine = cds::Engine::load(root().join("rulesets/hypertension")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(PATIENT)).unwrap()).unwrap();
    let record = cds::record_from_json(json).unwrap();
    let at = cds::DateTime::parse("2024-03-01T10:00:00Z").unwrap();
    let eval = engine.evaluate(&record, &at, Some("patient-view"));
    let cards: Vec<&cds::Card> = eval.cards().iter().map(|c| &c.card).collect();
    insta::assert_json_snapshot!(serde_json::json!({ "cards": cards }));
}
