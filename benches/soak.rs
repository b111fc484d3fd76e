//! The traffic driver of `benches/soak.sh` (see benches/soak.md): concurrent clients send a
//! weighted mix of valid and invalid CDS Hooks traffic to a running `cds serve` (with client
//! authentication on) over keep-alive connections, check every answer against the status its
//! kind should get, and sample the server's resident memory (VmRSS) every 10 s.
//!
//!     soak --base http://127.0.0.1:PORT --pid PID --root DIR [--minutes M] [--clients C]
//!          [--warmup SECONDS] [--patients N] [--oversized-keepalive]
//!
//! `--patients N` (default 500): the valid calls rotate through N patients; 0 gives every call
//! a patient of its own (every card a new uuid, as with real evaluation times).
//! `--oversized-keepalive`: the 9 MiB bodies go on the clients' shared keep-alive connections
//! (by default each goes on a connection of its own, its answer read while it is written).
//!
//! `--root` is the repository (the test keys under `tests/fixtures/auth`, the hypertension
//! case under `rulesets/`). The server must trust client A (`https://ehr-a.example.org`,
//! tenant with the hypertension ruleset, keys `ehr-a.jwks.json`) and client B
//! (`https://ehr-b.example.org`, keys `ehr-b.jwks.json`), as the config written by soak.sh
//! does. It prints a table per kind of request, the latency of the valid calls and the memory
//! figures, then one machine-readable line starting with `SOAK `. Exit status 1 when any
//! answer was a 5xx, was not the status its kind should get, or failed to arrive (connection
//! error); 2 on bad arguments or setup.
//!
//! The mix (weights out of 100): valid hypertension patient-view calls 40, feedback on cards
//! received 10, discovery 5, admin GETs with an admin token 5; tokens expired, forged,
//! replayed or for another URL 15 (401), malformed JSON 5 (400), JSON nested too deep 5 (400),
//! prefetch of another patient 5 (400), unknown service 5 (404), a 9 MiB body 5 (413).
//! Before the warm-up, one probe: a 9 MiB body on a keep-alive connection, to see whether the
//! server announces that it closes the connection after its 413.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::blocking::{Body, Client};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

const ISS_A: &str = "https://ehr-a.example.org";
const ISS_B: &str = "https://ehr-b.example.org";
const HT: &str = "/cds-services/hypertension-patient-view";
const HT_FEEDBACK: &str = "/cds-services/hypertension-patient-view/feedback";
const UNKNOWN: &str = "/cds-services/no-such-service";
/// Placeholders in the valid call's text, replaced per call.
const PATIENT_MARK: &str = "soak-patient-mark";
const HOOK_MARK: &str = "soak-hook-instance-mark";
/// Distinct patients the valid calls rotate through, by default. A card's uuid is derived from
/// the ruleset, rule, patient and evaluation time (pinned by the case), so this also bounds the
/// distinct cards the server remembers for feedback.
const PATIENTS: u64 = 500;
/// The oversized body: over the server's default limit of 8 MiB.
const OVERSIZED_BYTES: usize = 9 << 20;
/// Nesting of the too-deep body (the server's default limit is 64).
const DEEP: usize = 200;
/// The pause without traffic before the RSS at start and at end are read: transient buffers
/// (the oversized bodies, up to 8 MiB each while they are read) are freed by then.
const SETTLE: Duration = Duration::from_secs(3);
/// Card uuids a client keeps for its feedback calls.
const KEEP_CARDS: usize = 64;

/// A kind of request, with its weight in the mix and the status it must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Valid,
    Feedback,
    Discovery,
    Admin,
    BadToken,
    Malformed,
    TooDeep,
    OtherPatient,
    UnknownService,
    Oversized,
}

