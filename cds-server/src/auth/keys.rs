//! Verification keys: the usable keys of a JWKS, read from a file at start or fetched over
//! HTTP(S) and cached, with a rate-limited refetch when a token names an unknown `kid`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::Denied;

/// Largest JWKS answer read from a URL.
pub(crate) const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;
/// Size of one P-384 coordinate, in bytes.
const P384_COORDINATE_BYTES: usize = 48;

/// One usable public key.
struct VerifyKey {
    kid: String,
    /// The only algorithm it verifies: ES384 for EC P-384, RS384 for RSA.
    alg: Algorithm,
    key: Arc<DecodingKey>,
}

/// The usable keys of a JWKS: EC P-384 and RSA (≥ 2048 bits) signature keys with a `kid`.
pub(crate) struct KeySet {
    keys: Vec<VerifyKey>,
}

/// What a key set says about a header's `kid` and `alg`.
pub(crate) enum Lookup {
    /// A key with that kid verifies that algorithm.
    Found(Arc<DecodingKey>),
    /// Keys with that kid exist, but none for that algorithm.
    Mismatch,
    /// No key with that kid.
    Unknown,
}

/// Why a JWKS document could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwksError {
    #[error("not a JSON object with a `keys` array")]
    NotJwks,
}

impl KeySet {
    /// The usable keys of a JWKS document; keys of other types or curves, keys without a `kid`,
    /// encryption keys and keys of other algorithms are skipped.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<KeySet, JwksError> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|_| JwksError::NotJwks)?;
        let entries = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksError::NotJwks)?;
        let keys = entries
            .iter()
            .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
            .filter_map(|jwk| usable(&jwk))
            .collect();
        Ok(KeySet { keys })
    }

    /// Number of usable keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key for a header's `kid` and `alg`.
    pub(crate) fn lookup(&self, kid: &str, alg: Algorithm) -> Lookup {
        let mut seen = false;
        for k in self.keys.iter().filter(|k| k.kid == kid) {
            if k.alg == alg {
                return Lookup::Found(Arc::clone(&k.key));
            }
            seen = true;
        }
        if seen {
            Lookup::Mismatch
        } else {
            Lookup::Unknown
        }
    }
}

/// A JWK as a verification key, when it is one this verifier accepts.
fn usable(jwk: &Jwk) -> Option<VerifyKey> {
    let kid = jwk.common.key_id.clone().filter(|k| !k.is_empty())?;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    if matches!(&jwk.common.key_operations, Some(ops) if !ops.contains(&KeyOperations::Verify)) {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => {
            let x = URL_SAFE_NO_PAD.decode(&p.x).ok()?;
            let y = URL_SAFE_NO_PAD.decode(&p.y).ok()?;
            let sized = x.len() == P384_COORDINATE_BYTES && y.len() == P384_COORDINATE_BYTES;
            (p.curve == EllipticCurve::P384 && sized).then_some(Algorithm::ES384)?
        }
        AlgorithmParameters::RSA(p) => {
            let n = URL_SAFE_NO_PAD.decode(&p.n).ok()?;
            let e = URL_SAFE_NO_PAD.decode(&p.e).ok()?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            (significant >= MIN_RSA_MODULUS_BYTES && !e.is_empty()).then_some(Algorithm::RS384)?
        }
        AlgorithmParameters::OctetKey(_) | AlgorithmParameters::OctetKeyPair(_) => return None,
    };
    // A JWK's own `alg`, when present, must be the one its type verifies here.
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::ES384) => alg == Algorithm::ES384,
        Some(KeyAlgorithm::RS384) => alg == Algorithm::RS384,
        Some(_) => false,
    };
    if !declared_ok {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyKey {
        kid,
        alg,
        key: Arc::new(key),
    })
}

/// Why fetching a JWKS failed (logged; never shown to callers).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Http(#[source] reqwest::Error),
    #[error("answer status {0}")]
    Status(u16),
    #[error("answer larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("answer is not a JWKS: {0}")]
    Invalid(#[from] JwksError),
}

