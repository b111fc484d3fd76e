//! The audit trail: one FHIR R4 `AuditEvent` per call, and feedback counts, in a durable store.
//!
//! * `record`: what a call leaves behind ([`CallRecord`]) and the AuditEvent built from it;
//! * `hash`: patient and user ids become HMAC-SHA256 hashes (hex) with a key kept in a file;
//! * `store`: one writer thread, fed by a bounded channel, batching writes in transactions;
//! * `sqlite` (default, one embedded file) and `postgres` (shared by several servers).
//!
//! No request body, resource, free text or raw patient or user identifier is ever stored:
//! [`Audit::record`] hashes the ids before anything is queued, and errors and logs carry neither
//! ids nor connection passwords.
//!
//! ```
//! # async fn demo() -> Result<(), cds_server::audit::AuditError> {
//! use cds_server::audit::{Audit, AuditConfig, CallKind, CallRecord, StoreKind};
//! let config = AuditConfig { store: StoreKind::Memory, ..AuditConfig::default() };
//! let audit = Audit::open(&config)?;
//! let mut call = CallRecord::new(CallKind::ServiceCall, "bp-check");
//! call.status = 200;
//! call.patient_id = Some("Patient/123".into()); // stored only as audit.hash("Patient/123")
//! audit.record(call).await;
//! audit.flush().await?;
//! let events = audit.events("", 10).await?;
//! assert_eq!(events[0]["entity"][0]["what"]["identifier"]["value"], audit.hash("Patient/123"));
//! # Ok(()) }
//! ```

mod hash;
mod postgres;
mod record;
mod sqlite;
mod store;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

pub use record::{CallKind, CallRecord, FeedbackCount, FeedbackKey};
pub use store::AuditStats;

use hash::Hasher;
use record::EventRow;
use store::{Answer, Msg, Op, Query, Shared, Store, Writer};

/// Where audit records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// An embedded SQLite file (`sqlite_path`).
    #[default]
    Sqlite,
    /// PostgreSQL (`postgres_url`), which several servers can share.
    Postgres,
    /// In-memory SQLite, for tests and embedding: not durable.
    Memory,
}

/// The `[audit]` section of the server's TOML config.
///
/// ```toml
/// [audit]
/// store = "postgres"
/// postgres_url = "host=db.internal user=cds dbname=cds"
/// hash_key_file = "/etc/cds/audit.key"
/// ```
///
/// `Debug` shows `postgres_url` with its password hidden.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// `sqlite` (default), `postgres` or `memory`.
    pub store: StoreKind,
    /// The SQLite file; default `cds-audit.sqlite`.
    pub sqlite_path: PathBuf,
    /// A libpq-style `key=value` string or a `postgres://` URL; required for `postgres`.
    pub postgres_url: Option<String>,
    /// The HMAC key file (at least 32 bytes), created with 32 random bytes (mode 0600) when
    /// absent. Default `<sqlite_path>.key` for `sqlite`; required for `postgres` (give every
    /// server the same key so that hashes join); a random key per start for `memory`.
    pub hash_key_file: Option<PathBuf>,
    /// Records waiting to be written (default 10 000); when full, callers wait.
    pub queue: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            store: StoreKind::Sqlite,
            sqlite_path: PathBuf::from("cds-audit.sqlite"),
            postgres_url: None,
            hash_key_file: None,
            queue: 10_000,
        }
    }
}

impl fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self
            .postgres_url
            .as_ref()
            .map(|u| match postgres::parse(u) {
                Ok(c) if c.get_password().is_some() => {
                    format!("{} (password hidden)", postgres::describe(&c))
                }
                Ok(c) => postgres::describe(&c),
                Err(_) => "<unparsable, hidden>".to_string(),
            });
        f.debug_struct("AuditConfig")
            .field("store", &self.store)
            .field("sqlite_path", &self.sqlite_path)
            .field("postgres_url", &url)
            .field("hash_key_file", &self.hash_key_file)
            .field("queue", &self.queue)
            .finish()
    }
}

