//! The rule studio in a real browser: Debian's chromium driven through chromedriver (WebDriver)
//! against the real `cds serve`, with a fresh copy of the rulesets so that saving never touches
//! the repository.
//!
//! One walk through the page as a clinician would use it: open a ruleset, type a rule with a
//! mistake (live diagnostics: list, squiggle, bubble), fix it, try it on a test patient, save the
//! result as a test case, run the tests, draw the graph, backtest the largest cohort over two
//! years, save; and the page loads nothing from elsewhere. Screenshots of each step go to
//! `target/studio-screenshots/`; with `UPDATE_STUDIO_SCREENSHOT=1` the one with the diagnostic
//! and the one after the Try step are copied to `docs/studio-diagnostic.png` and
//! `docs/studio.png`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`); without them the test fails and says so.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use support::server::{root, Server};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const RULESET: &str = "hypertension/hypertension.rules";
/// A hypertension test case whose latest reading is in the crisis range: fires a critical card
/// (offered as a sample patient whose id ends with its path).
const PATIENT: &str = "hypertension/tests/crisis-systolic-181.json";
/// The usual wait for something on the page.
const WAIT: Duration = Duration::from_secs(20);
/// The trusted client of the authentication walk (keys in tests/fixtures/auth).
const ISS: &str = "https://ehr-a.example.org";

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(log: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = fs::File::create(log).expect("chromedriver log file");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = client
                .get(format!("{}/status", driver.url))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready on {}",
                driver.url
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn files_in(dir: &Path) -> BTreeSet<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// Runs `script` (a function body returning a value) until it returns something truthy.
async fn wait_js(c: &Client, what: &str, script: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        match c.execute(script, vec![]).await {
            Ok(v) => {
                let truthy = match &v {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::String(s) => !s.is_empty(),
                    Value::Number(n) => n.as_f64() != Some(0.0),
                    _ => true,
                };
                if truthy {
                    return v;
                }
                last = v;
            }
            Err(e) => last = Value::String(format!("script error: {e}")),
        }
        if Instant::now() > deadline {
            let status = c
                .execute(
                    "return document.getElementById('status').textContent",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!(
                "timed out after {timeout:?} waiting for {what} (last: {last}; #status: {status})"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css} cannot be clicked: {e}"));
}

async fn select(c: &Client, css: &str, value: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("{css}: no option {value}: {e}"));
}

/// Picks [`PATIENT`] in the Try tab once the samples are listed.
async fn select_test_patient(c: &Client) {
    let patient = wait_js(
        c,
        "the test patient among the samples",
        &format!(
            "const o = [...document.querySelectorAll('#patient-select option')]
                 .find((o) => o.value.endsWith(':{PATIENT}'));
             return o ? o.value : null"
        ),
        WAIT,
    )
    .await;
    let patient = patient
        .as_str()
        .unwrap_or_else(|| panic!("{PATIENT} among the sample patients"))
        .to_string();
    select(c, "#patient-select", &patient).await;
}

/// A screenshot of the whole window as `target/studio-screenshots/NAME.png`.
async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let dir = root().join("target/studio-screenshots");
    fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let path = dir.join(format!("{name}.png"));
    fs::write(&path, png).unwrap();
    path
}

/// Fails (never skips) without Debian's chromium and chromedriver.
fn browser_installed() {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: the studio browser test needs Debian's chromium and \
             chromium-driver (`apt-get install chromium chromium-driver`; package {package})"
        );
    }
}

