//! `cds replay` end to end on the sample cohorts of `../shared/data/`:
//!
//! * its counts agree with counts made here directly from the FHIR JSON, without the engine
//!   (latest systolic ≥ 140 and prediabetes on the problem list as of a date; the shipped
//!   hypertension ruleset's stage 2 and crisis rules at every encounter);
//! * the timeline never looks ahead (data added after a time changes no card before it; a
//!   result issued late is invisible until issued; a condition resolved later is active before);
//! * shard outputs merged equal the unsharded run, byte for byte, whatever the thread count and
//!   bucket count;
//! * malformed lines are reported with file and line, counted, and the run goes on;
//! * pseudonymised outputs hold no patient id.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shared(rel: &str) -> PathBuf {
    root().join("..").join("shared").join(rel)
}

/// A fresh folder under the target directory for this test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("replay-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn cds(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cds"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the cds binary runs")
}

/// Runs `cds replay` and fails the test with its output when it fails.
fn replay(args: &[&str], dir: &Path) -> Output {
    let mut all = vec!["replay"];
    all.extend_from_slice(args);
    let out = cds(&all, dir);
    assert!(
        out.status.success(),
        "cds {all:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Per patient, per rule (`ruleset/rule`), the alerts in `patients.ndjson`.
fn alerts(out: &Path) -> BTreeMap<String, BTreeMap<String, u64>> {
    lines(&out.join("patients.ndjson"))
        .into_iter()
        .map(|p| {
            let rules = p["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        format!(
                            "{}/{}",
                            r["ruleset"].as_str().unwrap(),
                            r["rule"].as_str().unwrap()
                        ),
                        r["alerts"].as_u64().unwrap(),
                    )
                })
                .collect();
            (p["patient"].as_str().unwrap().to_string(), rules)
        })
        .collect()
}

