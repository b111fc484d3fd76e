//! The embedded store: one SQLite file (WAL, full sync), or an in-memory database for tests.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode};

use super::record::{with_id, FeedbackCount, FeedbackKey};
use super::store::{feedback_sums, Answer, Op, Query, Store, StoreError};
use super::AuditError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cds_audit_event (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded      TEXT    NOT NULL,
    tenant        TEXT    NOT NULL,
    client        TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    service       TEXT    NOT NULL,
    hook          TEXT,
    hook_instance TEXT,
    status        INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,
    duration_ms   REAL    NOT NULL,
    patient_hash  TEXT,
    user_hash     TEXT,
    request_id    TEXT    NOT NULL,
    cards         TEXT    NOT NULL,
    event         TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS cds_audit_event_tenant_recorded
    ON cds_audit_event (tenant, recorded);
CREATE INDEX IF NOT EXISTS cds_audit_event_patient
    ON cds_audit_event (patient_hash);
CREATE TABLE IF NOT EXISTS cds_feedback_count (
    tenant   TEXT    NOT NULL,
    service  TEXT    NOT NULL,
    ruleset  TEXT    NOT NULL,
    rule     TEXT    NOT NULL,
    outcome  TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (tenant, service, ruleset, rule, outcome, reason)
);
";

const INSERT_EVENT: &str = "
INSERT INTO cds_audit_event (recorded, tenant, client, kind, service, hook, hook_instance,
    status, outcome, duration_ms, patient_hash, user_hash, request_id, cards, event)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

const UPSERT_FEEDBACK: &str = "
INSERT INTO cds_feedback_count (tenant, service, ruleset, rule, outcome, reason, count)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (tenant, service, ruleset, rule, outcome, reason)
DO UPDATE SET count = count + excluded.count";

/// The SQLite store.
pub(crate) struct SqliteStore {
    conn: Connection,
}

fn open_error(describe: &str, what: &str, e: rusqlite::Error) -> AuditError {
    AuditError::Store {
        store: describe.to_string(),
        what: format!("{what}: {e}"),
    }
}

impl SqliteStore {
    /// Opens (creating when absent) the database file and its tables.
    pub(crate) fn open_file(path: &Path, describe: &str) -> Result<SqliteStore, AuditError> {
        let conn = Connection::open(path).map_err(|e| open_error(describe, "cannot open", e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| open_error(describe, "cannot set the busy timeout", e))?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(|e| open_error(describe, "cannot switch to WAL", e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| open_error(describe, "cannot set synchronous", e))?;
        SqliteStore::with_schema(conn, describe)
    }

    /// An in-memory database (gone with the writer).
    pub(crate) fn open_memory(describe: &str) -> Result<SqliteStore, AuditError> {
        let conn =
            Connection::open_in_memory().map_err(|e| open_error(describe, "cannot open", e))?;
        SqliteStore::with_schema(conn, describe)
    }

    fn with_schema(conn: Connection, describe: &str) -> Result<SqliteStore, AuditError> {
        conn.execute_batch(SCHEMA)
            .map_err(|e| open_error(describe, "cannot create the audit tables", e))?;
        Ok(SqliteStore { conn })
    }

    fn write_ops(&mut self, ops: &[Op]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(INSERT_EVENT)?;
            for op in ops {
                if let Op::Event(row) = op {
                    insert.execute(params![
                        row.recorded,
                        row.tenant,
                        row.client,
                        row.kind,
                        row.service,
                        row.hook,
                        row.hook_instance,
                        i64::from(row.status),
                        row.outcome,
                        row.duration_ms,
                        row.patient_hash,
                        row.user_hash,
                        row.request_id,
                        row.cards.to_string(),
                        row.event.to_string(),
                    ])?;
                }
            }
            let mut upsert = tx.prepare_cached(UPSERT_FEEDBACK)?;
            for (k, n) in feedback_sums(ops) {
                upsert.execute(params![
                    k.tenant,
                    k.service,
                    k.ruleset,
                    k.rule,
                    k.outcome,
                    k.reason,
                    i64::try_from(n).unwrap_or(i64::MAX),
                ])?;
            }
        }
        tx.commit()
    }

    fn feedback_counts(&self, tenant: &str) -> rusqlite::Result<Vec<FeedbackCount>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT service, ruleset, rule, outcome, reason, count FROM cds_feedback_count
             WHERE tenant = ?1 ORDER BY service, ruleset, rule, outcome, reason",
        )?;
        let rows = stmt.query_map([tenant], |r| {
            Ok(FeedbackCount {
                key: FeedbackKey {
                    tenant: tenant.to_string(),
                    service: r.get(0)?,
                    ruleset: r.get(1)?,
                    rule: r.get(2)?,
                    outcome: r.get(3)?,
                    reason: r.get(4)?,
                },
                count: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            })
        })?;
        rows.collect()
    }

    fn events(&self, tenant: &str, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raw: Vec<(i64, String)> = (|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, event FROM cds_audit_event WHERE tenant = ?1
                 ORDER BY recorded DESC, id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![tenant, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })()
        .map_err(|e| classify("cannot read events", e))?;
        raw.into_iter()
            .map(|(id, text)| {
                serde_json::from_str(&text)
                    .map(|event| with_id(event, id))
                    .map_err(|_| StoreError {
                        message: format!("stored event {id} is not valid JSON"),
                        permanent: true,
                    })
            })
            .collect()
    }
}

/// SQLite failures are transient (busy, I/O, full disk) except refusals of the data itself.
fn classify(what: &str, e: rusqlite::Error) -> StoreError {
    let permanent = matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation | ErrorCode::TooBig | ErrorCode::TypeMismatch)
    );
    StoreError {
        message: format!("{what}: {e}"),
        permanent,
    }
}

impl Store for SqliteStore {
    fn write(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        self.write_ops(ops).map_err(|e| classify("cannot write", e))
    }

    fn read(&mut self, query: &Query) -> Result<Answer, StoreError> {
        match query {
            Query::FeedbackCounts { tenant } => self
                .feedback_counts(tenant)
                .map(Answer::FeedbackCounts)
                .map_err(|e| classify("cannot read feedback counts", e)),
            Query::Events { tenant, limit } => self.events(tenant, *limit).map(Answer::Events),
        }
    }
}
