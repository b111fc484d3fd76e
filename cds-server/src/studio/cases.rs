//! A ruleset's test cases in the studio: run them against the edited text, and save a tried
//! patient as a new case.
//!
//! * `POST /studio/api/tests` `{file, text}`: every case in the file's `tests/` folder, run
//!   with `cds_rules::testing` (what `cds test` runs) against the folder loaded with the edited
//!   text; pass/fail and what differed.
//! * `POST /studio/api/tests/save` `{file, text, patient, at?, hook?, description}`: writes
//!   `tests/<slug>.json` expecting exactly the cards the edited text raises for that sample
//!   (the resources the rules cannot read are left out), then runs it. 409 if it exists.

use axum::http::StatusCode;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::trial::{engine_with, evaluation_time};
use super::{samples, Refusal};
use crate::access::Access;
use crate::outcome::{ApiError, Problem};
use crate::state::AppState;

/// The body of a test run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The ruleset file edited.
    pub file: String,
    /// Its text as edited.
    pub text: String,
}

/// The body of saving a case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    /// The ruleset file edited.
    pub file: String,
    /// Its text as edited.
    pub text: String,
    /// The sample patient.
    pub patient: String,
    /// The evaluation time.
    #[serde(default)]
    pub at: Option<String>,
    /// The hook.
    #[serde(default)]
    pub hook: Option<String>,
    /// What the case shows (also its file name).
    pub description: String,
}

/// `POST /studio/api/tests`.
pub fn run(state: &AppState, access: &Access, req: RunRequest) -> Result<Value, Refusal> {
    let (engine, f) = engine_with(state, access, &req.file, &req.text)?;
    let paths =
        cds_rules::engine::files_with_extension(&f.dir().join("tests"), "json").unwrap_or_default();
    let root = super::edit::workspace(state).root().to_path_buf();
    let results: Vec<cds_rules::testing::CaseResult> = paths
        .par_iter()
        .map(|p| cds_rules::testing::run_file(&engine, p))
        .collect();
    let passed = results.iter().filter(|r| r.passed()).count();
    let cases: Vec<Value> = results
        .iter()
        .map(|r| {
            let id = r
                .path
                .strip_prefix(&root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            json!({
                "file": id,
                "description": r.description,
                "passed": r.passed(),
                "mismatches": r.mismatches.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({"passed": passed, "failed": results.len() - passed, "cases": cases}))
}

/// A file name from a description: lower-case words joined by `-`, at most 60 characters.
pub fn slug(description: &str) -> String {
    let mut out = String::new();
    for c in description.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

/// `POST /studio/api/tests/save`.
pub fn save(state: &AppState, access: &Access, req: SaveRequest) -> Result<Value, Refusal> {
    let description = req.description.trim();
    let name = slug(description);
    if name.is_empty() {
        return Err(ApiError::invalid_at(
            "description",
            "say what the case shows (it also names its file)",
        )
        .into());
    }
    let (engine, f) = engine_with(state, access, &req.file, &req.text)?;
    let sample = samples::patient(state, access, &req.patient)?;
    let resources = samples::resources(&sample)?;
    let record = cds_rules::engine::record_from_json(resources.clone()).map_err(|e| {
        ApiError::invalid_at(
            "patient",
            format!("the sample {} is not one patient's record: {e}", sample.id),
        )
    })?;
    let at = evaluation_time(req.at.as_deref(), &sample, &record)?;
    let hook = req.hook.as_deref().filter(|h| !h.is_empty() && *h != "any");
    let eval = engine.evaluate(&record, &at, hook);
    let cards: Vec<Value> = eval
        .cards()
        .iter()
        .map(|c| json!({"rule": c.rule, "indicator": c.card.indicator.as_str()}))
        .collect();
    let fired: Vec<String> = eval.cards().iter().map(|c| c.rule.clone()).collect();
    drop(eval);
    let kept = match engine.graph().resource_types_read(hook) {
        Some(mut types) => {
            types.insert("Patient");
            keep_types(resources, &types)
        }
        None => resources,
    };
    let resources = match kept {
        Value::Array(a) => a,
        other => vec![other],
    };
    let case = json!({
        "description": description,
        "at": at.to_string(),
        "hook": hook,
        "resources": resources,
        "expect": {"cards": cards},
    });
    let dir = f.dir().join("tests");
    std::fs::create_dir_all(&dir)
        .map_err(|_| ApiError::internal("the tests folder cannot be created"))?;
    let path = dir.join(format!("{name}.json"));
    let root = super::edit::workspace(state).root().to_path_buf();
    let id = path
        .strip_prefix(&root)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    let text = serde_json::to_string_pretty(&case).unwrap_or_default() + "\n";
    use std::io::Write as _;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ApiError {
                status: StatusCode::CONFLICT,
                code: "duplicate",
                problems: vec![Problem::at(
                    "description",
                    format!("{id} exists; describe the case differently"),
                )],
                retry_after: None,
            }
            .into())
        }
        Err(_) => return Err(ApiError::internal("the test case cannot be written").into()),
    };
    file.write_all(text.as_bytes())
        .map_err(|_| ApiError::internal("the test case cannot be written"))?;
    tracing::info!(case = %id, "studio: test case saved");
    let result = cds_rules::testing::run_file(&engine, &path);
    Ok(json!({
        "case": id,
        "cards": fired,
        "passed": result.passed(),
        "mismatches": result.mismatches.iter().map(ToString::to_string).collect::<Vec<_>>(),
    }))
}

/// The resources (or Bundle entries) of the given types; Bundles keep their shape and
/// `fullUrl`s, so references between entries still resolve.
fn keep_types(v: Value, types: &std::collections::BTreeSet<&'static str>) -> Value {
    match v {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter_map(|x| {
                    let x = keep_types(x, types);
                    (!x.is_null()).then_some(x)
                })
                .collect(),
        ),
        Value::Object(mut o) => {
            let kind = o
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if kind == "Bundle" {
                if let Some(Value::Array(entries)) = o.remove("entry") {
                    let kept: Vec<Value> = entries
                        .into_iter()
                        .filter(|e| {
                            e.pointer("/resource/resourceType")
                                .and_then(Value::as_str)
                                .is_some_and(|t| types.contains(t))
                        })
                        .collect();
                    o.insert("entry".into(), Value::Array(kept));
                }
                Value::Object(o)
            } else if types.contains(kind.as_str()) {
                Value::Object(o)
            } else {
                Value::Null
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(
            slug("Karan Yost: BP 182/95 → crisis!"),
            "karan-yost-bp-182-95-crisis"
        );
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("  ✓ "), "");
        assert!(slug(&"a".repeat(200)).len() <= 60);
    }

    #[test]
    fn only_the_types_the_rules_read_are_kept() {
        let types = ["Patient", "Observation"].into_iter().collect();
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "Claim", "id": "c"}},
            {"resource": {"resourceType": "Observation", "id": "o"}}]});
        let kept = keep_types(json!([bundle, {"resourceType": "Claim"}]), &types);
        assert_eq!(kept[0]["entry"].as_array().unwrap().len(), 2);
        assert_eq!(kept[0]["entry"][0]["fullUrl"], "urn:uuid:1");
        assert_eq!(kept.as_array().unwrap().len(), 1);
    }
}