/// The patients for whom `rule` fired at least once.
fn fired(out: &Path, rule: &str) -> BTreeSet<String> {
    alerts(out)
        .into_iter()
        .filter(|(_, rules)| rules.contains_key(rule))
        .map(|(p, _)| p)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The direct count: FHIR JSON read here with serde_json and chrono only.

fn ms(text: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

fn date_of(ms: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .date_naive()
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    taken: i64,
    known: i64,
    value: f64,
}

#[derive(Debug, Default)]
struct Direct {
    birth: Option<chrono::NaiveDate>,
    death: Option<i64>,
    systolic: Vec<Reading>,
    diastolic: Vec<Reading>,
    /// Prediabetes (SNOMED 714628002): known from, active as recorded, abated at.
    prediabetes: Vec<(i64, bool, Option<i64>)>,
    encounter_ends: Vec<i64>,
}

impl Direct {
    fn alive(&self, t: i64) -> bool {
        let born = self
            .birth
            .is_none_or(|b| b.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis() <= t);
        born && self.death.is_none_or(|d| t < d)
    }

    fn adult(&self, t: i64) -> bool {
        use chrono::Datelike;
        let Some(b) = self.birth else { return false };
        let d = date_of(t);
        let mut years = d.year() - b.year();
        if (d.month(), d.day()) < (b.month(), b.day()) {
            years -= 1;
        }
        years >= 18
    }

    /// The readings known at `t` and taken in `[t - window, t]`, in the engine's order.
    fn seen(readings: &[Reading], t: i64, window: Option<i64>) -> Vec<Reading> {
        let mut v: Vec<Reading> = readings
            .iter()
            .filter(|r| r.known <= t && r.taken <= t && window.is_none_or(|w| r.taken >= t - w))
            .copied()
            .collect();
        v.sort_by_key(|r| r.taken); // stable: file order among equal times
        v
    }

    fn prediabetes_at(&self, t: i64) -> bool {
        self.prediabetes
            .iter()
            .any(|&(known, active, abated)| known <= t && (active || abated.is_some_and(|a| a > t)))
    }
}

fn codes(v: &Value) -> Vec<(&str, &str)> {
    v["coding"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| Some((c["system"].as_str()?, c["code"].as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn mmhg(v: &Value) -> Option<f64> {
    let q = &v["valueQuantity"];
    (q["code"] == "mm[Hg]")
        .then(|| q["value"].as_f64())
        .flatten()
}

/// Adds one resource to the direct count (`patient_of` maps a reference to a patient id).
fn add(
    direct: &mut BTreeMap<String, Direct>,
    r: &Value,
    patient_of: &dyn Fn(&str) -> Option<String>,
) {
    let subject = |k: &str| r[k]["reference"].as_str().and_then(patient_of);
    match r["resourceType"].as_str() {
        Some("Patient") => {
            let d = direct
                .entry(r["id"].as_str().unwrap().to_string())
                .or_default();
            d.birth = r["birthDate"]
                .as_str()
                .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok());
            d.death = r["deceasedDateTime"].as_str().and_then(ms);
        }
        Some("Observation") => {
            let Some(p) = subject("subject") else { return };
            let Some(taken) = r["effectiveDateTime"].as_str().and_then(ms) else {
                return;
            };
            let known = r["issued"]
                .as_str()
                .and_then(ms)
                .map_or(taken, |i| i.max(taken));
            let d = direct.entry(p).or_default();
            let mut take = |code: &Value, value: Option<f64>| {
                let Some(value) = value else { return };
                for (s, c) in codes(code) {
                    let reading = Reading {
                        taken,
                        known,
                        value,
                    };
                    match (s, c) {
                        ("http://loinc.org", "8480-6") => d.systolic.push(reading),
                        ("http://loinc.org", "8462-4") => d.diastolic.push(reading),
                        _ => {}
                    }
                }
            };
            take(&r["code"], mmhg(r));
            for c in r["component"].as_array().into_iter().flatten() {
                take(&c["code"], mmhg(c));
            }
        }
        Some("Condition") => {
            let Some(p) = subject("subject") else { return };
            if !codes(&r["code"]).contains(&("http://snomed.info/sct", "714628002")) {
                return;
            }
            let known = r["recordedDate"]
                .as_str()
                .or(r["onsetDateTime"].as_str())
                .and_then(ms)
                .expect("a timed condition");
            let status = codes(&r["clinicalStatus"])
                .first()
                .map(|c| c.1)
                .unwrap_or("");
            let refuted = codes(&r["verificationStatus"])
                .iter()
                .any(|c| c.1 == "refuted" || c.1 == "entered-in-error");
            let active = matches!(status, "active" | "recurrence" | "relapse") && !refuted;
            let abated = (!refuted && matches!(status, "resolved" | "inactive" | "remission"))
                .then(|| r["abatementDateTime"].as_str().and_then(ms))
                .flatten();
            direct
                .entry(p)
                .or_default()
                .prediabetes
                .push((known, active, abated));
        }
        Some("Encounter") => {
            let Some(p) = subject("subject") else { return };
            let period = &r["period"];
            if let Some(t) = period["end"]
                .as_str()
                .or(period["start"].as_str())
                .and_then(ms)
            {
                direct.entry(p).or_default().encounter_ends.push(t);
            }
        }
        _ => {}
    }
}

/// The direct count's view of NDJSON folders (`Patient/id` references).
fn direct_from_ndjson(folders: &[PathBuf]) -> BTreeMap<String, Direct> {
    let mut direct = BTreeMap::new();
    let patient_of = |r: &str| r.strip_prefix("Patient/").map(str::to_string);
    for folder in folders {
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
            .collect();
        files.sort();
        for f in files {
            for line in std::fs::read_to_string(&f).unwrap().lines() {
                add(
                    &mut direct,
                    &serde_json::from_str(line).unwrap(),
                    &patient_of,
                );
            }
        }
    }
    direct
}

/// The direct count's view of a folder of Bundles (`urn:uuid` references to the Patient entry).
fn direct_from_bundles(folder: &Path) -> BTreeMap<String, Direct> {
    let mut direct = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let bundle: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let entries = bundle["entry"].as_array().unwrap();
        let urls: BTreeMap<String, String> = entries
            .iter()
            .filter(|e| e["resource"]["resourceType"] == "Patient")
            .map(|e| {
                (
                    e["fullUrl"].as_str().unwrap().to_string(),
                    e["resource"]["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let patient_of = |r: &str| urls.get(r).cloned();
        for e in entries {
            add(&mut direct, &e["resource"], &patient_of);
        }
    }
    direct
}

/// Patients (alive at `t`) whose latest systolic taken and known by `t` is ≥ 140 mm Hg.
fn latest_systolic_140(direct: &BTreeMap<String, Direct>, t: i64) -> BTreeSet<String> {
    direct
        .iter()
        .filter(|(_, d)| d.alive(t))
        .filter(|(_, d)| {
            Direct::seen(&d.systolic, t, None)
                .last()
                .is_some_and(|r| r.value >= 140.0)
        })
        .map(|(p, _)| p.clone())
        .collect()
}

fn prediabetes_diagnosed(direct: &BTreeMap<String, Direct>, t: i64) -> BTreeSet<String> {
    direct
        .iter()
        .filter(|(_, d)| d.alive(t) && d.prediabetes_at(t))
        .map(|(p, _)| p.clone())
        .collect()
}

#[test]
fn counts_agree_with_a_direct_count_of_the_data() {
    let dir = scratch("counts");
    let rules = root().join("tests/fixtures/replay/counts.rules");
    let ndjson = shared("data/pysynthea-20/ndjson");
    let bundles = shared("data/pysynthea-20/bundles");
    let smart = shared("data/smart-bulk-10");
    let from_ndjson = direct_from_ndjson(std::slice::from_ref(&ndjson));
    let from_bundles = direct_from_bundles(&bundles);
    let keys = |m: &BTreeMap<String, Direct>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&from_ndjson),
        keys(&from_bundles),
        "the two forms hold the same patients"
    );
    let everything = direct_from_ndjson(&[ndjson.clone(), smart.clone()]);

    for at in ["2024-01-01", "2012-06-15"] {
        let t = ms(at).unwrap();
        let cases = [
            ("ndjson", ndjson.clone(), &from_ndjson),
            ("bundles", bundles.clone(), &from_bundles),
            ("all", shared("data"), &everything),
        ];
        for (name, input, direct) in cases {
            let out = dir.join(format!("{name}-{at}"));
            replay(
                &[
                    input.to_str().unwrap(),
                    "--rulesets",
                    rules.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                    "--at",
                    at,
                    "-q",
                ],
                &dir,
            );
            let expected = latest_systolic_140(direct, t);
            assert!(
                !expected.is_empty(),
                "{name} {at}: the direct count finds patients"
            );
            assert_eq!(
                fired(&out, "counts/latest-systolic-140"),
                expected,
                "{name} at {at}"
            );
            let expected = prediabetes_diagnosed(direct, t);
            assert!(
                !expected.is_empty(),
                "{name} {at}: the direct count finds diagnoses"
            );
            assert_eq!(
                fired(&out, "counts/prediabetes-diagnosed"),
                expected,
                "{name} at {at}"
            );
            let alive = direct.values().filter(|d| d.alive(t)).count();
            assert_eq!(
                alerts(&out).len(),
                alive,
                "{name} at {at}: every living patient evaluated"
            );
            // summary.csv says the same.
            let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
            let row = csv
                .lines()
                .find(|l| l.starts_with("counts,latest-systolic-140,"))
                .unwrap();
            let cells: Vec<&str> = row.split(',').collect();
            assert_eq!(cells[3], alive.to_string(), "patients evaluated");
            assert_eq!(
                cells[4],
                latest_systolic_140(direct, t).len().to_string(),
                "patients fired"
            );
        }
    }
}

#[test]
fn hypertension_timeline_agrees_with_a_direct_count() {
    let dir = scratch("hypertension-timeline");
    let ndjson = shared("data/pysynthea-20/ndjson");
    let out = dir.join("out");
    replay(
        &[
            ndjson.to_str().unwrap(),
            "--rulesets",
            root().join("rulesets/hypertension").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--every",
            "encounter",
            "-q",
        ],
        &dir,
    );
    let direct = direct_from_ndjson(&[ndjson]);
    let got = alerts(&out);
    let (day, ninety) = (86_400_000i64, 90 * 86_400_000i64);
    let (mut stage2_total, mut crisis_total) = (0, 0);
    for (p, d) in &direct {
        let mut times: Vec<i64> = d
            .encounter_ends
            .iter()
            .copied()
            .filter(|t| d.alive(*t))
            .collect();
        times.sort_unstable();
        times.dedup();
        let (mut stage2, mut crisis) = (0u64, 0u64);
        for &t in &times {
            let s = Direct::seen(&d.systolic, t, Some(ninety));
            let di = Direct::seen(&d.diastolic, t, Some(ninety));
            let avg = |v: &[Reading]| v.iter().map(|r| r.value).sum::<f64>() / v.len() as f64;
            if d.adult(t) && s.len() >= 2 && di.len() >= 2 && (avg(&s) >= 140.0 || avg(&di) >= 90.0)
            {
                stage2 += 1;
            }
            let ls = Direct::seen(&d.systolic, t, Some(day))
                .last()
                .map(|r| r.value);
            let ld = Direct::seen(&d.diastolic, t, Some(day))
                .last()
                .map(|r| r.value);
            if d.adult(t) && (ls.is_some_and(|v| v > 180.0) || ld.is_some_and(|v| v > 120.0)) {
                crisis += 1;
            }
        }
        let rules = got.get(p).cloned().unwrap_or_default();
        assert_eq!(
            rules.get("hypertension/stage-2").copied().unwrap_or(0),
            stage2,
            "stage 2 alerts of {p}"
        );
        assert_eq!(
            rules
                .get("hypertension/hypertensive-crisis")
                .copied()
                .unwrap_or(0),
            crisis,
            "crisis alerts of {p}"
        );
        stage2_total += stage2;
        crisis_total += crisis;
    }
    assert!(
        stage2_total > 10 && crisis_total > 0,
        "{stage2_total} {crisis_total}"
    );
    // Each card line is one of those alerts, at an encounter's end.
    let cards = lines(&out.join("cards.ndjson"));
    let stage2_cards = cards.iter().filter(|c| c["rule"] == "stage-2").count() as u64;
    assert_eq!(stage2_cards, stage2_total);
}

/// Writes NDJSON files (type → resources) into `dir`.
fn write_ndjson(dir: &Path, files: &[(&str, Vec<Value>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, resources) in files {
        let text: String = resources.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn bp(id: &str, patient: &str, taken: &str, issued: &str, systolic: f64) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": taken, "issued": issued,
        "valueQuantity": {"value": systolic, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}})
}

#[test]
fn the_timeline_never_looks_ahead() {
    let dir = scratch("no-look-ahead");
    let rules = root().join("tests/fixtures/replay/counts.rules");
    // A hand-made patient: a reading taken on the 10th; one taken on the 15th but issued on the
    // 18th; prediabetes recorded on the 5th and resolved on the 12th.
    write_ndjson(
        &dir.join("small"),
        &[
            (
                "Patient.ndjson",
                vec![json!({"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01"})],
            ),
            (
                "Observation.ndjson",
                vec![
                    bp(
                        "o1",
                        "p",
                        "2024-03-10T10:00:00Z",
                        "2024-03-10T10:00:00Z",
                        150.0,
                    ),
                    bp(
                        "o2",
                        "p",
                        "2024-03-15T08:00:00Z",
                        "2024-03-18T12:00:00Z",
                        120.0,
                    ),
                ],
            ),
            (
                "Condition.ndjson",
                vec![
                    json!({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "714628002"}]},
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"}]},
                    "onsetDateTime": "2024-03-05", "abatementDateTime": "2024-03-12"}),
                ],
            ),
        ],
    );
    let out = dir.join("small-out");
    replay(
        &[
            "small",
            "--rulesets",
            rules.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-20",
            "--every",
            "1d",
            "-q",
        ],
        &dir,
    );
    let days = |rule: &str| -> Vec<String> {
        lines(&out.join("cards.ndjson"))
            .iter()
            .filter(|c| c["rule"] == rule)
            .map(|c| c["time"].as_str().unwrap()[8..10].to_string())
            .collect()
    };
    // Fires from the first midnight after the 150 reading until the 120 reading is issued.
    assert_eq!(
        days("latest-systolic-140"),
        ["11", "12", "13", "14", "15", "16", "17", "18"]
    );
    // Active from the 5th (known then) until it resolved on the 12th.
    assert_eq!(
        days("prediabetes-diagnosed"),
        ["05", "06", "07", "08", "09", "10", "11"]
    );
    let p = &lines(&out.join("patients.ndjson"))[0];
    let rule = &p["rules"].as_array().unwrap()[0];
    assert_eq!(rule["rule"], "latest-systolic-140");
    assert_eq!(rule["first"], "2024-03-11T00:00:00Z");
    assert_eq!(
        (rule["alerts"].as_u64(), rule["episodes"].as_u64()),
        (Some(8), Some(1))
    );
    assert_eq!(rule["episode_days"], json!([8.0]));

    // Real data, then the same data plus readings and diagnoses dated from 2025-06-01 (and one
    // taken in January but issued in July): no card before June may change.
    let cohort = shared("data/pysynthea-20/ndjson");
    let (before, after) = (dir.join("before"), dir.join("after"));
    for d in [&before, &after] {
        std::fs::create_dir_all(d).unwrap();
        for f in [
            "Patient",
            "Observation",
            "Condition",
            "Encounter",
            "MedicationRequest",
        ] {
            let name = format!("{f}.000.ndjson");
            std::fs::copy(cohort.join(&name), d.join(&name)).unwrap();
        }
    }
    let patients = lines(&cohort.join("Patient.000.ndjson"));
    let mut extra = String::new();
    for (i, p) in patients.iter().enumerate() {
        let id = p["id"].as_str().unwrap();
        extra.push_str(&format!(
            "{}\n",
            bp(
                &format!("late-{i}"),
                id,
                "2025-06-01T09:00:00Z",
                "2025-06-01T09:00:00Z",
                250.0
            )
        ));
        extra.push_str(&format!(
            "{}\n",
            bp(
                &format!("slow-{i}"),
                id,
                "2025-01-10T09:00:00Z",
                "2025-07-01T09:00:00Z",
                260.0
            )
        ));
    }
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(after.join("Observation.000.ndjson"))
        .unwrap()
        .write_all(extra.as_bytes())
        .unwrap();
    let all_rules = dir.join("rules");
    copy_tree(&root().join("rulesets"), &all_rules);
    std::fs::copy(&rules, all_rules.join("counts.rules")).unwrap();
    let run = |input: &Path| {
        let out = input.with_extension("out");
        replay(
            &[
                input.to_str().unwrap(),
                "--rulesets",
                all_rules.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--from",
                "2024-01-01",
                "--to",
                "2025-12-31",
                "--every",
                "1w",
                "-q",
            ],
            &dir,
        );
        lines(&out.join("cards.ndjson"))
    };
    let (a, b) = (run(&before), run(&after));
    let upto = |cards: &[Value], t: &str| -> Vec<Value> {
        cards
            .iter()
            .filter(|c| c["time"].as_str().unwrap() < t)
            .cloned()
            .collect()
    };
    assert!(!upto(&a, "2025-06-01").is_empty());
    assert_eq!(
        upto(&a, "2025-06-01"),
        upto(&b, "2025-06-01"),
        "cards before the added data changed"
    );
    assert!(b.len() > a.len(), "the added data is seen once it is known");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

const OUTPUTS: [&str; 5] = [
    "cards.ndjson",
    "patients.ndjson",
    "summary.csv",
    "report.html",
    "run.json",
];

fn same_outputs(a: &Path, b: &Path, what: &str) {
    for f in OUTPUTS {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(
            x == y,
            "{what}: {f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn merged_shards_equal_the_unsharded_run_whatever_the_threads() {
    let dir = scratch("shards");
    let input = shared("data/pysynthea-20/ndjson");
    let input = input.to_str().unwrap();
    let rules = root().join("rulesets");
    let rules = rules.to_str().unwrap();
    let timeline = [
        "--from",
        "2010-01-01",
        "--to",
        "2025-01-01",
        "--every",
        "4w",
        "-q",
    ];
    let run = |name: &str, extra: &[&str]| -> PathBuf {
        let out = dir.join(name);
        let mut args = vec![input, "--rulesets", rules, "--out", out.to_str().unwrap()];
        args.extend_from_slice(&timeline);
        args.extend_from_slice(extra);
        replay(&args, &dir);
        out
    };
    let whole = run("whole", &[]);
    assert!(!lines(&whole.join("cards.ndjson")).is_empty());
    // One thread and 1 MiB buckets (dozens of them) give the same bytes.
    let one_thread = run("one-thread", &["--threads", "1", "--partition-mb", "1"]);
    same_outputs(&whole, &one_thread, "threads and buckets");
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| run(&format!("shard-{i}"), &["--shard", &format!("{i}/3")]))
        .collect();
    let sizes: Vec<usize> = shards
        .iter()
        .map(|s| lines(&s.join("patients.ndjson")).len())
        .collect();
    let all = lines(&whole.join("patients.ndjson")).len();
    assert_eq!(sizes.iter().sum::<usize>(), all);
    assert!(
        sizes.iter().all(|&n| n < all),
        "shards split the patients: {sizes:?}"
    );
    let merged = dir.join("merged");
    let mut args = vec!["replay-merge", "--out", merged.to_str().unwrap()];
    // Shards may come in any order.
    for s in shards.iter().rev() {
        args.push(s.to_str().unwrap());
    }
    let out = cds(&args, &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    same_outputs(&whole, &merged, "merged shards");

    // Merging refuses a missing or repeated shard.
    let out = cds(
        &[
            "replay-merge",
            "--out",
            dir.join("bad").to_str().unwrap(),
            shards[0].to_str().unwrap(),
            shards[1].to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shards missing: 2/3"));
    let out = cds(
        &[
            "replay-merge",
            "--out",
            dir.join("bad").to_str().unwrap(),
            shards[0].to_str().unwrap(),
            shards[0].to_str().unwrap(),
            shards[1].to_str().unwrap(),
        ],
        &dir,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("given twice"));
}

#[test]
fn malformed_lines_are_reported_counted_and_skipped() {
    let dir = scratch("malformed");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let patients = concat!(
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"birthDate\":\"1960-01-01\"}\n",
        "{\"resourceType\":\"Patient\",\"id\":\"b\",\"birthDate\":\"1970-01-01\"\n",
        "{\"resourceType\":\"Patient\",\"id\":\"c\",\"birthDate\":\"1980-01-01\"}\n",
    );
    std::fs::write(data.join("Patient.000.ndjson"), patients).unwrap();
    let good = bp(
        "o1",
        "a",
        "2023-12-01T10:00:00Z",
        "2023-12-01T10:00:00Z",
        150.0,
    );
    let mut invalid = bp(
        "o2",
        "c",
        "2023-12-01T10:00:00Z",
        "2023-12-01T10:00:00Z",
        150.0,
    );
    invalid["status"] = json!(5);
    let observations =
        format!(
        "{good}\nnot json at all\n\n{invalid}\n{{\"resourceType\":\"Patient\",\"id\":\"x\"}}\n{}\n",
        bp("o3", "c", "2023-12-02T10:00:00Z", "2023-12-02T10:00:00Z", 160.0)
    );
    std::fs::write(data.join("Observation.000.ndjson"), observations).unwrap();
    let rules = root().join("tests/fixtures/replay/counts.rules");
    let out = cds(
        &[
            "replay",
            "data",
            "--rulesets",
            rules.to_str().unwrap(),
            "--out",
            "out",
            "--at",
            "2024-01-01",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped 4 malformed lines or invalid resources"),
        "{stdout}"
    );
    // Plain progress lines when standard error is not a terminal.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("partitioning: ") && stderr.contains("evaluating: 2/2 patients (100%)"),
        "{stderr}"
    );
    let run: Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/run.json")).unwrap()).unwrap();
    insta::assert_json_snapshot!("malformed_skipped", run["skipped"]);
    let csv = std::fs::read_to_string(dir.join("out/summary.csv")).unwrap();
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",4")), "{csv}");
    let report = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(report.contains("data/Observation.000.ndjson"));
    // The run went on: a and c were evaluated (c from its valid reading), b never parsed.
    assert_eq!(
        fired(&dir.join("out"), "counts/latest-systolic-140"),
        ["a".to_string(), "c".to_string()].into()
    );
    // No patient data in what was reported about bad lines.
    let text = serde_json::to_string(&run["skipped"]).unwrap();
    assert!(
        !text.contains("1970") && !text.contains("not json at all"),
        "{text}"
    );
}

#[test]
fn pseudonymised_outputs_hold_no_patient_id() {
    let dir = scratch("pseudonymise");
    std::fs::write(dir.join("key"), "a-secret-key-of-32-bytes-or-more!!\n").unwrap();
    std::fs::write(dir.join("short"), "tiny").unwrap();
    let input = shared("data/pysynthea-20/ndjson");
    let run = |out: &str, key: &str| {
        cds(
            &[
                "replay",
                input.to_str().unwrap(),
                "--rulesets",
                root().join("rulesets").to_str().unwrap(),
                "--out",
                out,
                "--every",
                "encounter",
                "--from",
                "2020-01-01",
                "--pseudonymise",
                key,
                "-q",
            ],
            &dir,
        )
    };
    assert!(run("one", "key").status.success());
    assert!(run("two", "key").status.success());
    same_outputs(&dir.join("one"), &dir.join("two"), "same key");
    let ids: Vec<String> = lines(&input.join("Patient.000.ndjson"))
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let observation_ids: Vec<String> = lines(&input.join("Observation.000.ndjson"))
        .iter()
        .take(2000)
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!lines(&dir.join("one/cards.ndjson")).is_empty());
    for f in OUTPUTS {
        let text = std::fs::read_to_string(dir.join("one").join(f)).unwrap();
        for id in ids.iter().chain(&observation_ids) {
            assert!(!text.contains(id.as_str()), "{f} holds an id");
        }
    }
    let out = run("three", "short");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("short: the key has 4 bytes; use at least 16"),
        "{err}"
    );
}

#[test]
fn usage_errors_say_what_to_write() {
    let dir = scratch("usage");
    let input = shared("data/smart-bulk-10");
    let input = input.to_str().unwrap();
    let cases: [&[&str]; 5] = [
        &["replay", input, "--out", "o"],
        &["replay", input, "--out", "o", "--every", "1d"],
        &["replay", input, "--out", "o", "--at", "yesterday"],
        &[
            "replay",
            input,
            "--out",
            "o",
            "--every",
            "1y",
            "--from",
            "2020-01-01",
            "--to",
            "2021-01-01",
        ],
        &[
            "replay",
            input,
            "--out",
            "o",
            "--at",
            "2024-01-01",
            "--shard",
            "3/3",
        ],
    ];
    let shown: Vec<String> = cases
        .iter()
        .map(|args| {
            let out = cds(args, &dir);
            format!(
                "{:?} -> {:?}: {}",
                &args[2..],
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
        .collect();
    insta::assert_snapshot!("usage_errors", shown.join("\n"));
}
