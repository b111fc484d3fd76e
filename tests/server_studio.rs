//! The rule studio's API over HTTP, on the real `cds serve` with a scratch copy of the shipped
//! rulesets: diagnostics as one types, formatting, trying a patient, running and saving test
//! cases, backtesting (the same numbers as `cds replay`), the graph, and saving with backups.
//! The page itself is driven in a browser by tests/studio_browser.rs; authentication is in
//! tests/server_trust.rs.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::server::{root, Server};

const HT: &str = "hypertension/hypertension.rules";
const CRISIS: &str = "case:hypertension/tests/crisis-systolic-181.json";

/// A fresh copy of rulesets/ under target/ (saving writes files).
fn scratch_rulesets(name: &str) -> PathBuf {
    let dir = root().join("target/test-logs").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&root().join("rulesets"), &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

fn start(name: &str) -> (Server, PathBuf) {
    let dir = scratch_rulesets(name);
    let server = Server::start(name, &["--rulesets", dir.to_str().unwrap()]);
    (server, dir)
}

fn put(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    let (s, _, text) = server.send(
        reqwest::Method::PUT,
        path,
        None,
        Some(("application/json", serde_json::to_vec(body).unwrap())),
    );
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn hypertension(server: &Server) -> (String, String) {
    let (s, opened) = server.get(&format!("/studio/api/ruleset?file={HT}"));
    assert_eq!(s, 200, "{opened}");
    (
        opened["text"].as_str().unwrap().to_string(),
        opened["etag"].as_str().unwrap().to_string(),
    )
}

/// A rule with a misspelt name, appended to a ruleset.
const MISTAKE: &str = "\nrule very-high\n  when systolc >= 200 'mm[Hg]'\n  then critical \"Systolic {latest-systolic}\"\n";

#[test]
fn the_page_is_self_contained() {
    let (server, _) = start("studio-page");
    let (s, headers, html) = server.send(reqwest::Method::GET, "/studio/", None, None);
    assert_eq!(s, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(html.contains("id=\"editor\"") && html.contains("studio.js"));
    for asset in ["/studio/", "/studio/studio.js", "/studio/studio.css"] {
        let (s, text) = server.get_text(asset);
        assert_eq!(s, 200, "{asset}");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{asset} refers elsewhere"
        );
    }
    let (s, _, _) = server.send(reqwest::Method::GET, "/studio", None, None);
    assert!(s == 200 || s == 308, "{s}");
}

#[test]
fn diagnostics_come_from_the_checker_with_positions() {
    let (server, _) = start("studio-check");
    let (text, _) = hypertension(&server);
    let edited = format!("{text}{MISTAKE}");
    let (s, checked) = server.post("/studio/api/check", &json!({"file": HT, "text": edited}));
    assert_eq!(s, 200);
    assert_eq!(checked["ok"], false);
    let d = &checked["diagnostics"][0];
    let from = d["from"].as_u64().unwrap() as usize;
    let to = d["to"].as_u64().unwrap() as usize;
    let units: Vec<u16> = edited.encode_utf16().collect();
    assert_eq!(String::from_utf16(&units[from..to]).unwrap(), "systolc");
    insta::assert_json_snapshot!("studio_check_misspelt_name", checked);
    let (s, clean) = server.post("/studio/api/check", &json!({"file": HT, "text": text}));
    assert_eq!(
        (s, &clean["ok"], &clean["errors"]),
        (200, &json!(true), &json!(0))
    );
    // Syntax errors too, with line and column.
    let (_, syntax) = server.post(
        "/studio/api/check",
        &json!({"file": HT, "text": "ruleset x version 1.0.0\n\nrule r\n  when >\n"}),
    );
    assert_eq!(syntax["diagnostics"][0]["code"], "cds_rules::parse");
    assert_eq!(syntax["diagnostics"][0]["line"], 4);
    // Format: the canonical layout, or 422 with the syntax errors.
    let messy = text.replacen("define ", "define   ", 1);
    let (s, formatted) = server.post("/studio/api/format", &json!({"file": HT, "text": messy}));
    assert_eq!(s, 200);
    assert_eq!(formatted["text"], text);
    let (s, refused) = server.post("/studio/api/format", &json!({"file": HT, "text": "rule"}));
    assert_eq!(s, 422);
    assert_eq!(refused["resourceType"], "OperationOutcome");
    assert!(refused["diagnostics"]
        .as_array()
        .is_some_and(|d| !d.is_empty()));
    // Bad requests name the field.
    let (s, bad) = server.post("/studio/api/check", &json!({"file": HT}));
    assert_eq!(s, 400);
    assert!(
        bad["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("text"),
        "{bad}"
    );
    let (s, _) = server.post("/studio/api/check", &json!({"file": HT, "text": 5}));
    assert_eq!(s, 400);
    for file in ["../x.rules", "/etc/passwd", "hypertension/.history/x.rules"] {
        let (s, _) = server.post(
            "/studio/api/try",
            &json!({"file": file, "text": text, "patient": CRISIS}),
        );
        assert_eq!(s, 400, "{file}");
    }
}

#[test]
fn trying_a_patient_shows_cards_and_every_rule_explained() {
    let (server, _) = start("studio-try");
    let (text, _) = hypertension(&server);
    let (s, samples) = server.get("/studio/api/samples");
    assert_eq!(s, 200);
    let ids: Vec<&str> = samples["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&CRISIS), "{ids:?}");
    assert!(
        ids.iter()
            .any(|i| i.starts_with("file:") && i.ends_with("hypertensive-patient.json")),
        "the shipped example patient: {ids:?}"
    );
    let (s, tried) = server.post(
        "/studio/api/try",
        &json!({"file": HT, "text": text, "patient": CRISIS}),
    );
    assert_eq!(s, 200, "{tried}");
    assert!(tried["micros"].as_f64().unwrap() > 0.0);
    let mut shown = tried.clone();
    shown["micros"] = json!("(varies)");
    insta::assert_json_snapshot!("studio_try_crisis", shown);
    // The edited text is what runs, saved or not: a higher threshold, no crisis card.
    let edited = text.replace("latest-systolic > 180", "latest-systolic > 190");
    assert_ne!(edited, text);
    let (_, tried) = server.post(
        "/studio/api/try",
        &json!({"file": HT, "text": edited, "patient": CRISIS, "hook": "patient-view"}),
    );
    let rules: Vec<&str> = tried["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rule"].as_str().unwrap())
        .collect();
    assert!(!rules.contains(&"hypertensive-crisis"), "{rules:?}");
    // With errors: 422 and the diagnostics.
    let (s, refused) = server.post(
        "/studio/api/try",
        &json!({"file": HT, "text": format!("{text}{MISTAKE}"), "patient": CRISIS}),
    );
    assert_eq!(s, 422);
    assert_eq!(refused["errors"], 1);
    let (s, _) = server.post(
        "/studio/api/try",
        &json!({"file": HT, "text": text, "patient": "file:9:../../etc/passwd"}),
    );
    assert_eq!(s, 400);
    let (s, _) = server.post(
        "/studio/api/try",
        &json!({"file": HT, "text": text, "patient": CRISIS, "at": "yesterday"}),
    );
    assert_eq!(s, 400);
}

#[test]
fn test_cases_run_on_the_edited_text_and_a_tried_patient_becomes_one() {
    let (server, dir) = start("studio-tests");
    let (text, _) = hypertension(&server);
    let cases = std::fs::read_dir(dir.join("hypertension/tests"))
        .unwrap()
        .count();
    let (s, run) = server.post("/studio/api/tests", &json!({"file": HT, "text": text}));
    assert_eq!(s, 200, "{run}");
    assert_eq!(run["passed"], cases);
    assert_eq!(run["failed"], 0);
    let edited = text.replace("latest-systolic > 180", "latest-systolic > 190");
    let (_, run) = server.post("/studio/api/tests", &json!({"file": HT, "text": edited}));
    assert!(run["failed"].as_u64().unwrap() >= 1, "{run}");
    let failing = run["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["passed"] == false)
        .unwrap();
    assert!(
        failing["mismatches"][0]
            .as_str()
            .unwrap()
            .contains("hypertensive-crisis"),
        "{failing}"
    );
    // Save a tried patient (the shipped example) as a case.
    let (_, samples) = server.get("/studio/api/samples");
    let example = samples["patients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["id"]
                .as_str()
                .unwrap()
                .ends_with("hypertensive-patient.json")
        })
        .unwrap()["id"]
        .clone();
    let body = json!({"file": HT, "text": text, "patient": example, "at": "2024-06-01T09:00:00Z",
        "hook": "patient-view", "description": "Example patient: stage 2 (saved from the studio)"});
    let (s, saved) = server.post("/studio/api/tests/save", &body);
    assert_eq!(s, 201, "{saved}");
    assert_eq!(saved["passed"], true);
    let case = dir.join(saved["case"].as_str().unwrap());
    assert!(case.ends_with("hypertension/tests/example-patient-stage-2-saved-from-the-studio.json"));
    let report = cds::testing::run(std::slice::from_ref(&case)).unwrap();
    assert!(report.success(), "{}", report.summary());
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&case).unwrap()).unwrap();
    assert_eq!(written["at"], "2024-06-01T09:00:00Z");
    assert!(!written["expect"]["cards"].as_array().unwrap().is_empty());
    let (s, _) = server.post("/studio/api/tests/save", &body);
    assert_eq!(s, 409, "a case of that name exists");
}

#[test]
fn saving_needs_a_clean_check_and_keeps_the_previous_version() {
    let (server, dir) = start("studio-save");
    let (text, etag) = hypertension(&server);
    let file = dir.join(HT);
    let (s, refused) = put(
        &server,
        "/studio/api/ruleset",
        &json!({"file": HT, "text": format!("{text}{MISTAKE}"), "etag": etag}),
    );
    assert_eq!(s, 422, "{refused}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "nothing written"
    );
    let edited = text.replacen("version 1.", "version 7.", 1);
    assert_ne!(edited, text);
    let (s, saved) = put(
        &server,
        "/studio/api/ruleset",
        &json!({"file": HT, "text": edited, "etag": etag}),
    );
    assert_eq!(s, 200, "{saved}");
    assert_eq!(saved["reloaded"], true);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
    let backup = dir.join(saved["backup"].as_str().unwrap());
    assert!(backup.starts_with(dir.join("hypertension/.history")));
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), text);
    // The server serves the saved version.
    let (_, rulesets) = server.get("/admin/rulesets");
    let version = rulesets["rulesets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "hypertension")
        .unwrap()["version"]
        .clone();
    assert!(version.as_str().unwrap().starts_with("7."), "{version}");
    // A save from a stale editor is refused; the history lists the backup.
    let (s, _) = put(
        &server,
        "/studio/api/ruleset",
        &json!({"file": HT, "text": text, "etag": etag}),
    );
    assert_eq!(s, 409);
    let (_, opened) = server.get(&format!("/studio/api/ruleset?file={HT}"));
    assert_eq!(opened["history"][0], saved["backup"]);
    // A ruleset named like another one does not load with them: refused.
    let clash = edited.replacen("ruleset hypertension", "ruleset news2", 1);
    let (s, _) = put(
        &server,
        "/studio/api/ruleset",
        &json!({"file": HT, "text": clash}),
    );
    assert_eq!(s, 400);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
}

