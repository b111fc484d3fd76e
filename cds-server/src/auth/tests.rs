//! End-to-end tests of the verifier: tokens signed with the test-only keys of
//! `tests/fixtures/auth/`, JWKS served by a local axum server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

const AUD: &str = "https://cds.example.org/cds-services/news2";
const A: &str = "https://ehr-a.example.org";
const B: &str = "ehr-b";

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/auth")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).expect("fixture")
}

fn jwks(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).expect("jwks json")
}

/// A unique token id.
fn jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn claims(iss: &str) -> Value {
    let now = unix_now();
    json!({"iss": iss, "aud": AUD, "exp": now + 120, "iat": now, "jti": jti(), "sub": "clinician-1"})
}

/// Signs `claims` with a fixture key (PEM file), `kid` and optional `jku`.
fn sign_with(
    alg: Algorithm,
    pem: &str,
    kid: Option<&str>,
    jku: Option<&str>,
    claims: &Value,
) -> String {
    let mut header = Header::new(alg);
    header.typ = Some("JWT".into());
    header.kid = kid.map(str::to_owned);
    header.jku = jku.map(str::to_owned);
    let key = match alg {
        Algorithm::ES384 => EncodingKey::from_ec_pem(&fixture(pem)).expect("ec pem"),
        Algorithm::RS384 => EncodingKey::from_rsa_pem(&fixture(pem)).expect("rsa pem"),
        _ => EncodingKey::from_secret(&fixture(pem)),
    };
    encode(&header, claims, &key).expect("sign")
}

fn token_a(claims: &Value) -> String {
    sign_with(
        Algorithm::ES384,
        "ehr-a.es384.pem",
        Some("ehr-a-1"),
        None,
        claims,
    )
}

