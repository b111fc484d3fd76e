//! The server's configuration: one TOML file, overridden by `CDS_*` environment variables,
//! overridden by command-line flags.
//!
//! ```toml
//! addr = "127.0.0.1:8080"
//! rulesets = "rulesets"
//!
//! [limits]
//! max_body_bytes = 8388608
//! max_json_depth = 64
//! max_resources = 50000
//! max_concurrent_requests = 64
//! request_timeout_ms = 10000
//! max_evaluation_ms = 2000
//! max_connections = 1024
//! header_read_timeout_ms = 5000
//! idle_timeout_ms = 60000
//! tls_handshake_timeout_ms = 5000
//!
//! [fetch]
//! timeout_ms = 5000
//! max_bytes = 16777216
//! allowed_servers = []          # URL prefixes; empty: any http(s) server
//!
//! [devices]
//! max_patients = 10000
//! max_readings_per_patient = 2000
//! ttl_seconds = 86400
//!
//! [auth]                        # CDS Hooks client JWTs; no clients: no authentication
//! clock_skew_seconds = 60
//! max_token_lifetime_seconds = 300
//! admin_role = "cds-admin"
//! audience_base = "https://cds.example.org"
//!
//! [[auth.clients]]
//! iss = "https://ehr.example.org"
//! tenant = "north"
//! jwks_url = "https://ehr.example.org/.well-known/jwks.json"   # or jwks_file = "..."
//! jku_allow = []
//!
//! [[tenants]]
//! id = "north"
//! rulesets = ["news2", "potassium"]   # or ["*"]
//!
//! [tls]                         # on when cert and key are set
//! cert = "server.pem"
//! key = "server.key"
//! client_ca = "clients-ca.pem"  # mutual TLS
//! client_cert = "required"      # or "optional"
//!
//! [audit]
//! store = "sqlite"              # or "postgres" (postgres_url), or "memory" (tests)
//! sqlite_path = "cds-audit.sqlite"
//!
//! [studio]                      # the rule studio at /studio/ (admin role when auth is on)
//! enabled = true
//! samples = ["examples/data", "../shared/data"]   # sample patients (JSON) and cohorts (NDJSON)
//! keep_versions = 20            # previous versions kept per ruleset file in .history/
//! ```
//!
//! Without trusted clients the server runs only on a loopback address, unless
//! `insecure_no_auth = true` (flag `--insecure-no-auth`). See the README's security section.
//!
//! Environment: `CDS_ADDR`, `CDS_RULESETS`, and `CDS_<SECTION>__<KEY>` for the sections,
//! e.g. `CDS_LIMITS__MAX_BODY_BYTES=1048576`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything the server reads at start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The rulesets folder (every `.rules` file under it).
    pub rulesets: PathBuf,
    /// Reload rulesets when their files change (SIGHUP always reloads).
    pub watch: bool,
    /// Request limits.
    pub limits: Limits,
    /// Fetching missing prefetch from the client's FHIR server.
    pub fetch: Fetch,
    /// The in-memory window of device readings.
    pub devices: Devices,
    /// Log format: `json` (default) or `text`.
    pub log_format: LogFormat,
    /// CDS Hooks client authentication.
    pub auth: crate::auth::AuthConfig,
    /// Tenants and the rulesets each sees.
    pub tenants: Vec<crate::tenants::TenantConfig>,
    /// TLS and mutual TLS.
    pub tls: crate::listen::TlsConfig,
    /// The audit store.
    pub audit: crate::audit::AuditConfig,
    /// Serve without authentication on a non-loopback address (logged loudly).
    pub insecure_no_auth: bool,
    /// The rule studio (`/studio/`).
    pub studio: crate::studio::StudioConfig,
}

/// Request limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Requests handled at once; more are shed with 503 and `Retry-After`.
    pub max_concurrent_requests: usize,
    /// The longest a request may take, in milliseconds (503 beyond).
    pub request_timeout_ms: u64,
    /// Most resources a call may bring (prefetch, context and fetched together).
    pub max_resources: usize,
    /// Deepest nesting of JSON arrays and objects in a body (400 beyond).
    pub max_json_depth: usize,
    /// The longest one evaluation of rules may take, in milliseconds (503 beyond).
    pub max_evaluation_ms: u64,
    /// Open connections at most.
    pub max_connections: usize,
    /// A client must send its request line and headers within this, in milliseconds.
    pub header_read_timeout_ms: u64,
    /// A kept-alive connection without a request is closed after this, in milliseconds.
    pub idle_timeout_ms: u64,
    /// A TLS handshake must finish within this, in milliseconds.
    pub tls_handshake_timeout_ms: u64,
}

