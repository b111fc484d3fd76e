//! The shared store: PostgreSQL through the synchronous `postgres` client, owned by the writer
//! thread. A lost connection is dropped and opened again (tables re-checked) on the next try.
//! Tables are created under a transaction-scoped advisory lock, so servers starting together do
//! not race on `CREATE TABLE IF NOT EXISTS`.

use std::error::Error as _;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, Config, NoTls};
use serde_json::Value;

use super::record::{with_id, FeedbackCount, FeedbackKey};
use super::store::{feedback_sums, Answer, Op, Query, Store, StoreError};
use super::AuditError;

/// The advisory lock taken while the tables are created ("cds_audi").
const SCHEMA_LOCK: i64 = 0x6364_735f_6175_6469;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cds_audit_event (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded      TIMESTAMPTZ      NOT NULL,
    tenant        TEXT             NOT NULL,
    client        TEXT             NOT NULL,
    kind          TEXT             NOT NULL,
    service       TEXT             NOT NULL,
    hook          TEXT,
    hook_instance TEXT,
    status        INTEGER          NOT NULL,
    outcome       TEXT             NOT NULL,
    duration_ms   DOUBLE PRECISION NOT NULL,
    patient_hash  TEXT,
    user_hash     TEXT,
    request_id    TEXT             NOT NULL,
    cards         JSONB            NOT NULL,
    event         JSONB            NOT NULL
);
CREATE INDEX IF NOT EXISTS cds_audit_event_tenant_recorded
    ON cds_audit_event (tenant, recorded);
CREATE INDEX IF NOT EXISTS cds_audit_event_patient
    ON cds_audit_event (patient_hash);
CREATE TABLE IF NOT EXISTS cds_feedback_count (
    tenant   TEXT   NOT NULL,
    service  TEXT   NOT NULL,
    ruleset  TEXT   NOT NULL,
    rule     TEXT   NOT NULL,
    outcome  TEXT   NOT NULL,
    reason   TEXT   NOT NULL,
    count    BIGINT NOT NULL,
    PRIMARY KEY (tenant, service, ruleset, rule, outcome, reason)
);
";

const INSERT_EVENT: &str = "
INSERT INTO cds_audit_event (recorded, tenant, client, kind, service, hook, hook_instance,
    status, outcome, duration_ms, patient_hash, user_hash, request_id, cards, event)
VALUES ($1::text::timestamptz, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

const UPSERT_FEEDBACK: &str = "
INSERT INTO cds_feedback_count (tenant, service, ruleset, rule, outcome, reason, count)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (tenant, service, ruleset, rule, outcome, reason)
DO UPDATE SET count = cds_feedback_count.count + EXCLUDED.count";

/// Reads `postgres_url` (key=value pairs or a `postgres://` URL); a connect timeout of 10 s
/// and `application_name=cds-server-audit` unless the URL sets them. The error never repeats the URL (it may hold a password).
pub(crate) fn parse(url: &str) -> Result<Config, AuditError> {
    let mut config = Config::from_str(url).map_err(|e| {
        let why = e.source().map(|s| format!(" ({s})")).unwrap_or_default();
        AuditError::Config(format!(
            "postgres_url is not a valid connection string{why}"
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("cds-server-audit");
    }
    Ok(config)
}

/// `postgres HOST[:PORT]/DBNAME`, without user or password.
pub(crate) fn describe(config: &Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            let port = ports.get(i).or(if ports.len() == 1 {
                ports.first()
            } else {
                None
            });
            match port {
                Some(p) if *p != 5432 => format!("{host}:{p}"),
                _ => host,
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost".to_string()
    } else {
        hosts.join(",")
    };
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("postgres {hosts}/{db}")
}

/// A PostgreSQL error as a message without data: the server's message and SQLSTATE (never its
/// `DETAIL`, which can repeat row values), or the client's own error and its cause.
fn classify(what: &str, e: &postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let permanent = ["22", "23", "54"].iter().any(|c| code.starts_with(c));
        return StoreError {
            message: format!("{what}: {} (SQLSTATE {code})", db.message()),
            permanent,
        };
    }
    let why = e.source().map(|s| format!(": {s}")).unwrap_or_default();
    StoreError {
        message: format!("{what}: {e}{why}"),
        permanent: false,
    }
}

/// The PostgreSQL store.
pub(crate) struct PgStore {
    config: Config,
    client: Option<Client>,
}

impl PgStore {
    /// Connects and creates the tables; fails when PostgreSQL cannot be reached.
    pub(crate) fn open(config: Config, describe: &str) -> Result<PgStore, AuditError> {
        let mut store = PgStore {
            config,
            client: None,
        };
        store.client().map_err(|e| AuditError::Store {
            store: describe.to_string(),
            what: e.message,
        })?;
        Ok(store)
    }

    /// The open connection, or a new one (with the tables checked).
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            let mut client = self
                .config
                .connect(NoTls)
                .map_err(|e| classify("cannot connect", &e))?;
            create_tables(&mut client)
                .map_err(|e| classify("cannot create the audit tables", &e))?;
            self.client = Some(client);
        }
        self.client.as_mut().ok_or_else(|| StoreError {
            message: "no connection".into(),
            permanent: false,
        })
    }

    /// Runs `f` on the connection; a transient failure drops the connection so that the next
    /// try opens a fresh one.
    fn with_client<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let result = self
            .client()
            .and_then(|c| f(c).map_err(|e| classify(what, &e)));
        if result.as_ref().is_err_and(|e| !e.permanent) {
            self.client = None;
        }
        result
    }
}