#[test]
fn studio_in_a_browser() {
    browser_installed();
    // Not a `CDS_*` name: `cds serve` reads those as configuration (and refuses unknown ones).
    let update_docs = std::env::var("UPDATE_STUDIO_SCREENSHOT").as_deref() == Ok("1");
    let work = root().join("target/studio-browser");
    let _ = fs::remove_dir_all(&work);
    let rulesets = work.join("rulesets");
    copy_dir(&root().join("rulesets"), &rulesets);
    let profile = work.join("chromium-profile");
    fs::create_dir_all(&profile).unwrap();
    fs::create_dir_all(root().join("target/test-logs")).unwrap();

    let server = Server::start(
        "studio-browser",
        &["--rulesets", rulesets.to_str().unwrap()],
    );

    // The page and its two files, as served: nothing from elsewhere, a strict CSP.
    let (status, headers, _) = server.send(reqwest::Method::GET, "/studio/", None, None);
    assert_eq!(status, 200, "GET /studio/");
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "the page's CSP: {csp:?}"
    );
    for path in ["/studio/", "/studio/studio.js", "/studio/studio.css"] {
        let (status, text) = server.get_text(path);
        assert_eq!(status, 200, "GET {path}");
        for scheme in ["http://", "https://"] {
            assert!(
                !text.contains(scheme),
                "{path} names an address ({scheme}...): the studio loads nothing from elsewhere"
            );
        }
    }

    let driver = Driver::start(&root().join("target/test-logs/studio-browser-chromedriver.log"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let base = server.base.clone();
    let copy = rulesets.clone();
    rt.block_on(walk(&driver.url, &profile, move |c| {
        steps(c, base, copy, update_docs)
    }));
    eprintln!(
        "studio browser walk: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Runs `steps` in a fresh headless chromium session; the browser is closed however they end.
async fn walk<F, Fut>(driver: &str, profile: &Path, steps: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1440,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let caps = caps.as_object().unwrap().clone();
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a chromium session through chromedriver");
    // The steps run as a task so that a failed assertion still closes the browser.
    let walk = tokio::spawn(steps(c.clone()));
    let result = walk.await;
    let _ = c.close().await;
    if let Err(e) = result {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the walk did not finish: {e}"),
        }
    }
}

async fn steps(c: Client, base: String, rulesets: PathBuf, update_docs: bool) {
    let c = &c;
    let file_on_disk = rulesets.join(RULESET);
    let original = fs::read_to_string(&file_on_disk).unwrap();
    let tests_dir = rulesets.join("hypertension/tests");
    let history_dir = rulesets.join("hypertension/.history");

    // a. The page, then the hypertension ruleset.
    c.goto(&format!("{base}/studio/"))
        .await
        .expect("open /studio/");
    wait_js(
        c,
        "the ruleset list",
        "return document.querySelectorAll('#ruleset-select option').length",
        WAIT,
    )
    .await;
    select(c, "#ruleset-select", RULESET).await;
    wait_js(
        c,
        "the hypertension ruleset, checked",
        &format!(
            "const e = document.getElementById('editor');
             const s = document.getElementById('status').textContent;
             return document.getElementById('ruleset-select').value === '{RULESET}'
               && e.value.includes('ruleset hypertension')
               && !/loading|checking/.test(s)
               && !document.querySelector('.diagnostic.error')"
        ),
        WAIT,
    )
    .await;
    assert!(js(c, "return document.getElementById('save-btn').disabled").await == true);

    // b. A new rule with a misspelt name, typed key by key at the end of the text.
    let editor = c.find(Locator::Css("#editor")).await.unwrap();
    editor.click().await.unwrap();
    editor.send_keys(&(Key::Control + &Key::End)).await.unwrap();
    editor
        .send_keys(
            "\nrule extreme-systolic\n  when adult and latest-systolc > 250 'mm[Hg]'\n\
             then critical \"Systolic {latest-systolic}: check the reading\"",
        )
        .await
        .unwrap();
    let message = wait_js(
        c,
        "the unknown-name error in the list, the squiggle and the bubble",
        "const d = [...document.querySelectorAll('#diagnostics .diagnostic.error')]
             .find((x) => x.textContent.includes('latest-systolc'));
         const mark = document.querySelector('#highlight mark.squiggle.error');
         const bubble = document.querySelector('.diagnostic-bubble');
         return d && mark && bubble && !bubble.hidden && bubble.offsetHeight > 0
           && getComputedStyle(bubble).visibility === 'visible'
           && bubble.textContent.includes('latest-systolc')
           && document.getElementById('save-btn').disabled
           && /error/.test(document.getElementById('status').textContent)
           ? d.textContent : null",
        WAIT,
    )
    .await;
    let message = message.as_str().unwrap().to_string();
    assert!(
        message.contains("latest-systolic"),
        "the error suggests the right name: {message}"
    );
    // The squiggle is under the misspelt name, the bubble right under its line.
    let placed = js(
        c,
        "const mark = [...document.querySelectorAll('#highlight mark.squiggle.error')]
             .map((m) => m.textContent).join('');
         const m = document.querySelector('#highlight mark.squiggle.error').getBoundingClientRect();
         const b = document.querySelector('.diagnostic-bubble').getBoundingClientRect();
         return {mark, below: b.top >= m.bottom - 1 && b.top - m.bottom < 40,
                 above: b.bottom <= m.top + 1 && m.top - b.bottom < 40,
                 near: Math.abs(b.left - m.left) < 60}",
    )
    .await;
    assert_eq!(placed["mark"], "latest-systolc", "{placed}");
    assert!(
        (placed["below"] == true || placed["above"] == true) && placed["near"] == true,
        "the bubble is next to the error: {placed}"
    );
    let error_shot = screenshot(c, "01-error").await;
    if update_docs {
        fs::copy(&error_shot, root().join("docs/studio-diagnostic.png")).unwrap();
    }

    // c. Fix it: the diagnostic selects the offending text; type the right name over it.
    click(c, "#diagnostics .diagnostic.error").await;
    let selected = js(
        c,
        "const e = document.getElementById('editor');
         return document.activeElement === e ? e.value.slice(e.selectionStart, e.selectionEnd) : null",
    )
    .await;
    assert_eq!(
        selected, "latest-systolc",
        "a click on the diagnostic selects its text"
    );
    editor.send_keys("latest-systolic").await.unwrap();
    wait_js(
        c,
        "the diagnostics to clear",
        "const bubble = document.querySelector('.diagnostic-bubble');
         return !document.querySelector('.diagnostic.error')
           && !document.querySelector('#highlight mark.squiggle.error')
           && (!bubble || bubble.hidden)
           && !document.getElementById('save-btn').disabled
           && !/error|checking/.test(document.getElementById('status').textContent)",
        WAIT,
    )
    .await;
    let edited = js(c, "return document.getElementById('editor').value").await;
    let edited = edited.as_str().unwrap().to_string();
    assert!(edited.contains(
        "rule extreme-systolic\n  when adult and latest-systolic > 250 'mm[Hg]'\n  then critical"
    ));
    screenshot(c, "02-fixed").await;

    // d. Try it on a test patient in the crisis range (Ctrl+Enter from the editor).
    select_test_patient(c).await;
    editor
        .send_keys(&(Key::Control + &Key::Enter))
        .await
        .unwrap();
    let summary = wait_js(
        c,
        "the critical card",
        "const s = document.querySelector('#try-result .card.indicator-critical .card-summary');
         return s ? s.textContent : null",
        WAIT,
    )
    .await;
    assert!(
        summary
            .as_str()
            .unwrap()
            .contains("hypertensive crisis range"),
        "{summary}"
    );
    let explained = js(
        c,
        "const fired = [...document.querySelectorAll('.rule-explanation.fired .r-name')].map((x) => x.textContent);
         const not = [...document.querySelectorAll('.rule-explanation.not-fired .r-name')].map((x) => x.textContent);
         return {fired, not, time: document.getElementById('try-time').textContent}",
    )
    .await;
    let names = |k: &str| -> Vec<String> {
        explained[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        names("fired").contains(&"hypertensive-crisis".to_string()),
        "{explained}"
    );
    assert!(
        names("not").contains(&"extreme-systolic".to_string()),
        "{explained}"
    );
    assert!(
        explained["time"].as_str().unwrap().ends_with("µs"),
        "{explained}"
    );
    let try_shot = screenshot(c, "03-try").await;
    if update_docs {
        fs::copy(&try_shot, root().join("docs/studio.png")).unwrap();
    }

    // ... and save it as a test case.
    let cases_before = files_in(&tests_dir);
    c.find(Locator::Css("#save-case-description"))
        .await
        .unwrap()
        .send_keys("Studio walk: crisis at 181")
        .await
        .unwrap();
    click(c, "#save-case-btn").await;
    wait_js(
        c,
        "the saved test case",
        "const r = document.getElementById('save-case-result');
         return r && /hypertension\\/tests\\/.+\\.json/.test(r.textContent)",
        WAIT,
    )
    .await;
    let new_cases: Vec<PathBuf> = files_in(&tests_dir)
        .difference(&cases_before)
        .cloned()
        .collect();
    assert_eq!(new_cases.len(), 1, "one new test case file: {new_cases:?}");
    let case: Value = serde_json::from_str(&fs::read_to_string(&new_cases[0]).unwrap()).unwrap();
    assert_eq!(case["description"], "Studio walk: crisis at 181");

    // e. The ruleset's tests, the new case among them: all pass.
    let cases = files_in(&tests_dir)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .count();
    click(c, "#tab-tests").await;
    click(c, "#run-tests-btn").await;
    let tests = wait_js(
        c,
        "the test summary",
        "const s = document.getElementById('tests-summary').textContent;
         return /\\d+ passed/.test(s) ? s : null",
        WAIT,
    )
    .await;
    assert_eq!(tests, format!("{cases} passed, 0 failed"));
    let counted = js(
        c,
        "return [document.querySelectorAll('.test-case.pass').length,
                 document.querySelectorAll('.test-case.fail').length]",
    )
    .await;
    assert_eq!(counted, json!([cases, 0]));
    screenshot(c, "04-tests").await;

    // f. The graph: an SVG with nodes shared by several rules; zoom in.
    click(c, "#tab-graph").await;
    let stats = wait_js(
        c,
        "the graph",
        "return document.querySelector('#graph-view svg .node.shared')
           && /node/.test(document.getElementById('graph-stats').textContent)
           ? document.getElementById('graph-stats').textContent : null",
        WAIT,
    )
    .await;
    assert!(stats.as_str().unwrap().contains("shared"), "{stats}");
    let before = js(
        c,
        "return document.getElementById('zoom-level').textContent",
    )
    .await;
    click(c, "#zoom-in").await;
    let after = js(
        c,
        "return document.getElementById('zoom-level').textContent",
    )
    .await;
    assert_ne!(before, after, "zooming changes the scale");
    screenshot(c, "05-graph").await;

    // ... and a backtest over the two years before the last encounter of the largest cohort,
    // every four weeks (the times come from the cohort).
    click(c, "#tab-backtest").await;
    let cohort = wait_js(
        c,
        "a cohort",
        "const opts = [...document.querySelectorAll('#cohort-select option')];
         const size = (o) => Number((/(\\d+) patients/.exec(o.textContent) || [0, 0])[1]);
         opts.sort((a, b) => size(b) - size(a));
         return opts.length ? opts[0].value : null",
        WAIT,
    )
    .await;
    let cohort = cohort.as_str().expect("a cohort to backtest").to_string();
    select(c, "#cohort-select", &cohort).await;
    select(c, "#backtest-mode", "every").await;
    select(c, "#backtest-every", "4w").await;
    click(c, "#backtest-btn").await;
    let patients = wait_js(
        c,
        "the backtest summary",
        "const t = document.querySelector('#backtest-summary table');
         const p = document.querySelector('#backtest-summary .total .t-value');
         const f = document.getElementById('backtest-report');
         return t && p && f && !f.hidden && f.getAttribute('sandbox') === ''
           && (f.getAttribute('srcdoc') || '').length > 0
           ? [...document.querySelectorAll('#backtest-summary .total .t-value')].map((v) => Number(v.textContent.replace(/,/g, '')))
           : null",
        Duration::from_secs(90),
    )
    .await;
    let totals: Vec<f64> = patients
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(totals[0] > 0.0, "patients: {totals:?}");
    assert!(
        totals[1] > totals[0],
        "a timeline evaluates each patient several times: {totals:?}"
    );
    assert!(
        totals[2] > 0.0,
        "the cohort raises cards over two years: {totals:?}"
    );
    screenshot(c, "06-backtest").await;

    // g. Save (Ctrl+S): the copy on disk changes, the previous text is kept as a backup.
    assert!(files_in(&history_dir).is_empty());
    editor.send_keys(&(Key::Control + "s")).await.unwrap();
    wait_js(
        c,
        "the save",
        "return document.getElementById('status').textContent === 'saved'
           && document.getElementById('dirty').hidden
           && document.getElementById('save-btn').disabled",
        WAIT,
    )
    .await;
    let saved = fs::read_to_string(&file_on_disk).unwrap();
    assert_eq!(saved, edited, "the file on disk is the text of the editor");
    let backups: Vec<String> = files_in(&history_dir)
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(backups, vec![original], "one backup, of the previous text");
    screenshot(c, "07-saved").await;

    // h. Everything the page loaded came from the server itself.
    let foreign = js(
        c,
        "return performance.getEntriesByType('resource')
             .map((e) => e.name)
             .filter((n) => new URL(n).origin !== location.origin)",
    )
    .await;
    assert_eq!(foreign, json!([]), "resources from elsewhere");
    let loaded = js(
        c,
        "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)",
    )
    .await;
    for file in ["/studio/studio.js", "/studio/studio.css"] {
        assert!(
            loaded.as_array().unwrap().iter().any(|p| p == file),
            "{file} loaded: {loaded}"
        );
    }
}

/// With authentication on: the page asks for a token, says why a token without the admin role
/// is refused, then works on with one admin token for all its calls, showing only the tenant's
/// rulesets.
#[test]
fn the_studio_asks_for_an_admin_token() {
    browser_installed();
    let work = root().join("target/studio-browser-auth");
    let _ = fs::remove_dir_all(&work);
    let profile = work.join("chromium-profile");
    fs::create_dir_all(&profile).unwrap();
    let fixtures = root().join("tests/fixtures/auth");
    let config = work.join("cds.toml");
    fs::write(
        &config,
        format!(
            r#"
[[auth.clients]]
iss = "{ISS}"
tenant = "north"
jwks_file = "{jwks}"

[[tenants]]
id = "north"
rulesets = ["hypertension"]
"#,
            jwks = fixtures.join("ehr-a.jwks.json").display()
        ),
    )
    .unwrap();
    let server = Server::start(
        "studio-browser-auth",
        &["--config", config.to_str().unwrap()],
    );
    let key = jsonwebtoken::EncodingKey::from_ec_pem(
        &fs::read(fixtures.join("ehr-a.es384.pem")).unwrap(),
    )
    .unwrap();
    let token = |admin: bool| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({"iss": ISS, "aud": format!("{}/studio", server.base),
            "iat": now, "exp": now + 240, "jti": format!("studio-{admin}-{now}")});
        if admin {
            claims["roles"] = json!(["cds-admin"]);
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384);
        header.kid = Some("ehr-a-1".into());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let (plain, admin) = (token(false), token(true));
    let driver =
        Driver::start(&root().join("target/test-logs/studio-browser-auth-chromedriver.log"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = server.base.clone();
    rt.block_on(walk(&driver.url, &profile, move |c| async move {
        let c = &c;
        c.goto(&format!("{base}/studio/")).await.expect("open /studio/");
        let dialog_open = "return document.getElementById('token-dialog').open || null";
        wait_js(c, "the token dialog", dialog_open, WAIT).await;
        c.find(Locator::Css("#token-input")).await.unwrap().send_keys(&plain).await.unwrap();
        click(c, "#token-save").await;
        let why = wait_js(
            c,
            "the refusal of a token without the admin role",
            "const e = document.getElementById('token-error');
             return document.getElementById('token-dialog').open && !e.hidden ? e.textContent : null",
            WAIT,
        )
        .await;
        assert!(why.as_str().unwrap().contains("admin role"), "{why}");
        screenshot(c, "08-token-refused").await;
        c.find(Locator::Css("#token-input")).await.unwrap().send_keys(&admin).await.unwrap();
        click(c, "#token-save").await;
        // One token for every call that follows: the list, the ruleset, the samples, a try.
        let listed = wait_js(
            c,
            "the tenant's rulesets",
            "const o = [...document.querySelectorAll('#ruleset-select option')].map((o) => o.textContent);
             return o.length && document.getElementById('editor').value ? o : null",
            WAIT,
        )
        .await;
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert!(listed[0].as_str().unwrap().starts_with("hypertension"), "{listed:?}");
        select_test_patient(c).await;
        click(c, "#try-btn").await;
        wait_js(
            c,
            "the critical card",
            "return document.querySelector('#try-result .card.indicator-critical') ? true : null",
            WAIT,
        )
        .await;
        let open = js(c, "return document.getElementById('token-dialog').open").await;
        assert_eq!(open, json!(false), "no second sign-in");
        screenshot(c, "09-signed-in").await;
    }));
}