#[test]
fn a_backtest_is_a_replay_of_the_edited_rules() {
    let (server, dir) = start("studio-backtest");
    let (text, _) = hypertension(&server);
    let (_, samples) = server.get("/studio/api/samples");
    let cohort = samples["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"].as_str().unwrap().ends_with("pysynthea-20/ndjson"))
        .expect("../shared/data/pysynthea-20/ndjson is offered")["id"]
        .clone();
    let body = json!({"file": HT, "text": text, "cohort": cohort, "from": "2015-01-01",
        "to": "2024-01-01", "every": "26w"});
    let (s, back) = server.post("/studio/api/backtest", &body);
    assert_eq!(s, 200, "{back}");
    assert!(
        back["report"].as_str().unwrap().contains("<svg"),
        "charts in the report"
    );
    // The same as `cds replay` of the same rules over the same cohort.
    let out = root().join("target/test-logs/studio-backtest-replay");
    let mut opts = cds_replay::ReplayOptions::new(
        vec![root().join("../shared/data/pysynthea-20/ndjson")],
        dir.join("hypertension"),
        out,
        cds_replay::Mode::Every {
            from: "2015-01-01".into(),
            to: "2024-01-01".into(),
            every: "26w".into(),
        },
    );
    opts.hook = None;
    let replayed = cds_replay::replay(&opts).unwrap();
    assert_eq!(back["patients"], replayed.patients);
    assert_eq!(back["cards"], replayed.cards);
    let summary = replayed.summary.unwrap();
    for (got, want) in back["rules"].as_array().unwrap().iter().zip(&summary.rules) {
        assert_eq!(got["rule"], want.rule.rule.as_str());
        assert_eq!(got["alerts"], want.alerts);
        assert_eq!(got["patients"], want.patients);
    }
    assert!(
        summary.rules.iter().any(|r| r.alerts > 0),
        "the cohort fires something"
    );
    let (s, _) = server.post(
        "/studio/api/backtest",
        &json!({"file": HT, "text": text, "cohort": "9:nowhere", "at": "2024-01-01"}),
    );
    assert_eq!(s, 400);
    let (s, _) = server.post(
        "/studio/api/backtest",
        &json!({"file": HT, "text": text, "cohort": cohort}),
    );
    assert_eq!(s, 400, "a time is needed");
}