fn token_b(claims: &Value) -> String {
    sign_with(
        Algorithm::RS384,
        "ehr-b.rs384.pem",
        Some("ehr-b-1"),
        None,
        claims,
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A token from raw header and payload JSON and a raw signature part.
fn hand_made(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

fn file_client(iss: &str, tenant: &str, jwks: &str) -> ClientConfig {
    ClientConfig {
        iss: iss.into(),
        tenant: tenant.into(),
        jwks_url: None,
        jwks_file: Some(fixture_path(jwks)),
        jku_allow: Vec::new(),
    }
}

fn url_client(iss: &str, tenant: &str, url: String) -> ClientConfig {
    ClientConfig {
        iss: iss.into(),
        tenant: tenant.into(),
        jwks_url: Some(url),
        jwks_file: None,
        jku_allow: Vec::new(),
    }
}

/// `ehr-a` and `ehr-b`, both from files.
fn file_verifier() -> Verifier {
    Verifier::new(&AuthConfig {
        clients: vec![
            file_client(A, "tenant-a", "ehr-a.jwks.json"),
            file_client(B, "tenant-b", "ehr-b.jwks.json"),
        ],
        ..AuthConfig::default()
    })
    .expect("config")
}

async fn check(v: &Verifier, token: &str) -> Result<Caller, Denied> {
    v.verify(Some(&bearer(token)), AUD).await
}

async fn reason(v: &Verifier, token: &str) -> &'static str {
    match check(v, token).await {
        Ok(_) => "ok",
        Err(d) => d.reason(),
    }
}

/// A local JWKS server: `GET /{name}` answers the body set for `name` (404 if none), counting
/// requests per name. Special bodies: `!500` answers 500, `!slow` sleeps 2 s, `!big` sends
/// 300 KiB.
#[derive(Clone, Default)]
struct JwksServer {
    bodies: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<Mutex<HashMap<String, u64>>>,
    base: String,
}

impl JwksServer {
    async fn start() -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = JwksServer {
            base: format!("http://{addr}"),
            ..JwksServer::default()
        };
        let app = Router::new()
            .route("/{name}", get(serve_jwks))
            .with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    fn set(&self, name: &str, body: impl ToString) {
        self.bodies
            .lock()
            .expect("lock")
            .insert(name.to_owned(), body.to_string());
    }

    fn hits(&self, name: &str) -> u64 {
        self.hits
            .lock()
            .expect("lock")
            .get(name)
            .copied()
            .unwrap_or(0)
    }
}

async fn serve_jwks(State(s): State<JwksServer>, Path(name): Path<String>) -> Response {
    *s.hits
        .lock()
        .expect("lock")
        .entry(name.clone())
        .or_insert(0) += 1;
    let body = s.bodies.lock().expect("lock").get(&name).cloned();
    match body.as_deref() {
        None => StatusCode::NOT_FOUND.into_response(),
        Some("!500") => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Some("!slow") => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            "{}".into_response()
        }
        Some("!big") => {
            let filler = "x".repeat(300 * 1024);
            format!("{{\"keys\": [], \"filler\": \"{filler}\"}}").into_response()
        }
        Some(b) => b.to_owned().into_response(),
    }
}

/// The keys of two JWKS fixtures in one set.
fn merged(a: &str, b: &str) -> Value {
    let mut keys = jwks(a)["keys"].as_array().cloned().unwrap_or_default();
    keys.extend(jwks(b)["keys"].as_array().cloned().unwrap_or_default());
    json!({ "keys": keys })
}

// ---------------------------------------------------------------- valid tokens

#[tokio::test]
async fn valid_es384_from_file() {
    let v = file_verifier();
    assert!(v.enabled());
    let caller = check(&v, &token_a(&claims(A))).await.expect("valid");
    assert_eq!(caller.iss, A);
    assert_eq!(caller.tenant, "tenant-a");
    assert_eq!(caller.sub.as_deref(), Some("clinician-1"));
    assert!(!caller.admin);
}

#[tokio::test]
async fn valid_rs384_from_file_and_url() {
    let v = file_verifier();
    let caller = check(&v, &token_b(&claims(B))).await.expect("valid");
    assert_eq!(
        (caller.iss.as_str(), caller.tenant.as_str()),
        (B, "tenant-b")
    );

    let server = JwksServer::start().await;
    server.set("b.json", jwks("ehr-b.jwks.json"));
    let v = Verifier::new(&AuthConfig {
        clients: vec![url_client(B, "tenant-b", server.url("b.json"))],
        ..AuthConfig::default()
    })
    .expect("config");
    for _ in 0..3 {
        check(&v, &token_b(&claims(B))).await.expect("valid");
    }
    assert_eq!(server.hits("b.json"), 1, "the JWKS is cached");
}

#[tokio::test]
async fn scheme_is_case_insensitive_and_no_sub_is_fine() {
    let v = file_verifier();
    let mut c = claims(A);
    c.as_object_mut().map(|o| o.remove("sub"));
    let caller = v
        .verify(Some(&format!("bEaReR {}", token_a(&c))), AUD)
        .await
        .expect("valid");
    assert_eq!(caller.sub, None);
}

#[tokio::test]
async fn disabled_verifier_refuses() {
    let v = Verifier::new(&AuthConfig::default()).expect("config");
    assert!(!v.enabled());
    assert_eq!(reason(&v, &token_a(&claims(A))).await, "unknown-client");
    assert_eq!(v.verify(None, AUD).await.err(), Some(Denied::Missing));
}

// ---------------------------------------------------------------- claims

fn with(iss: &str, f: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let mut c = claims(iss);
    if let Some(o) = c.as_object_mut() {
        f(o);
    }
    c
}

#[tokio::test]
async fn time_claims() {
    let v = file_verifier();
    let now = unix_now();
    let expired = with(A, |c| {
        c.insert("iat".into(), (now - 200).into());
        c.insert("exp".into(), (now - 61).into());
    });
    assert_eq!(reason(&v, &token_a(&expired)).await, "expired");
    let within_skew = with(A, |c| {
        c.insert("iat".into(), (now - 200).into());
        c.insert("exp".into(), (now - 30).into());
    });
    assert_eq!(reason(&v, &token_a(&within_skew)).await, "ok");
    let future = with(A, |c| {
        c.insert("iat".into(), (now + 120).into());
        c.insert("exp".into(), (now + 240).into());
    });
    assert_eq!(reason(&v, &token_a(&future)).await, "issued-in-future");
    let long = with(A, |c| {
        c.insert("exp".into(), (now + 301).into());
    });
    assert_eq!(reason(&v, &token_a(&long)).await, "lifetime");
    let not_yet = with(A, |c| {
        c.insert("nbf".into(), (now + 100).into());
    });
    assert_eq!(reason(&v, &token_a(&not_yet)).await, "not-yet-valid");
    let nbf_ok = with(A, |c| {
        c.insert("nbf".into(), now.into());
    });
    assert_eq!(reason(&v, &token_a(&nbf_ok)).await, "ok");
}

#[tokio::test]
async fn audience_exact_or_in_array() {
    let v = file_verifier();
    let wrong = with(A, |c| {
        c.insert(
            "aud".into(),
            "https://cds.example.org/cds-services/other".into(),
        );
    });
    assert_eq!(reason(&v, &token_a(&wrong)).await, "audience");
    let prefix = with(A, |c| {
        c.insert("aud".into(), "https://cds.example.org".into());
    });
    assert_eq!(reason(&v, &token_a(&prefix)).await, "audience");
    let array = with(A, |c| {
        c.insert("aud".into(), json!(["https://elsewhere.example", AUD]));
    });
    assert_eq!(reason(&v, &token_a(&array)).await, "ok");
    let array_without = with(A, |c| {
        c.insert("aud".into(), json!(["https://elsewhere.example"]));
    });
    assert_eq!(reason(&v, &token_a(&array_without)).await, "audience");
}

#[tokio::test]
async fn missing_claims_and_kid() {
    let v = file_verifier();
    for name in ["jti", "iat", "exp", "aud"] {
        let c = with(A, |c| {
            c.remove(name);
        });
        assert_eq!(
            check(&v, &token_a(&c)).await.err(),
            Some(Denied::MissingClaim(name)),
            "{name}"
        );
    }
    let no_iss = with(A, |c| {
        c.remove("iss");
    });
    assert_eq!(
        check(&v, &token_a(&no_iss)).await.err(),
        Some(Denied::MissingClaim("iss"))
    );
    let no_kid = sign_with(Algorithm::ES384, "ehr-a.es384.pem", None, None, &claims(A));
    assert_eq!(reason(&v, &no_kid).await, "missing-kid");
    let empty_kid = sign_with(
        Algorithm::ES384,
        "ehr-a.es384.pem",
        Some(""),
        None,
        &claims(A),
    );
    assert_eq!(reason(&v, &empty_kid).await, "missing-kid");
}

#[tokio::test]
async fn replayed_jti_is_refused_per_issuer() {
    let v = file_verifier();
    let c = claims(A);
    let token = token_a(&c);
    assert_eq!(reason(&v, &token).await, "ok");
    assert_eq!(reason(&v, &token).await, "replayed");
    // A new token with the same jti from the same issuer is a replay too.
    let again = with(A, |o| {
        o.insert("jti".into(), c["jti"].clone());
    });
    assert_eq!(reason(&v, &token_a(&again)).await, "replayed");
    // The same jti from another issuer is not.
    let other = with(B, |o| {
        o.insert("jti".into(), c["jti"].clone());
    });
    assert_eq!(reason(&v, &token_b(&other)).await, "ok");
}

#[tokio::test]
async fn failed_tokens_do_not_burn_their_jti() {
    let v = file_verifier();
    let c = claims(A);
    assert_eq!(
        v.verify(Some(&bearer(&token_a(&c))), "https://other.example/x")
            .await
            .err(),
        Some(Denied::Audience)
    );
    assert_eq!(reason(&v, &token_a(&c)).await, "ok");
}

#[tokio::test]
async fn concurrent_replays_admit_one() {
    let v = Arc::new(file_verifier());
    let token = token_a(&claims(A));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (v, token) = (Arc::clone(&v), token.clone());
            tokio::spawn(async move { reason(&v, &token).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            "ok" => ok += 1,
            r => assert_eq!(r, "replayed"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn admin_from_roles_or_scope() {
    let v = file_verifier();
    let roles = with(A, |c| {
        c.insert("roles".into(), json!(["reader", "cds-admin"]));
    });
    assert!(check(&v, &token_a(&roles)).await.expect("valid").admin);
    let scope = with(A, |c| {
        c.insert("scope".into(), "openid cds-admin".into());
    });
    assert!(check(&v, &token_a(&scope)).await.expect("valid").admin);
    let neither = with(A, |c| {
        c.insert("scope".into(), "cds-admin-not".into());
        c.insert("roles".into(), "cds-admin".into());
    });
    assert!(!check(&v, &token_a(&neither)).await.expect("valid").admin);

    let custom = Verifier::new(&AuthConfig {
        clients: vec![file_client(A, "t", "ehr-a.jwks.json")],
        admin_role: "boss".into(),
        ..AuthConfig::default()
    })
    .expect("config");
    assert!(!check(&custom, &token_a(&roles)).await.expect("valid").admin);
    let boss = with(A, |c| {
        c.insert("roles".into(), json!(["boss"]));
    });
    assert!(check(&custom, &token_a(&boss)).await.expect("valid").admin);
}

#[tokio::test]
async fn other_claims_are_accepted() {
    let v = file_verifier();
    let c = with(A, |c| {
        c.insert("tenant".into(), "whatever".into());
        c.insert("fhirUser".into(), "Practitioner/1".into());
    });
    // The tenant comes from the configuration, not from the token.
    assert_eq!(
        check(&v, &token_a(&c)).await.expect("valid").tenant,
        "tenant-a"
    );
}

/// Signs a raw payload text as ehr-a (ES384), so that its JSON can have escapes and odd forms.
fn token_a_raw(payload: &str) -> String {
    let header = json!({"alg": "ES384", "typ": "JWT", "kid": "ehr-a-1"});
    let message = format!("{}.{}", b64(&header.to_string()), b64(payload));
    let key = EncodingKey::from_ec_pem(&fixture("ehr-a.es384.pem")).expect("pem");
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::ES384).expect("sign");
    format!("{message}.{sig}")
}

#[tokio::test]
async fn raw_payload_forms() {
    let v = file_verifier();
    let now = unix_now();
    let escaped = format!(
        r#"{{"iss":"https:\/\/ehr-a.example.org","aud":["https:\/\/cds.example.org\/cds-services\/news2"],"exp":{},"iat":{now},"jti":"\u006a-{}"}}"#,
        now + 60,
        jti()
    );
    assert_eq!(reason(&v, &token_a_raw(&escaped)).await, "ok");
    let string_exp = format!(
        r#"{{"iss":"{A}","aud":"{AUD}","exp":"{}","iat":{now},"jti":"{}"}}"#,
        now + 60,
        jti()
    );
    assert_eq!(
        check(&v, &token_a_raw(&string_exp)).await.err(),
        Some(Denied::InvalidClaim("exp"))
    );
    let object_aud = format!(
        r#"{{"iss":"{A}","aud":{{"x":1}},"exp":{},"iat":{now},"jti":"{}"}}"#,
        now + 60,
        jti()
    );
    assert_eq!(
        check(&v, &token_a_raw(&object_aud)).await.err(),
        Some(Denied::InvalidClaim("aud"))
    );
    let float_times = format!(
        r#"{{"iss":"{A}","aud":"{AUD}","exp":{}.75,"iat":{now}.25,"jti":"{}"}}"#,
        now + 60,
        jti()
    );
    assert_eq!(reason(&v, &token_a_raw(&float_times)).await, "ok");
    assert_eq!(reason(&v, &token_a_raw("[1,2]")).await, "malformed");
}

// ---------------------------------------------------------------- algorithms and keys

#[tokio::test]
async fn alg_none_is_refused() {
    let v = file_verifier();
    let header = json!({"alg": "none", "typ": "JWT", "kid": "ehr-a-1"});
    for sig in ["", "c2ln"] {
        let t = hand_made(&header, &claims(A), sig);
        assert_eq!(reason(&v, &t).await, "algorithm");
    }
    let header = json!({"alg": "NONE", "kid": "ehr-a-1"});
    assert_eq!(
        reason(&v, &hand_made(&header, &claims(A), "")).await,
        "algorithm"
    );
}

#[tokio::test]
async fn hmac_with_the_public_key_as_secret_is_refused() {
    let v = file_verifier();
    let pem = "ehr-b.rs384.pub.pem";
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let t = sign_with(alg, pem, Some("ehr-b-1"), None, &claims(B));
        assert_eq!(reason(&v, &t).await, "algorithm", "{alg:?}");
    }
    // The same HMAC signature under a header that claims RS384 does not verify.
    let hs = sign_with(Algorithm::HS384, pem, Some("ehr-b-1"), None, &claims(B));
    let sig = hs.rsplit('.').next().unwrap_or_default();
    let forged = hand_made(
        &json!({"alg": "RS384", "typ": "JWT", "kid": "ehr-b-1"}),
        &claims(B),
        sig,
    );
    assert_eq!(reason(&v, &forged).await, "signature");
}

#[tokio::test]
async fn other_algorithms_are_refused() {
    let v = file_verifier();
    for alg in [
        "RS256", "RS512", "ES256", "PS384", "EdDSA", "HS384", "es384", "",
    ] {
        let h = json!({"alg": alg, "typ": "JWT", "kid": "ehr-a-1"});
        assert_eq!(
            reason(&v, &hand_made(&h, &claims(A), "c2ln")).await,
            "algorithm",
            "{alg}"
        );
    }
}

#[tokio::test]
async fn header_alg_must_match_the_key() {
    let v = file_verifier();
    // ehr-b's key ehr-b-1 is RSA: an ES384 token naming it is refused before any crypto.
    let t = sign_with(
        Algorithm::ES384,
        "ehr-a.es384.pem",
        Some("ehr-b-1"),
        None,
        &claims(B),
    );
    assert_eq!(reason(&v, &t).await, "key-mismatch");
}

#[tokio::test]
async fn keys_of_another_client_are_refused() {
    let v = file_verifier();
    // iss = ehr-a, signed with ehr-b's key and naming it.
    let t = sign_with(
        Algorithm::RS384,
        "ehr-b.rs384.pem",
        Some("ehr-b-1"),
        None,
        &claims(A),
    );
    assert_eq!(reason(&v, &t).await, "unknown-key");
    // iss = ehr-a, naming ehr-a's kid but signed with another EC key.
    let t = sign_with(
        Algorithm::ES384,
        "ehr-a-jku.es384.pem",
        Some("ehr-a-1"),
        None,
        &claims(A),
    );
    assert_eq!(reason(&v, &t).await, "signature");
}

#[tokio::test]
async fn tampered_payload_fails_the_signature() {
    let v = file_verifier();
    let t = token_a(&claims(A));
    let parts: Vec<&str> = t.split('.').collect();
    let other = URL_SAFE_NO_PAD.encode(
        with(A, |c| {
            c.insert("roles".into(), json!(["cds-admin"]));
        })
        .to_string(),
    );
    let forged = format!("{}.{other}.{}", parts[0], parts[2]);
    assert_eq!(reason(&v, &forged).await, "signature");
    let truncated_sig = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        &parts[2][..parts[2].len() - 4]
    );
    assert_eq!(reason(&v, &truncated_sig).await, "signature");
}

#[tokio::test]
async fn unknown_issuer_is_refused() {
    let v = file_verifier();
    assert_eq!(
        reason(&v, &token_a(&claims("https://evil.example"))).await,
        "unknown-client"
    );
    let numeric_iss = with(A, |c| {
        c.insert("iss".into(), 7.into());
    });
    assert_eq!(reason(&v, &token_a(&numeric_iss)).await, "invalid-claim");
}

#[tokio::test]
async fn typ_and_crit_headers() {
    let v = file_verifier();
    let mut h = Header::new(Algorithm::ES384);
    h.kid = Some("ehr-a-1".into());
    h.typ = Some("at+jwt".into());
    let key = EncodingKey::from_ec_pem(&fixture("ehr-a.es384.pem")).expect("pem");
    let t = encode(&h, &claims(A), &key).expect("sign");
    assert_eq!(reason(&v, &t).await, "type");
    h.typ = None;
    let t = encode(&h, &claims(A), &key).expect("sign");
    assert_eq!(reason(&v, &t).await, "ok");
    let crit = json!({"alg": "ES384", "kid": "ehr-a-1", "crit": ["exp"]});
    assert_eq!(
        reason(&v, &hand_made(&crit, &claims(A), "c2ln")).await,
        "critical-header"
    );
}

#[tokio::test]
async fn garbage_headers_are_refused() {
    let v = file_verifier();
    assert_eq!(v.verify(None, AUD).await.err(), Some(Denied::Missing));
    let valid = token_a(&claims(A));
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "missing"),
        ("   ".into(), "missing"),
        ("Bearer".into(), "malformed"),
        ("Bearer ".into(), "malformed"),
        ("Basic dXNlcjpwYXNz".into(), "malformed"),
        (valid.clone(), "malformed"),
        (format!("Token {valid}"), "malformed"),
        (format!("Bearer {valid} extra"), "malformed"),
        ("Bearer a.b.c".into(), "malformed"),
        ("Bearer ...".into(), "malformed"),
        ("Bearer e30.e30.e30".into(), "malformed"),
        ("Bearer %%%.%%%.%%%".into(), "malformed"),
        ("Bearer ünïcödé.ü.ü".into(), "malformed"),
        (format!("Bearer {valid}.x"), "malformed"),
        (format!("Bearer {}", "A".repeat(20_000)), "malformed"),
    ];
    for (header, expected) in cases {
        let got = match v.verify(Some(&header), AUD).await {
            Ok(_) => "ok",
            Err(d) => d.reason(),
        };
        assert_eq!(got, expected, "{header:.40}");
    }
}