const KINDS: [(Kind, u32); 10] = [
    (Kind::Valid, 40),
    (Kind::Feedback, 10),
    (Kind::Discovery, 5),
    (Kind::Admin, 5),
    (Kind::BadToken, 15),
    (Kind::Malformed, 5),
    (Kind::TooDeep, 5),
    (Kind::OtherPatient, 5),
    (Kind::UnknownService, 5),
    (Kind::Oversized, 5),
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Valid => "valid call",
            Kind::Feedback => "feedback",
            Kind::Discovery => "discovery",
            Kind::Admin => "admin GET",
            Kind::BadToken => "bad token",
            Kind::Malformed => "malformed JSON",
            Kind::TooDeep => "nested too deep",
            Kind::OtherPatient => "other patient",
            Kind::UnknownService => "unknown service",
            Kind::Oversized => "oversized body",
        }
    }

    fn expected(self) -> u16 {
        match self {
            Kind::Valid | Kind::Feedback | Kind::Discovery | Kind::Admin => 200,
            Kind::BadToken => 401,
            Kind::Malformed | Kind::TooDeep | Kind::OtherPatient => 400,
            Kind::UnknownService => 404,
            Kind::Oversized => 413,
        }
    }
}

/// Counts and latencies of one kind.
#[derive(Default)]
struct KindStats {
    requests: u64,
    /// Answers by status code.
    statuses: BTreeMap<u16, u64>,
    /// Answers whose status was not the expected one.
    mismatches: u64,
    /// Requests that got no answer (connection refused, reset, timeout).
    errors: u64,
    /// Client-side latency of each answered request, in microseconds.
    latencies_us: Vec<u32>,
    /// Cards in the answers (valid calls).
    cards: u64,
    /// Oversized bodies the server stopped reading before they were all sent.
    cut: u64,
}

impl KindStats {
    fn class(&self, first_digit: u16) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| **s / 100 == first_digit)
            .map(|(_, n)| n)
            .sum()
    }

    fn merge(&mut self, other: KindStats) {
        self.requests += other.requests;
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.mismatches += other.mismatches;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
        self.cards += other.cards;
        self.cut += other.cut;
    }
}

type Stats = BTreeMap<Kind, KindStats>;

fn merge(into: &mut Stats, from: Stats) {
    for (k, s) in from {
        into.entry(k).or_default().merge(s);
    }
}

/// Everything the clients share: the server, the keys and the prepared bodies.
struct Setup {
    base: String,
    key_a: EncodingKey,
    key_b: EncodingKey,
    /// The valid call's JSON text, with [`PATIENT_MARK`] and [`HOOK_MARK`] to replace.
    valid: String,
    other_patient: String,
    deep: String,
    oversized: &'static [u8],
    /// Send the oversized bodies on the shared keep-alive connection (default: on a
    /// connection of their own, closed after the answer).
    oversized_keepalive: bool,
    /// Distinct patients of the valid calls; 0: a new one on every call.
    patients: u64,
    /// The answers that did not match, a few of each kind (status and the start of the body).
    examples: Mutex<BTreeMap<Kind, Vec<String>>>,
}

/// Command-line options.
struct Options {
    base: String,
    pid: u32,
    root: PathBuf,
    minutes: f64,
    clients: usize,
    warmup: f64,
    oversized_keepalive: bool,
    patients: u64,
}