#[test]
fn the_graph_of_the_edited_text_marks_shared_nodes() {
    let (server, _) = start("studio-graph");
    let (text, _) = hypertension(&server);
    let (s, drawn) = server.post("/studio/api/graph", &json!({"file": HT, "text": text}));
    assert_eq!(s, 200, "{drawn}");
    let svg = drawn["svg"].as_str().unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("class=\"node"));
    let shared = drawn["shared"].as_u64().unwrap();
    assert!(
        shared > 0,
        "hypertension's rules share the adult test and the readings"
    );
    assert!(
        svg.matches(" shared").count() as u64 >= shared,
        "every shared node is marked"
    );
    // A rule added that reads the same reading shares its node: more rules use it.
    let edited = format!(
        "{text}\nrule very-high\n  when latest-systolic > 200 'mm[Hg]'\n  then critical \"Systolic {{latest-systolic}}\"\n"
    );
    let (_, more) = server.post("/studio/api/graph", &json!({"file": HT, "text": edited}));
    assert!(more["svg"].as_str().unwrap().contains("rule very-high"));
    assert!(more["shared"].as_u64().unwrap() >= shared);
    let (s, _) = server.post(
        "/studio/api/graph",
        &json!({"file": HT, "text": format!("{text}{MISTAKE}")}),
    );
    assert_eq!(s, 422);
}

/// `cds studio`: on loopback only, on embedded defaults, printing where to open it.
#[test]
fn cds_studio_runs_on_loopback_only() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let refused = Command::new(env!("CARGO_BIN_EXE_cds"))
        .args(["studio", "--addr", "0.0.0.0:0"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("loopback"), "{err}");
    let dir = scratch_rulesets("studio-cli");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cds"))
        .args(["studio", "--addr", "127.0.0.1:0", "--rulesets"])
        .arg(&dir)
        .env("CDS_AUDIT__STORE", "memory")
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("studio on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/studio/"),
        "{url}"
    );
    let page = reqwest::blocking::get(&url).unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let list: Value = reqwest::blocking::get(url.replace("/studio/", "/studio/api/rulesets"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list["rulesets"].as_array().unwrap().len(), 9);
    let _ = child.kill();
    let _ = child.wait();
}
