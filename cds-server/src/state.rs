//! What the handlers share: configuration, the loaded rules (swapped whole on reload), the
//! token verifier and tenants, the audit store, the FHIR client, metrics and the short-lived
//! map from card uuids to rules (for feedback).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use cds_rules::engine::{Engine, EngineError};

use crate::config::Config;
use crate::fetch::Fetcher;
use crate::metrics::{Metrics, ReloadLabels};
use crate::services::{services, Service};
use crate::validate::Schemas;

/// Loaded rulesets and the services made of them.
pub struct Rules {
    /// The engine.
    pub engine: Arc<Engine>,
    /// The services, in discovery order.
    pub services: Vec<Service>,
    index: HashMap<String, usize>,
}

impl Rules {
    /// Services of an engine.
    pub fn new(engine: Engine) -> Rules {
        let services = services(&engine);
        let index = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        Rules {
            engine: Arc::new(engine),
            services,
            index,
        }
    }

    /// The service with this id.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.index.get(id).map(|&i| &self.services[i])
    }
}

/// What a card uuid stands for (kept a while for feedback; no patient data).
#[derive(Debug, Clone)]
pub struct CardRef {
    /// The tenant it was answered to (feedback from another tenant does not count for it).
    pub tenant: String,
    /// The service that answered it.
    pub service: String,
    /// Its ruleset.
    pub ruleset: String,
    /// Its rule.
    pub rule: String,
    /// The override reason codes it offered.
    pub reasons: Vec<String>,
}

/// Why the server's state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The rulesets did not load.
    #[error("rulesets: {0}")]
    Rulesets(#[from] EngineError),
    /// The `[auth]` section is wrong.
    #[error("auth: {0}")]
    Auth(#[from] crate::auth::AuthConfigError),
    /// The `[[tenants]]` are wrong.
    #[error(transparent)]
    Tenants(#[from] crate::tenants::TenantError),
    /// The audit store cannot be opened.
    #[error("audit: {0}")]
    Audit(#[from] crate::audit::AuditError),
}

/// The shared state of the server.
pub struct AppState {
    /// The configuration it started with.
    pub config: Config,
    /// The rules now serving.
    pub rules: ArcSwap<Rules>,
    /// The compiled request schemas.
    pub schemas: Schemas,
    /// The FHIR client for missing prefetch.
    pub fetcher: Fetcher,
    /// Metrics.
    pub metrics: Metrics,
    /// Card uuid → rule, for a day, at most 250,000 cards (about 150 MB at most, measured by
    /// the soak: benches/soak.md).
    pub cards: moka::sync::Cache<String, Arc<CardRef>>,
    /// What the last reload reported (file and first line of the error; no patient data).
    pub reload_problems: ArcSwap<Vec<String>>,
    /// Registered devices and their readings (memory only).
    pub devices: crate::devices::Devices,
    /// Checks client tokens (disabled when no clients are configured).
    pub verifier: crate::auth::Verifier,
    /// The tenants and their rulesets.
    pub tenants: crate::tenants::Tenants,
    /// The audit store (also feedback counts).
    pub audit: crate::audit::Audit,
}

impl AppState {
    /// Loads the configured rulesets and builds the state.
    pub fn new(config: Config) -> Result<AppState, StateError> {
        let engine = Engine::load(&config.rulesets)?;
        AppState::with_engine(config, engine)
    }

    /// State around an engine already loaded: checks the auth and tenants configuration and
    /// opens the audit store.
    pub fn with_engine(config: Config, engine: Engine) -> Result<AppState, StateError> {
        let verifier = crate::auth::Verifier::new(&config.auth)?;
        let tenants = crate::tenants::Tenants::new(&config.tenants)?;
        tenants.check_clients(
            config
                .auth
                .clients
                .iter()
                .map(|c| (c.iss.as_str(), c.tenant.as_str())),
        )?;
        let audit = crate::audit::Audit::open(&config.audit)?;
        Ok(AppState {
            verifier,
            tenants,
            audit,
            schemas: Schemas::new().expect("the embedded schemas compile (checked by tests)"),
            fetcher: Fetcher::new(config.fetch.clone()),
            rules: ArcSwap::from_pointee(Rules::new(engine)),
            metrics: Metrics::default(),
            cards: moka::sync::Cache::builder()
                .max_capacity(250_000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
            reload_problems: ArcSwap::from_pointee(Vec::new()),
            devices: crate::devices::Devices::new(&config.devices),
            config,
        })
    }

    /// Reloads the rulesets folder. A file that fails the checker keeps its previous version
    /// serving and is reported; if the whole set cannot load, everything previous keeps
    /// serving. Returns the problems (file: error), empty when all loaded.
    pub fn reload(&self) -> Vec<String> {
        let previous = self.rules.load_full();
        let dir: PathBuf = self.config.rulesets.clone();
        let (result, problems) = match Engine::load_keeping(&dir, Some(&previous.engine)) {
            Ok((engine, failed)) => {
                let problems: Vec<String> = failed
                    .iter()
                    .map(|(p, e)| format!("{}: {}", p.display(), first_line(e)))
                    .collect();
                self.rules.store(Arc::new(Rules::new(engine)));
                (if problems.is_empty() { "ok" } else { "partial" }, problems)
            }
            Err(e) => ("failed", vec![first_line(&e)]),
        };
        self.metrics
            .reloads
            .get_or_create(&ReloadLabels {
                result: result.to_string(),
            })
            .inc();
        for p in &problems {
            tracing::warn!(problem = %p, "ruleset not reloaded; its previous version keeps serving");
        }
        tracing::info!(
            result,
            services = self.rules.load().services.len(),
            "rulesets reloaded"
        );
        self.reload_problems.store(Arc::new(problems.clone()));
        problems
    }
}

fn first_line(e: &EngineError) -> String {
    use miette::Diagnostic;
    let mut s = e.to_string();
    if let Some(labels) = e.labels() {
        if let Some(l) = labels.into_iter().next() {
            s.push_str(&format!(" (at byte {})", l.offset()));
        }
    }
    s.lines().next().unwrap_or_default().to_string()
}