fn usage() -> String {
    "usage: soak --base http://127.0.0.1:PORT --pid PID --root DIR [--minutes M] [--clients C] \
     [--warmup SECONDS] [--patients N] [--oversized-keepalive]"
        .into()
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut base, mut pid, mut root) = (None, None, None);
    let (mut minutes, mut clients, mut warmup) = (2.0, 8, 10.0);
    let mut oversized_keepalive = false;
    let mut patients = PATIENTS;
    while let Some(a) = args.next() {
        if a == "--bench" {
            continue;
        }
        if a == "--oversized-keepalive" {
            oversized_keepalive = true;
            continue;
        }
        let v = args.next().ok_or_else(usage)?;
        let num = |what: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{what}: not a number: {v}"))
        };
        match a.as_str() {
            "--base" => base = Some(v.trim_end_matches('/').to_string()),
            "--pid" => pid = Some(v.parse().map_err(|_| format!("--pid: {v}"))?),
            "--root" => root = Some(PathBuf::from(&v)),
            "--minutes" => minutes = num("--minutes")?,
            "--clients" => clients = v.parse().map_err(|_| format!("--clients: {v}"))?,
            "--warmup" => warmup = num("--warmup")?,
            "--patients" => patients = v.parse().map_err(|_| format!("--patients: {v}"))?,
            _ => return Err(usage()),
        }
    }
    if !(minutes.is_finite() && minutes > 0.0 && warmup.is_finite() && warmup >= 0.0)
        || clients == 0
    {
        return Err("minutes must be > 0, clients > 0, warmup >= 0".into());
    }
    Ok(Options {
        base: base.ok_or_else(usage)?,
        pid: pid.ok_or_else(usage)?,
        root: root.ok_or_else(usage)?,
        minutes,
        clients,
        warmup,
        oversized_keepalive,
        patients,
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift64*), one per client.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn pick(rng: &mut Rng) -> Kind {
    let total: u32 = KINDS.iter().map(|(_, w)| w).sum();
    let mut r = rng.below(u64::from(total)) as u32;
    for (k, w) in KINDS {
        if r < w {
            return k;
        }
        r -= w;
    }
    Kind::Valid
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The shipped hypertension case "crisis-systolic-181" as a patient-view call (with prefetch),
/// its patient id replaced by [`PATIENT_MARK`] and its hookInstance by [`HOOK_MARK`].
fn valid_call(root: &Path) -> Result<Value, String> {
    let path = root.join("rulesets/hypertension/tests/crisis-systolic-181.json");
    let case: Value =
        serde_json::from_slice(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = case["resources"]
        .to_string()
        .replace("\"p1\"", &format!("\"{PATIENT_MARK}\""))
        .replace("Patient/p1", &format!("Patient/{PATIENT_MARK}"));
    let resources: Vec<Value> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let patient = resources
        .iter()
        .find(|r| r["resourceType"] == "Patient")
        .cloned()
        .ok_or("the case has no Patient")?;
    let observations: Vec<Value> = resources
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .map(|r| json!({"resource": r}))
        .collect();
    Ok(json!({
        "hook": "patient-view",
        "hookInstance": HOOK_MARK,
        "context": {"userId": "Practitioner/soak-user", "patientId": PATIENT_MARK},
        "prefetch": {
            "patient": patient,
            "observations": {"resourceType": "Bundle", "type": "searchset", "entry": observations},
            "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "medications": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        },
        "extension": {"cds-evaluation-time": case["at"]},
    }))
}

fn setup(o: &Options) -> Result<Setup, String> {
    let keys = o.root.join("tests/fixtures/auth");
    let key_a = EncodingKey::from_ec_pem(&read(&keys.join("ehr-a.es384.pem"))?)
        .map_err(|e| format!("ehr-a.es384.pem: {e}"))?;
    let key_b = EncodingKey::from_rsa_pem(&read(&keys.join("ehr-b.rs384.pem"))?)
        .map_err(|e| format!("ehr-b.rs384.pem: {e}"))?;
    let call = valid_call(&o.root)?;
    let mut other = call.clone();
    other["prefetch"]["observations"]["entry"][0]["resource"]["subject"]["reference"] =
        json!("Patient/someone-else");
    // Written by hand: serde_json would not parse (nor build from text) anything this deep.
    let valid = call.to_string();
    let deep = format!(
        "{{\"x\":{}{},{}",
        "[".repeat(DEEP),
        "]".repeat(DEEP),
        valid.get(1..).unwrap_or_default()
    );
    let pad = OVERSIZED_BYTES.saturating_sub(40);
    let oversized = format!(
        "{{\"hook\":\"patient-view\",\"pad\":\"{}\"}}",
        "x".repeat(pad)
    );
    Ok(Setup {
        base: o.base.clone(),
        key_a,
        key_b,
        valid,
        other_patient: other.to_string(),
        deep,
        oversized: Box::leak(oversized.into_bytes().into_boxed_slice()),
        oversized_keepalive: o.oversized_keepalive,
        patients: o.patients,
        examples: Mutex::new(BTreeMap::new()),
    })
}

/// One client: its own connection pool (keep-alive), generator and the cards it received.
struct ClientState<'a> {
    setup: &'a Setup,
    id: usize,
    http: Client,
    rng: Rng,
    serial: u64,
    cards: Vec<String>,
    /// The last token that was accepted for the hypertension service (to replay).
    used_token: Option<String>,
}

/// What to send.
struct Call {
    /// Send on a connection of its own, reading the answer while writing ([`send_oversized`]).
    own_connection: bool,
    post: bool,
    path: String,
    token: Option<String>,
    body: Option<Body>,
}

impl ClientState<'_> {
    fn token(
        &mut self,
        b: bool,
        path: &str,
        admin: bool,
        tweak: impl FnOnce(&mut Value),
    ) -> String {
        self.serial += 1;
        let t = now();
        let mut claims = json!({
            "iss": if b { ISS_B } else { ISS_A },
            "aud": format!("{}{path}", self.setup.base),
            "iat": t, "exp": t + 60,
            "jti": format!("soak-{}-{}-{}", std::process::id(), self.id, self.serial),
            "sub": "soak-client",
        });
        if admin {
            claims["roles"] = json!(["cds-admin"]);
        }
        tweak(&mut claims);
        let (alg, kid, key) = if b {
            (Algorithm::RS384, "ehr-b-1", &self.setup.key_b)
        } else {
            (Algorithm::ES384, "ehr-a-1", &self.setup.key_a)
        };
        let mut h = Header::new(alg);
        h.kid = Some(kid.to_string());
        // Signing our own fixed claims with a fixture key cannot fail; an empty token would
        // only be counted as a mismatch (401) anyway.
        jsonwebtoken::encode(&h, &claims, key).unwrap_or_default()
    }

    fn valid_body(&mut self) -> Body {
        let patient = match self.setup.patients {
            0 => format!("soak-pt-{}-{}", self.id, self.serial),
            n => format!("soak-pt-{}", self.rng.below(n)),
        };
        let hook = format!("soak-{}-{}-{}", std::process::id(), self.id, self.serial);
        Body::from(
            self.setup
                .valid
                .replace(PATIENT_MARK, &patient)
                .replace(HOOK_MARK, &hook),
        )
    }

    fn build(&mut self, kind: Kind) -> Call {
        let post = |path: &str, token: String, body: Body| Call {
            own_connection: false,
            post: true,
            path: path.to_string(),
            token: Some(token),
            body: Some(body),
        };
        match kind {
            Kind::Valid => {
                let t = self.token(false, HT, false, |_| {});
                let b = self.valid_body();
                post(HT, t, b)
            }
            Kind::Feedback => {
                let i = self.rng.below(self.cards.len().max(1) as u64) as usize;
                let card = self.cards.get(i).cloned().unwrap_or_default();
                let outcome = if self.rng.below(2) == 0 {
                    "accepted"
                } else {
                    "overridden"
                };
                let body = json!({"feedback": [{"card": card, "outcome": outcome,
                    "outcomeTimestamp": "2024-03-01T10:05:00Z"}]});
                let t = self.token(false, HT_FEEDBACK, false, |_| {});
                post(HT_FEEDBACK, t, Body::from(body.to_string()))
            }
            Kind::Discovery => {
                let b = self.rng.below(2) == 0;
                Call {
                    own_connection: false,
                    post: false,
                    path: "/cds-services".into(),
                    token: Some(self.token(b, "/cds-services", false, |_| {})),
                    body: None,
                }
            }
            Kind::Admin => {
                let b = self.rng.below(2) == 0;
                let (path, aud) = match self.rng.below(4) {
                    0 => ("/admin/rulesets", "/admin/rulesets"),
                    1 => ("/admin/feedback", "/admin/feedback"),
                    2 => ("/admin/audit?limit=20", "/admin/audit"),
                    _ => ("/metrics", "/metrics"),
                };
                Call {
                    own_connection: false,
                    post: false,
                    path: path.into(),
                    token: Some(self.token(b, aud, true, |_| {})),
                    body: None,
                }
            }
            Kind::BadToken => {
                let t = match self.rng.below(4) {
                    0 => self.token(false, HT, false, |c| {
                        c["iat"] = json!(now() - 400);
                        c["exp"] = json!(now() - 100);
                    }),
                    1 => {
                        let t = self.token(false, HT, false, |_| {});
                        match t.rsplit_once('.') {
                            Some((rest, sig)) => {
                                let mut s = sig.as_bytes().to_vec();
                                if let Some(c) = s.get_mut(5) {
                                    *c = if *c == b'A' { b'B' } else { b'A' };
                                }
                                format!("{rest}.{}", String::from_utf8_lossy(&s))
                            }
                            None => t,
                        }
                    }
                    2 => match self.used_token.clone() {
                        Some(t) => t,
                        // Nothing accepted yet: a token for another URL instead.
                        None => self.token(false, UNKNOWN, false, |_| {}),
                    },
                    _ => self.token(false, HT, false, |c| {
                        c["aud"] = json!(format!("https://elsewhere.example{HT}"));
                    }),
                };
                let b = self.valid_body();
                post(HT, t, b)
            }
            Kind::Malformed => {
                let t = self.token(false, HT, false, |_| {});
                let body = if self.rng.below(2) == 0 {
                    b"{\"hook\": \"patient-view\",".to_vec()
                } else {
                    let v = self.setup.valid.as_bytes();
                    v[..v.len() / 2].to_vec()
                };
                post(HT, t, Body::from(body))
            }
            Kind::TooDeep => {
                let t = self.token(false, HT, false, |_| {});
                post(HT, t, Body::from(self.setup.deep.clone()))
            }
            Kind::OtherPatient => {
                let t = self.token(false, HT, false, |_| {});
                post(HT, t, Body::from(self.setup.other_patient.clone()))
            }
            Kind::UnknownService => {
                let t = self.token(false, UNKNOWN, false, |_| {});
                let b = self.valid_body();
                post(UNKNOWN, t, b)
            }
            Kind::Oversized => {
                let t = self.token(false, HT, false, |_| {});
                let mut c = post(HT, t, Body::from(self.setup.oversized));
                c.own_connection = !self.setup.oversized_keepalive;
                c
            }
        }
    }

    /// Sends one request of `kind` and records the answer in `stats`.
    fn one(&mut self, stats: &mut Stats) {
        let mut kind = pick(&mut self.rng);
        if kind == Kind::Feedback && self.cards.is_empty() {
            kind = Kind::Valid;
        }
        let call = self.build(kind);
        let token = call.token.clone();
        let url = format!("{}{}", self.setup.base, call.path);
        let mut req = if call.post {
            self.http
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
        } else {
            self.http.get(&url)
        };
        if let Some(t) = &call.token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(b) = call.body {
            req = req.body(b);
        }
        let s = stats.entry(kind).or_default();
        s.requests += 1;
        let started = Instant::now();
        let answer = if call.own_connection {
            let token = call.token.as_deref().unwrap_or_default();
            send_oversized(self.setup, token, false).map(|o| {
                if o.cut {
                    s.cut += 1;
                }
                (o.status, Default::default())
            })
        } else {
            req.send()
                .and_then(|r| {
                    let status = r.status().as_u16();
                    r.bytes().map(|b| (status, b))
                })
                .map_err(|e| {
                    let mut why = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        why.push_str(&format!(": {s}"));
                        source = s.source();
                    }
                    why
                })
        };
        let elapsed = started.elapsed();
        let (status, body) = match answer {
            Ok(a) => a,
            Err(why) => {
                s.errors += 1;
                self.example(kind, format!("no answer: {why}"));
                return;
            }
        };
        s.latencies_us
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        *s.statuses.entry(status).or_default() += 1;
        if status != kind.expected() {
            s.mismatches += 1;
            let start = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            self.example(kind, format!("{status}: {start}"));
            return;
        }
        if kind == Kind::Valid {
            self.used_token = token;
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                for c in v["cards"].as_array().into_iter().flatten() {
                    s.cards += 1;
                    if let Some(u) = c["uuid"].as_str() {
                        if self.cards.len() >= KEEP_CARDS {
                            let i = self.rng.below(KEEP_CARDS as u64) as usize;
                            self.cards[i] = u.to_string();
                        } else {
                            self.cards.push(u.to_string());
                        }
                    }
                }
            }
        }
    }

    fn example(&self, kind: Kind, text: String) {
        if let Ok(mut m) = self.setup.examples.lock() {
            let list = m.entry(kind).or_default();
            if list.len() < 3 {
                list.push(text);
            }
        }
    }
}

