//! CDS Hooks 2.0.1 client authentication ("Trusting CDS Clients"): every service call carries
//! `Authorization: Bearer <JWT>`, signed by the CDS client (the EHR) with ES384 or RS384.
//!
//! The [`Verifier`] reads the token's header and, unverified, its `iss`; finds the configured
//! client of that issuer; takes the key named by `kid` from the client's JWKS (a local file read
//! at start, a URL fetched and cached, or an allowed `jku` URL); checks the signature with
//! `jsonwebtoken`; then the claims (`aud` is the exact service URL called, `exp`, `iat`, `nbf`,
//! the lifetime); and last records `jti` so that a token is accepted only once.
//!
//! ```toml
//! [auth]
//! audience_base = "https://cds.example.org"
//! clock_skew_seconds = 60
//! max_token_lifetime_seconds = 300
//! admin_role = "cds-admin"
//!
//! [[auth.clients]]
//! iss = "https://ehr.example.org"
//! tenant = "hospital-a"
//! jwks_url = "https://ehr.example.org/.well-known/jwks.json"
//! jku_allow = ["https://ehr.example.org/keys/2025.json"]
//!
//! [[auth.clients]]
//! iss = "ehr-b"
//! tenant = "hospital-b"
//! jwks_file = "/etc/cds/ehr-b.jwks.json"
//! ```
//!
//! ```no_run
//! # async fn run(config: cds_server::auth::AuthConfig, header: Option<&str>) {
//! use cds_server::auth::Verifier;
//! let verifier = std::sync::Arc::new(Verifier::new(&config).expect("valid [auth]"));
//! match verifier.verify(header, "https://cds.example.org/cds-services/news2").await {
//!     Ok(caller) => println!("tenant {}", caller.tenant),
//!     Err(denied) => println!("401: {}", denied.reason()),
//! }
//! # }
//! ```

mod claims;
mod keys;
mod replay;
mod token;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use claims::TimeRules;
use keys::{CachePolicy, Fetcher, KeySet, Lookup, RemoteJwks};
use replay::ReplayGuard;

/// Largest accepted `clock_skew_seconds`.
const MAX_CLOCK_SKEW_SECONDS: u64 = 3600;
/// Largest accepted `max_token_lifetime_seconds`.
const MAX_TOKEN_LIFETIME_SECONDS: u64 = 86_400;

/// The `[auth]` section of the server's TOML config.
///
/// An empty `clients` list means authentication is off; whether that is allowed is the
/// server's decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The trusted CDS clients, one per issuer.
    pub clients: Vec<ClientConfig>,
    /// Allowed clock difference with clients, in seconds (default 60, at most 3600).
    pub clock_skew_seconds: u64,
    /// Largest `exp − iat` of a token, in seconds (default 300, at most 86400).
    pub max_token_lifetime_seconds: u64,
    /// The role that makes a caller an administrator, from the token's `roles` array or its
    /// space-separated `scope` (default `cds-admin`; empty: nobody).
    pub admin_role: String,
    /// The service's public base URL, e.g. `https://cds.example.org`, from which the server
    /// builds the audience of each call. Carried, not used, by the verifier.
    pub audience_base: Option<String>,
    /// How long fetched JWKS are used before refetching, in seconds (default 3600; at least
    /// `jwks_refresh_min_seconds` and 1).
    pub jwks_cache_seconds: u64,
    /// The least time between two fetches of one JWKS URL, in seconds (default 30): an unknown
    /// `kid` refetches at most this often, and so does a failing URL.
    pub jwks_refresh_min_seconds: u64,
    /// Timeout of a JWKS fetch, in milliseconds (default 5000).
    pub jwks_timeout_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            clients: Vec::new(),
            clock_skew_seconds: 60,
            max_token_lifetime_seconds: 300,
            admin_role: "cds-admin".to_owned(),
            audience_base: None,
            jwks_cache_seconds: 3600,
            jwks_refresh_min_seconds: 30,
            jwks_timeout_ms: 5000,
        }
    }
}