/// Why the audit trail could not be opened, written or read. Messages name the store or file
/// and what failed; never an identifier, a record's content or a password.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuditError {
    /// The `[audit]` configuration cannot work.
    #[error("audit configuration: {0}")]
    Config(String),
    /// The hash key file cannot be read or created, or is too short.
    #[error("audit hash key file {}: {what}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What failed.
        what: String,
    },
    /// The store failed (cannot open, create tables, write or read).
    #[error("audit store {store}: {what}")]
    Store {
        /// [`Audit::describe`] of the store.
        store: String,
        /// What failed.
        what: String,
    },
    /// Writes are failing and being retried; records are kept, reads and flushes wait for
    /// the store to come back.
    #[error("audit store {store} is failing ({failures} failed writes so far); records are kept and retried")]
    Unavailable {
        /// [`Audit::describe`] of the store.
        store: String,
        /// Failed write attempts so far.
        failures: u64,
    },
    /// The writer thread is gone.
    #[error("the audit writer has stopped")]
    Stopped,
}

/// The audit trail: cheap to clone (all clones share one writer); `Send + Sync`.
///
/// Call [`Audit::flush`] before the process exits: the writer stores what is left when the
/// last clone is dropped, but a process that exits first loses what was still queued.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Msg>,
    hasher: Hasher,
    describe: String,
    shared: Arc<Shared>,
}

