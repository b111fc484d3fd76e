//! Devices over HTTP: the real `cds serve` on a loopback port with the shipped rulesets.
//!
//! * onboarding: a watch, a CGM and a blood pressure cuff registered, their summaries
//!   (which codes the `device-observation` rulesets read) snapshotted;
//! * readings sent one by one build a window: sustained tachycardia fires only once enough
//!   readings are in it; a low glucose gets its card; the window keeps only the newest
//!   `max_readings_per_patient` readings;
//! * errors as OperationOutcomes: another patient's reading, an unknown device, an invalid
//!   Device, a forgotten device;
//! * every shipped `device-observation` ruleset case gets the engine's cards both as a CDS
//!   Hooks call and through a registered device's window.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use support::server::{root, Server};

fn watch(id: &str, patient: &str) -> Value {
    json!({
        "resourceType": "Device", "id": id, "status": "active",
        "type": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "528388",
                             "display": "MDC_DEV_SPEC_PROFILE_PULS_OXIM"}]},
        "patient": {"reference": format!("Patient/{patient}")},
        "contained": [
            {"resourceType": "DeviceMetric", "id": "heart-rate", "category": "measurement",
             "type": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]}},
            {"resourceType": "DeviceMetric", "id": "spo2", "category": "measurement",
             "type": {"coding": [{"system": "http://loinc.org", "code": "59408-5",
                                  "display": "Oxygen saturation in Arterial blood by Pulse oximetry"}]}},
            {"resourceType": "DeviceMetric", "id": "steps", "category": "measurement",
             "type": {"coding": [{"system": "http://loinc.org", "code": "55423-8", "display": "Number of steps"}]}}
        ]
    })
}

/// Registered by identifier only: its id is derived from the serial number.
fn cgm(patient: &str) -> Value {
    json!({
        "resourceType": "Device", "status": "active",
        "identifier": [{"system": "https://devices.example.org/cgm-serial", "value": "CGM-0000417"}],
        "type": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "528409"}]},
        "patient": {"reference": format!("Patient/{patient}")},
        "contained": [
            {"resourceType": "DeviceMetric", "id": "glucose", "category": "measurement",
             "type": {"coding": [{"system": "http://loinc.org", "code": "99504-3",
                                  "display": "Glucose [Mass/volume] in Interstitial fluid"}]}}
        ]
    })
}

fn cuff(patient: &str) -> Value {
    json!({
        "resourceType": "Device", "id": "bpm-7f3a",
        "type": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "528391"}]},
        "patient": {"reference": format!("Patient/{patient}")},
        "contained": [
            {"resourceType": "DeviceMetric", "id": "systolic", "category": "measurement",
             "type": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}},
            {"resourceType": "DeviceMetric", "id": "diastolic", "category": "measurement",
             "type": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}}
        ]
    })
}

/// A heart rate reading at 10:`minute` on 2024-03-01.
fn heart_rate(id: &str, patient: &str, device: &str, minute: u32, rate: u32) -> Value {
    json!({
        "resourceType": "Observation", "id": id, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "device": {"reference": format!("Device/{device}")},
        "effectiveDateTime": format!("2024-03-01T10:{minute:02}:00Z"),
        "valueQuantity": {"value": rate, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    })
}

/// `?at=` half a minute after 10:`minute`.
fn at(minute: u32) -> String {
    format!("2024-03-01T10:{minute:02}:30Z")
}

fn rules_of(answer: &Value) -> Vec<String> {
    answer["cards"]
        .as_array()
        .unwrap_or_else(|| panic!("no cards in {answer}"))
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["extension"]["cds-evidence"]["ruleset"].as_str().unwrap(),
                c["extension"]["cds-evidence"]["rule"].as_str().unwrap()
            )
        })
        .collect()
}