/// Fetching data from `fhirServer` when a prefetch key is absent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Fetch {
    /// Timeout of one fetch, in milliseconds.
    pub timeout_ms: u64,
    /// Largest answer read from a FHIR server, in bytes.
    pub max_bytes: usize,
    /// Most search result pages followed per query.
    pub max_pages: usize,
    /// URL prefixes a `fhirServer` must start with; empty: any `http`/`https` URL.
    pub allowed_servers: Vec<String>,
}

/// The bounded, expiring window of device readings (memory only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Devices {
    /// Most patients with a window at once (least recently used are dropped).
    pub max_patients: u64,
    /// Most readings kept per patient (oldest are dropped).
    pub max_readings_per_patient: usize,
    /// Seconds a patient's window lives after its last reading.
    pub ttl_seconds: u64,
    /// Most devices registered at once.
    pub max_devices: u64,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            rulesets: PathBuf::from("rulesets"),
            watch: true,
            limits: Limits::default(),
            fetch: Fetch::default(),
            devices: Devices::default(),
            log_format: LogFormat::Json,
            auth: Default::default(),
            tenants: Vec::new(),
            tls: Default::default(),
            audit: Default::default(),
            insecure_no_auth: false,
            studio: crate::studio::StudioConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 << 20,
            max_concurrent_requests: 64,
            request_timeout_ms: 10_000,
            max_resources: 50_000,
            max_json_depth: crate::body::DEFAULT_MAX_DEPTH,
            max_evaluation_ms: 2_000,
            max_connections: 1_024,
            header_read_timeout_ms: 5_000,
            idle_timeout_ms: 60_000,
            tls_handshake_timeout_ms: 5_000,
        }
    }
}

impl Default for Fetch {
    fn default() -> Self {
        Fetch {
            timeout_ms: 5_000,
            max_bytes: 16 << 20,
            max_pages: 20,
            allowed_servers: Vec::new(),
        }
    }
}

impl Default for Devices {
    fn default() -> Self {
        Devices {
            max_patients: 10_000,
            max_readings_per_patient: 2_000,
            ttl_seconds: 24 * 3600,
            max_devices: 100_000,
        }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Reads the defaults, then `file` (if given), then the `CDS_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, Env::prefixed("CDS_").split("__"))
    }

    fn load_with_env(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.is_file() {
                return Err(ConfigError(format!("{}: no such file", f.display())));
            }
            fig = fig.merge(Toml::file(f));
        }
        fig.merge(env)
            .extract()
            .map_err(|e| ConfigError(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_8080() {
        let c = Config::default();
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.rulesets, PathBuf::from("rulesets"));
    }

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "cds.toml",
                "addr = \"127.0.0.1:9000\"\n[limits]\nmax_body_bytes = 1000\n",
            )?;
            jail.set_env("CDS_LIMITS__MAX_BODY_BYTES", "2000");
            jail.set_env("CDS_RULESETS", "elsewhere");
            let c = Config::load(Some(Path::new("cds.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.addr.to_string(), "127.0.0.1:9000");
            assert_eq!(c.limits.max_body_bytes, 2000);
            assert_eq!(c.rulesets, PathBuf::from("elsewhere"));
            assert_eq!(c.limits.max_concurrent_requests, 64);
            Ok(())
        });
    }

    /// The example at the top of this module is a configuration the server reads.
    #[test]
    fn the_documented_example_is_read() {
        let source = include_str!("config.rs");
        let example: String = source
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .skip_while(|l| !l.starts_with("```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("```"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(example.contains("[[tenants]]"), "{example}");
        figment::Jail::expect_with(|jail| {
            jail.create_file("cds.toml", &example)?;
            let c = Config::load(Some(Path::new("cds.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.auth.clients[0].tenant, "north");
            assert_eq!(c.tenants[0].rulesets, ["news2", "potassium"]);
            assert!(c.tls.client_ca.is_some());
            assert_eq!(c.limits.max_json_depth, 64);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors_that_name_them() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("cds.toml", "[limits]\nmax_bodybytes = 1\n")?;
            let e = Config::load(Some(Path::new("cds.toml"))).unwrap_err();
            assert!(e.to_string().contains("max_bodybytes"), "{e}");
            Ok(())
        });
    }
}
