//! The sample patients and cohorts the studio offers: every test case of the rulesets (its
//! resources, time and hook), every FHIR JSON file in the configured sample folders (one patient
//! each: a Bundle or a resource) and every folder of NDJSON there (a cohort, for backtests).
//!
//! A sample is named by an id the listing gives (`case:news2/tests/high.json`,
//! `file:1:pysynthea-20/bundles/X.json`, cohort `1:pysynthea-20/ndjson`); an id is looked up in
//! a fresh listing, never joined onto a path, so a caller cannot reach other files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use super::edit::{declared_name, workspace};
use super::{admin, blocking, respond};
use crate::access::Access;
use crate::outcome::ApiError;
use crate::state::AppState;

/// A sample patient.
#[derive(Debug, Clone)]
pub struct Patient {
    /// Its id.
    pub id: String,
    /// What the page shows.
    pub label: String,
    /// `case` (a ruleset test case) or `file`.
    pub source: &'static str,
    /// The file.
    pub path: PathBuf,
    /// The case's evaluation time.
    pub at: Option<String>,
    /// The case's hook.
    pub hook: Option<String>,
}

/// A sample cohort: a folder of NDJSON files.
#[derive(Debug, Clone)]
pub struct Cohort {
    /// Its id.
    pub id: String,
    /// What the page shows.
    pub label: String,
    /// The folder.
    pub path: PathBuf,
    /// The day its last encounter ended (a time at which a backtest finds data).
    pub latest: Option<String>,
}

/// Deepest folder level searched under a sample folder.
const DEPTH: usize = 3;
/// Most sample files offered (the listing stays small).
const MAX_FILES: usize = 500;

/// The test cases of the rulesets the caller sees.
pub fn cases(state: &AppState, access: &Access) -> Vec<Patient> {
    let ws = workspace(state);
    let mut out = Vec::new();
    let Ok(files) = ws.files() else {
        return out;
    };
    let mut dirs: Vec<(PathBuf, String)> = Vec::new();
    for f in files {
        let name = std::fs::read_to_string(&f.path)
            .ok()
            .and_then(|t| declared_name(&t).map(str::to_string))
            .unwrap_or_default();
        if !access.sees(&name) || dirs.iter().any(|(d, _)| d == f.dir()) {
            continue;
        }
        dirs.push((f.dir().to_path_buf(), name));
    }
    for (dir, name) in dirs {
        let Ok(paths) = cds_rules::engine::files_with_extension(&dir.join("tests"), "json") else {
            continue;
        };
        for p in paths {
            let Ok(case) = cds_rules::testing::TestCase::read(&p) else {
                continue;
            };
            let Ok(rel) = p.strip_prefix(ws.root()) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let what = if case.description.is_empty() {
                stem.to_string()
            } else {
                case.description.clone()
            };
            out.push(Patient {
                id: format!("case:{rel}"),
                label: format!("{name} · {what}"),
                source: "case",
                path: p.clone(),
                at: Some(case.at.to_string()),
                hook: case.hook.clone(),
            });
        }
    }
    out
}

/// The patients and cohorts of the configured sample folders.
pub fn files(state: &AppState) -> (Vec<Patient>, Vec<Cohort>) {
    let mut patients = Vec::new();
    let mut cohorts = Vec::new();
    for (i, root) in state.config.studio.samples.iter().enumerate() {
        if !root.is_dir() {
            continue;
        }
        let shown = root
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("samples")
            .to_string();
        walk(root, 0, &mut |dir, json_files, ndjson| {
            let rel = dir
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            if ndjson > 0 {
                let place = if rel.is_empty() {
                    shown.clone()
                } else {
                    rel.clone()
                };
                let patients = count_patients(dir);
                cohorts.push(Cohort {
                    id: format!("{i}:{rel}"),
                    label: format!("{place} ({patients} patients, NDJSON)"),
                    path: dir.to_path_buf(),
                    latest: latest_encounter_end(dir),
                });
            }
            for f in json_files {
                if patients.len() >= MAX_FILES {
                    break;
                }
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let frel = if rel.is_empty() {
                    name.to_string()
                } else {
                    format!("{rel}/{name}")
                };
                let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                let place = if rel.is_empty() {
                    shown.as_str()
                } else {
                    rel.as_str()
                };
                patients.push(Patient {
                    id: format!("file:{i}:{frel}"),
                    label: format!("{} ({place})", readable(stem)),
                    source: "file",
                    path: f.clone(),
                    at: None,
                    hook: None,
                });
            }
        });
    }
    (patients, cohorts)
}

/// Visits `dir` and its sub-folders (not hidden ones), sorted, with each folder's JSON files
/// and its number of NDJSON files.
fn walk(dir: &Path, depth: usize, visit: &mut dyn FnMut(&Path, &[PathBuf], usize)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    let hidden = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
    };
    let json: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_file() && !hidden(p) && p.extension().is_some_and(|x| x == "json"))
        .cloned()
        .collect();
    let ndjson = paths
        .iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "ndjson"))
        .count();
    visit(dir, &json, ndjson);
    if depth < DEPTH {
        for p in paths.iter().filter(|p| p.is_dir() && !hidden(p)) {
            walk(p, depth + 1, visit);
        }
    }
}

