//! The audit trail end to end: SQLite in a temporary folder and in memory, PostgreSQL at
//! 127.0.0.1:5432 (user postgres, database test; `CDS_AUDIT_TEST_POSTGRES` overrides), and a
//! flaky store for the writer's retries.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};

use super::store::tests::FlakyStore;
use super::*;

const RAW_PATIENT: &str = "Patient/raw-patient-8675309";
const RAW_USER: &str = "Practitioner/raw-user-5551212";

fn unique(tag: &str) -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("random");
    format!(
        "{tag}-{}-{:016x}",
        std::process::id(),
        u64::from_le_bytes(b)
    )
}

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(unique("cds-audit-test"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn call(tenant: &str, second: u32) -> CallRecord {
    let mut r = CallRecord::new(CallKind::ServiceCall, "bp-check");
    r.time = Utc
        .with_ymd_and_hms(2024, 5, 1, 12, 0, second)
        .single()
        .expect("time");
    r.tenant = tenant.into();
    r.client = "https://ehr.example".into();
    r.hook = Some("patient-view".into());
    r.hook_instance = Some(format!("hook-instance-{second}"));
    r.status = 200;
    r.cards_by_rule.insert("hypertension/high-bp".into(), 1);
    r.duration_ms = 3.25;
    r.request_id = format!("req-{second}");
    r.patient_id = Some(RAW_PATIENT.into());
    r.user_id = Some(RAW_USER.into());
    r
}

fn fb(tenant: &str, rule: &str, outcome: &str, reason: &str) -> FeedbackKey {
    FeedbackKey {
        tenant: tenant.into(),
        service: "bp-check".into(),
        ruleset: "hypertension".into(),
        rule: rule.into(),
        outcome: outcome.into(),
        reason: reason.into(),
    }
}

fn memory() -> Audit {
    Audit::open(&AuditConfig {
        store: StoreKind::Memory,
        ..AuditConfig::default()
    })
    .expect("in-memory audit")
}

fn sqlite_config(dir: &TempDir) -> AuditConfig {
    AuditConfig {
        store: StoreKind::Sqlite,
        sqlite_path: dir.path().join("audit.sqlite"),
        ..AuditConfig::default()
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn sqlite_file_round_trips_and_holds_hashes_never_raw_ids() {
    let dir = TempDir::new();
    let config = sqlite_config(&dir);
    let audit = Audit::open(&config).expect("open");
    assert_eq!(
        audit.describe(),
        format!("sqlite {}", config.sqlite_path.display())
    );
    for s in 0..3 {
        audit.record(call("clinic-a", s)).await;
    }
    audit
        .feedback(fb("clinic-a", "high-bp", "overridden", "pt-declined"), 2)
        .await;
    audit.flush().await.expect("flush");

    let events = audit.events("clinic-a", 10).await.expect("events");
    assert_eq!(events.len(), 3);
    // Newest first.
    let recorded: Vec<&str> = events
        .iter()
        .filter_map(|e| e["recorded"].as_str())
        .collect();
    assert_eq!(
        recorded,
        [
            "2024-05-01T12:00:02.000Z",
            "2024-05-01T12:00:01.000Z",
            "2024-05-01T12:00:00.000Z"
        ]
    );
    let patient_hash = audit.hash(RAW_PATIENT);
    let user_hash = audit.hash(RAW_USER);
    let e = &events[0];
    assert_eq!(e["resourceType"], "AuditEvent");
    assert!(e["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(e["entity"][0]["what"]["identifier"]["value"], patient_hash);
    assert_eq!(e["agent"][1]["who"]["identifier"]["value"], user_hash);
    assert_eq!(e["source"]["site"], "clinic-a");
    let text = serde_json::to_string(&events).expect("json");
    assert!(!text.contains(RAW_PATIENT) && !text.contains(RAW_USER));

    // The stored columns, read on a connection of our own.
    let conn = rusqlite::Connection::open(&config.sqlite_path).expect("own connection");
    let (p, u): (String, String) = conn
        .query_row(
            "SELECT patient_hash, user_hash FROM cds_audit_event LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!((p, u), (patient_hash.clone(), user_hash));
    drop(conn);

    // Every byte of the database (main file, WAL, shared memory): the hash, never the raw id.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "key") {
            continue;
        }
        bytes.extend(std::fs::read(&path).expect("read"));
    }
    assert!(contains(&bytes, &patient_hash), "the scan must see rows");
    for raw in [RAW_PATIENT, RAW_USER, "raw-patient", "raw-user"] {
        assert!(!contains(&bytes, raw), "{raw} found in the database files");
    }
}

#[tokio::test]
async fn flush_waits_until_the_records_are_in_the_file() {
    let dir = TempDir::new();
    let config = sqlite_config(&dir);
    let audit = Audit::open(&config).expect("open");
    for s in 0..50 {
        audit.record(call("t", s % 60)).await;
    }
    audit.flush().await.expect("flush");
    let conn = rusqlite::Connection::open(&config.sqlite_path).expect("own connection");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM cds_audit_event", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 50);
    assert_eq!(audit.stats().written, 50);
}

#[tokio::test]
async fn key_file_is_created_beside_the_database_reused_and_events_survive() {
    let dir = TempDir::new();
    let config = sqlite_config(&dir);
    let key_path = dir.path().join("audit.sqlite.key");
    let first = {
        let audit = Audit::open(&config).expect("open");
        audit.record(call("t", 1)).await;
        audit.flush().await.expect("flush");
        audit.hash(RAW_PATIENT)
    };
    let key = std::fs::read(&key_path).expect("key file created");
    assert_eq!(key.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let audit = Audit::open(&config).expect("reopen");
    assert_eq!(audit.hash(RAW_PATIENT), first);
    assert_eq!(std::fs::read(&key_path).expect("key"), key);
    assert_eq!(audit.events("t", 10).await.expect("events").len(), 1);

    // Another key gives other hashes.
    let other = AuditConfig {
        hash_key_file: Some(dir.path().join("other.key")),
        ..config
    };
    assert_ne!(Audit::open(&other).expect("open").hash(RAW_PATIENT), first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_of_one_waits_and_stores_everything() {
    let audit = Audit::open(&AuditConfig {
        store: StoreKind::Memory,
        queue: 1,
        ..AuditConfig::default()
    })
    .expect("open");
    let mut tasks = Vec::new();
    for t in 0..4u32 {
        let audit = audit.clone();
        tasks.push(tokio::spawn(async move {
            for s in 0..50u32 {
                audit.record(call("q", (t * 50 + s) % 60)).await;
                audit.feedback(fb("q", "high-bp", "accepted", ""), 1).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    audit.flush().await.expect("flush");
    assert_eq!(audit.events("q", 1000).await.expect("events").len(), 200);
    let counts = audit.feedback_counts("q").await.expect("counts");
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].count, 200);
    let stats = audit.stats();
    assert_eq!(
        (stats.written, stats.write_failures, stats.lost),
        (400, 0, 0)
    );
}

#[tokio::test]
async fn feedback_upserts_add_up_per_key_and_tenant() {
    let audit = memory();
    audit.feedback(fb("a", "high-bp", "accepted", ""), 1).await;
    audit.feedback(fb("a", "high-bp", "accepted", ""), 2).await;
    audit
        .feedback(fb("a", "high-bp", "overridden", "pt-declined"), 1)
        .await;
    audit.flush().await.expect("flush");
    audit.feedback(fb("a", "high-bp", "accepted", ""), 4).await;
    audit.feedback(fb("a", "low-k", "accepted", ""), 0).await; // nothing to add
    audit.feedback(fb("b", "high-bp", "accepted", ""), 5).await;
    let a = audit.feedback_counts("a").await.expect("counts");
    let got: Vec<(&str, &str, &str, u64)> = a
        .iter()
        .map(|c| {
            (
                c.key.rule.as_str(),
                c.key.outcome.as_str(),
                c.key.reason.as_str(),
                c.count,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("high-bp", "accepted", "", 7),
            ("high-bp", "overridden", "pt-declined", 1)
        ]
    );
    assert_eq!(a[0].key.tenant, "a");
    let b = audit.feedback_counts("b").await.expect("counts");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].count, 5);
    assert!(audit.feedback_counts("c").await.expect("counts").is_empty());
    let json = serde_json::to_value(&b[0]).expect("json");
    assert_eq!(json["count"], 5);
    assert_eq!(json["rule"], "high-bp");
}

#[tokio::test]
async fn events_are_per_tenant_newest_first_and_limited() {
    let audit = memory();
    for s in [5, 1, 9, 3] {
        audit.record(call("x", s)).await;
    }
    audit.record(call("y", 7)).await;
    let x = audit.events("x", 2).await.expect("events");
    let times: Vec<&str> = x.iter().filter_map(|e| e["recorded"].as_str()).collect();
    assert_eq!(
        times,
        ["2024-05-01T12:00:09.000Z", "2024-05-01T12:00:05.000Z"]
    );
    assert_eq!(audit.events("y", 10).await.expect("events").len(), 1);
    assert!(audit.events("x", 0).await.expect("events").is_empty());
    assert!(audit.events("", 10).await.expect("events").is_empty());
}

#[test]
fn config_errors_name_what_is_missing() {
    let e = Audit::open(&AuditConfig {
        store: StoreKind::Postgres,
        ..AuditConfig::default()
    })
    .expect_err("no url");
    assert!(
        matches!(&e, AuditError::Config(m) if m.contains("postgres_url")),
        "{e}"
    );

    let e = Audit::open(&AuditConfig {
        store: StoreKind::Postgres,
        postgres_url: Some("host=127.0.0.1 user=postgres dbname=test".into()),
        ..AuditConfig::default()
    })
    .expect_err("no key file");
    assert!(
        matches!(&e, AuditError::Config(m) if m.contains("hash_key_file")),
        "{e}"
    );

    let e = Audit::open(&AuditConfig {
        store: StoreKind::Memory,
        queue: 0,
        ..AuditConfig::default()
    })
    .expect_err("queue 0");
    assert!(e.to_string().contains("queue"), "{e}");

    let dir = TempDir::new();
    let e = Audit::open(&AuditConfig {
        sqlite_path: dir.path().join("no-such-folder").join("a.sqlite"),
        hash_key_file: Some(dir.path().join("a.key")),
        ..AuditConfig::default()
    })
    .expect_err("no folder");
    assert!(
        matches!(&e, AuditError::Store { store, .. } if store.contains("a.sqlite")),
        "{e}"
    );
}

#[test]
fn the_toml_section_has_defaults_and_refuses_unknown_keys() {
    use figment::providers::{Format, Toml};
    use figment::Figment;
    let c: AuditConfig = Figment::from(Toml::string("store = \"postgres\"\nqueue = 5"))
        .extract()
        .expect("parses");
    assert_eq!(c.store, StoreKind::Postgres);
    assert_eq!(c.queue, 5);
    assert_eq!(c.sqlite_path, PathBuf::from("cds-audit.sqlite"));
    assert_eq!(c.hash_key_file, None);
    let d: AuditConfig = Figment::new().extract().expect("defaults");
    assert_eq!(d, AuditConfig::default());
    assert_eq!(d.queue, 10_000);
    let bad = Figment::from(Toml::string("stroe = \"memory\"")).extract::<AuditConfig>();
    assert!(bad.is_err());
    let bad = Figment::from(Toml::string("store = \"mysql\"")).extract::<AuditConfig>();
    assert!(bad.is_err());
}

#[test]
fn debug_hides_the_postgres_password() {
    let c = AuditConfig {
        store: StoreKind::Postgres,
        postgres_url: Some("postgres://cds:hunter2-secret@db.example/cds".into()),
        ..AuditConfig::default()
    };
    let text = format!("{c:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("db.example/cds"), "{text}");
}

fn flaky(fail: u32) -> (Audit, Arc<Mutex<Vec<Op>>>) {
    let store = FlakyStore {
        fail: Arc::new(Mutex::new(fail)),
        ..FlakyStore::default()
    };
    let ops = store.ops.clone();
    let opener: Opener = Box::new(move || Ok(Box::new(store) as Box<dyn Store>));
    let audit = Audit::start(
        opener,
        "test store".into(),
        Hasher::new(&[3u8; 32]).expect("hasher"),
        4,
    )
    .expect("start");
    (audit, ops)
}

async fn flush_within(audit: &Audit, limit: Duration) -> Result<(), AuditError> {
    let start = Instant::now();
    loop {
        match audit.flush().await {
            Ok(()) => return Ok(()),
            Err(e) if start.elapsed() > limit => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_are_retried_and_nothing_is_lost() {
    let (audit, ops) = flaky(3);
    for s in 0..20 {
        audit.record(call("f", s)).await;
    }
    flush_within(&audit, Duration::from_secs(10))
        .await
        .expect("the store comes back");
    assert_eq!(ops.lock().expect("lock").len(), 20);
    let stats = audit.stats();
    assert_eq!(stats.write_failures, 3);
    assert_eq!((stats.written, stats.rejected, stats.lost), (20, 0, 0));
    assert!(!stats.failing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_while_the_store_fails_says_so() {
    let (audit, ops) = flaky(1_000_000);
    audit.record(call("f", 1)).await;
    let e = audit.flush().await.expect_err("the store is down");
    assert!(
        matches!(e, AuditError::Store { .. } | AuditError::Unavailable { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("test store"), "{e}");
    assert!(audit.stats().failing);
    assert!(ops.lock().expect("lock").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_is_dropped_alone() {
    let (audit, ops) = flaky(0);
    audit
        .feedback(fb("p", "high-bp", "overridden", "poison"), 1)
        .await;
    for s in 0..3 {
        audit.record(call("p", s)).await;
    }
    flush_within(&audit, Duration::from_secs(5))
        .await
        .expect("flush");
    let stats = audit.stats();
    assert_eq!((stats.written, stats.rejected), (3, 1));
    assert_eq!(ops.lock().expect("lock").len(), 3);
}

// ---- PostgreSQL -------------------------------------------------------------------------

fn pg_url() -> String {
    std::env::var("CDS_AUDIT_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into())
}

fn pg_config(dir: &TempDir) -> AuditConfig {
    AuditConfig {
        store: StoreKind::Postgres,
        postgres_url: Some(pg_url()),
        hash_key_file: Some(dir.path().join("pg.key")),
        ..AuditConfig::default()
    }
}

fn pg_open(config: &AuditConfig) -> Audit {
    Audit::open(config).unwrap_or_else(|e| {
        panic!(
            "these tests need PostgreSQL at 127.0.0.1:5432 (user postgres, database test, or \
             CDS_AUDIT_TEST_POSTGRES): {e}"
        )
    })
}

/// Our own connection, in a thread of its own (the synchronous client must not run inside
/// a tokio runtime).
fn pg_query<T: Send + 'static>(f: impl FnOnce(&mut ::postgres::Client) -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        let mut client = ::postgres::Client::connect(&pg_url(), ::postgres::NoTls)
            .expect("PostgreSQL at 127.0.0.1:5432 for the test's own checks");
        f(&mut client)
    })
    .join()
    .expect("query thread")
}

#[tokio::test]
async fn postgres_round_trips_and_holds_hashes_never_raw_ids() {
    let dir = TempDir::new();
    let audit = pg_open(&pg_config(&dir));
    assert_eq!(audit.describe(), "postgres 127.0.0.1/test");
    let tenant = unique("pg-tenant");
    for s in 0..3 {
        audit.record(call(&tenant, s)).await;
    }
    audit
        .feedback(fb(&tenant, "high-bp", "accepted", ""), 2)
        .await;
    audit.flush().await.expect("flush");
    audit
        .feedback(fb(&tenant, "high-bp", "accepted", ""), 3)
        .await;

    let events = audit.events(&tenant, 10).await.expect("events");
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["recorded"], "2024-05-01T12:00:02.000Z");
    assert_eq!(events[2]["recorded"], "2024-05-01T12:00:00.000Z");
    assert_eq!(events[0]["resourceType"], "AuditEvent");
    assert!(events[0]["id"].is_string());
    let patient_hash = audit.hash(RAW_PATIENT);
    assert_eq!(
        events[0]["entity"][0]["what"]["identifier"]["value"],
        patient_hash
    );
    let counts = audit.feedback_counts(&tenant).await.expect("counts");
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].count, 5);

    // Every stored column of the tenant's rows, as text: the hash, never the raw ids.
    let t = tenant.clone();
    let rows: Vec<String> = pg_query(move |c| {
        c.query(
            "SELECT row_to_json(e)::text FROM cds_audit_event e WHERE tenant = $1",
            &[&t],
        )
        .expect("rows")
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
    });
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert!(row.contains(&patient_hash), "{row}");
        assert!(
            !row.contains("raw-patient") && !row.contains("raw-user"),
            "{row}"
        );
    }
    let t = tenant.clone();
    let (status, recorded_utc): (i32, String) = pg_query(move |c| {
        let r = c
            .query_one(
                "SELECT status, to_char(recorded AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                 FROM cds_audit_event WHERE tenant = $1 ORDER BY recorded LIMIT 1",
                &[&t],
            )
            .expect("row");
        (r.get(0), r.get(1))
    });
    assert_eq!(
        (status, recorded_utc.as_str()),
        (200, "2024-05-01 12:00:00")
    );
}

#[test]
fn postgres_servers_starting_together_share_tables_and_counts() {
    let dir = TempDir::new();
    let config = pg_config(&dir);
    // Create the key first so that every server gets the same one.
    drop(pg_open(&config));
    let audits: Vec<Audit> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| pg_open(&config))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let tenant = unique("pg-shared");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for a in &audits {
            for _ in 0..10 {
                a.feedback(fb(&tenant, "high-bp", "overridden", "other"), 1)
                    .await;
            }
            a.record(call(&tenant, 1)).await;
        }
        for a in &audits {
            a.flush().await.expect("flush");
        }
        let counts = audits[0].feedback_counts(&tenant).await.expect("counts");
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].count, 40);
        assert_eq!(
            audits[3].events(&tenant, 100).await.expect("events").len(),
            4
        );
        let hashes: Vec<String> = audits.iter().map(|a| a.hash(RAW_PATIENT)).collect();
        assert!(hashes.windows(2).all(|w| w[0] == w[1]));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_lost_are_opened_again_without_losing_records() {
    let dir = TempDir::new();
    let app = unique("cds-audit-test");
    let config = AuditConfig {
        postgres_url: Some(format!("{} application_name={app}", pg_url())),
        ..pg_config(&dir)
    };
    let audit = pg_open(&config);
    let tenant = unique("pg-reconnect");
    audit.record(call(&tenant, 1)).await;
    audit.flush().await.expect("flush");
    let a = app.clone();
    let killed: i64 = pg_query(move |c| {
        c.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&a],
        )
        .expect("terminate")
        .len() as i64
    });
    assert_eq!(
        killed, 1,
        "the writer's connection is found by its application_name"
    );
    for s in 2..5 {
        audit.record(call(&tenant, s)).await;
    }
    flush_within(&audit, Duration::from_secs(10))
        .await
        .expect("the writer reconnects");
    assert_eq!(audit.events(&tenant, 10).await.expect("events").len(), 4);
    let stats = audit.stats();
    assert_eq!((stats.written, stats.lost, stats.rejected), (4, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_with_a_full_queue_is_saturated() {
    let (audit, _ops) = flaky(1_000_000);
    assert!(!audit.saturated());
    // The writer takes what is waiting as one batch and retries it; records sent after that
    // fill the queue (4), and the sender then waits: keep sending from a task.
    let sender = audit.clone();
    let filler = tokio::spawn(async move {
        for s in 0..50 {
            sender.record(call("s", s)).await;
        }
    });
    let start = Instant::now();
    while !audit.saturated() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(audit.stats().failing);
    assert!(audit.saturated(), "failing, and the queue is full");
    filler.abort();
}
