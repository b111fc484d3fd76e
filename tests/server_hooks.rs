//! The CDS Hooks service over HTTP: the real `cds serve` on a loopback port, called for every
//! hook the shipped rulesets answer.
//!
//! * every shipped ruleset test case, turned into the CDS Hooks call its hook would bring
//!   (prefetch from the generated templates, draft orders and appointments in the context),
//!   gets over HTTP exactly the cards the engine gives;
//! * snapshots of discovery and of one answer per hook;
//! * feedback counted per rule in the metrics; errors as OperationOutcomes.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};
use support::server::{root, ruleset_case as case, Server};

/// The services of the running server: id → (hook, prefetch templates).
fn services(server: &Server) -> BTreeMap<String, (String, Map<String, Value>)> {
    let (status, body) = server.get("/cds-services");
    assert_eq!(status, 200);
    body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                (
                    s["hook"].as_str().unwrap().to_string(),
                    s.get("prefetch")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                ),
            )
        })
        .collect()
}

fn key_type(key: &str) -> &str {
    match key {
        "patient" => "Patient",
        "observations" => "Observation",
        "conditions" => "Condition",
        "medications" => "MedicationRequest",
        "appointments" => "Appointment",
        "encounters" => "Encounter",
        other => panic!("unexpected prefetch key {other}"),
    }
}

fn searchset(resources: &[&Value]) -> Value {
    json!({"resourceType": "Bundle", "type": "searchset",
           "entry": resources.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()})
}

/// The CDS Hooks request a hook would bring for a patient's resources at a time.
pub fn request(
    hook: &str,
    prefetch_templates: &Map<String, Value>,
    resources: &[Value],
    at: &str,
    empty_as_null: bool,
) -> Value {
    let patient = resources
        .iter()
        .find(|r| r["resourceType"] == "Patient")
        .expect("a Patient");
    let pid = patient["id"].as_str().unwrap();
    let mut context = json!({"userId": "Practitioner/doc-1", "patientId": pid});
    let in_context = |r: &Value| match hook {
        "order-select" | "order-sign" => {
            r["resourceType"] == "MedicationRequest" && r["status"] == "draft"
        }
        "appointment-book" => r["resourceType"] == "Appointment",
        _ => false,
    };
    let context_resources: Vec<&Value> = resources.iter().filter(|r| in_context(r)).collect();
    match hook {
        "order-select" | "order-sign" => {
            context["draftOrders"] = json!({"resourceType": "Bundle", "type": "collection",
                "entry": context_resources.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()});
            if hook == "order-select" {
                context["selections"] = json!(context_resources
                    .iter()
                    .map(|r| format!("MedicationRequest/{}", r["id"].as_str().unwrap()))
                    .collect::<Vec<_>>());
            }
        }
        "appointment-book" => {
            // Some clients send a bare array: alternate with the Bundle form.
            context["appointments"] = if empty_as_null {
                json!(context_resources)
            } else {
                json!({"resourceType": "Bundle", "type": "collection",
                       "entry": context_resources.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()})
            };
        }
        _ => {}
    }
    let mut prefetch = Map::new();
    for key in prefetch_templates.keys() {
        let t = key_type(key);
        let value = if t == "Patient" {
            patient.clone()
        } else {
            let of_type: Vec<&Value> = resources
                .iter()
                .filter(|r| r["resourceType"] == t && !in_context(r))
                .collect();
            if of_type.is_empty() && empty_as_null {
                Value::Null
            } else {
                searchset(&of_type)
            }
        };
        prefetch.insert(key.clone(), value);
    }
    json!({
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "hook": hook,
        "fhirServer": "http://127.0.0.1:9/fhir-never-called",
        "context": context,
        "prefetch": prefetch,
        "extension": {"cds-evaluation-time": at}
    })
}