/// One trusted CDS client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The client's issuer: the `iss` claim of its tokens.
    pub iss: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// The URL of its JWKS (`http` or `https`); exactly one of `jwks_url` and `jwks_file`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// A local JWKS file, read once at start (relative paths: from the working directory).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// `jku` header URLs honoured for this client (exact match); a token with any other `jku`
    /// is refused.
    #[serde(default)]
    pub jku_allow: Vec<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's issuer (a configured client).
    pub iss: String,
    /// The client's tenant, from the configuration (a token's own `tenant` claim is ignored).
    pub tenant: String,
    /// Whether the token grants the configured admin role.
    pub admin: bool,
    /// The token's `sub`, when present.
    pub sub: Option<String>,
}

/// Why a request was not authenticated. Messages name claims and reasons, never token or
/// claim values; [`Denied::reason`] is a short stable slug for logs, metrics and responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No `Authorization` header, or an empty one.
    #[error("no Authorization header")]
    Missing,
    /// Not `Bearer <JWT>`, or the JWT's parts are not base64url JSON.
    #[error("the Authorization header is not a well-formed Bearer JWT")]
    Malformed,
    /// A signing algorithm other than ES384 or RS384 (including `none` and HMAC).
    #[error("the token's signing algorithm is not accepted (only ES384 and RS384)")]
    Algorithm,
    /// A `typ` header other than `JWT`.
    #[error("the token's typ header is not JWT")]
    TokenType,
    /// A `crit` header: no critical extension is supported.
    #[error("the token has critical header extensions, none of which is supported")]
    CriticalHeader,
    /// No `kid` header.
    #[error("the token header has no kid")]
    MissingKid,
    /// A required claim is absent.
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or form.
    #[error("the token's `{0}` claim has the wrong type or form")]
    InvalidClaim(&'static str),
    /// The issuer is not a configured client.
    #[error("the token's issuer is not a trusted client")]
    UnknownClient,
    /// The `jku` header is not among the client's allowed URLs.
    #[error("the token's jku header is not allowed for its issuer")]
    JkuNotAllowed,
    /// No key of the client's key set has the token's `kid`.
    #[error("no key of the issuer has the token's kid")]
    UnknownKey,
    /// The key with the token's `kid` is not for the token's algorithm.
    #[error("the issuer's key with that kid is not for the token's algorithm")]
    KeyMismatch,
    /// The client's JWKS could not be fetched.
    #[error("the issuer's keys are unavailable")]
    KeysUnavailable,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// `aud` is not the service URL called.
    #[error("the token's audience is not this service")]
    Audience,
    /// `exp` is past (beyond the clock skew).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the clock skew).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `exp − iat` exceeds the configured maximum, or `exp` precedes `iat`.
    #[error("the token's lifetime is longer than allowed")]
    Lifetime,
    /// This issuer's `jti` was already used.
    #[error("the token was already used")]
    Replayed,
}

impl Denied {
    /// A short stable slug: `missing`, `malformed`, `algorithm`, `type`, `critical-header`,
    /// `missing-kid`, `missing-claim`, `invalid-claim`, `unknown-client`, `jku-not-allowed`,
    /// `unknown-key`, `key-mismatch`, `keys-unavailable`, `signature`, `audience`, `expired`,
    /// `not-yet-valid`, `issued-in-future`, `lifetime`, `replayed`.
    ///
    /// ```
    /// assert_eq!(cds_server::auth::Denied::Replayed.reason(), "replayed");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Denied::Missing => "missing",
            Denied::Malformed => "malformed",
            Denied::Algorithm => "algorithm",
            Denied::TokenType => "type",
            Denied::CriticalHeader => "critical-header",
            Denied::MissingKid => "missing-kid",
            Denied::MissingClaim(_) => "missing-claim",
            Denied::InvalidClaim(_) => "invalid-claim",
            Denied::UnknownClient => "unknown-client",
            Denied::JkuNotAllowed => "jku-not-allowed",
            Denied::UnknownKey => "unknown-key",
            Denied::KeyMismatch => "key-mismatch",
            Denied::KeysUnavailable => "keys-unavailable",
            Denied::Signature => "signature",
            Denied::Audience => "audience",
            Denied::Expired => "expired",
            Denied::NotYetValid => "not-yet-valid",
            Denied::IssuedInFuture => "issued-in-future",
            Denied::Lifetime => "lifetime",
            Denied::Replayed => "replayed",
        }
    }
}