fn create_tables(client: &mut Client) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    tx.batch_execute(SCHEMA)?;
    tx.commit()
}

fn write_ops(client: &mut Client, ops: &[Op]) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    if ops.iter().any(|o| matches!(o, Op::Event(_))) {
        let insert = tx.prepare(INSERT_EVENT)?;
        for op in ops {
            if let Op::Event(row) = op {
                tx.execute(
                    &insert,
                    &[
                        &row.recorded,
                        &row.tenant,
                        &row.client,
                        &row.kind,
                        &row.service,
                        &row.hook,
                        &row.hook_instance,
                        &i32::from(row.status),
                        &row.outcome,
                        &row.duration_ms,
                        &row.patient_hash,
                        &row.user_hash,
                        &row.request_id,
                        &row.cards,
                        &row.event,
                    ],
                )?;
            }
        }
    }
    let sums = feedback_sums(ops);
    if !sums.is_empty() {
        let upsert = tx.prepare(UPSERT_FEEDBACK)?;
        for (k, n) in sums {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            tx.execute(
                &upsert,
                &[
                    &k.tenant, &k.service, &k.ruleset, &k.rule, &k.outcome, &k.reason, &n,
                ],
            )?;
        }
    }
    tx.commit()
}

fn feedback_counts(
    client: &mut Client,
    tenant: &str,
) -> Result<Vec<FeedbackCount>, postgres::Error> {
    let rows = client.query(
        "SELECT service, ruleset, rule, outcome, reason, count FROM cds_feedback_count
         WHERE tenant = $1 ORDER BY service, ruleset, rule, outcome, reason",
        &[&tenant],
    )?;
    rows.iter()
        .map(|r| {
            Ok(FeedbackCount {
                key: FeedbackKey {
                    tenant: tenant.to_string(),
                    service: r.try_get(0)?,
                    ruleset: r.try_get(1)?,
                    rule: r.try_get(2)?,
                    outcome: r.try_get(3)?,
                    reason: r.try_get(4)?,
                },
                count: u64::try_from(r.try_get::<_, i64>(5)?).unwrap_or(0),
            })
        })
        .collect()
}

fn events(client: &mut Client, tenant: &str, limit: usize) -> Result<Vec<Value>, postgres::Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client.query(
        "SELECT id, event FROM cds_audit_event WHERE tenant = $1
         ORDER BY recorded DESC, id DESC LIMIT $2",
        &[&tenant, &limit],
    )?;
    rows.iter()
        .map(|r| Ok(with_id(r.try_get::<_, Value>(1)?, r.try_get(0)?)))
        .collect()
}

impl Store for PgStore {
    fn write(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        self.with_client("cannot write", |c| write_ops(c, ops))
    }

    fn read(&mut self, query: &Query) -> Result<Answer, StoreError> {
        match query {
            Query::FeedbackCounts { tenant } => self
                .with_client("cannot read feedback counts", |c| {
                    feedback_counts(c, tenant)
                })
                .map(Answer::FeedbackCounts),
            Query::Events { tenant, limit } => self
                .with_client("cannot read events", |c| events(c, tenant, *limit))
                .map(Answer::Events),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_host_and_database_never_the_password() {
        let d = |url: &str| describe(&parse(url).expect("parses"));
        assert_eq!(
            d("host=127.0.0.1 user=postgres dbname=test"),
            "postgres 127.0.0.1/test"
        );
        let url = "postgres://audit:s3cret-pw@db.example:5433/cds";
        assert_eq!(d(url), "postgres db.example:5433/cds");
        assert_eq!(
            d("host=127.0.0.1 user=postgres password=s3cret-pw"),
            "postgres 127.0.0.1/postgres"
        );
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        let e = parse("postgres://audit:s3cret-pw@db.example:notaport/cds").expect_err("bad");
        let text = e.to_string();
        assert!(text.contains("postgres_url"), "{text}");
        assert!(!text.contains("s3cret-pw"), "{text}");
    }
}