fn delete(server: &Server, path: &str) -> (u16, Value) {
    let r = reqwest::blocking::Client::new()
        .delete(format!("{}{path}", server.base))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// POST with the response's `Location` header.
fn post_located(server: &Server, path: &str, body: &Value) -> (u16, Option<String>, Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}{path}", server.base))
        .json(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (status, location, r.json().unwrap())
}

#[test]
fn onboarding_says_which_codes_the_device_rules_read() {
    let server = Server::start("devices-onboarding", &[]);
    let mut answers = BTreeMap::new();
    for (name, device) in [
        ("watch", watch("watch-51c0", "pt-w")),
        ("cgm", cgm("pt-g")),
        ("cuff", cuff("pt-c")),
    ] {
        let (status, location, summary) = post_located(&server, "/devices", &device);
        assert_eq!(status, 201, "{summary}");
        let id = summary["device"]
            .as_str()
            .unwrap()
            .strip_prefix("Device/")
            .unwrap();
        assert_eq!(location.as_deref(), Some(format!("/devices/{id}").as_str()));
        assert_eq!(
            server.get(&format!("/devices/{id}")),
            (200, summary.clone())
        );
        answers.insert(name, summary);
    }
    insta::assert_json_snapshot!("onboarding", answers);
    // Registering the same device again replaces it: 200, same answer.
    let (status, again) = server.post("/devices", &cgm("pt-g"));
    assert_eq!((status, &again), (200, &answers["cgm"]));
}

#[test]
fn sustained_tachycardia_fires_once_enough_readings_are_in_the_window() {
    let server = Server::start("devices-tachycardia", &[]);
    assert_eq!(server.post("/devices", &watch("watch-1", "pt-1")).0, 201);
    let mut fired = Vec::new();
    let mut last = Value::Null;
    for (i, (minute, rate)) in [(0, 118), (2, 124), (4, 121), (6, 92)]
        .into_iter()
        .enumerate()
    {
        let reading = heart_rate(&format!("hr-{i}"), "pt-1", "watch-1", minute, rate);
        let (status, answer) = server.post(
            &format!("/devices/watch-1/observations?at={}", at(minute)),
            &reading,
        );
        assert_eq!(status, 200, "{answer}");
        fired.push(rules_of(&answer));
        if i == 2 {
            last = answer;
        }
    }
    // One reading, two: not yet sustained. Three above 100/min in 10 minutes: the card. Then
    // a reading at 92/min: not every reading is above 100/min any more.
    assert_eq!(
        fired,
        [
            vec![],
            vec![],
            vec!["tachycardia/sustained-tachycardia".to_string()],
            vec![]
        ]
    );
    insta::assert_json_snapshot!("tachycardia", last);
    // The card counts in the metrics under its service, like a CDS Hooks answer's.
    let (_, metrics) = server.get_text("/metrics");
    assert!(
        metrics.contains("cds_cards_total{tenant=\"\",service=\"tachycardia-device-observation\",ruleset=\"tachycardia\",rule=\"sustained-tachycardia\",indicator=\"warning\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("cds_device_windows 1"), "{metrics}");
    // Its uuid is known to feedback, counted under its rule and override reason.
    let card = &last["cards"][0];
    let reason = card["overrideReasons"][0].clone();
    assert_eq!(reason["code"], "exercising", "{card}");
    let (status, body) = server.post(
        "/cds-services/tachycardia-device-observation/feedback",
        &json!({"feedback": [{"card": card["uuid"], "outcome": "overridden",
            "overrideReason": {"reason": reason}, "outcomeTimestamp": "2024-03-01T10:05:00Z"}]}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, metrics) = server.get_text("/metrics");
    assert!(
        metrics.contains("ruleset=\"tachycardia\",rule=\"sustained-tachycardia\",outcome=\"overridden\",reason=\"exercising\""),
        "{metrics}"
    );
}

#[test]
fn a_low_glucose_reading_gets_its_card() {
    let server = Server::start("devices-glucose", &[]);
    let (status, summary) = server.post("/devices", &cgm("pt-2"));
    assert_eq!(status, 201);
    let id = summary["device"]
        .as_str()
        .unwrap()
        .strip_prefix("Device/")
        .unwrap();
    let reading = json!({
        "resourceType": "Observation", "id": "g-1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "99504-3"}]},
        "subject": {"reference": "Patient/pt-2"}, "device": {"reference": format!("Device/{id}")},
        "effectiveDateTime": "2024-03-01T03:10:00Z",
        "valueQuantity": {"value": 52, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}
    });
    // As a Bundle this time.
    let bundle =
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": reading}]});
    let (status, answer) = server.post(
        &format!("/devices/{id}/observations?at=2024-03-01T03:11:00Z"),
        &bundle,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rules_of(&answer), ["hypoglycaemia/level-2-hypoglycaemia"]);
    insta::assert_json_snapshot!("hypoglycaemia", answer);
}

#[test]
fn the_window_keeps_only_the_newest_readings() {
    // The same readings to a server with the default bound and to one keeping 3 per patient:
    // two at 95/min, then three at 120/min, within 10 minutes.
    let readings: Vec<Value> = [(0, 95), (1, 95), (2, 120), (3, 121), (4, 122)]
        .into_iter()
        .enumerate()
        .map(|(i, (m, r))| heart_rate(&format!("hr-{i}"), "pt-3", "watch-3", m, r))
        .collect();
    let mut got = Vec::new();
    for (name, env) in [
        ("devices-window-default", vec![]),
        (
            "devices-window-3",
            vec![("CDS_DEVICES__MAX_READINGS_PER_PATIENT", "3")],
        ),
    ] {
        let server = Server::start_with_env(name, &[], &env);
        assert_eq!(server.post("/devices", &watch("watch-3", "pt-3")).0, 201);
        let mut answer = Value::Null;
        for r in &readings {
            let (status, a) =
                server.post(&format!("/devices/watch-3/observations?at={}", at(4)), r);
            assert_eq!(status, 200, "{a}");
            answer = a;
        }
        got.push(rules_of(&answer));
    }
    // With every reading kept, the readings at 95/min are within 10 minutes: not sustained.
    // Kept to 3, the oldest two are gone and only the three above 100/min count.
    assert_eq!(
        got,
        [
            vec![],
            vec!["tachycardia/sustained-tachycardia".to_string()]
        ]
    );
}

#[test]
fn a_reading_sent_again_counts_once() {
    let server = Server::start("devices-dedup", &[]);
    assert_eq!(server.post("/devices", &watch("watch-4", "pt-4")).0, 201);
    // Three posts of the same two readings are two readings, not enough to be sustained.
    let readings = json!([
        heart_rate("hr-a", "pt-4", "watch-4", 0, 130),
        heart_rate("hr-b", "pt-4", "watch-4", 1, 130)
    ]);
    for _ in 0..3 {
        let (status, answer) = server.post(
            &format!("/devices/watch-4/observations?at={}", at(1)),
            &readings,
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(rules_of(&answer), Vec::<String>::new());
    }
    // An amended reading (same id) replaces the first.
    let third = heart_rate("hr-c", "pt-4", "watch-4", 2, 130);
    let (_, answer) = server.post(
        &format!("/devices/watch-4/observations?at={}", at(2)),
        &third,
    );
    assert_eq!(rules_of(&answer), ["tachycardia/sustained-tachycardia"]);
    let amended = heart_rate("hr-a", "pt-4", "watch-4", 0, 80);
    let (_, answer) = server.post(
        &format!("/devices/watch-4/observations?at={}", at(2)),
        &amended,
    );
    assert_eq!(rules_of(&answer), Vec::<String>::new());
}

#[test]
fn errors_are_operation_outcomes_naming_where() {
    let server = Server::start("devices-errors", &[]);
    assert_eq!(server.post("/devices", &watch("watch-5", "pt-5")).0, 201);
    let mut errors = BTreeMap::new();
    let mut record = |name: &str, (status, body): (u16, Value)| {
        errors.insert(name.to_string(), json!({"status": status, "body": body}));
    };
    // Another patient's reading: 400 at its subject, the id not quoted back.
    let other = heart_rate("hr-x", "someone-else", "watch-5", 0, 120);
    let answer = server.post(
        "/devices/watch-5/observations",
        &json!([heart_rate("hr-ok", "pt-5", "watch-5", 0, 120), other]),
    );
    assert!(!answer.1.to_string().contains("someone-else"));
    record("another-patient", answer);
    // A reading naming another device.
    record(
        "another-device",
        server.post(
            "/devices/watch-5/observations",
            &heart_rate("hr-y", "pt-5", "cgm-9", 0, 120),
        ),
    );
    // Unknown device: 404.
    record(
        "unknown-device",
        server.post(
            "/devices/no-such-device/observations",
            &heart_rate("hr-z", "pt-5", "no-such-device", 0, 120),
        ),
    );
    // An invalid Device: every problem with its path.
    let mut invalid = watch("watch-6", "pt-6");
    invalid.as_object_mut().unwrap().remove("patient");
    invalid["contained"][0]["type"]["coding"][0]
        .as_object_mut()
        .unwrap()
        .remove("system");
    invalid["contained"][1]["category"] = json!("sometimes");
    record("invalid-device", server.post("/devices", &invalid));
    // Not an Observation; no time; a bad evaluation time.
    record(
        "not-an-observation",
        server.post(
            "/devices/watch-5/observations",
            &json!({"resourceType": "Condition", "id": "c"}),
        ),
    );
    let mut untimed = heart_rate("hr-t", "pt-5", "watch-5", 0, 120);
    untimed.as_object_mut().unwrap().remove("effectiveDateTime");
    record(
        "untimed",
        server.post("/devices/watch-5/observations", &untimed),
    );
    record(
        "bad-at",
        server.post(
            "/devices/watch-5/observations?at=yesterday",
            &heart_rate("hr-u", "pt-5", "watch-5", 0, 120),
        ),
    );
    insta::assert_json_snapshot!("errors", errors);
    // Nothing of the refused calls was kept: the window is empty.
    let (status, _) = server.post(
        &format!("/devices/watch-5/observations?at={}", at(2)),
        &json!([
            heart_rate("hr-1", "pt-5", "watch-5", 1, 120),
            heart_rate("hr-2", "pt-5", "watch-5", 2, 120)
        ]),
    );
    assert_eq!(status, 200);
    let (_, answer) = server.post(
        &format!("/devices/watch-5/observations?at={}", at(2)),
        &heart_rate("hr-2", "pt-5", "watch-5", 2, 120),
    );
    assert_eq!(rules_of(&answer), Vec::<String>::new(), "only 2 readings");
}

#[test]
fn a_forgotten_device_and_its_readings_are_gone() {
    let server = Server::start("devices-forget", &[]);
    assert_eq!(server.post("/devices", &watch("watch-7", "pt-7")).0, 201);
    let readings = json!([
        heart_rate("hr-1", "pt-7", "watch-7", 0, 120),
        heart_rate("hr-2", "pt-7", "watch-7", 1, 120),
        heart_rate("hr-3", "pt-7", "watch-7", 2, 120)
    ]);
    let (_, answer) = server.post(
        &format!("/devices/watch-7/observations?at={}", at(2)),
        &readings,
    );
    assert_eq!(rules_of(&answer), ["tachycardia/sustained-tachycardia"]);
    assert_eq!(delete(&server, "/devices/watch-7"), (204, Value::Null));
    let (status, outcome) = server.get("/devices/watch-7");
    assert_eq!(status, 404);
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(delete(&server, "/devices/watch-7").0, 404);
    let (_, metrics) = server.get_text("/metrics");
    assert!(metrics.contains("cds_device_windows 0"), "{metrics}");
    // Registered again, it starts from an empty window.
    assert_eq!(server.post("/devices", &watch("watch-7", "pt-7")).0, 201);
    let (_, answer) = server.post(
        &format!("/devices/watch-7/observations?at={}", at(2)),
        &heart_rate("hr-3", "pt-7", "watch-7", 2, 120),
    );
    assert_eq!(rules_of(&answer), Vec::<String>::new());
}

/// The services of the running server answering device-observation: id → prefetch templates.
fn device_services(server: &Server) -> BTreeMap<String, Map<String, Value>> {
    let (_, body) = server.get("/cds-services");
    body["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["hook"] == "device-observation")
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s.get("prefetch")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn prefetch_type(key: &str) -> &str {
    match key {
        "patient" => "Patient",
        "observations" => "Observation",
        "conditions" => "Condition",
        other => panic!("unexpected prefetch key {other}"),
    }
}

/// The shipped cases of `device-observation`: (ruleset, file, case).
fn device_cases() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let mut rulesets: Vec<_> = std::fs::read_dir(root().join("rulesets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("tests").is_dir())
        .collect();
    rulesets.sort();
    for rs in rulesets {
        let mut files: Vec<_> = std::fs::read_dir(rs.join("tests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            if case["hook"] == "device-observation" {
                out.push((
                    rs.file_name().unwrap().to_string_lossy().to_string(),
                    f.file_name().unwrap().to_string_lossy().to_string(),
                    case,
                ));
            }
        }
    }
    out
}

fn expected_rules(ruleset: &str, case: &Value) -> Vec<String> {
    let mut want: Vec<String> = case["expect"]["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{ruleset}/{}", c["rule"].as_str().unwrap()))
        .collect();
    want.sort();
    want
}

#[test]
fn every_device_observation_case_gets_the_engines_cards() {
    let server = Server::start("devices-cases", &[]);
    let services = device_services(&server);
    let mut failures = Vec::new();
    let (mut over_hook, mut over_window) = (0, 0);
    for (ruleset, file, case) in device_cases() {
        let id = format!("{ruleset}-device-observation");
        let templates = &services[&id];
        let resources = case["resources"].as_array().unwrap();
        let patient = resources
            .iter()
            .find(|r| r["resourceType"] == "Patient")
            .expect("a Patient");
        let pid = patient["id"].as_str().unwrap();
        let at = case["at"].as_str().unwrap();
        let want = expected_rules(&ruleset, &case);
        let from_device =
            |r: &&Value| r["resourceType"] == "Observation" && r.get("device").is_some();
        let readings: Vec<&Value> = resources.iter().filter(from_device).collect();

        // 1. The CDS Hooks call: readings in the context, the rest prefetched.
        let mut prefetch = Map::new();
        for key in templates.keys() {
            let t = prefetch_type(key);
            let v = if t == "Patient" {
                patient.clone()
            } else {
                let entries: Vec<Value> = resources
                    .iter()
                    .filter(|r| r["resourceType"] == t && !from_device(r))
                    .map(|r| json!({"resource": r}))
                    .collect();
                json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
            };
            prefetch.insert(key.clone(), v);
        }
        let body = json!({
            "hookInstance": "3f6b2a10-0c43-4c8e-9d1e-5a1b2c3d4e5f",
            "hook": "device-observation",
            "context": {"patientId": pid, "observations": {"resourceType": "Bundle", "type": "collection",
                "entry": readings.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()}},
            "prefetch": prefetch,
            "extension": {"cds-evaluation-time": at}
        });
        let (status, answer) = server.post(&format!("/cds-services/{id}"), &body);
        let mut got = if status == 200 {
            rules_of(&answer)
        } else {
            vec![format!("HTTP {status}: {answer}")]
        };
        got.sort();
        if got != want {
            failures.push(format!(
                "{ruleset}/{file} (hook): want {want:?}, got {got:?}"
            ));
        }
        over_hook += 1;

        // 2. Through a registered device's window, when the readings are the whole record
        //    (besides the Patient and the Device, which registration stands for).
        let rest = resources
            .iter()
            .filter(|r| {
                !matches!(r["resourceType"].as_str(), Some("Patient" | "Device")) && !from_device(r)
            })
            .count();
        if rest > 0 || readings.is_empty() {
            continue;
        }
        let device = readings[0]["device"]["reference"]
            .as_str()
            .unwrap()
            .strip_prefix("Device/")
            .unwrap()
            .to_string();
        let mut device_json = watch(&device, pid);
        device_json["contained"] = json!([{"resourceType": "DeviceMetric", "id": "m", "category": "measurement",
            "type": readings[0]["code"]}]);
        let (status, summary) = server.post("/devices", &device_json);
        assert_eq!(status, 201, "{ruleset}/{file}: {summary}");
        let (status, answer) = server.post(
            &format!(
                "/devices/{device}/observations?at={}",
                at.replace('+', "%2B")
            ),
            &json!(readings),
        );
        let mut got: Vec<String> = if status == 200 {
            rules_of(&answer)
                .into_iter()
                .filter(|r| r.starts_with(&format!("{ruleset}/")))
                .collect()
        } else {
            vec![format!("HTTP {status}: {answer}")]
        };
        got.sort();
        if got != want {
            failures.push(format!(
                "{ruleset}/{file} (window): want {want:?}, got {got:?}"
            ));
        }
        assert_eq!(delete(&server, &format!("/devices/{device}")).0, 204);
        over_window += 1;
    }
    println!("device-observation cases: {over_hook} over the hook, {over_window} through a window");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        over_hook >= 30 && over_window >= 25,
        "{over_hook} {over_window}"
    );
}

/// The `sh` blocks of docs/server-devices.md as (command, expected output) pairs: a command's
/// lines are followed by `# ` lines showing its output (`#  ` continues it after a space;
/// `...` elides).
fn doc_examples(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let (mut command, mut expected) = (String::new(), String::new());
    for line in doc.lines() {
        if !in_sh {
            in_sh = line == "```sh";
            continue;
        }
        if line == "```" || (!line.starts_with('#') && !expected.is_empty()) {
            out.push((std::mem::take(&mut command), std::mem::take(&mut expected)));
        }
        if line == "```" {
            in_sh = false;
        } else if let Some(e) = line.strip_prefix("# ") {
            expected.push_str(e);
        } else {
            command.push_str(line);
            command.push('\n');
        }
    }
    out
}

#[test]
fn the_docs_examples_work_as_printed() {
    let doc = std::fs::read_to_string(root().join("docs/server-devices.md")).unwrap();
    let examples = doc_examples(&doc);
    assert_eq!(examples.len(), 7, "{examples:#?}");
    let server = Server::start("devices-docs", &[]);
    let host = server.base.trim_start_matches("http://").to_string();
    for (command, expected) in examples {
        assert!(command.contains("localhost:8080"), "{command}");
        let out = std::process::Command::new("sh")
            .args(["-c", &command.replace("localhost:8080", &host)])
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}");
        let got = String::from_utf8(out.stdout).unwrap();
        let got = got.trim();
        if expected.contains("...") {
            for part in expected.split("...") {
                assert!(got.contains(part), "{command}\nwant {part}\ngot {got}");
            }
        } else if let Ok(want) = serde_json::from_str::<Value>(&expected) {
            let got: Value =
                serde_json::from_str(got).unwrap_or_else(|e| panic!("{command}\n{e}: {got}"));
            assert_eq!(got, want, "{command}");
        } else {
            assert_eq!(got, expected, "{command}");
        }
    }
}