/// Patients in a cohort folder: lines of its `Patient*.ndjson` files.
fn count_patients(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("Patient") && n.ends_with(".ndjson"))
        })
        .filter_map(|p| std::fs::read(p).ok())
        .map(|b| b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count())
        .sum()
}

/// The latest day an encounter of a cohort folder ended (`period.end` in its
/// `Encounter*.ndjson`), remembered per folder while its files keep their sizes.
fn latest_encounter_end(dir: &Path) -> Option<String> {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static SEEN: Mutex<BTreeMap<PathBuf, (u64, Option<String>)>> = Mutex::new(BTreeMap::new());
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("Encounter") && n.ends_with(".ndjson"))
        })
        .collect();
    let size: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((s, latest)) = seen.get(dir) {
        if *s == size {
            return latest.clone();
        }
    }
    let mut latest: Option<String> = None;
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        latest = latest.max(latest_end_in(&bytes));
    }
    seen.insert(dir.to_path_buf(), (size, latest.clone()));
    latest
}

/// The greatest `YYYY-MM-DD` following an `"end":"` in NDJSON text.
fn latest_end_in(bytes: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"end\":\"";
    let mut best: Option<&[u8]> = None;
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(KEY.len()).position(|w| w == KEY) {
        let start = i + at + KEY.len();
        if let Some(day) = bytes.get(start..start + 10) {
            let ok = day.iter().enumerate().all(|(k, c)| match k {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            });
            if ok && best.is_none_or(|b| day > b) {
                best = Some(day);
            }
        }
        i = start;
    }
    best.map(|d| String::from_utf8_lossy(d).into_owned())
}

/// `Karan_Yost_49d2ef3d` → `Karan Yost`; other names with `_`/`-` as spaces.
fn readable(stem: &str) -> String {
    let mut words: Vec<&str> = stem.split(['_', '-']).filter(|w| !w.is_empty()).collect();
    let hexish = |w: &str| w.len() >= 6 && w.chars().all(|c| c.is_ascii_hexdigit());
    if words.len() > 1 && words.last().is_some_and(|w| hexish(w)) {
        words.pop();
    }
    words.join(" ")
}

/// The sample patient with this id.
pub fn patient(state: &AppState, access: &Access, id: &str) -> Result<Patient, ApiError> {
    let found = if id.starts_with("case:") {
        cases(state, access).into_iter().find(|p| p.id == id)
    } else {
        files(state).0.into_iter().find(|p| p.id == id)
    };
    found.ok_or_else(|| {
        ApiError::invalid_at(
            "patient",
            "no such sample patient; GET /studio/api/samples lists them",
        )
    })
}

/// The sample cohort with this id.
pub fn cohort(state: &AppState, id: &str) -> Result<Cohort, ApiError> {
    files(state)
        .1
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| {
            ApiError::invalid_at(
                "cohort",
                "no such sample cohort; GET /studio/api/samples lists them",
            )
        })
}

/// A sample patient's resources as JSON: a case's `resources`, or the file.
pub fn resources(p: &Patient) -> Result<Value, ApiError> {
    let unreadable = |why: String| {
        ApiError::invalid_at(
            "patient",
            format!("the sample {} cannot be read: {why}", p.id),
        )
    };
    if p.source == "case" {
        let case = cds_rules::testing::TestCase::read(&p.path).map_err(unreadable)?;
        return Ok(Value::Array(case.resources));
    }
    let bytes = std::fs::read(&p.path).map_err(|e| unreadable(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| unreadable(format!("not JSON (line {})", e.line())))
}

/// `GET /studio/api/samples`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
) -> Response {
    let result = async {
        admin(&access)?;
        blocking(move || {
            let mut patients: Vec<Value> = cases(&state, &access)
                .into_iter()
                .map(|p| patient_json(&p))
                .collect();
            let (files, cohorts) = files(&state);
            patients.extend(files.iter().map(patient_json));
            let cohorts: Vec<Value> = cohorts
                .iter()
                .map(|c| json!({"id": c.id, "label": c.label, "latest": c.latest}))
                .collect();
            Ok(json!({"patients": patients, "cohorts": cohorts}))
        })
        .await
    }
    .await;
    respond(result)
}

fn patient_json(p: &Patient) -> Value {
    json!({"id": p.id, "label": p.label, "source": p.source, "at": p.at, "hook": p.hook})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_encounter_end_is_found() {
        let text = br#"{"resourceType":"Encounter","period":{"start":"2020-01-01","end":"2021-03-04T10:00:00Z"}}
{"resourceType":"Encounter","period":{"end":"2023-12-31"}}
{"resourceType":"Encounter","period":{"end":"not a date"}}"#;
        assert_eq!(latest_end_in(text).as_deref(), Some("2023-12-31"));
        assert_eq!(latest_end_in(b"{}"), None);
    }

    #[test]
    fn file_names_read_as_names() {
        assert_eq!(readable("Karan_Yost_49d2ef3d"), "Karan Yost");
        assert_eq!(readable("hypertensive-patient"), "hypertensive patient");
        assert_eq!(readable("abcdef"), "abcdef");
    }
}