/// How the server answered an oversized body sent by [`send_oversized`].
struct Oversized {
    status: u16,
    /// The answer carried `Connection: close`.
    announced_close: bool,
    /// After the answer the server closed the connection (checked only when asked).
    closed: Option<bool>,
    /// The server stopped reading before the whole body was sent (write failed).
    cut: bool,
}

/// Sends the oversized body as one POST on a new connection and reads the answer while the
/// body is still being written (as a careful client would: the server answers 413 before it has
/// read everything, and closes). With `probe`, the request does not ask for the connection to
/// be closed and, after the answer, waits up to 2 s to see whether the server closed it.
fn send_oversized(setup: &Setup, token: &str, probe: bool) -> Result<Oversized, String> {
    use std::io::{Read, Write};
    let addr = setup.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).map_err(|e| format!("connect: {e}"))?;
    let head = format!(
        "POST {HT} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
        setup.oversized.len(),
        if probe { "" } else { "Connection: close\r\n" }
    );
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let body = setup.oversized;
    let sender = std::thread::spawn(move || {
        writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(body))
            .is_err()
    });
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let answer = loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) => break Err(format!("read: {e}")),
        };
        if n == 0 {
            break Err("the connection closed before an answer".into());
        }
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let status = text
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let header = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            };
            let announced = header("connection:").is_some_and(|v| v.contains("close"));
            let length: usize = header("content-length:")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            break Ok((status, announced, length, end + 4));
        }
    };
    let mut closed = None;
    if let Ok((_, _, length, start)) = &answer {
        while got.len() < start + length {
            match stream.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        if probe {
            // Anything more within 2 s: end of stream (closed) or nothing (kept open).
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            closed = Some(match stream.read(&mut buf) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            });
        }
    }
    // Unblocks the writer if the server neither reads nor closes.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let cut = sender.join().unwrap_or(true);
    let (status, announced_close, _, _) = answer?;
    Ok(Oversized {
        status,
        announced_close,
        closed,
        cut,
    })
}

