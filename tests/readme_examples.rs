//! The README's curl examples, run as printed (only `localhost:8080` is replaced by the test
//! server's address) against the real server with the shipped rulesets.

mod support;

use std::process::Command;

use serde_json::Value;
use support::server::{root, Server};

/// The curl commands of the README (continuation lines joined), in order.
fn curl_commands(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        let t = line.trim();
        if let Some(c) = current.as_mut() {
            c.push(' ');
            c.push_str(t.trim_end_matches('\\').trim());
            if !t.ends_with('\\') {
                out.push(current.take().unwrap());
            }
            continue;
        }
        if t.starts_with("curl ") {
            if t.ends_with('\\') {
                current = Some(t.trim_end_matches('\\').trim().to_string());
            } else {
                out.push(t.to_string());
            }
        }
    }
    out
}

#[test]
fn readme_curl_examples_work_as_printed() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let commands = curl_commands(&readme);
    assert!(commands.len() >= 9, "{commands:#?}");
    let server = Server::start("readme", &[]);
    let host = server.base.trim_start_matches("http://").to_string();
    for command in &commands {
        // Drop the trailing comment, point at the test server, fail on HTTP errors.
        let command = command.split(" # ").next().unwrap().trim();
        let command =
            command
                .replace("localhost:8080", &host)
                .replacen("curl ", "curl --fail-with-body ", 1);
        let out = Command::new("sh")
            .args(["-c", &command])
            .current_dir(root())
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command}\n{body}");
        let answers_cards = (command.contains("/cds-services/") && !command.contains("/feedback"))
            || command.contains("/observations");
        if answers_cards {
            let v: Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{command}: {e}\n{body}"));
            let cards = v["cards"]
                .as_array()
                .unwrap_or_else(|| panic!("{command}\n{body}"));
            assert!(!cards.is_empty(), "{command}: no card\n{body}");
        }
    }
}
