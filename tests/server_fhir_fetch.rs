//! Missing prefetch fetched from a real FHIR server: the Helios FHIR server (`hfs`, crate
//! `helios-hfs`, installed by `.ci/run`) on a loopback port, loaded with a patient's record,
//! and the CDS Hooks server fetching what the client did not prefetch.
//!
//! `hfs` is found on `PATH`, in `~/.cargo/bin`, or at `$HFS`.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::server::{root, ruleset_case as case, Server};

fn hfs_binary() -> PathBuf {
    if let Ok(p) = std::env::var("HFS") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let candidates = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| PathBuf::from(d).join("hfs"))
        .chain([PathBuf::from(home).join(".cargo/bin/hfs")])
        .collect::<Vec<_>>();
    candidates.into_iter().find(|p| p.is_file()).expect(
        "the Helios FHIR server `hfs` is needed: cargo install --locked helios-hfs (.ci/run does)",
    )
}

struct Hfs {
    child: Child,
    base: String,
    _dir: PathBuf,
}

impl Drop for Hfs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_hfs() -> Hfs {
    let dir = std::env::temp_dir().join(format!("cds-hfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data_dir = root().join("../shared/fhir-server");
    assert!(
        data_dir.join("search-parameters-r4.json").is_file(),
        "../shared/fhir-server is needed"
    );
    let port = free_port();
    let log = std::fs::File::create(root().join("target/test-logs/hfs.log")).unwrap();
    let mut child = Command::new(hfs_binary())
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(&data_dir)
        .current_dir(&dir)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("hfs starts");
    let client = reqwest::blocking::Client::new();
    let root_url = format!("http://127.0.0.1:{port}");
    for _ in 0..600 {
        for base in [root_url.clone(), format!("{root_url}/fhir")] {
            if let Ok(r) = client.get(format!("{base}/metadata")).send() {
                if r.status().is_success() {
                    return Hfs {
                        child,
                        base,
                        _dir: dir,
                    };
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("hfs did not answer /metadata within 60 s (log: target/test-logs/hfs.log)");
}

fn put(base: &str, resource: &Value) {
    let url = format!(
        "{base}/{}/{}",
        resource["resourceType"].as_str().unwrap(),
        resource["id"].as_str().unwrap()
    );
    let r = reqwest::blocking::Client::new()
        .put(url)
        .header("content-type", "application/fhir+json")
        .body(resource.to_string())
        .send()
        .unwrap();
    assert!(
        r.status().is_success(),
        "PUT {}: {}",
        r.status(),
        r.text().unwrap_or_default()
    );
}

fn rules_of(answer: &Value) -> Vec<String> {
    let mut v: Vec<String> = answer["cards"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|c| {
            c["extension"]["cds-evidence"]["rule"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn missing_prefetch_is_fetched_from_a_real_fhir_server() {
    std::fs::create_dir_all(root().join("target/test-logs")).unwrap();
    let hfs = start_hfs();
    // Blood pressure panels: systolic and diastolic are components (found by `combo-code`).
    let c = case("hypertension", "panel-readings.json");
    let resources = c["resources"].as_array().unwrap();
    let pid = resources
        .iter()
        .find(|r| r["resourceType"] == "Patient")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for r in resources {
        put(&hfs.base, r);
    }
    // Another patient's crisis-range reading on the same server must not be fetched.
    put(
        &hfs.base,
        &json!({"resourceType": "Patient", "id": "other-patient"}),
    );
    let mut other = resources
        .iter()
        .find(|r| r["resourceType"] == "Observation")
        .unwrap()
        .clone();
    other["id"] = json!("other-obs");
    other["subject"] = json!({"reference": "Patient/other-patient"});
    put(&hfs.base, &other);

    let server = Server::start("fhir-fetch", &[]);
    let want: Vec<String> = {
        let mut v: Vec<String> = c["expect"]["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["rule"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert!(!want.is_empty());
    let call = |prefetch: Value, fhir_server: &str| {
        server.post("/cds-services/hypertension-patient-view", &json!({
            "hook": "patient-view",
            "hookInstance": "5d7c2d4e-3b7a-4a58-9d7e-8a9b9a1f0c11",
            "fhirServer": fhir_server,
            "fhirAuthorization": {"access_token": "test-token", "token_type": "Bearer",
                                   "expires_in": 300, "scope": "patient/*.read", "subject": "cds-service"},
            "context": {"userId": "Practitioner/doc-1", "patientId": pid},
            "prefetch": prefetch,
            "extension": {"cds-evaluation-time": c["at"]}
        }))
    };
    // Nothing prefetched: everything is fetched.
    let (status, answer) = call(json!({}), &hfs.base);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rules_of(&answer), want);
    for card in answer["cards"].as_array().unwrap() {
        let evidence = card["extension"]["cds-evidence"].to_string();
        assert!(
            !evidence.contains("other-obs"),
            "another patient's reading was used: {evidence}"
        );
    }
    insta::assert_json_snapshot!("fetched-answer", answer);
    // The client's own fetch failed (an OperationOutcome): the server fetches it.
    let failed = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]});
    let (status, answer2) = call(json!({"observations": failed}), &hfs.base);
    assert_eq!(status, 200, "{answer2}");
    assert_eq!(rules_of(&answer2), want);
    // The FHIR server gone: 412 naming what could not be fetched.
    let base = hfs.base.clone();
    drop(hfs);
    let (status, outcome) = call(json!({"patient": null}), &base);
    assert_eq!(status, 412, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "prefetch.observations"
    );
}