/// The server's resident memory (VmRSS) in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[i.clamp(1, sorted.len()) - 1]) / 1000.0
}

/// The least-squares slope of RSS over time, in MiB per minute, of the samples taken in the
/// second half of the run (when caches that fill by design have filled); `None` with fewer
/// than 3 such samples.
fn trend(samples: &[(f64, u64)], seconds: f64) -> Option<(f64, usize)> {
    let late: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(t, _)| *t >= seconds / 2.0)
        .map(|(t, r)| (*t / 60.0, mib(*r)))
        .collect();
    if late.len() < 3 {
        return None;
    }
    let n = late.len() as f64;
    let (mx, my) = (
        late.iter().map(|p| p.0).sum::<f64>() / n,
        late.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = late.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = late.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| (sxy / sxx, late.len()))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    let setup = match setup(&o) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    if rss_kib(o.pid).is_none() {
        eprintln!(
            "soak: no process {} (cannot read /proc/{}/status)",
            o.pid, o.pid
        );
        return ExitCode::from(2);
    }
    let t = now();
    let claims = json!({"iss": ISS_A, "aud": format!("{}{HT}", setup.base), "iat": t,
        "exp": t + 60, "jti": format!("soak-{}-probe", std::process::id())});
    let mut h = Header::new(Algorithm::ES384);
    h.kid = Some("ehr-a-1".into());
    let probe = jsonwebtoken::encode(&h, &claims, &setup.key_a)
        .map_err(|e| e.to_string())
        .and_then(|token| send_oversized(&setup, &token, true))
        .map(|o| (o.status, o.announced_close, o.closed.unwrap_or(false)));
    let warmup = Duration::from_secs_f64(o.warmup);
    let soak = Duration::from_secs_f64(o.minutes * 60.0);
    eprintln!(
        "soak: {} client(s), warm-up {:.0} s, then {:.1} min against {} (server pid {})",
        o.clients, o.warmup, o.minutes, o.base, o.pid
    );

    // Clients meet at `ready` after the warm-up; the RSS at start is read between `ready`
    // and `go`, after [`SETTLE`].
    let ready = Barrier::new(o.clients + 1);
    let go = Barrier::new(o.clients + 1);
    let done = std::sync::atomic::AtomicBool::new(false);
    let samples: Mutex<Vec<(f64, u64)>> = Mutex::new(Vec::new());
    let (warm, main_stats, seconds, rss_start, rss_end) = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for id in 0..o.clients {
            let (setup, ready, go) = (&setup, &ready, &go);
            handles.push(scope.spawn(move || {
                let http = Client::builder()
                    .timeout(Duration::from_secs(60))
                    .pool_max_idle_per_host(1)
                    .build();
                let mut c = ClientState {
                    setup,
                    id,
                    http: match http {
                        Ok(h) => h,
                        Err(_) => Client::new(),
                    },
                    rng: Rng(0x9e37_79b9_7f4a_7c15 ^ ((id as u64 + 1) * 0x1000_0000_01b3)),
                    serial: 0,
                    cards: Vec::new(),
                    used_token: None,
                };
                let (mut warm, mut main) = (Stats::new(), Stats::new());
                let until = Instant::now() + warmup;
                while Instant::now() < until {
                    c.one(&mut warm);
                }
                ready.wait();
                go.wait();
                let until = Instant::now() + soak;
                while Instant::now() < until {
                    c.one(&mut main);
                }
                (warm, main)
            }));
        }
        ready.wait();
        std::thread::sleep(SETTLE);
        let rss_start = rss_kib(o.pid).unwrap_or(0);
        let started = Instant::now();
        go.wait();
        // RSS every 10 s while the clients run.
        let (done, samples) = (&done, &samples);
        let sampler = scope.spawn(move || {
            let mut next = Duration::from_secs(10);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if started.elapsed() >= next {
                    if let (Some(r), Ok(mut s)) = (rss_kib(o.pid), samples.lock()) {
                        s.push((started.elapsed().as_secs_f64(), r));
                    }
                    next += Duration::from_secs(10);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let (mut warm, mut main) = (Stats::new(), Stats::new());
        for h in handles {
            if let Ok((w, m)) = h.join() {
                merge(&mut warm, w);
                merge(&mut main, m);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        std::thread::sleep(SETTLE);
        let rss_end = rss_kib(o.pid).unwrap_or(0);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = sampler.join();
        (warm, main, seconds, rss_start, rss_end)
    });
    report(
        &o, &setup, &probe, warm, main_stats, seconds, rss_start, rss_end, &samples,
    )
}

#[allow(clippy::too_many_arguments)]
fn report(
    o: &Options,
    setup: &Setup,
    probe: &Result<(u16, bool, bool), String>,
    warm: Stats,
    mut stats: Stats,
    seconds: f64,
    rss_start: u64,
    rss_end: u64,
    samples: &Mutex<Vec<(f64, u64)>>,
) -> ExitCode {
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    println!(
        "soak: {:.1} min ({:.0} s) of mixed traffic, {} clients, after a {:.0} s warm-up; {}; \
         server pid {}",
        o.minutes,
        seconds,
        o.clients,
        o.warmup,
        match o.patients {
            0 => "a new patient on every valid call".to_string(),
            n => format!("valid calls for {n} patients"),
        },
        o.pid
    );
    println!(
        "{:<16} {:>6} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>10} {:>7} {:>7} {:>8}",
        "kind",
        "expect",
        "requests",
        "2xx",
        "4xx",
        "5xx",
        "errors",
        "other",
        "mismatches",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    let mut total = KindStats::default();
    for (kind, _) in KINDS {
        let s = stats.entry(kind).or_default();
        s.latencies_us.sort_unstable();
        let other = s.statuses.values().sum::<u64>() - s.class(2) - s.class(4) - s.class(5);
        println!(
            "{:<16} {:>6} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>10} {:>7.2} {:>7.2} {:>8.2}",
            kind.name(),
            kind.expected(),
            s.requests,
            s.class(2),
            s.class(4),
            s.class(5),
            s.errors,
            other,
            s.mismatches,
            percentile(&s.latencies_us, 50.0),
            percentile(&s.latencies_us, 99.0),
            percentile(&s.latencies_us, 100.0),
        );
    }
    let cut = stats.get(&Kind::Oversized).map_or(0, |s| s.cut);
    let valid = stats.remove(&Kind::Valid).unwrap_or_default();
    let (v50, v99, vmax) = (
        percentile(&valid.latencies_us, 50.0),
        percentile(&valid.latencies_us, 99.0),
        percentile(&valid.latencies_us, 100.0),
    );
    let valid_cards = valid.cards;
    total.merge(valid);
    for (_, s) in stats {
        total.merge(s);
    }
    let (c2, c4, c5) = (total.class(2), total.class(4), total.class(5));
    let rps = total.requests as f64 / seconds.max(1e-9);
    println!(
        "{:<16} {:>6} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>10}",
        "total",
        "",
        total.requests,
        c2,
        c4,
        c5,
        total.errors,
        total.statuses.values().sum::<u64>() - c2 - c4 - c5,
        total.mismatches
    );
    let mut warm_total = KindStats::default();
    for (_, s) in warm {
        warm_total.merge(s);
    }
    let warm_bad = warm_total.class(5) + warm_total.mismatches + warm_total.errors;
    println!(
        "requests: {} in {:.0} s = {:.1} req/s; 5xx {}, mismatches {}, connection errors {} \
         (warm-up: {} requests, {} bad)",
        total.requests,
        seconds,
        rps,
        c5,
        total.mismatches,
        total.errors,
        warm_total.requests,
        warm_bad
    );
    println!(
        "valid calls, client-side latency: p50 {v50:.2} ms, p99 {v99:.2} ms, max {vmax:.2} ms"
    );
    let rss_max = samples
        .iter()
        .map(|(_, r)| *r)
        .chain([rss_start, rss_end])
        .max()
        .unwrap_or(0);
    let ratio = rss_end as f64 / (rss_start.max(1)) as f64;
    println!(
        "server RSS: start {:.1} MiB (after the warm-up), end {:.1} MiB (both {} s after the \
         traffic stopped), max {:.1} MiB; end/start {:.3}",
        mib(rss_start),
        mib(rss_end),
        SETTLE.as_secs(),
        mib(rss_max),
        ratio
    );
    let series: Vec<String> = samples
        .iter()
        .map(|(t, r)| format!("{:.0}s={:.1}", t, mib(*r)))
        .collect();
    println!("RSS every 10 s (MiB): {}", series.join(" "));
    let slope = trend(&samples, seconds);
    match slope {
        Some((m, n)) => println!(
            "RSS trend over the second half of the run: {m:+.2} MiB/min (least squares, {n} samples)"
        ),
        None => println!("RSS trend: too few samples (runs shorter than a minute have none)"),
    }
    let (how, probe_bad) = match probe {
        Ok((413, _, false)) => ("413, connection kept open".to_string(), false),
        Ok((413, true, true)) => ("413 with Connection: close, then closed".to_string(), false),
        Ok((413, false, true)) => (
            "413 WITHOUT Connection: close, then the server closed the connection (a keep-alive \
             client's next request on it fails)"
                .to_string(),
            true,
        ),
        Ok((status, _, _)) => (format!("{status}, not 413"), true),
        Err(e) => (format!("probe failed: {e}"), true),
    };
    println!(
        "{}oversized body on a keep-alive connection (probe before the warm-up): {how}; the \
         soak's oversized calls {}",
        if probe_bad { "WARNING: " } else { "" },
        if o.oversized_keepalive {
            "share the keep-alive connection (--oversized-keepalive)"
        } else {
            "go on a connection of their own each, the answer read while the body is written"
        }
    );
    if !o.oversized_keepalive {
        println!(
            "oversized bodies: the server stopped reading {cut} of them before they were all \
             sent (the answer was read all the same)"
        );
    }
    println!(
        "cards received in valid calls: {valid_cards} (each one is remembered by the server for \
         feedback)"
    );
    if let Ok(m) = setup.examples.lock() {
        for (kind, list) in m.iter() {
            for e in list {
                println!("unexpected answer, {}: {e}", kind.name());
            }
        }
    }
    println!(
        "SOAK requests={} seconds={:.1} rps={:.1} s2xx={} s4xx={} s5xx={} errors={} mismatches={} \
         warmup_bad={} valid_p50_ms={:.2} valid_p99_ms={:.2} valid_max_ms={:.2} rss_start_kib={} \
         rss_end_kib={} rss_max_kib={} rss_ratio={:.3} rss_trend_mib_per_min={} cards={} oversized_probe_ok={}",
        total.requests,
        seconds,
        rps,
        c2,
        c4,
        c5,
        total.errors,
        total.mismatches,
        warm_bad,
        v50,
        v99,
        vmax,
        rss_start,
        rss_end,
        rss_max,
        ratio,
        slope.map_or("none".to_string(), |(m, _)| format!("{m:.2}")),
        valid_cards,
        !probe_bad
    );
    if c5 + total.mismatches + total.errors + warm_bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
