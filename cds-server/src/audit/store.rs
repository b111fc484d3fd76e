//! The writer: one thread owns the store's connection and is fed by a bounded channel. What is
//! waiting is written in one transaction; a failed write is kept, counted and retried with
//! backoff (the channel then fills and callers wait: backpressure, nothing dropped). Reads and
//! flushes travel the same channel, so they see every record queued before them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};

use super::record::{EventRow, FeedbackCount, FeedbackKey};
use super::AuditError;

/// Most operations written in one transaction.
pub(crate) const BATCH: usize = 512;
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a failing writer looks at its channel between attempts.
const POLL: Duration = Duration::from_millis(50);
/// Attempts to store what is left when the last handle is dropped.
const EXIT_ATTEMPTS: u32 = 8;

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Event(Box<EventRow>),
    Feedback(FeedbackKey, u64),
}

/// One read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Query {
    FeedbackCounts { tenant: String },
    Events { tenant: String, limit: usize },
}

/// A read's answer.
#[derive(Debug)]
pub(crate) enum Answer {
    FeedbackCounts(Vec<FeedbackCount>),
    Events(Vec<Value>),
}

/// What the channel carries.
pub(crate) enum Msg {
    Op(Op),
    Flush(oneshot::Sender<Result<(), AuditError>>),
    Read(Query, oneshot::Sender<Result<Answer, AuditError>>),
}

/// A store's failure: a message without data, and whether retrying the same write can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreError {
    pub message: String,
    /// The write itself is refused (bad data, a constraint): retrying it cannot succeed.
    pub permanent: bool,
}

/// A durable place for events and feedback counts, used from the writer thread only.
pub(crate) trait Store: Send {
    /// Writes `ops` in one transaction: all or nothing.
    fn write(&mut self, ops: &[Op]) -> Result<(), StoreError>;
    /// Answers a read.
    fn read(&mut self, query: &Query) -> Result<Answer, StoreError>;
}

/// Feedback additions of a batch summed per key, in key order (so that servers sharing a
/// PostgreSQL database lock rows in the same order and cannot deadlock).
pub(crate) fn feedback_sums(ops: &[Op]) -> BTreeMap<&FeedbackKey, u64> {
    let mut sums = BTreeMap::new();
    for op in ops {
        if let Op::Feedback(k, n) = op {
            let e = sums.entry(k).or_insert(0u64);
            *e = e.saturating_add(*n);
        }
    }
    sums
}

/// Counters shared by the writer and the handles.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub written: AtomicU64,
    pub failures: AtomicU64,
    pub rejected: AtomicU64,
    pub lost: AtomicU64,
    pub failing: AtomicBool,
}

/// How the audit trail is doing, for health checks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AuditStats {
    /// Operations (events and feedback additions) stored.
    pub written: u64,
    /// Failed write attempts (each is retried; nothing is dropped for them).
    pub write_failures: u64,
    /// Operations the store refused for good (bad data), dropped with a warning.
    pub rejected: u64,
    /// Operations that could not be stored before the writer stopped.
    pub lost: u64,
    /// The last write failed and is being retried.
    pub failing: bool,
}

impl Shared {
    pub(crate) fn stats(&self) -> AuditStats {
        AuditStats {
            written: self.written.load(Ordering::Relaxed),
            write_failures: self.failures.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            failing: self.failing.load(Ordering::Relaxed),
        }
    }
}

pub(crate) struct Writer {
    store: Box<dyn Store>,
    describe: String,
    shared: Arc<Shared>,
    pending: Vec<Op>,
    backoff: Duration,
    next_try: Option<Instant>,
}

impl Writer {
    pub(crate) fn new(store: Box<dyn Store>, describe: String, shared: Arc<Shared>) -> Writer {
        Writer {
            store,
            describe,
            shared,
            pending: Vec::new(),
            backoff: MIN_BACKOFF,
            next_try: None,
        }
    }