#[tokio::test]
async fn messages_never_carry_token_or_claim_values() {
    let v = file_verifier();
    let c = with("https://secret-issuer.example/Patient/12345", |c| {
        c.insert("jti".into(), "jti-secret-777".into());
    });
    let t = token_a(&c);
    let e = check(&v, &t).await.expect_err("unknown issuer");
    let text = format!("{e} {e:?}");
    assert!(!text.contains("12345") && !text.contains("secret") && !text.contains(&t[..20]));
}

// ---------------------------------------------------------------- jku and remote keys

#[tokio::test]
async fn jku_must_be_allowed_for_the_client() {
    let server = JwksServer::start().await;
    server.set("jku.json", jwks("ehr-a-jku.jwks.json"));
    let mut a = file_client(A, "tenant-a", "ehr-a.jwks.json");
    a.jku_allow = vec![server.url("jku.json")];
    let v = Verifier::new(&AuthConfig {
        clients: vec![a, file_client(B, "tenant-b", "ehr-b.jwks.json")],
        ..AuthConfig::default()
    })
    .expect("config");

    let jku = server.url("jku.json");
    let allowed = sign_with(
        Algorithm::ES384,
        "ehr-a-jku.es384.pem",
        Some("ehr-a-jku"),
        Some(&jku),
        &claims(A),
    );
    assert_eq!(reason(&v, &allowed).await, "ok");
    assert_eq!(server.hits("jku.json"), 1);

    // The same key without the jku header is not among the client's own keys.
    let no_jku = sign_with(
        Algorithm::ES384,
        "ehr-a-jku.es384.pem",
        Some("ehr-a-jku"),
        None,
        &claims(A),
    );
    assert_eq!(reason(&v, &no_jku).await, "unknown-key");

    // A jku not listed (even a prefix or a variant of a listed one) is refused, unfetched.
    for other in [
        server.url("other.json"),
        format!("{jku}?x=1"),
        format!("{jku}/"),
        "https://evil.example/jwks.json".into(),
    ] {
        let t = sign_with(
            Algorithm::ES384,
            "ehr-a-jku.es384.pem",
            Some("ehr-a-jku"),
            Some(&other),
            &claims(A),
        );
        assert_eq!(reason(&v, &t).await, "jku-not-allowed", "{other}");
    }
    assert_eq!(server.hits("other.json"), 0);

    // The jku is checked before the kid.
    let no_kid = sign_with(
        Algorithm::ES384,
        "ehr-a-jku.es384.pem",
        None,
        Some("https://evil.example/k"),
        &claims(A),
    );
    assert_eq!(reason(&v, &no_kid).await, "jku-not-allowed");
    let no_kid = sign_with(
        Algorithm::ES384,
        "ehr-a-jku.es384.pem",
        None,
        Some(&jku),
        &claims(A),
    );
    assert_eq!(reason(&v, &no_kid).await, "missing-kid");

    // ehr-b may not use ehr-a's allowed jku.
    let b_via_jku = sign_with(
        Algorithm::ES384,
        "ehr-a-jku.es384.pem",
        Some("ehr-a-jku"),
        Some(&jku),
        &claims(B),
    );
    assert_eq!(reason(&v, &b_via_jku).await, "jku-not-allowed");
}

