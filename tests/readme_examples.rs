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

/// The fenced ```toml blocks of a Markdown text.
fn toml_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(_), "```") => out.push(current.take().unwrap()),
            (Some(c), _) => {
                c.push_str(line);
                c.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// Every configuration printed in the README and docs/server.md is one the server reads
/// (unknown keys are errors), so the examples cannot drift from the code.
#[test]
fn readme_and_docs_configurations_are_read_by_the_server() {
    let dir = root().join("target/test-logs/readme-toml");
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = 0;
    for doc in ["README.md", "docs/server.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        for (i, block) in toml_blocks(&text).into_iter().enumerate() {
            let file = dir.join(format!("{}-{i}.toml", doc.replace('/', "-")));
            std::fs::write(&file, &block).unwrap();
            if let Err(e) = cds_server::config::Config::load(Some(&file)) {
                panic!("{doc}, TOML block {i}: {e}\n{block}");
            }
            n += 1;
        }
    }
    assert!(n >= 4, "found {n} TOML blocks");
}
