//! Starts the real `cds serve` binary on a free loopback port and talks to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running server, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    client: reqwest::blocking::Client,
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped ruleset's test case (`rulesets/<ruleset>/tests/<file>`).
pub fn ruleset_case(ruleset: &str, file: &str) -> Value {
    let p = root()
        .join("rulesets")
        .join(ruleset)
        .join("tests")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

impl Server {
    /// `cds serve --addr 127.0.0.1:0` with the shipped rulesets and `extra` arguments; the
    /// child's logs go to a file under `target/` named after `name`.
    pub fn start(name: &str, extra: &[&str]) -> Server {
        Self::start_with_env(name, extra, &[])
    }

    /// Like [`Server::start`], with environment variables.
    pub fn start_with_env(name: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let log_dir = root().join("target/test-logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        let log = std::fs::File::create(log_dir.join(format!("{name}.log"))).unwrap();
        let rulesets = root().join("rulesets");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cds"));
        cmd.arg("serve");
        if !extra.contains(&"--addr") {
            cmd.args(["--addr", "127.0.0.1:0"]);
        }
        if !extra.contains(&"--rulesets") {
            cmd.arg("--rulesets").arg(&rulesets);
        }
        cmd.args(extra)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        // Each server's audit store is its own file under target/, never the repository root.
        // A fresh store for every start.
        if !env.iter().any(|(k, _)| k.starts_with("CDS_AUDIT__")) {
            let store = log_dir.join(format!("{name}.audit.sqlite"));
            for suffix in ["", "-wal", "-shm", ".key"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
            }
            cmd.env("CDS_AUDIT__SQLITE_PATH", store);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("cds serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from cds serve: {line:?}"))
            .to_string();
        Server {
            child,
            base,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// The log file of the server named `name`.
    pub fn log(name: &str) -> String {
        std::fs::read_to_string(root().join(format!("target/test-logs/{name}.log")))
            .unwrap_or_default()
    }

    /// Stops the server as an operator would (SIGTERM), waiting for it to finish: everything
    /// it audited is stored by then. Returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A request to `path` with an optional bearer token: status, headers and body text.
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        if let Some((ct, bytes)) = body {
            r = r.header("content-type", ct).body(bytes);
        }
        let r = r.send().unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().unwrap())
    }

    /// GET `path`: status and body (JSON when it parses, else a string).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap();
        Self::answer(r)
    }

    /// GET `path` as text.
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// POST JSON to `path`.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, "application/json", serde_json::to_vec(body).unwrap())
    }

    /// POST raw bytes with a content type.
    pub fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        Self::answer(r)
    }

    fn answer(r: reqwest::blocking::Response) -> (u16, Value) {
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
