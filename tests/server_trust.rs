//! Tests that try to break the server's trust: client tokens (forged, expired, replayed, wrong
//! audience, `alg: none`, HS256 with the public key as secret, `jku` to a host not allowed,
//! another client's key), tenants asking for each other's services, hostile bodies, slow
//! clients, load, and what is left behind (logs, metrics, the audit store) — run against the
//! real `cds serve` binary on loopback. Every answer must be the right 4xx or 503: never a 500,
//! never a crash.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};
use support::server::{root, ruleset_case, Server};

const PATIENT: &str = "pt-TRUST-7731";
const USER: &str = "Practitioner/trust-doc-42";
const NAME: &str = "Zebulon Quixotic";
const SYSTOLIC: &str = "181.3777";
const ISS_A: &str = "https://ehr-a.example.org";
const ISS_B: &str = "https://ehr-b.example.org";

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/auth").join(name)
}

/// A tiny HTTP server for JWKS documents (the fixtures folder), counting requests.
struct Jwks {
    base: String,
    hits: Arc<AtomicUsize>,
}

fn jwks_server() -> Jwks {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            h.fetch_add(1, Ordering::SeqCst);
            let file = fixture(path.trim_start_matches('/'));
            let (status, body) = match std::fs::read(&file) {
                Ok(b) if path.ends_with(".jwks.json") => ("200 OK", b),
                _ => ("404 Not Found", b"{}".to_vec()),
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    Jwks { base, hits }
}

/// A configuration with two tenants: `north` (client A, keys in a file, one `jku` allowed)
/// and `south` (client B, keys at a URL).
fn config(dir: &Path, jwks: &Jwks, extra: &str) -> PathBuf {
    let text = format!(
        r#"
[auth]
clock_skew_seconds = 30
max_token_lifetime_seconds = 300
jwks_refresh_min_seconds = 1

[[auth.clients]]
iss = "{ISS_A}"
tenant = "north"
jwks_file = "{a}"
jku_allow = ["{base}/ehr-a-jku.jwks.json"]

[[auth.clients]]
iss = "{ISS_B}"
tenant = "south"
jwks_url = "{base}/ehr-b.jwks.json"

[[tenants]]
id = "north"
rulesets = ["hypertension", "potassium", "tachycardia"]

[[tenants]]
id = "south"
rulesets = ["news2"]
{extra}
"#,
        a = fixture("ehr-a.jwks.json").display(),
        base = jwks.base,
    );
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("cds.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn test_dir(name: &str) -> PathBuf {
    let d = root().join("target/test-logs").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// What a test token is made of; `Token::a(aud)` is a valid token of client A.
#[derive(Clone)]
struct Token {
    alg: Algorithm,
    kid: Option<&'static str>,
    jku: Option<String>,
    key: EncodingKey,
    claims: Value,
}

static JTI: AtomicUsize = AtomicUsize::new(0);

fn jti() -> String {
    format!(
        "jti-{}-{}",
        std::process::id(),
        JTI.fetch_add(1, Ordering::SeqCst)
    )
}

impl Token {
    fn a(aud: &str) -> Token {
        Token {
            alg: Algorithm::ES384,
            kid: Some("ehr-a-1"),
            jku: None,
            key: EncodingKey::from_ec_pem(&std::fs::read(fixture("ehr-a.es384.pem")).unwrap())
                .unwrap(),
            claims: json!({"iss": ISS_A, "aud": aud, "iat": now(), "exp": now() + 120,
                "jti": jti(), "sub": "ehr-a-system", "tenant": "north"}),
        }
    }

    fn b(aud: &str) -> Token {
        Token {
            alg: Algorithm::RS384,
            kid: Some("ehr-b-1"),
            jku: None,
            key: EncodingKey::from_rsa_pem(&std::fs::read(fixture("ehr-b.rs384.pem")).unwrap())
                .unwrap(),
            claims: json!({"iss": ISS_B, "aud": aud, "iat": now(), "exp": now() + 120,
                "jti": jti()}),
        }
    }

    fn admin(mut self) -> Token {
        self.claims["roles"] = json!(["cds-admin"]);
        self
    }

    fn with(mut self, claim: &str, v: Value) -> Token {
        if v.is_null() {
            self.claims.as_object_mut().unwrap().remove(claim);
        } else {
            self.claims[claim] = v;
        }
        self
    }

    fn sign(&self) -> String {
        let mut h = Header::new(self.alg);
        h.kid = self.kid.map(str::to_string);
        h.jku = self.jku.clone();
        jsonwebtoken::encode(&h, &self.claims, &self.key).unwrap()
    }
}

/// Base64url without padding.
fn b64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A token with `alg: none` and no signature.
fn unsigned(claims: &Value) -> String {
    let header = b64(br#"{"alg":"none","typ":"JWT","kid":"ehr-a-1"}"#);
    let body = b64(claims.to_string().as_bytes());
    format!("{header}.{body}.")
}

/// HS256 signed with client A's public JWKS text as the secret (the classic key confusion).
fn hs256_with_public_key(claims: &Value) -> String {
    let secret = std::fs::read(fixture("ehr-a.jwks.json")).unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("ehr-a-1".into());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(&secret)).unwrap()
}

/// The shipped hypertension case "crisis-systolic-181" for our patient, as a patient-view
/// call with prefetch, its identifiers and one value made recognisable.
fn hypertension_call() -> Value {
    let case = ruleset_case("hypertension", "crisis-systolic-181.json");
    let text = case["resources"]
        .to_string()
        .replace("\"p1\"", &format!("\"{PATIENT}\""))
        .replace("Patient/p1", &format!("Patient/{PATIENT}"));
    let mut resources: Vec<Value> = serde_json::from_str(&text).unwrap();
    for r in &mut resources {
        if r["resourceType"] == "Patient" {
            r["name"] = json!([{"text": NAME}]);
        }
        if r["code"]["coding"][0]["code"] == "8480-6" && r["valueQuantity"]["value"] == 181 {
            r["valueQuantity"]["value"] = json!(181.3777);
        }
    }
    let patient = resources
        .iter()
        .find(|r| r["resourceType"] == "Patient")
        .unwrap()
        .clone();
    let observations: Vec<Value> = resources
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .map(|r| json!({"resource": r}))
        .collect();
    json!({
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": USER, "patientId": PATIENT},
        "prefetch": {
            "patient": patient,
            "observations": {"resourceType": "Bundle", "type": "searchset", "entry": observations},
            "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": []},
            "medications": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        },
        "extension": {"cds-evaluation-time": case["at"]},
    })
}

const HT: &str = "/cds-services/hypertension-patient-view";

fn json_body(v: &Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", serde_json::to_vec(v).unwrap()))
}

/// Sends a call with a token for the exact URL; returns status, headers and body.
fn call(
    server: &Server,
    token: &str,
    path: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    server.send(Method::POST, path, Some(token), json_body(body))
}

fn aud(server: &Server, path: &str) -> String {
    format!("{}{path}", server.base)
}

/// A call by client A (tenant north) with a fresh token for the exact URL; the status.
fn call_a(server: &Server, path: &str, body: &Value) -> u16 {
    call(server, &Token::a(&aud(server, path)).sign(), path, body).0
}

fn assert_bare_401(answer: &(u16, reqwest::header::HeaderMap, String), what: &str) {
    assert_eq!(answer.0, 401, "{what}: {}", answer.2);
    assert!(
        answer.2.is_empty(),
        "{what}: a 401 has no body: {}",
        answer.2
    );
    assert_eq!(
        answer
            .1
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer"),
        "{what}"
    );
}

#[test]
fn tokens_are_checked_as_cds_hooks_2_0_1_says() {
    let jwks = jwks_server();
    let dir = test_dir("trust-tokens");
    let cfg = config(&dir, &jwks, "");
    let server = Server::start("trust-tokens", &["--config", cfg.to_str().unwrap()]);
    let body = hypertension_call();
    let ht = aud(&server, HT);

    // Valid: ES384 (keys from a file) and... client B has no hypertension (tenant south).
    let good = Token::a(&ht).sign();
    let ok = call(&server, &good, HT, &body);
    assert_eq!(ok.0, 200, "{}", ok.2);
    assert!(ok.2.contains("\"cards\""), "{}", ok.2);
    // Replayed jti.
    assert_bare_401(&call(&server, &good, HT, &body), "replayed token");

    let cases: Vec<(&str, String)> = vec![
        ("no token", String::new()),
        ("garbage", "not.a.jwt".into()),
        (
            "expired",
            Token::a(&ht)
                .with("iat", json!(now() - 400))
                .with("exp", json!(now() - 100))
                .sign(),
        ),
        (
            "issued in the future",
            Token::a(&ht)
                .with("iat", json!(now() + 600))
                .with("exp", json!(now() + 700))
                .sign(),
        ),
        (
            "lifetime over the maximum",
            Token::a(&ht).with("exp", json!(now() + 3600)).sign(),
        ),
        (
            "wrong audience",
            Token::a(&format!("{}/cds-services/other", server.base)).sign(),
        ),
        (
            "audience of another server",
            Token::a(&format!("https://elsewhere.example{HT}")).sign(),
        ),
        ("no jti", Token::a(&ht).with("jti", Value::Null).sign()),
        ("no iat", Token::a(&ht).with("iat", Value::Null).sign()),
        (
            "no kid",
            Token {
                kid: None,
                ..Token::a(&ht)
            }
            .sign(),
        ),
        (
            "unknown issuer",
            Token::a(&ht)
                .with("iss", json!("https://intruder.example"))
                .sign(),
        ),
        ("alg none", unsigned(&Token::a(&ht).claims)),
        (
            "HS256 with the public key as secret",
            hs256_with_public_key(&Token::a(&ht).claims),
        ),
        (
            "client A's claims signed with client B's key",
            Token {
                claims: Token::a(&ht).claims,
                ..Token::b(&ht)
            }
            .sign(),
        ),
        (
            "jku to a host not allowed",
            Token {
                jku: Some("http://127.0.0.1:9/keys.jwks.json".into()),
                ..Token::a(&ht)
            }
            .sign(),
        ),
        ("forged signature", {
            let t = Token::a(&ht).sign();
            let (rest, sig) = t.rsplit_once('.').unwrap();
            let mut s: Vec<u8> = sig.bytes().collect();
            s[5] = if s[5] == b'A' { b'B' } else { b'A' };
            format!("{rest}.{}", String::from_utf8(s).unwrap())
        }),
        ("claims changed after signing", {
            let t = Token::a(&ht).sign();
            let parts: Vec<&str> = t.split('.').collect();
            let claims = Token::a(&ht).with("roles", json!(["cds-admin"])).claims;
            format!(
                "{}.{}.{}",
                parts[0],
                b64(claims.to_string().as_bytes()),
                parts[2]
            )
        }),
    ];
    for (what, token) in &cases {
        let answer = if token.is_empty() {
            server.send(Method::POST, HT, None, json_body(&body))
        } else {
            call(&server, token, HT, &body)
        };
        assert_bare_401(&answer, what);
    }

    // jku on client A's allow-list: its keys are fetched from there.
    let jku_key =
        EncodingKey::from_ec_pem(&std::fs::read(fixture("ehr-a-jku.es384.pem")).unwrap()).unwrap();
    let via_jku = Token {
        kid: Some("ehr-a-jku"),
        jku: Some(format!("{}/ehr-a-jku.jwks.json", jwks.base)),
        key: jku_key,
        ..Token::a(&ht)
    };
    let r = call(&server, &via_jku.sign(), HT, &body);
    assert_eq!(r.0, 200, "{}", r.2);

    // RS384 from a JWKS URL: client B (tenant south) calling its own service.
    let news2 = "/cds-services/news2-patient-view";
    let b = Token::b(&format!("{}{news2}", server.base)).sign();
    let r = server.send(
        Method::GET,
        "/cds-services",
        Some(&Token::b(&format!("{}/cds-services", server.base)).sign()),
        None,
    );
    assert_eq!(r.0, 200, "{}", r.2);
    let r = call(
        &server,
        &b,
        news2,
        &json!({"hook": "patient-view", "hookInstance": "x1",
        "context": {"patientId": PATIENT, "userId": USER}, "prefetch": {}}),
    );
    assert_ne!(r.0, 401, "a valid RS384 token: {}", r.2);
    assert!(
        jwks.hits.load(Ordering::SeqCst) >= 1,
        "keys were fetched from the URL"
    );

    // Unknown kid from a URL source: refetched, still unknown, refused.
    let unknown_kid = Token {
        kid: Some("ehr-b-9"),
        ..Token::b(&format!("{}{news2}", server.base))
    };
    assert_bare_401(
        &call(&server, &unknown_kid.sign(), news2, &json!({})),
        "unknown kid",
    );

    // Refusals are counted by reason, and the log names reasons, never tokens.
    let metrics = server.send(
        Method::GET,
        "/metrics",
        Some(&Token::a(&aud(&server, "/metrics")).admin().sign()),
        None,
    );
    assert_eq!(metrics.0, 200);
    for reason in [
        "replayed",
        "expired",
        "audience",
        "algorithm",
        "jku-not-allowed",
    ] {
        assert!(
            metrics
                .2
                .contains(&format!("cds_auth_denied_total{{reason=\"{reason}\"}}")),
            "{reason}: {}",
            metrics.2
        );
    }
    drop(server);
    let log = Server::log("trust-tokens");
    assert!(log.contains("authentication refused"), "{log}");
    assert!(!log.contains(&good), "a token was logged");
    assert!(!log.contains("eyJ"), "something like a token was logged");
}

#[test]
fn tenants_see_only_their_own() {
    let jwks = jwks_server();
    let dir = test_dir("trust-tenants");
    let cfg = config(&dir, &jwks, "");
    let server = Server::start("trust-tenants", &["--config", cfg.to_str().unwrap()]);
    let get = |token: Token, path: &str| {
        let (s, _, body) = server.send(Method::GET, path, Some(&token.sign()), None);
        (
            s,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body)),
        )
    };
    // Discovery.
    let (s, north) = get(Token::a(&aud(&server, "/cds-services")), "/cds-services");
    assert_eq!(s, 200);
    let ids: Vec<&str> = north["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"hypertension-patient-view"), "{ids:?}");
    assert!(ids.iter().all(|i| !i.starts_with("news2")), "{ids:?}");
    let (_, south) = get(Token::b(&aud(&server, "/cds-services")), "/cds-services");
    let ids: Vec<&str> = south["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|i| i.starts_with("news2")), "{ids:?}");

    // South calling north's service: it does not exist for south.
    let r = call(
        &server,
        &Token::b(&aud(&server, HT)).sign(),
        HT,
        &hypertension_call(),
    );
    assert_eq!(r.0, 404, "{}", r.2);
    let fb = format!("{HT}/feedback");
    let r = call(
        &server,
        &Token::b(&aud(&server, &fb)).sign(),
        &fb,
        &json!({"feedback": []}),
    );
    assert_eq!(r.0, 404, "{}", r.2);
    // A token for one URL does not open another.
    let r = call(
        &server,
        &Token::a(&aud(&server, HT)).sign(),
        &fb,
        &json!({"feedback": []}),
    );
    assert_eq!(r.0, 401);

    // North's card, and feedback on it: counted for north only.
    let (s, _, text) = call(
        &server,
        &Token::a(&aud(&server, HT)).sign(),
        HT,
        &hypertension_call(),
    );
    assert_eq!(s, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let uuid = answer["cards"][0]["uuid"].as_str().unwrap().to_string();
    let feedback = json!({"feedback": [{"card": uuid, "outcome": "accepted", "outcomeTimestamp": "2024-03-01T10:05:00Z"}]});
    // South echoing north's card uuid to its own service counts as unknown, for south.
    let s_fb = "/cds-services/news2-patient-view/feedback";
    assert_eq!(
        call(
            &server,
            &Token::b(&aud(&server, s_fb)).sign(),
            s_fb,
            &feedback
        )
        .0,
        200
    );
    assert_eq!(call_a(&server, &fb, &feedback), 200);

    // The admin API needs the admin role, and shows one tenant.
    for path in [
        "/admin/rulesets",
        "/admin/feedback",
        "/admin/audit",
        "/metrics",
    ] {
        let (s, body) = get(Token::a(&aud(&server, path)), path);
        assert_eq!(s, 403, "{path} without the admin role: {body}");
    }
    let (s, rs) = get(
        Token::a(&aud(&server, "/admin/rulesets")).admin(),
        "/admin/rulesets",
    );
    assert_eq!(s, 200, "{rs}");
    let names: Vec<&str> = rs["rulesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(!names.contains(&"news2"));
    assert!(rs["rulesets"][0]["version"].is_string());
    // Feedback counts come from the store (written by a queue: allow it a moment).
    let mut counts = Value::Null;
    for _ in 0..50 {
        let (_, fb) = get(
            Token::a(&aud(&server, "/admin/feedback")).admin(),
            "/admin/feedback",
        );
        if fb["feedback"].as_array().is_some_and(|a| !a.is_empty()) {
            counts = fb;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = counts["feedback"]
        .as_array()
        .expect("north's feedback counts");
    assert_eq!(list.len(), 1, "{counts}");
    assert_eq!(list[0]["ruleset"], "hypertension", "{counts}");
    assert_eq!(list[0]["outcome"], "accepted");
    assert_eq!(list[0]["count"], 1);
    let (_, south_fb) = get(
        Token::b(&aud(&server, "/admin/feedback")).admin(),
        "/admin/feedback",
    );
    let south_list = south_fb["feedback"].as_array().unwrap();
    assert!(
        south_list.iter().all(|f| f["ruleset"] == "unknown"),
        "{south_fb}"
    );
    // Metrics: each tenant's admin sees only its own tenant's series.
    let (s, _, text) = server.send(
        Method::GET,
        "/metrics",
        Some(&Token::b(&aud(&server, "/metrics")).admin().sign()),
        None,
    );
    assert_eq!(s, 200);
    assert!(text.contains("tenant=\"south\""), "{text}");
    assert!(!text.contains("tenant=\"north\""), "{text}");
    assert!(!text.contains("hypertension"), "{text}");
    // Reload by an admin.
    let (s, _, text) = server.send(
        Method::POST,
        "/admin/reload",
        Some(&Token::a(&aud(&server, "/admin/reload")).admin().sign()),
        None,
    );
    assert_eq!(s, 200, "{text}");
    assert!(text.contains("\"result\":\"ok\""), "{text}");
}

/// The studio with authentication: the page is public (no data), every API call needs a token
/// with the admin role whose audience is `<base>/studio`, and a tenant's admin sees only the
/// tenant's rulesets and their test cases.
#[test]
fn the_studio_needs_a_tenant_admin() {
    let jwks = jwks_server();
    let dir = test_dir("trust-studio");
    let cfg = config(&dir, &jwks, "");
    let server = Server::start("trust-studio", &["--config", cfg.to_str().unwrap()]);
    let studio = aud(&server, "/studio");
    let get = |token: Option<String>, path: &str| {
        let (s, _, body) = server.send(Method::GET, path, token.as_deref(), None);
        (
            s,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body)),
        )
    };
    let (s, page) = get(None, "/studio/");
    assert_eq!(s, 200);
    assert!(page.as_str().unwrap().contains("id=\"editor\""));
    assert_bare_401(
        &server.send(Method::GET, "/studio/api/rulesets", None, None),
        "no token",
    );
    // The exact URL is not the studio's audience.
    let exact = Token::a(&aud(&server, "/studio/api/rulesets"))
        .admin()
        .sign();
    assert_bare_401(
        &server.send(Method::GET, "/studio/api/rulesets", Some(&exact), None),
        "the API URL as audience",
    );
    let (s, _) = get(Some(Token::a(&studio).sign()), "/studio/api/rulesets");
    assert_eq!(s, 403, "a token without the admin role");
    // The page holds one token for its session: it may call again with it until it expires.
    let session = Token::a(&studio).admin().sign();
    let (s, list) = get(Some(session.clone()), "/studio/api/rulesets");
    assert_eq!(s, 200, "{list}");
    let (s, _) = get(Some(session.clone()), "/studio/api/samples");
    assert_eq!(s, 200, "the studio's token is a session's");
    // ... but nowhere else: its audience is the studio.
    let (s, _, _) = call(&server, &session, HT, &hypertension_call());
    assert_eq!(s, 401);
    let expired = Token::a(&studio)
        .admin()
        .with("iat", json!(now() - 400))
        .with("exp", json!(now() - 100))
        .sign();
    assert_bare_401(
        &server.send(Method::GET, "/studio/api/rulesets", Some(&expired), None),
        "an expired studio token",
    );
    let names: Vec<&str> = list["rulesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hypertension", "potassium", "tachycardia"]);
    let (s, _) = get(
        Some(Token::a(&studio).admin().sign()),
        "/studio/api/ruleset?file=news2/news2.rules",
    );
    assert_eq!(s, 404, "another tenant's ruleset");
    let (s, samples) = get(
        Some(Token::a(&studio).admin().sign()),
        "/studio/api/samples",
    );
    assert_eq!(s, 200);
    let cases: Vec<&str> = samples["patients"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str().filter(|id| id.starts_with("case:")))
        .collect();
    assert!(cases.iter().any(|c| c.starts_with("case:hypertension/")));
    assert!(
        cases.iter().all(|c| !c.starts_with("case:news2/")),
        "{cases:?}"
    );
    // Evaluating another tenant's ruleset text is refused like opening it.
    let news2 = std::fs::read_to_string(root().join("rulesets/news2/news2.rules")).unwrap();
    let body = json!({"file": "news2/news2.rules", "text": news2,
        "patient": "case:hypertension/tests/crisis-systolic-181.json"});
    let (s, _, _) = server.send(
        Method::POST,
        "/studio/api/try",
        Some(&Token::a(&studio).admin().sign()),
        json_body(&body),
    );
    assert_eq!(s, 404);
    // Client B's admin (tenant south) sees news2 only.
    let (s, list) = get(
        Some(Token::b(&studio).admin().sign()),
        "/studio/api/rulesets",
    );
    assert_eq!(s, 200);
    assert_eq!(list["rulesets"].as_array().unwrap().len(), 1);
    assert_eq!(list["rulesets"][0]["name"], "news2");
}

#[test]
fn hostile_input_gets_the_right_4xx() {
    let jwks = jwks_server();
    let dir = test_dir("trust-input");
    let cfg = config(
        &dir,
        &jwks,
        "[limits]\nmax_body_bytes = 300000\nmax_json_depth = 40\nmax_resources = 50\n",
    );
    let server = Server::start("trust-input", &["--config", cfg.to_str().unwrap()]);
    let t = || Token::a(&aud(&server, HT)).sign();
    let raw =
        |ct: &str, bytes: Vec<u8>| server.send(Method::POST, HT, Some(&t()), Some((ct, bytes)));
    let mut deep = hypertension_call();
    deep["context"]["x"] =
        serde_json::from_str(&format!("{}{}", "[".repeat(50), "]".repeat(50))).unwrap();
    let mut other_patient = hypertension_call();
    other_patient["prefetch"]["observations"]["entry"][0]["resource"]["subject"]["reference"] =
        json!("Patient/someone-else");
    let mut wrong_type = hypertension_call();
    wrong_type["prefetch"]["patient"] =
        json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}});
    let mut many = hypertension_call();
    let obs = many["prefetch"]["observations"]["entry"][0].clone();
    many["prefetch"]["observations"]["entry"] = Value::Array(
        (0..60)
            .map(|i| {
                let mut o = obs.clone();
                o["resource"]["id"] = json!(format!("o{i}"));
                o
            })
            .collect(),
    );
    let huge = format!(
        "{{\"hook\":\"patient-view\",\"pad\":\"{}\"}}",
        "x".repeat(400_000)
    );
    let cases: Vec<(&str, (u16, reqwest::header::HeaderMap, String), u16)> = vec![
        (
            "malformed JSON",
            raw("application/json", b"{\"hook\": \"patient-view\",".to_vec()),
            400,
        ),
        (
            "not JSON at all",
            raw("application/json", b"<xml/>".to_vec()),
            400,
        ),
        (
            "invalid UTF-8",
            raw(
                "application/json",
                b"{\"hook\": \"patient-\xff\xfe\"}".to_vec(),
            ),
            400,
        ),
        (
            "lone surrogate escape",
            raw("application/json", br#"{"hook": "\ud800"}"#.to_vec()),
            400,
        ),
        (
            "nested too deeply",
            raw("application/json", serde_json::to_vec(&deep).unwrap()),
            400,
        ),
        (
            "over the body limit",
            raw("application/json", huge.into_bytes()),
            413,
        ),
        (
            "not JSON media type",
            raw("text/plain", b"{}".to_vec()),
            415,
        ),
        (
            "prefetch of another patient",
            raw(
                "application/json",
                serde_json::to_vec(&other_patient).unwrap(),
            ),
            400,
        ),
        (
            "wrong resource type",
            raw("application/json", serde_json::to_vec(&wrong_type).unwrap()),
            400,
        ),
        (
            "too many resources",
            raw("application/json", serde_json::to_vec(&many).unwrap()),
            400,
        ),
        (
            "wrong hook",
            raw(
                "application/json",
                serde_json::to_vec(
                    &json!({"hook": "order-sign", "hookInstance": "h", "context": {}}),
                )
                .unwrap(),
            ),
            400,
        ),
        (
            "array body",
            raw("application/json", b"[1,2,3]".to_vec()),
            400,
        ),
    ];
    for (what, (status, headers, body), want) in cases {
        if status == 413 {
            assert_eq!(
                headers.get("connection").map(|v| v.to_str().unwrap()),
                Some("close"),
                "{what}: the unread rest of the body ends the connection, and the client is told"
            );
        }
        assert!(
            status == want || (want == 400 && status == 413),
            "{what}: {status} {body}"
        );
        assert!(body.contains("OperationOutcome"), "{what}: {body}");
        assert!(
            !body.contains(PATIENT) && !body.contains(NAME) && !body.contains(SYSTOLIC),
            "{what}: {body}"
        );
    }
    // The server is still well.
    let (s, _, text) = raw(
        "application/json",
        serde_json::to_vec(&hypertension_call()).unwrap(),
    );
    assert_eq!(s, 200, "{text}");
    let log = Server::log("trust-input");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn slow_clients_are_cut_off_and_load_is_shed() {
    let dir = test_dir("trust-slow");
    let cfg = dir.join("cds.toml");
    std::fs::write(
        &cfg,
        "[limits]\nheader_read_timeout_ms = 400\nmax_concurrent_requests = 1\nrequest_timeout_ms = 3000\n",
    )
    .unwrap();
    let server = Server::start("trust-slow", &["--config", cfg.to_str().unwrap()]);
    let addr = server.base.trim_start_matches("http://").to_string();
    // Slowloris: half a request head, then nothing.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    // Others are served meanwhile.
    assert_eq!(server.get("/healthz").0, 200);
    let mut buf = [0u8; 512];
    let n = slow.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(
        n == 0 || text.starts_with("HTTP/1.1 408"),
        "the slow client got: {text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut off after {:?}",
        started.elapsed()
    );

    // A client sending its body slowly holds the only slot: the next call is shed with 503.
    let mut holder = TcpStream::connect(&addr).unwrap();
    let body = serde_json::to_vec(&hypertension_call()).unwrap();
    write!(holder, "POST {HT} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len()).unwrap();
    holder.write_all(&body[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (s, headers, text) = server.send(Method::POST, HT, None, json_body(&hypertension_call()));
    assert_eq!(s, 503, "{text}");
    assert_eq!(
        headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert!(text.contains("OperationOutcome"), "{text}");
    // The slow body runs out of time: 503, and the slot is free again.
    holder
        .set_read_timeout(Some(Duration::from_secs(6)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = holder.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 503") || answer.is_empty(),
        "{answer}"
    );
    let (s, _, text) = server.send(Method::POST, HT, None, json_body(&hypertension_call()));
    assert_eq!(s, 200, "{text}");
}

fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Sends calls with patient data, feedback and device readings; returns the server, stopped.
fn exercise(name: &str, extra: &str) -> (String, String) {
    let jwks = jwks_server();
    let dir = test_dir(name);
    let cfg = config(&dir, &jwks, extra);
    let server = Server::start(name, &["--config", cfg.to_str().unwrap()]);
    let (s, _, text) = call(
        &server,
        &Token::a(&aud(&server, HT)).sign(),
        HT,
        &hypertension_call(),
    );
    assert_eq!(s, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let uuid = answer["cards"][0]["uuid"].as_str().unwrap();
    let fb = format!("{HT}/feedback");
    let feedback = json!({"feedback": [{"card": uuid, "outcome": "overridden", "outcomeTimestamp": "2024-03-01T10:05:00Z",
        "overrideReason": {"reason": {"system": "http://example.org/override", "code": "other"}, "userComment": format!("{NAME} declined")}}]});
    assert_eq!(call_a(&server, &fb, &feedback), 200);
    // A refused call and a bad one are audited too.
    let _ = call(&server, "bad", HT, &hypertension_call());
    let mut bad = hypertension_call();
    bad["prefetch"]["observations"]["entry"][0]["resource"]["subject"]["reference"] =
        json!("Patient/someone-else");
    assert_eq!(call_a(&server, HT, &bad), 400);
    let (_, _, metrics) = server.send(
        Method::GET,
        "/metrics",
        Some(&Token::a(&aud(&server, "/metrics")).admin().sign()),
        None,
    );
    let (s, _, events) = server.send(
        Method::GET,
        "/admin/audit?limit=50",
        Some(&Token::a(&aud(&server, "/admin/audit")).admin().sign()),
        None,
    );
    assert_eq!(s, 200, "{events}");
    assert!(
        metrics.contains("cds_audit_store{count=\"failing\"} 0"),
        "{metrics}"
    );
    assert!(server.stop(), "the server stops cleanly on SIGTERM");
    let log = Server::log(name);
    for (what, text) in [("log", &log), ("metrics", &metrics)] {
        for secret in [PATIENT, USER, NAME, SYSTOLIC, "trust-doc-42"] {
            assert!(!text.contains(secret), "{what} holds {secret}");
        }
    }
    (events, dir.display().to_string())
}

fn assert_audit_events(events: &str) {
    let bundle: Value = serde_json::from_str(events).unwrap();
    let list: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    assert!(list.len() >= 3, "{events}");
    assert!(
        list.iter().all(|e| e["resourceType"] == "AuditEvent"),
        "{events}"
    );
    let call = list
        .iter()
        .find(|e| events_kind(e) == "service-call" && e["outcome"] == "0")
        .expect("the service call's record");
    let text = call.to_string();
    assert!(text.contains("hypertension"), "{text}");
    assert!(text.contains(ISS_A), "{text}");
    assert!(
        text.contains("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"),
        "{text}"
    );
    for secret in [PATIENT, USER, NAME, SYSTOLIC] {
        assert!(!events.contains(secret), "audit events hold {secret}");
    }
}

fn events_kind(e: &Value) -> String {
    e["subtype"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn nothing_of_the_patient_is_kept_sqlite() {
    let (events, dir) = exercise("trust-kept-sqlite", "");
    assert_audit_events(&events);
    // The SQLite file (and its journal) hold hashes, never the ids or values sent.
    let dir = PathBuf::from(dir);
    let store = support::server::root().join("target/test-logs");
    let mut files = files_with_prefix(&store, "trust-kept-sqlite.audit.sqlite");
    files.extend(files_with_prefix(&dir, ""));
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".audit.sqlite")),
        "{files:?}"
    );
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for secret in [PATIENT, USER, NAME, SYSTOLIC, "trust-doc-42"] {
            assert!(!contains(&bytes, secret), "{} holds {secret}", f.display());
        }
    }
}

#[test]
fn nothing_of_the_patient_is_kept_postgresql() {
    let key = test_dir("trust-kept-pg-key").join("audit.key");
    let (events, _) = exercise(
        "trust-kept-pg",
        &format!("[audit]\nstore = \"postgres\"\npostgres_url = \"host=127.0.0.1 user=postgres dbname=test\"\nhash_key_file = \"{}\"\n", key.display()),
    );
    assert_audit_events(&events);
    let mut pg =
        postgres::Client::connect("host=127.0.0.1 user=postgres dbname=test", postgres::NoTls)
            .expect("PostgreSQL on 127.0.0.1:5432 (CI starts it)");
    let mut rows = 0;
    for table in ["cds_audit_event", "cds_feedback_count"] {
        for row in pg
            .query(&format!("SELECT row_to_json(t)::text FROM {table} t"), &[])
            .unwrap()
        {
            let text: String = row.get(0);
            rows += 1;
            for secret in [PATIENT, USER, NAME, SYSTOLIC, "trust-doc-42"] {
                assert!(!text.contains(secret), "{table} holds {secret}");
            }
        }
    }
    assert!(rows >= 4, "rows in the PostgreSQL store: {rows}");
    let n: i64 = pg
        .query_one("SELECT count(*) FROM cds_feedback_count WHERE tenant = 'north' AND outcome = 'overridden'", &[])
        .unwrap()
        .get(0);
    assert!(n >= 1);
}

#[test]
fn without_clients_only_loopback_unless_told() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cds"))
        .args(["serve", "--addr", "0.0.0.0:0", "--rulesets"])
        .arg(root().join("rulesets"))
        .env("CDS_AUDIT__STORE", "memory")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without authentication") && err.contains("--insecure-no-auth"),
        "{err}"
    );

    let server = Server::start_with_env(
        "trust-insecure",
        &["--addr", "0.0.0.0:0", "--insecure-no-auth"],
        &[("CDS_AUDIT__STORE", "memory")],
    );
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let local = reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz")).unwrap();
    assert_eq!(local.status().as_u16(), 200);
    drop(server);
    assert!(Server::log("trust-insecure").contains("INSECURE"));

    let server = Server::start("trust-loopback", &[]);
    assert_eq!(server.get("/cds-services").0, 200);
    drop(server);
    assert!(Server::log("trust-loopback").contains("authentication is OFF"));
}

#[test]
fn tls_and_mutual_tls() {
    let tls = root().join("tests/fixtures/tls");
    let dir = test_dir("trust-tls");
    let cfg = dir.join("cds.toml");
    std::fs::write(
        &cfg,
        format!(
            "[tls]\ncert = \"{0}/server.pem\"\nkey = \"{0}/server.key\"\nclient_ca = \"{0}/ca.pem\"\n",
            tls.display()
        ),
    )
    .unwrap();
    let server = Server::start("trust-tls", &["--config", cfg.to_str().unwrap()]);
    let base = server
        .base
        .replace("http://", "https://")
        .replace("127.0.0.1", "localhost");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(tls.join("ca.pem")).unwrap()).unwrap();
    let identity = |name: &str| {
        let mut pem = std::fs::read(tls.join(format!("{name}.pem"))).unwrap();
        pem.extend(std::fs::read(tls.join(format!("{name}.key"))).unwrap());
        reqwest::Identity::from_pem(&pem).unwrap()
    };
    let client = |id: Option<reqwest::Identity>| {
        let mut b = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(ca.clone());
        if let Some(id) = id {
            b = b.identity(id);
        }
        b.build().unwrap()
    };
    let ok = client(Some(identity("client")))
        .get(format!("{base}/healthz"))
        .send()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert!(
        client(None).get(format!("{base}/healthz")).send().is_err(),
        "no client certificate"
    );
    assert!(
        client(Some(identity("other-client")))
            .get(format!("{base}/healthz"))
            .send()
            .is_err(),
        "a client certificate of another CA"
    );
    // Plain HTTP to the TLS port gets nothing useful, and the server keeps serving.
    let _ = reqwest::blocking::get(format!(
        "{}/healthz",
        server.base.replace("https://", "http://")
    ));
    let ok = client(Some(identity("client")))
        .get(format!("{base}/healthz"))
        .send()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}