/// (rule, indicator) of each card of an answer.
fn fired(answer: &Value) -> Vec<(String, String)> {
    answer["cards"]
        .as_array()
        .unwrap_or_else(|| panic!("no cards in {answer}"))
        .iter()
        .map(|c| {
            (
                c["extension"]["cds-evidence"]["rule"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                c["indicator"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn ruleset_cases() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let dir = root().join("rulesets");
    let mut rulesets: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    rulesets.sort();
    for rs in rulesets.iter().filter(|p| p.join("tests").is_dir()) {
        let name = rs.file_name().unwrap().to_string_lossy().to_string();
        let mut cases: Vec<_> = std::fs::read_dir(rs.join("tests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        cases.sort();
        for c in cases {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&c).unwrap()).unwrap();
            let file = c.file_name().unwrap().to_string_lossy().to_string();
            out.push((name.clone(), file, case));
        }
    }
    out
}

#[test]
fn every_ruleset_case_gets_the_engines_cards_over_http() {
    let server = Server::start("hooks-cases", &[]);
    let services = services(&server);
    let mut checked = BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for (i, (ruleset, file, case)) in ruleset_cases().into_iter().enumerate() {
        let hook = case["hook"].as_str().unwrap_or("patient-view");
        let id = format!("{ruleset}-{hook}");
        let Some((_, templates)) = services.get(&id) else {
            continue;
        };
        if hook == "device-observation" {
            continue; // tests/server_devices.rs
        }
        let resources = case["resources"].as_array().unwrap();
        if !resources.iter().any(|r| r["resourceType"] == "Patient") {
            continue;
        }
        let body = request(
            hook,
            templates,
            resources,
            case["at"].as_str().unwrap(),
            i % 2 == 0,
        );
        let (status, answer) = server.post(&format!("/cds-services/{id}"), &body);
        let want: Vec<(String, String)> = case["expect"]["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let got_ind = c["indicator"].as_str().unwrap_or("");
                (c["rule"].as_str().unwrap().to_string(), got_ind.to_string())
            })
            .collect();
        if status != 200 {
            failures.push(format!(
                "{ruleset}/{file} ({hook}): HTTP {status}: {answer}"
            ));
            continue;
        }
        let mut got = fired(&answer);
        got.sort();
        let mut want = want;
        want.sort();
        let same = got.len() == want.len()
            && got
                .iter()
                .zip(&want)
                .all(|(g, w)| g.0 == w.0 && (w.1.is_empty() || g.1 == w.1));
        if !same {
            failures.push(format!(
                "{ruleset}/{file} ({hook}): want {want:?}, got {got:?}"
            ));
        }
        *checked.entry(hook.to_string()).or_default() += 1;
    }
    println!("ruleset cases over HTTP by hook: {checked:?}");
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for hook in [
        "patient-view",
        "order-select",
        "order-sign",
        "appointment-book",
    ] {
        assert!(
            checked.get(hook).copied().unwrap_or(0) > 0,
            "no case for {hook}"
        );
    }
}

fn call_case(server: &Server, ruleset: &str, file: &str) -> (u16, Value) {
    let c = case(ruleset, file);
    let hook = c["hook"].as_str().unwrap_or("patient-view");
    let id = format!("{ruleset}-{hook}");
    let services = services(server);
    let body = request(
        hook,
        &services[&id].1,
        c["resources"].as_array().unwrap(),
        c["at"].as_str().unwrap(),
        false,
    );
    server.post(&format!("/cds-services/{id}"), &body)
}

#[test]
fn discovery_and_one_answer_per_hook() {
    let server = Server::start("hooks-snapshots", &[]);
    let (_, discovery) = server.get("/cds-services");
    insta::assert_json_snapshot!("discovery", discovery);
    for (name, ruleset, file) in [
        ("patient-view", "hypertension", "stage-2-systolic-140.json"),
        (
            "order-select",
            "potassium",
            "order-kcl-k-5.1-order-select.json",
        ),
        ("order-sign", "potassium", "order-spironolactone-k-5.6.json"),
        (
            "appointment-book",
            "diabetes-hba1c",
            "appointment-above-9-4-months.json",
        ),
    ] {
        let (status, answer) = call_case(&server, ruleset, file);
        assert_eq!(status, 200, "{answer}");
        assert!(
            !answer["cards"].as_array().unwrap().is_empty(),
            "{name}: no card"
        );
        insta::assert_json_snapshot!(format!("answer-{name}"), answer);
    }
    // No guidance is {"cards": []} and nothing else.
    let (status, answer) = call_case(&server, "hypertension", "normal-119.json");
    assert_eq!((status, answer), (200, json!({"cards": []})));
}

#[test]
fn appointment_book_is_evaluated_as_of_the_appointments_start() {
    let server = Server::start("hooks-appointment-time", &[]);
    let c = case("diabetes-hba1c", "appointment-above-9-4-months.json");
    let services = services(&server);
    let mut body = request(
        "appointment-book",
        &services["diabetes-hba1c-appointment-book"].1,
        c["resources"].as_array().unwrap(),
        "2024-03-01T10:00:00Z",
        true,
    );
    // Without a pinned time the server evaluates as of the appointment's start (2024-03-20),
    // not the wall clock (years later, when the HbA1c would be long out of its window).
    body.as_object_mut().unwrap().remove("extension");
    let (status, answer) = server.post("/cds-services/diabetes-hba1c-appointment-book", &body);
    assert_eq!(status, 200, "{answer}");
    let at: Vec<&str> = answer["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["extension"]["cds-evidence"]["at"].as_str().unwrap())
        .collect();
    assert!(!at.is_empty());
    assert!(
        at.iter().all(|t| t.starts_with("2024-03-20T09:00:00")),
        "{at:?}"
    );
}

#[test]
fn feedback_is_counted_per_rule_outcome_and_reason() {
    let server = Server::start("hooks-feedback", &[]);
    let (_, answer) = call_case(&server, "potassium", "order-spironolactone-k-5.6.json");
    let card = &answer["cards"][0];
    let uuid = card["uuid"].as_str().unwrap();
    let reason = card["overrideReasons"][0].clone();
    assert!(
        reason.is_object(),
        "the card offers override reasons: {card}"
    );
    let path = "/cds-services/potassium-order-sign/feedback";
    let wrapped = json!({"feedback": [{"card": uuid, "outcome": "overridden",
        "overrideReason": {"reason": reason, "userComment": "patient seen by nephrology"},
        "outcomeTimestamp": "2024-03-01T10:05:00Z"}]});
    let (status, body) = server.post(path, &wrapped);
    assert_eq!(status, 200, "{body}");
    let bare = json!({"card": uuid, "outcome": "accepted", "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2024-03-01T10:06:00Z"});
    let (status, body) = server.post(path, &bare);
    assert_eq!(status, 200, "{body}");
    let unknown = json!([{"card": "7c8e1e0b-0000-4000-8000-000000000000", "outcome": "accepted", "outcomeTimestamp": "2024-03-01T10:06:00Z"}]);
    let (status, body) = server.post(path, &unknown);
    assert_eq!(status, 200, "{body}");
    let (status, bad) = server.post(path, &json!({"feedback": [{"card": uuid, "outcome": "ignored", "outcomeTimestamp": "2024-03-01T10:06:00Z"}]}));
    assert_eq!(status, 400);
    insta::assert_json_snapshot!("feedback-invalid", bad);
    let (_, metrics) = server.get_text("/metrics");
    let mut lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("cds_feedback_total"))
        .collect();
    lines.sort_unstable();
    insta::assert_snapshot!("feedback-metrics", lines.join("\n"));
    let code = reason["code"].as_str().unwrap();
    assert!(metrics.contains(&format!(
        "rule=\"potassium-raiser-with-high-potassium\",outcome=\"overridden\",reason=\"{code}\""
    )));
    assert!(!metrics.contains("nephrology"));
}

#[test]
fn errors_are_operation_outcomes_with_the_right_status() {
    let server = Server::start_with_env(
        "hooks-errors",
        &[],
        &[("CDS_LIMITS__MAX_BODY_BYTES", "200000")],
    );
    let services = services(&server);
    let c = case("hypertension", "stage-2-systolic-140.json");
    let good = request(
        "patient-view",
        &services["hypertension-patient-view"].1,
        c["resources"].as_array().unwrap(),
        "2024-03-01T10:00:00Z",
        false,
    );
    let url = "/cds-services/hypertension-patient-view";
    let mut out = BTreeMap::new();
    let mut record = |name: &str, (status, body): (u16, Value)| {
        assert_eq!(body["resourceType"], "OperationOutcome", "{name}: {body}");
        out.insert(name.to_string(), json!({"status": status, "body": body}));
    };
    record(
        "unknown service",
        server.post("/cds-services/no-such-service", &good),
    );
    record("unknown route", server.get("/nothing-here"));
    record(
        "not json",
        server.post_raw(url, "text/plain", b"hello".to_vec()),
    );
    record(
        "malformed json",
        server.post_raw(
            url,
            "application/json",
            b"{\"hook\": \"patient-view\", ".to_vec(),
        ),
    );
    record(
        "invalid unicode",
        server.post_raw(
            url,
            "application/json",
            b"{\"hook\": \"\xff\xfe\"}".to_vec(),
        ),
    );
    record(
        "deep nesting",
        server.post_raw(url, "application/json", "[".repeat(5000).into_bytes()),
    );
    let mut big = good.clone();
    big["context"]["padding"] = json!("x".repeat(300_000));
    record("too large", server.post(url, &big));
    let mut b = good.clone();
    b.as_object_mut().unwrap().remove("hookInstance");
    b["context"]["patientId"] = json!(42);
    record("schema problems", server.post(url, &b));
    let mut b = good.clone();
    b["hook"] = json!("order-sign");
    record("wrong hook", server.post(url, &b));
    let mut b = good.clone();
    b["prefetch"]["observations"]["entry"][0]["resource"]["subject"]["reference"] =
        json!("Patient/someone-else");
    record("another patient", server.post(url, &b));
    let mut b = good.clone();
    b["prefetch"]["observations"]["entry"][0]["resource"]["valueQuantity"]["value"] = json!("high");
    record("malformed resource", server.post(url, &b));
    let mut b = good.clone();
    b.as_object_mut().unwrap().remove("fhirServer");
    b["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("observations");
    record("missing prefetch, no fhirServer", server.post(url, &b));
    let mut b = good.clone();
    b["prefetch"]["observations"] = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]});
    record(
        "client's prefetch failed, fhirServer unreachable",
        server.post(url, &b),
    );
    insta::assert_json_snapshot!("errors", out);
    // The server is still well after all that.
    assert_eq!(server.post(url, &good).0, 200);
    let (_, metrics) = server.get_text("/metrics");
    assert!(!metrics.contains("5xx"), "{metrics}");
}

#[test]
fn logs_and_metrics_hold_no_patient_data() {
    let name = "hooks-privacy";
    let server = Server::start(name, &[]);
    let services = services(&server);
    let mut c = case("hypertension", "stage-2-systolic-140.json");
    let pid = "pt-7f3a9c51e2";
    for r in c["resources"].as_array_mut().unwrap() {
        if r["resourceType"] == "Patient" {
            r["id"] = json!(pid);
        } else {
            r["subject"] = json!({"reference": format!("Patient/{pid}")});
        }
    }
    let body = request(
        "patient-view",
        &services["hypertension-patient-view"].1,
        c["resources"].as_array().unwrap(),
        "2024-03-01T10:00:00Z",
        false,
    );
    let (status, answer) = server.post("/cds-services/hypertension-patient-view", &body);
    assert_eq!(status, 200, "{answer}");
    let mut bad = body.clone();
    bad["prefetch"]["patient"]["birthDate"] = json!("not-a-date-1961");
    let (status, outcome) = server.post("/cds-services/hypertension-patient-view", &bad);
    assert_eq!(status, 400);
    let (_, metrics) = server.get_text("/metrics");
    drop(server);
    let log = Server::log(name);
    assert!(log.contains("\"request_id\""), "{log}");
    for text in [&log, &metrics, &outcome.to_string()] {
        assert!(!text.contains(pid));
        assert!(!text.contains("1961"));
    }
}

#[test]
fn readiness_health_and_metrics() {
    let server = Server::start("hooks-health", &[]);
    assert_eq!(server.get("/healthz"), (200, json!({"status": "ok"})));
    let (status, ready) = server.get("/readyz");
    assert_eq!(status, 200);
    assert_eq!(ready["status"], "ready");
    call_case(&server, "hypertension", "stage-2-systolic-140.json");
    let (_, metrics) = server.get_text("/metrics");
    for want in [
        "cds_requests_total{tenant=\"\",service=\"hypertension-patient-view\",class=\"2xx\"} 1",
        "cds_request_duration_seconds_bucket{le=",
        "cds_cards_total{tenant=\"\",service=\"hypertension-patient-view\",ruleset=\"hypertension\",rule=",
    ] {
        assert!(metrics.contains(want), "{want} not in\n{metrics}");
    }
}

#[test]
fn rulesets_reload_on_change_and_a_broken_file_keeps_its_previous_version() {
    let dir = std::env::temp_dir().join(format!("cds-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let src = root().join("rulesets/hypertension");
    let file = dir.join("hypertension.rules");
    let text = std::fs::read_to_string(first_rules(&src)).unwrap();
    std::fs::write(&file, &text).unwrap();
    let server = Server::start("hooks-reload", &["--rulesets", dir.to_str().unwrap()]);
    let version = |s: &Server| -> String {
        let (_, d) = s.get("/cds-services");
        d["services"][0]["title"].as_str().unwrap().to_string()
    };
    let v1 = version(&server);
    // A new version of the file is picked up.
    let bumped = text.replacen("version ", "version 9", 1);
    std::fs::write(&file, &bumped).unwrap();
    let v2 = wait_for(|| Some(version(&server)).filter(|v| *v != v1));
    assert!(v2.contains(" 9"), "{v2}");
    // A broken file is reported and the previous version keeps serving.
    std::fs::write(
        &file,
        format!("{bumped}\nrule broken\n  when nothing-defined > 1\n  then info \"x\"\n"),
    )
    .unwrap();
    let ready = wait_for(|| {
        let (_, r) = server.get("/readyz");
        (!r["reloadProblems"].as_array().unwrap().is_empty()).then_some(r)
    });
    assert_eq!(ready["status"], "ready");
    assert_eq!(version(&server), v2);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn first_rules(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "rules"))
        .unwrap()
}

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("condition not met within 10 s");
}

#[test]
fn overload_is_shed_with_503_and_retry_after() {
    // A "FHIR server" that accepts connections and never answers keeps one call busy.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_addr = hang.local_addr().unwrap();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hang.incoming().flatten() {
            held.push(s);
        }
    });
    let server = Server::start_with_env(
        "hooks-overload",
        &[],
        &[
            ("CDS_LIMITS__MAX_CONCURRENT_REQUESTS", "1"),
            ("CDS_FETCH__TIMEOUT_MS", "3000"),
        ],
    );
    let services = services(&server);
    let c = case("hypertension", "stage-2-systolic-140.json");
    let mut slow = request(
        "patient-view",
        &services["hypertension-patient-view"].1,
        c["resources"].as_array().unwrap(),
        "2024-03-01T10:00:00Z",
        false,
    );
    slow["prefetch"]
        .as_object_mut()
        .unwrap()
        .remove("observations");
    slow["fhirServer"] = json!(format!("http://{hang_addr}/fhir"));
    let base = server.base.clone();
    let busy = std::thread::spawn(move || {
        reqwest::blocking::Client::new()
            .post(format!("{base}/cds-services/hypertension-patient-view"))
            .json(&slow)
            .send()
            .map(|r| r.status().as_u16())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/cds-services", server.base))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
    // The busy call ends with 412 when its fetch times out; then the server answers again.
    assert_eq!(busy.join().unwrap().unwrap(), 412);
    assert_eq!(server.get("/cds-services").0, 200);
}