/// Fetches JWKS documents: a timeout, no redirects, a size limit.
pub(crate) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub(crate) fn new(timeout: Duration) -> Result<Fetcher, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Fetcher { client })
    }

    async fn fetch(&self, url: &str) -> Result<KeySet, FetchError> {
        let mut answer = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(FetchError::Http)?;
        if !answer.status().is_success() {
            return Err(FetchError::Status(answer.status().as_u16()));
        }
        if answer
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(FetchError::Http)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(KeySet::from_json(&body)?)
    }
}

/// Timing of the remote key caches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CachePolicy {
    /// Fetched keys are used without refetching for this long.
    pub ttl: Duration,
    /// No URL is fetched more often than this (unknown kids, failures).
    pub refresh_min: Duration,
}

#[derive(Default)]
struct RemoteState {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// The cached keys of one JWKS URL.
///
/// Fresh keys (younger than the TTL) are used without waiting. A fetch happens when there are
/// no fresh keys or the kid is unknown, at most once per `refresh_min`; one fetch at a time per
/// URL, the others wait for its result. When a fetch fails, keys up to twice the TTL old are
/// still used.
pub(crate) struct RemoteJwks {
    url: String,
    state: Mutex<RemoteState>,
    fetch_lock: tokio::sync::Mutex<()>,
}

impl RemoteJwks {
    pub(crate) fn new(url: String) -> RemoteJwks {
        RemoteJwks {
            url,
            state: Mutex::new(RemoteState::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> MutexGuard<'_, RemoteState> {
        // The state is a few plain fields, consistent after any panic elsewhere.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys_younger_than(&self, age: Duration, now: Instant) -> Option<Arc<KeySet>> {
        let st = self.state();
        let fetched = st.fetched_at?;
        (now.saturating_duration_since(fetched) < age)
            .then(|| st.keys.clone())
            .flatten()
    }

    /// The key for `kid` and `alg`, fetching the JWKS when needed.
    pub(crate) async fn resolve(
        &self,
        kid: &str,
        alg: Algorithm,
        fetcher: &Fetcher,
        policy: CachePolicy,
    ) -> Result<Arc<DecodingKey>, Denied> {
        if let Some(keys) = self.keys_younger_than(policy.ttl, Instant::now()) {
            match keys.lookup(kid, alg) {
                Lookup::Found(k) => return Ok(k),
                Lookup::Mismatch => return Err(Denied::KeyMismatch),
                Lookup::Unknown => {}
            }
        }

        let _one_fetch_at_a_time = self.fetch_lock.lock().await;
        let now = Instant::now();
        let fresh = self.keys_younger_than(policy.ttl, now);
        let may_fetch = self
            .state()
            .last_attempt
            .is_none_or(|t| now.saturating_duration_since(t) >= policy.refresh_min);
        if let Some(keys) = &fresh {
            // Another request may have refreshed the keys while this one waited.
            match keys.lookup(kid, alg) {
                Lookup::Found(k) => return Ok(k),
                Lookup::Mismatch => return Err(Denied::KeyMismatch),
                Lookup::Unknown if !may_fetch => return Err(Denied::UnknownKey),
                Lookup::Unknown => {}
            }
        } else if !may_fetch {
            // Stale or missing keys and a recent attempt (which failed): do not hammer the URL.
            return match self.keys_younger_than(policy.ttl.saturating_mul(2), now) {
                Some(stale) => from_lookup(stale.lookup(kid, alg), Denied::KeysUnavailable),
                None => Err(Denied::KeysUnavailable),
            };
        }

        self.state().last_attempt = Some(now);
        match fetcher.fetch(&self.url).await {
            Ok(keys) => {
                if keys.len() == 0 {
                    tracing::warn!(url = %self.url, "JWKS has no usable keys (EC P-384 or RSA with a kid)");
                }
                let keys = Arc::new(keys);
                {
                    let mut st = self.state();
                    st.keys = Some(Arc::clone(&keys));
                    st.fetched_at = Some(now);
                }
                from_lookup(keys.lookup(kid, alg), Denied::UnknownKey)
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "JWKS fetch failed");
                match self.keys_younger_than(policy.ttl.saturating_mul(2), now) {
                    Some(stale) => from_lookup(stale.lookup(kid, alg), Denied::KeysUnavailable),
                    None => Err(Denied::KeysUnavailable),
                }
            }
        }
    }
}

fn from_lookup(lookup: Lookup, unknown: Denied) -> Result<Arc<DecodingKey>, Denied> {
    match lookup {
        Lookup::Found(k) => Ok(k),
        Lookup::Mismatch => Err(Denied::KeyMismatch),
        Lookup::Unknown => Err(unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/fixtures/auth/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).expect("fixture")
    }

    #[test]
    fn fixtures_are_usable_key_sets() {
        let a = KeySet::from_json(&fixture("ehr-a.jwks.json")).expect("jwks");
        assert_eq!(a.len(), 1);
        assert!(matches!(
            a.lookup("ehr-a-1", Algorithm::ES384),
            Lookup::Found(_)
        ));
        assert!(matches!(
            a.lookup("ehr-a-1", Algorithm::RS384),
            Lookup::Mismatch
        ));
        assert!(matches!(
            a.lookup("other", Algorithm::ES384),
            Lookup::Unknown
        ));
        let b = KeySet::from_json(&fixture("ehr-b.jwks.json")).expect("jwks");
        assert!(matches!(
            b.lookup("ehr-b-1", Algorithm::RS384),
            Lookup::Found(_)
        ));
        assert!(matches!(
            b.lookup("ehr-b-1", Algorithm::ES384),
            Lookup::Mismatch
        ));
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let a: Value = serde_json::from_slice(&fixture("ehr-a.jwks.json")).expect("json");
        let ec = a["keys"][0].clone();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut k = ec.clone();
            f(&mut k);
            let doc = serde_json::json!({ "keys": [k] });
            KeySet::from_json(doc.to_string().as_bytes())
                .expect("jwks")
                .len()
        };
        assert_eq!(with(&|_| {}), 1);
        assert_eq!(with(&|k| k["use"] = "enc".into()), 0);
        assert_eq!(with(&|k| k["alg"] = "ES256".into()), 0);
        assert_eq!(with(&|k| k["alg"] = "RS384".into()), 0);
        assert_eq!(with(&|k| k["alg"] = "ES512".into()), 0);
        assert_eq!(with(&|k| k["crv"] = "P-256".into()), 0);
        assert_eq!(with(&|k| k["x"] = "AAAA".into()), 0);
        assert_eq!(with(&|k| k["key_ops"] = serde_json::json!(["encrypt"])), 0);
        assert_eq!(with(&|k| k["key_ops"] = serde_json::json!(["verify"])), 1);
        assert_eq!(
            with(&|k| {
                if let Some(o) = k.as_object_mut() {
                    o.remove("kid");
                    o.remove("alg");
                }
            }),
            0
        );
        // A symmetric key in a JWKS is never usable.
        let oct = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]});
        assert_eq!(
            KeySet::from_json(oct.to_string().as_bytes())
                .map(|s| s.len())
                .ok(),
            Some(0)
        );
        // A short RSA modulus is refused.
        let rsa =
            serde_json::json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "r"}]});
        assert_eq!(
            KeySet::from_json(rsa.to_string().as_bytes())
                .map(|s| s.len())
                .ok(),
            Some(0)
        );
        assert!(KeySet::from_json(b"[]").is_err());
        assert!(KeySet::from_json(b"{\"keys\": 1}").is_err());
        assert!(KeySet::from_json(b"not json").is_err());
    }
}