impl fmt::Debug for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audit")
            .field("store", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

type Opener = Box<dyn FnOnce() -> Result<Box<dyn Store>, AuditError> + Send>;

impl Audit {
    /// Opens the store (creating its tables when absent) and the key (creating it when absent),
    /// and starts the writer thread. With `postgres`, PostgreSQL must be reachable now.
    ///
    /// Blocks while connecting: call it at start-up (it is fine inside a tokio runtime).
    pub fn open(config: &AuditConfig) -> Result<Audit, AuditError> {
        if config.queue == 0 {
            return Err(AuditError::Config("queue must be at least 1".into()));
        }
        let (describe, hasher, opener): (String, Hasher, Opener) = match config.store {
            StoreKind::Sqlite => {
                let path = config.sqlite_path.clone();
                let key_file = config.hash_key_file.clone().unwrap_or_else(|| {
                    let mut name = path.as_os_str().to_owned();
                    name.push(".key");
                    PathBuf::from(name)
                });
                let hasher = Hasher::new(&hash::load_or_create_key(&key_file)?)?;
                let describe = format!("sqlite {}", path.display());
                let d = describe.clone();
                let opener: Opener = Box::new(move || {
                    Ok(Box::new(sqlite::SqliteStore::open_file(&path, &d)?) as Box<dyn Store>)
                });
                (describe, hasher, opener)
            }
            StoreKind::Memory => {
                let hasher = match &config.hash_key_file {
                    Some(f) => Hasher::new(&hash::load_or_create_key(f)?)?,
                    None => Hasher::random()?,
                };
                let describe = "sqlite in memory".to_string();
                let d = describe.clone();
                let opener: Opener = Box::new(move || {
                    Ok(Box::new(sqlite::SqliteStore::open_memory(&d)?) as Box<dyn Store>)
                });
                (describe, hasher, opener)
            }
            StoreKind::Postgres => {
                let url = config.postgres_url.as_deref().ok_or_else(|| {
                    AuditError::Config("store = \"postgres\" needs postgres_url".into())
                })?;
                let pg = postgres::parse(url)?;
                let key_file = config.hash_key_file.as_ref().ok_or_else(|| {
                    AuditError::Config(
                        "store = \"postgres\" needs hash_key_file (the same key on every server, \
                         so that hashes join)"
                            .into(),
                    )
                })?;
                let hasher = Hasher::new(&hash::load_or_create_key(key_file)?)?;
                let describe = postgres::describe(&pg);
                let d = describe.clone();
                let opener: Opener = Box::new(move || {
                    Ok(Box::new(postgres::PgStore::open(pg, &d)?) as Box<dyn Store>)
                });
                (describe, hasher, opener)
            }
        };
        Audit::start(opener, describe, hasher, config.queue)
    }

    /// Starts the writer on the store `opener` makes (in the writer thread, since the
    /// synchronous PostgreSQL client must not run inside a tokio runtime).
    fn start(
        opener: Opener,
        describe: String,
        hasher: Hasher,
        queue: usize,
    ) -> Result<Audit, AuditError> {
        let (tx, rx) = mpsc::channel(queue);
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (d, s) = (describe.clone(), shared.clone());
        std::thread::Builder::new()
            .name("cds-audit-writer".into())
            .spawn(move || match opener() {
                Ok(store) => {
                    let _ = ready_tx.send(Ok(()));
                    Writer::new(store, d, s).run(rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| AuditError::Store {
                store: describe.clone(),
                what: format!("cannot start the writer thread: {e}"),
            })?;
        ready_rx.recv().map_err(|_| AuditError::Stopped)??;
        Ok(Audit {
            inner: Arc::new(Inner {
                tx,
                hasher,
                describe,
                shared,
            }),
        })
    }

    async fn send(&self, msg: Msg) -> bool {
        if self.inner.tx.send(msg).await.is_ok() {
            return true;
        }
        self.inner
            .shared
            .lost
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(store = %self.inner.describe, "the audit writer has stopped; a record is lost");
        false
    }

    /// Queues one call's record; the patient and user ids are hashed here, before queueing.
    /// Waits while the queue is full.
    pub async fn record(&self, r: CallRecord) {
        let row = EventRow::new(r, &self.inner.hasher);
        self.send(Msg::Op(Op::Event(Box::new(row)))).await;
    }

    /// Queues adding `n` to the feedback count of `key` (created at `n` when new).
    pub async fn feedback(&self, key: FeedbackKey, n: u64) {
        if n > 0 {
            self.send(Msg::Op(Op::Feedback(key.cleaned(), n))).await;
        }
    }

    fn check_failing(&self) -> Result<(), AuditError> {
        let stats = self.inner.shared.stats();
        if stats.failing {
            return Err(AuditError::Unavailable {
                store: self.inner.describe.clone(),
                failures: stats.write_failures,
            });
        }
        Ok(())
    }

    /// Resolves once everything queued before it is stored; an error when the store is
    /// failing (the records stay queued and are retried).
    pub async fn flush(&self) -> Result<(), AuditError> {
        self.check_failing()?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Msg::Flush(reply))
            .await
            .map_err(|_| AuditError::Stopped)?;
        answer.await.map_err(|_| AuditError::Stopped)?
    }

    async fn read(&self, query: Query) -> Result<Answer, AuditError> {
        self.check_failing()?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Msg::Read(query, reply))
            .await
            .map_err(|_| AuditError::Stopped)?;
        answer.await.map_err(|_| AuditError::Stopped)?
    }

    /// The feedback counts of `tenant`, ordered by service, ruleset, rule, outcome, reason
    /// (everything queued before is stored first).
    pub async fn feedback_counts(&self, tenant: &str) -> Result<Vec<FeedbackCount>, AuditError> {
        match self
            .read(Query::FeedbackCounts {
                tenant: tenant.to_string(),
            })
            .await?
        {
            Answer::FeedbackCounts(c) => Ok(c),
            Answer::Events(_) => Err(AuditError::Stopped),
        }
    }

    /// The newest `limit` AuditEvents of `tenant`, newest first, each with `id` (the row id).
    /// From PostgreSQL the keys come back in `jsonb` order.
    pub async fn events(&self, tenant: &str, limit: usize) -> Result<Vec<Value>, AuditError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        match self
            .read(Query::Events {
                tenant: tenant.to_string(),
                limit,
            })
            .await?
        {
            Answer::Events(e) => Ok(e),
            Answer::FeedbackCounts(_) => Err(AuditError::Stopped),
        }
    }

    /// The keyed hash stored in place of an identifier: HMAC-SHA256 in lowercase hex. Use it
    /// to find a patient's events (`patient_hash` column).
    pub fn hash(&self, id: &str) -> String {
        self.inner.hasher.hash(id)
    }

    /// The store, for logs: `sqlite cds-audit.sqlite`, `sqlite in memory` or
    /// `postgres 127.0.0.1/test` (never a user or password).
    pub fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    /// Counters: stored, failed attempts, refused, lost; whether writes are failing now.
    pub fn stats(&self) -> AuditStats {
        self.inner.shared.stats()
    }

    /// Whether the store is failing and its queue is full: a record sent now would wait for
    /// the store to come back. The server sheds calls (503) rather than answer unaudited.
    pub fn saturated(&self) -> bool {
        self.inner.tx.capacity() == 0 && self.inner.shared.stats().failing
    }
}

#[cfg(test)]
mod tests;