#[tokio::test]
async fn unknown_kid_refetches_once() {
    let server = JwksServer::start().await;
    server.set("a.json", jwks("ehr-a.jwks.json"));
    let v = Verifier::new(&AuthConfig {
        clients: vec![url_client(A, "tenant-a", server.url("a.json"))],
        jwks_refresh_min_seconds: 0,
        ..AuthConfig::default()
    })
    .expect("config");
    assert_eq!(reason(&v, &token_a(&claims(A))).await, "ok");
    assert_eq!(server.hits("a.json"), 1);

    // Key rotation: the new kid is fetched once, then served from the cache.
    server.set("a.json", merged("ehr-a.jwks.json", "ehr-a-jku.jwks.json"));
    let rotated = || {
        sign_with(
            Algorithm::ES384,
            "ehr-a-jku.es384.pem",
            Some("ehr-a-jku"),
            None,
            &claims(A),
        )
    };
    assert_eq!(reason(&v, &rotated()).await, "ok");
    assert_eq!(server.hits("a.json"), 2);
    assert_eq!(reason(&v, &rotated()).await, "ok");
    assert_eq!(server.hits("a.json"), 2);

    // A kid still unknown after the refetch is refused.
    let unknown = sign_with(
        Algorithm::ES384,
        "ehr-a.es384.pem",
        Some("nope"),
        None,
        &claims(A),
    );
    assert_eq!(reason(&v, &unknown).await, "unknown-key");
    assert_eq!(server.hits("a.json"), 3);
}