/// An invalid `[auth]` section. Clients are named by their `iss`, files by their path.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// A setting is out of range.
    #[error("auth: `{field}` {problem}")]
    Setting {
        /// The setting's name.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A client has an empty `iss`.
    #[error("auth: client #{position} has an empty `iss`")]
    EmptyIssuer {
        /// Its 1-based position in `clients`.
        position: usize,
    },
    /// Two clients have the same `iss`.
    #[error("auth: client `{iss}` is configured twice")]
    DuplicateIssuer {
        /// The issuer.
        iss: String,
    },
    /// A client has an empty `tenant`.
    #[error("auth: client `{iss}` has an empty `tenant`")]
    EmptyTenant {
        /// The issuer.
        iss: String,
    },
    /// A client has both or neither of `jwks_url` and `jwks_file`.
    #[error("auth: client `{iss}` needs exactly one of `jwks_url` and `jwks_file`")]
    KeySource {
        /// The issuer.
        iss: String,
    },
    /// A `jwks_url` or `jku_allow` entry is not an http(s) URL.
    #[error("auth: client `{iss}`: `{field}` entry `{url}` is not an http(s) URL")]
    Url {
        /// The issuer.
        iss: String,
        /// `jwks_url` or `jku_allow`.
        field: &'static str,
        /// The URL as configured.
        url: String,
    },
    /// A `jwks_file` cannot be read.
    #[error("auth: client `{iss}`: cannot read jwks_file {}", path.display())]
    JwksFileRead {
        /// The issuer.
        iss: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `jwks_file` is not a JWKS.
    #[error("auth: client `{iss}`: jwks_file {} is not a JWKS (a JSON object with a `keys` array)", path.display())]
    JwksFileInvalid {
        /// The issuer.
        iss: String,
        /// The file.
        path: PathBuf,
    },
    /// A `jwks_file` has no usable key.
    #[error("auth: client `{iss}`: jwks_file {} has no usable key (EC P-384 or RSA ≥ 2048 bits, with a kid, for ES384/RS384 signatures)", path.display())]
    NoUsableKey {
        /// The issuer.
        iss: String,
        /// The file.
        path: PathBuf,
    },
    /// The HTTP client for JWKS URLs could not be built.
    #[error("auth: cannot build the JWKS HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

/// Where a client's keys come from.
#[derive(Clone)]
enum Source {
    File(Arc<KeySet>),
    Url(Arc<RemoteJwks>),
}

struct Client {
    tenant: String,
    source: Source,
    jku_allow: HashMap<String, Arc<RemoteJwks>>,
}

/// Verifies CDS clients' bearer tokens. `Send + Sync`; build once and share in an `Arc`.
pub struct Verifier {
    clients: HashMap<String, Client>,
    fetcher: Fetcher,
    policy: CachePolicy,
    rules: TimeRules,
    admin_role: String,
    replay: ReplayGuard,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("clients", &self.clients.len())
            .field("rules", &self.rules)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Validates the configuration and reads the clients' `jwks_file`s. JWKS URLs are fetched
    /// on first use.
    pub fn new(config: &AuthConfig) -> Result<Verifier, AuthConfigError> {
        let setting = |field, problem| AuthConfigError::Setting { field, problem };
        if config.clock_skew_seconds > MAX_CLOCK_SKEW_SECONDS {
            return Err(setting("clock_skew_seconds", "must be at most 3600"));
        }
        if config.max_token_lifetime_seconds == 0
            || config.max_token_lifetime_seconds > MAX_TOKEN_LIFETIME_SECONDS
        {
            return Err(setting(
                "max_token_lifetime_seconds",
                "must be between 1 and 86400",
            ));
        }
        if config.jwks_timeout_ms == 0 {
            return Err(setting("jwks_timeout_ms", "must be positive"));
        }
        if config.jwks_cache_seconds == 0
            || config.jwks_cache_seconds < config.jwks_refresh_min_seconds
        {
            return Err(setting(
                "jwks_cache_seconds",
                "must be positive and at least jwks_refresh_min_seconds",
            ));
        }

        let mut remotes: HashMap<String, Arc<RemoteJwks>> = HashMap::new();
        let mut remote = |url: &str| {
            Arc::clone(
                remotes
                    .entry(url.to_owned())
                    .or_insert_with(|| Arc::new(RemoteJwks::new(url.to_owned()))),
            )
        };
        let mut clients = HashMap::new();
        for (i, c) in config.clients.iter().enumerate() {
            if c.iss.is_empty() {
                return Err(AuthConfigError::EmptyIssuer { position: i + 1 });
            }
            let iss = || c.iss.clone();
            if clients.contains_key(&c.iss) {
                return Err(AuthConfigError::DuplicateIssuer { iss: iss() });
            }
            if c.tenant.trim().is_empty() {
                return Err(AuthConfigError::EmptyTenant { iss: iss() });
            }
            let source = match (&c.jwks_url, &c.jwks_file) {
                (Some(url), None) => {
                    check_url(&c.iss, "jwks_url", url)?;
                    Source::Url(remote(url))
                }
                (None, Some(path)) => Source::File(Arc::new(read_jwks_file(&c.iss, path)?)),
                _ => return Err(AuthConfigError::KeySource { iss: iss() }),
            };
            let mut jku_allow = HashMap::new();
            for url in &c.jku_allow {
                check_url(&c.iss, "jku_allow", url)?;
                jku_allow.insert(url.clone(), remote(url));
            }
            clients.insert(
                c.iss.clone(),
                Client {
                    tenant: c.tenant.clone(),
                    source,
                    jku_allow,
                },
            );
        }

        let fetcher = Fetcher::new(Duration::from_millis(config.jwks_timeout_ms))
            .map_err(AuthConfigError::HttpClient)?;
        Ok(Verifier {
            clients,
            fetcher,
            policy: CachePolicy {
                ttl: Duration::from_secs(config.jwks_cache_seconds),
                refresh_min: Duration::from_secs(config.jwks_refresh_min_seconds),
            },
            // Both bounded above, so the conversions cannot fail.
            rules: TimeRules {
                skew: i64::try_from(config.clock_skew_seconds).unwrap_or(i64::MAX),
                max_lifetime: i64::try_from(config.max_token_lifetime_seconds).unwrap_or(i64::MAX),
            },
            admin_role: config.admin_role.clone(),
            replay: ReplayGuard::new(replay::MAX_REMEMBERED),
        })
    }

    /// Whether any client is configured (authentication is on).
    pub fn enabled(&self) -> bool {
        !self.clients.is_empty()
    }

    /// Verifies a raw `Authorization` header value for a call to `audience`, the exact URL of
    /// the CDS service called (e.g. `https://cds.example.org/cds-services/news2`).
    ///
    /// With no clients configured every token is refused (`unknown-client`, or `missing`).
    pub async fn verify(
        &self,
        authorization: Option<&str>,
        audience: &str,
    ) -> Result<Caller, Denied> {
        self.verify_at(authorization, audience, unix_now(), true)
            .await
    }

    /// Verifies like [`Verifier::verify`], but the token may be presented again until it
    /// expires (its `jti` is not spent): for an audience that is a session rather than one
    /// call — the rule studio's page holds one token for all its calls. Its lifetime is still
    /// at most `max_token_lifetime_seconds`, and its audience admits it nowhere else.
    pub async fn verify_session(
        &self,
        authorization: Option<&str>,
        audience: &str,
    ) -> Result<Caller, Denied> {
        self.verify_at(authorization, audience, unix_now(), false)
            .await
    }

    async fn verify_at(
        &self,
        authorization: Option<&str>,
        audience: &str,
        now: i64,
        once: bool,
    ) -> Result<Caller, Denied> {
        let compact = token::bearer(authorization)?;
        let unverified = token::parse(compact)?;
        let header = &unverified.header;
        let alg = match header.alg.as_str() {
            "ES384" => Algorithm::ES384,
            "RS384" => Algorithm::RS384,
            _ => return Err(Denied::Algorithm),
        };
        if header
            .typ
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(Denied::TokenType);
        }
        if header.crit.is_some() {
            return Err(Denied::CriticalHeader);
        }
        let iss = match unverified.payload.get("iss") {
            None => return Err(Denied::MissingClaim("iss")),
            Some(Value::String(iss)) => iss.as_str(),
            Some(_) => return Err(Denied::InvalidClaim("iss")),
        };
        let client = self.clients.get(iss).ok_or(Denied::UnknownClient)?;
        // The key source: an allowed `jku`, else the client's own JWKS.
        let source = match &header.jku {
            Some(jku) => Source::Url(Arc::clone(
                client.jku_allow.get(jku).ok_or(Denied::JkuNotAllowed)?,
            )),
            None => client.source.clone(),
        };
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or(Denied::MissingKid)?;
        let key = match source {
            Source::Url(remote) => remote.resolve(kid, alg, &self.fetcher, self.policy).await?,
            Source::File(keys) => match keys.lookup(kid, alg) {
                Lookup::Found(k) => k,
                Lookup::Mismatch => return Err(Denied::KeyMismatch),
                Lookup::Unknown => return Err(Denied::UnknownKey),
            },
        };

        let claims = verify_signature(unverified.compact, &key, alg)?;
        let checked = claims::check(&claims, audience, now, self.rules)?;
        // Remember the jti until the token would be refused as expired anyway.
        let ttl_secs = checked
            .exp
            .saturating_add(self.rules.skew)
            .saturating_sub(now)
            .max(1);
        let ttl = Duration::from_secs(u64::try_from(ttl_secs).unwrap_or(1));
        if once && !self.replay.first_use(iss, &checked.jti, ttl) {
            return Err(Denied::Replayed);
        }
        Ok(Caller {
            iss: iss.to_owned(),
            tenant: client.tenant.clone(),
            admin: claims::has_role(&claims, &self.admin_role),
            sub: checked.sub,
        })
    }
}

/// Checks the signature (and that the header's algorithm is the key's) with `jsonwebtoken`;
/// the claims are checked by [`claims::check`].
fn verify_signature(
    compact: &str,
    key: &DecodingKey,
    alg: Algorithm,
) -> Result<Map<String, Value>, Denied> {
    let mut validation = Validation::new(alg);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    jsonwebtoken::decode::<Map<String, Value>>(compact, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Denied::Algorithm,
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => Denied::Malformed,
            _ => Denied::Signature,
        })
}

fn check_url(iss: &str, field: &'static str, url: &str) -> Result<(), AuthConfigError> {
    let ok = reqwest::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if ok {
        Ok(())
    } else {
        Err(AuthConfigError::Url {
            iss: iss.to_owned(),
            field,
            url: url.to_owned(),
        })
    }
}

fn read_jwks_file(iss: &str, path: &std::path::Path) -> Result<KeySet, AuthConfigError> {
    let bytes = std::fs::read(path).map_err(|source| AuthConfigError::JwksFileRead {
        iss: iss.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    let keys = KeySet::from_json(&bytes).map_err(|_| AuthConfigError::JwksFileInvalid {
        iss: iss.to_owned(),
        path: path.to_owned(),
    })?;
    if keys.len() == 0 {
        return Err(AuthConfigError::NoUsableKey {
            iss: iss.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(keys)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