    /// Serves the channel until every handle is gone, then stores what is left.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        loop {
            if self.pending.len() >= BATCH {
                self.commit_or_wait();
                continue;
            }
            let msg = if self.pending.is_empty() {
                match rx.blocking_recv() {
                    Some(m) => m,
                    None => break,
                }
            } else {
                match rx.try_recv() {
                    Ok(m) => m,
                    Err(TryRecvError::Empty) => {
                        self.commit_or_wait();
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => break,
                }
            };
            match msg {
                Msg::Op(op) => self.pending.push(op),
                Msg::Flush(reply) => {
                    let _ = reply.send(self.commit());
                }
                Msg::Read(query, reply) => {
                    let answer = self.commit().and_then(|()| {
                        self.store
                            .read(&query)
                            .map_err(|e| self.store_error(e.message))
                    });
                    let _ = reply.send(answer);
                }
            }
        }
        self.finish();
    }

    fn store_error(&self, what: String) -> AuditError {
        AuditError::Store {
            store: self.describe.clone(),
            what,
        }
    }

    fn unavailable(&self) -> AuditError {
        AuditError::Unavailable {
            store: self.describe.clone(),
            failures: self.shared.failures.load(Ordering::Relaxed),
        }
    }

    /// Commits now, unless a failed write's backoff is still running; then waits a little.
    fn commit_or_wait(&mut self) {
        match self.next_try {
            Some(t) if Instant::now() < t => {
                std::thread::sleep(t.saturating_duration_since(Instant::now()).min(POLL));
            }
            _ => {
                let _ = self.commit();
            }
        }
    }

    /// Writes what is pending (unless backing off after a failure).
    fn commit(&mut self) -> Result<(), AuditError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.next_try.is_some_and(|t| Instant::now() < t) {
            return Err(self.unavailable());
        }
        match self.store.write(&self.pending) {
            Ok(()) => {
                let n = self.pending.len() as u64;
                self.shared.written.fetch_add(n, Ordering::Relaxed);
                self.pending.clear();
                self.recovered();
                Ok(())
            }
            Err(e) if e.permanent => self.commit_one_by_one(),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// A batch was refused: write its operations one at a time, dropping only those refused.
    fn commit_one_by_one(&mut self) -> Result<(), AuditError> {
        let ops = std::mem::take(&mut self.pending);
        let mut rest = ops.into_iter();
        while let Some(op) = rest.next() {
            match self.store.write(std::slice::from_ref(&op)) {
                Ok(()) => {
                    self.shared.written.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if e.permanent => {
                    self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        store = %self.describe,
                        error = %e.message,
                        "the audit store refused one record; it is dropped"
                    );
                }
                Err(e) => {
                    self.pending = std::iter::once(op).chain(rest).collect();
                    return Err(self.failed(e));
                }
            }
        }
        self.recovered();
        Ok(())
    }

    fn failed(&mut self, e: StoreError) -> AuditError {
        let failures = self.shared.failures.fetch_add(1, Ordering::Relaxed) + 1;
        self.shared.failing.store(true, Ordering::Relaxed);
        self.backoff = if self.next_try.is_some() {
            (self.backoff * 2).min(MAX_BACKOFF)
        } else {
            MIN_BACKOFF
        };
        self.next_try = Some(Instant::now() + self.backoff);
        tracing::warn!(
            store = %self.describe,
            error = %e.message,
            failures,
            pending = self.pending.len(),
            retry_in_ms = self.backoff.as_millis() as u64,
            "audit write failed; the records are kept and retried"
        );
        self.store_error(e.message)
    }

    fn recovered(&mut self) {
        if self.shared.failing.swap(false, Ordering::Relaxed) {
            tracing::info!(store = %self.describe, "audit writes succeed again");
        }
        self.next_try = None;
        self.backoff = MIN_BACKOFF;
    }

    /// The last handle is gone: a few more attempts, then count what is left as lost.
    fn finish(&mut self) {
        let mut attempts = 0;
        while !self.pending.is_empty() && attempts < EXIT_ATTEMPTS {
            if let Some(t) = self.next_try {
                std::thread::sleep(t.saturating_duration_since(Instant::now()));
            }
            let _ = self.commit();
            attempts += 1;
        }
        if !self.pending.is_empty() {
            let n = self.pending.len() as u64;
            self.shared.lost.fetch_add(n, Ordering::Relaxed);
            tracing::error!(
                store = %self.describe,
                lost = n,
                "audit records could not be stored before the writer stopped"
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A store in memory that fails its first `fail` writes, and refuses for good any batch
    /// holding feedback whose reason is `poison`.
    #[derive(Default)]
    pub(crate) struct FlakyStore {
        pub fail: Arc<Mutex<u32>>,
        pub ops: Arc<Mutex<Vec<Op>>>,
    }

    impl Store for FlakyStore {
        fn write(&mut self, ops: &[Op]) -> Result<(), StoreError> {
            {
                let mut fail = self.fail.lock().expect("lock");
                if *fail > 0 {
                    *fail -= 1;
                    return Err(StoreError {
                        message: "the test store is down".into(),
                        permanent: false,
                    });
                }
            }
            if ops
                .iter()
                .any(|o| matches!(o, Op::Feedback(k, _) if k.reason == "poison"))
            {
                return Err(StoreError {
                    message: "the test store refuses poison".into(),
                    permanent: true,
                });
            }
            self.ops.lock().expect("lock").extend(ops.iter().cloned());
            Ok(())
        }

        fn read(&mut self, _query: &Query) -> Result<Answer, StoreError> {
            Ok(Answer::Events(Vec::new()))
        }
    }

    #[test]
    fn feedback_sums_add_per_key_in_key_order() {
        let k = |r: &str| FeedbackKey {
            tenant: "t".into(),
            service: "s".into(),
            ruleset: "rs".into(),
            rule: r.into(),
            outcome: "accepted".into(),
            reason: String::new(),
        };
        let ops = vec![
            Op::Feedback(k("b"), 2),
            Op::Feedback(k("a"), 1),
            Op::Feedback(k("b"), 3),
        ];
        let sums: Vec<(String, u64)> = feedback_sums(&ops)
            .into_iter()
            .map(|(k, n)| (k.rule.clone(), n))
            .collect();
        assert_eq!(sums, [("a".to_string(), 1), ("b".to_string(), 5)]);
    }
}