#[tokio::test]
async fn unknown_kid_refetch_is_rate_limited() {
    let server = JwksServer::start().await;
    server.set("a.json", jwks("ehr-a.jwks.json"));
    let v = Verifier::new(&AuthConfig {
        clients: vec![url_client(A, "tenant-a", server.url("a.json"))],
        jwks_refresh_min_seconds: 1,
        ..AuthConfig::default()
    })
    .expect("config");
    assert_eq!(reason(&v, &token_a(&claims(A))).await, "ok");
    assert_eq!(server.hits("a.json"), 1);

    let unknown = || {
        sign_with(
            Algorithm::ES384,
            "ehr-a.es384.pem",
            Some("nope"),
            None,
            &claims(A),
        )
    };
    for _ in 0..5 {
        assert_eq!(reason(&v, &unknown()).await, "unknown-key");
    }
    assert_eq!(
        server.hits("a.json"),
        1,
        "no refetch within jwks_refresh_min_seconds"
    );

    server.set("a.json", merged("ehr-a.jwks.json", "ehr-a-jku.jwks.json"));
    let rotated = || {
        sign_with(
            Algorithm::ES384,
            "ehr-a-jku.es384.pem",
            Some("ehr-a-jku"),
            None,
            &claims(A),
        )
    };
    assert_eq!(reason(&v, &rotated()).await, "unknown-key");
    assert_eq!(server.hits("a.json"), 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(reason(&v, &rotated()).await, "ok");
    assert_eq!(server.hits("a.json"), 2);
    for _ in 0..5 {
        assert_eq!(reason(&v, &unknown()).await, "unknown-key");
    }
    assert_eq!(server.hits("a.json"), 2);
    // Known keys keep working meanwhile.
    assert_eq!(reason(&v, &token_a(&claims(A))).await, "ok");
}

#[tokio::test]
async fn concurrent_first_use_fetches_once() {
    let server = JwksServer::start().await;
    server.set("b.json", jwks("ehr-b.jwks.json"));
    let v = Arc::new(
        Verifier::new(&AuthConfig {
            clients: vec![url_client(B, "tenant-b", server.url("b.json"))],
            ..AuthConfig::default()
        })
        .expect("config"),
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let v = Arc::clone(&v);
            let t = token_b(&claims(B));
            tokio::spawn(async move { reason(&v, &t).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task"), "ok");
    }
    assert_eq!(server.hits("b.json"), 1);
}

#[tokio::test]
async fn unreachable_or_bad_jwks_means_keys_unavailable() {
    let server = JwksServer::start().await;
    server.set("500.json", "!500");
    server.set("slow.json", "!slow");
    server.set("big.json", "!big");
    server.set("notjson.json", "<html>");
    // A closed port: bind, note the address, drop the listener.
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        format!("http://{}/jwks.json", l.local_addr().expect("addr"))
    };
    for url in [
        server.url("500.json"),
        server.url("404.json"),
        server.url("slow.json"),
        server.url("big.json"),
        server.url("notjson.json"),
        closed,
    ] {
        let v = Verifier::new(&AuthConfig {
            clients: vec![url_client(B, "tenant-b", url.clone())],
            jwks_timeout_ms: 300,
            ..AuthConfig::default()
        })
        .expect("config");
        assert_eq!(
            reason(&v, &token_b(&claims(B))).await,
            "keys-unavailable",
            "{url}"
        );
        // A failing URL is not retried within jwks_refresh_min_seconds.
        assert_eq!(
            reason(&v, &token_b(&claims(B))).await,
            "keys-unavailable",
            "{url}"
        );
    }
    assert_eq!(server.hits("500.json"), 1);
}

#[tokio::test]
async fn stale_keys_serve_while_the_jwks_url_fails() {
    let server = JwksServer::start().await;
    server.set("b.json", jwks("ehr-b.jwks.json"));
    let v = Verifier::new(&AuthConfig {
        clients: vec![url_client(B, "tenant-b", server.url("b.json"))],
        jwks_cache_seconds: 1,
        jwks_refresh_min_seconds: 0,
        ..AuthConfig::default()
    })
    .expect("config");
    assert_eq!(reason(&v, &token_b(&claims(B))).await, "ok");
    server.set("b.json", "!500");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(reason(&v, &token_b(&claims(B))).await, "ok");
    assert_eq!(server.hits("b.json"), 2, "the refetch was tried");
    // Beyond twice the cache time the stale keys are dropped.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(reason(&v, &token_b(&claims(B))).await, "keys-unavailable");
}

// ---------------------------------------------------------------- configuration

fn config_error(clients: Vec<ClientConfig>) -> String {
    match Verifier::new(&AuthConfig {
        clients,
        ..AuthConfig::default()
    }) {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_errors_name_client_and_file() {
    let a = || file_client(A, "tenant-a", "ehr-a.jwks.json");
    assert_eq!(config_error(vec![a()]), "ok");

    let e = config_error(vec![a(), file_client(A, "other", "ehr-b.jwks.json")]);
    assert!(e.contains("configured twice") && e.contains(A), "{e}");

    let e = config_error(vec![file_client(A, " ", "ehr-a.jwks.json")]);
    assert!(e.contains("tenant") && e.contains(A), "{e}");

    let e = config_error(vec![a(), file_client("", "t", "ehr-a.jwks.json")]);
    assert!(e.contains("client #2"), "{e}");

    let mut both = a();
    both.jwks_url = Some("https://ehr.example/jwks".into());
    let e = config_error(vec![both]);
    assert!(e.contains("exactly one") && e.contains(A), "{e}");
    let mut neither = a();
    neither.jwks_file = None;
    assert!(config_error(vec![neither]).contains("exactly one"));

    let e = config_error(vec![file_client(A, "t", "no-such.jwks.json")]);
    assert!(
        e.contains("cannot read") && e.contains("no-such.jwks.json") && e.contains(A),
        "{e}"
    );

    // A PEM is not a JWKS.
    let e = config_error(vec![file_client(A, "t", "ehr-b.rs384.pub.pem")]);
    assert!(
        e.contains("not a JWKS") && e.contains("ehr-b.rs384.pub.pem"),
        "{e}"
    );

    for bad in [
        "ftp://ehr.example/jwks",
        "not a url",
        "https://",
        "/relative/jwks.json",
    ] {
        let e = config_error(vec![url_client(A, "t", bad.into())]);
        assert!(e.contains("jwks_url") && e.contains(A), "{e}");
        let mut jku = a();
        jku.jku_allow = vec![bad.into()];
        assert!(config_error(vec![jku]).contains("jku_allow"), "{bad}");
    }
}

#[test]
fn config_error_for_a_jwks_without_usable_keys() {
    let dir = std::env::temp_dir().join(format!("cds-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("hmac.jwks.json");
    std::fs::write(
        &path,
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}"#,
    )
    .expect("write");
    let mut c = file_client(A, "t", "ehr-a.jwks.json");
    c.jwks_file = Some(path.clone());
    let e = config_error(vec![c]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        e.contains("no usable key") && e.contains("hmac.jwks.json") && e.contains(A),
        "{e}"
    );
}

#[test]
fn config_setting_errors() {
    let base = || AuthConfig {
        clients: vec![file_client(A, "t", "ehr-a.jwks.json")],
        ..AuthConfig::default()
    };
    let err = |c: AuthConfig| {
        Verifier::new(&c)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err(AuthConfig {
        max_token_lifetime_seconds: 0,
        ..base()
    })
    .contains("max_token_lifetime_seconds"));
    assert!(err(AuthConfig {
        clock_skew_seconds: 100_000,
        ..base()
    })
    .contains("clock_skew_seconds"));
    assert!(err(AuthConfig {
        jwks_timeout_ms: 0,
        ..base()
    })
    .contains("jwks_timeout_ms"));
    assert!(err(AuthConfig {
        jwks_cache_seconds: 10,
        jwks_refresh_min_seconds: 30,
        ..base()
    })
    .contains("jwks_cache_seconds"));
}

#[test]
fn config_from_toml_with_defaults() {
    use figment::providers::Format;
    let toml = r#"
        audience_base = "https://cds.example.org"
        [[clients]]
        iss = "ehr-b"
        tenant = "hospital-b"
        jwks_url = "https://ehr-b.example/jwks.json"
        jku_allow = ["https://ehr-b.example/k2.json"]
    "#;
    let c: AuthConfig = figment::Figment::new()
        .merge(figment::providers::Toml::string(toml))
        .extract()
        .expect("toml");
    assert_eq!(c.clock_skew_seconds, 60);
    assert_eq!(c.max_token_lifetime_seconds, 300);
    assert_eq!(c.admin_role, "cds-admin");
    assert_eq!(c.jwks_cache_seconds, 3600);
    assert_eq!(c.jwks_refresh_min_seconds, 30);
    assert_eq!(c.jwks_timeout_ms, 5000);
    assert_eq!(c.audience_base.as_deref(), Some("https://cds.example.org"));
    assert_eq!(c.clients[0].jku_allow.len(), 1);
    assert!(Verifier::new(&c).is_ok());
    let unknown = figment::Figment::new()
        .merge(figment::providers::Toml::string(
            "[[clients]]\niss='x'\ntenant='t'\njwks='y'",
        ))
        .extract::<AuthConfig>();
    assert!(unknown.is_err());
}

#[test]
fn verifier_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Verifier>();
    assert_send_sync::<Arc<Verifier>>();
}

#[test]
fn reasons_are_distinct() {
    let all = [
        Denied::Missing,
        Denied::Malformed,
        Denied::Algorithm,
        Denied::TokenType,
        Denied::CriticalHeader,
        Denied::MissingKid,
        Denied::MissingClaim("jti"),
        Denied::InvalidClaim("jti"),
        Denied::UnknownClient,
        Denied::JkuNotAllowed,
        Denied::UnknownKey,
        Denied::KeyMismatch,
        Denied::KeysUnavailable,
        Denied::Signature,
        Denied::Audience,
        Denied::Expired,
        Denied::NotYetValid,
        Denied::IssuedInFuture,
        Denied::Lifetime,
        Denied::Replayed,
    ];
    let slugs: std::collections::HashSet<_> = all.iter().map(Denied::reason).collect();
    assert_eq!(slugs.len(), all.len());
}

// ---------------------------------------------------------------- never panics

fn shared_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn shared_verifier() -> &'static Verifier {
    static V: std::sync::OnceLock<Verifier> = std::sync::OnceLock::new();
    V.get_or_init(file_verifier)
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_headers_never_panic(header in any::<String>()) {
        let r = shared_runtime().block_on(shared_verifier().verify(Some(&header), AUD));
        prop_assert!(r.is_err());
    }

    #[test]
    fn random_bearer_jwts_never_panic(
        a in "[A-Za-z0-9_=.-]{0,60}",
        b in "[A-Za-z0-9_=.-]{0,60}",
        c in "[A-Za-z0-9_=.-]{0,60}",
    ) {
        let header = format!("Bearer {a}.{b}.{c}");
        let r = shared_runtime().block_on(shared_verifier().verify(Some(&header), AUD));
        prop_assert!(r.is_err());
    }

    #[test]
    fn random_json_parts_never_panic(
        alg in prop::sample::select(vec!["ES384", "RS384", "none", "HS256", "x"]),
        kid in prop::option::of(prop::sample::select(vec!["ehr-a-1", "ehr-b-1", "", "k"])),
        iss in prop::sample::select(vec![A, B, "other"]),
        exp in any::<i64>(),
        iat in prop::option::of(any::<f64>()),
        aud in prop::sample::select(vec![json!(AUD), json!([AUD]), json!(null), json!(7)]),
        sig in "[A-Za-z0-9_-]{0,100}",
    ) {
        let h = json!({"alg": alg, "kid": kid});
        let p = json!({"iss": iss, "exp": exp, "iat": iat, "aud": aud, "jti": "j"});
        let header = format!("Bearer {}.{}.{sig}", b64(&h.to_string()), b64(&p.to_string()));
        let r = shared_runtime().block_on(shared_verifier().verify(Some(&header), AUD));
        prop_assert!(r.is_err());
    }
}
