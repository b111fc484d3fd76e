//! `cds stats`: output, rejections and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cds(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cds"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the cds binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn shared(rel: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    p.display().to_string()
}

#[test]
fn clean_data_exits_zero() {
    let out = cds(&["stats", &shared("pysynthea-20/ndjson")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("files:     25\n"), "{text}");
    assert!(text.contains("patients:  20\n"), "{text}");
    assert!(text.contains("resources: 44444\n"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  Observation ") && l.ends_with(" 22267")),
        "{text}"
    );
    assert!(text.ends_with("rejected:  0\n"), "{text}");
}

#[test]
fn rejections_are_listed_capped_and_exit_one() {
    let out = cds(&["stats", "tests/fixtures/data/errors", "--max-errors", "3"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("stats_with_rejections", stdout(&out));
}

#[test]
fn json_output() {
    let out = cds(&[
        "stats",
        "--json",
        "tests/fixtures/data/errors/Observation.000.ndjson",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"], 1);
    assert_eq!(v["resources"], 1);
    assert_eq!(v["by_type"]["Observation"], 1);
    assert_eq!(v["rejected"]["count"], 6);
    let first = &v["rejected"]["listed"][0];
    assert_eq!(first["line"], 2);
    assert_eq!(first["column"], 1);
    assert_eq!(first["kind"], "unexpected-type");
}

#[test]
fn missing_path_and_bad_usage_exit_two() {
    let out = cds(&["stats", "no/such/path"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: cannot list no/such/path"), "{err}");
    assert_eq!(cds(&["stats"]).status.code(), Some(2));
    assert_eq!(cds(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn help_lists_stats() {
    let out = cds(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("stats"));
}
