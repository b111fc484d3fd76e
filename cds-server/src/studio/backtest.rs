//! Backtesting the edited rules: `cds replay` over a sample cohort, in the server.
//!
//! `POST /studio/api/backtest` `{file, text, cohort, at}` or `{file, text, cohort, from, to,
//! every}` (a timeline, `every` as `1d`, `1w`, ..., or `encounter`: at the end of each
//! encounter, between `from` and `to` when given), with an optional `hook`: the ruleset
//! folder of `file`, with `text` in place of the file, replayed over the cohort (no look-ahead,
//! as `cds replay`); the answer holds the per-rule summary and the replay's self-contained
//! report (charts as SVG). One backtest runs at a time (409 while another runs); the server's
//! `request_timeout_ms` bounds it (`cds studio` allows 10 minutes). The replay's files go to a
//! temporary folder removed afterwards: nothing of the cohort stays behind.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use cds_replay::{Mode, ReplayOptions};
use serde::Deserialize;
use serde_json::{json, Value};

use super::trial::engine_with;
use super::{samples, Refusal};
use crate::access::Access;
use crate::outcome::{ApiError, Problem};
use crate::state::AppState;

/// The body of a backtest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// The ruleset file edited.
    pub file: String,
    /// Its text as edited.
    pub text: String,
    /// The sample cohort's id.
    pub cohort: String,
    /// Once, as of this time.
    #[serde(default)]
    pub at: Option<String>,
    /// A timeline's first time.
    #[serde(default)]
    pub from: Option<String>,
    /// A timeline's last time.
    #[serde(default)]
    pub to: Option<String>,
    /// A timeline's step.
    #[serde(default)]
    pub every: Option<String>,
    /// Only the rules answering this hook.
    #[serde(default)]
    pub hook: Option<String>,
}

impl BacktestRequest {
    fn mode(&self) -> Result<Mode, ApiError> {
        let some = |o: &Option<String>| {
            o.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match (some(&self.at), some(&self.every)) {
            (Some(at), None) => Ok(Mode::At { at }),
            (None, Some(every)) if every == "encounter" => Ok(Mode::Encounters {
                from: some(&self.from),
                to: some(&self.to),
            }),
            (None, Some(every)) => {
                let (Some(from), Some(to)) = (some(&self.from), some(&self.to)) else {
                    return Err(ApiError::invalid_at(
                        "from",
                        "a timeline needs from, to and every",
                    ));
                };
                Ok(Mode::Every { from, to, every })
            }
            (Some(_), Some(_)) => Err(ApiError::invalid_at(
                "at",
                "give either at, or from, to and every",
            )),
            (None, None) => Err(ApiError::invalid_at(
                "at",
                "give the time to replay at (e.g. 2024-01-01), or from, to and every",
            )),
        }
    }
}

static RUNNING: AtomicBool = AtomicBool::new(false);
static RUNS: AtomicU64 = AtomicU64::new(0);

/// Clears the running flag when the backtest ends, however it ends.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::SeqCst);
    }
}

/// `POST /studio/api/backtest`; 409 while another backtest runs.
pub fn run(state: &AppState, access: &Access, req: BacktestRequest) -> Result<Value, Refusal> {
    if RUNNING.swap(true, Ordering::SeqCst) {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            problems: vec![Problem::at(
                "",
                "a backtest is already running; try again when it ends",
            )],
            retry_after: Some(5),
        }
        .into());
    }
    let _running = Running;
    let mode = req.mode()?;
    let (engine, _) = engine_with(state, access, &req.file, &req.text)?;
    let cohort = samples::cohort(state, &req.cohort)?;
    let out = std::env::temp_dir().join(format!(
        "cds-studio-backtest-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::SeqCst)
    ));
    let mut opts = ReplayOptions::new(
        vec![cohort.path.clone()],
        state.config.rulesets.clone(),
        out.clone(),
        mode,
    );
    opts.engine = Some(Arc::new(engine));
    opts.hook = req.hook.clone().filter(|h| !h.is_empty() && h != "any");
    let result = cds_replay::replay(&opts);
    let report = std::fs::read_to_string(out.join(cds_replay::REPORT));
    let _ = std::fs::remove_dir_all(&out);
    let run = result.map_err(|e| match e {
        cds_replay::ReplayError::Usage(_) => ApiError::invalid_at("at", e.to_string()),
        other => {
            tracing::warn!(error = %other, "studio: backtest failed");
            ApiError::internal("the backtest failed; see the server log")
        }
    })?;
    let Some(summary) = run.summary else {
        return Err(ApiError::internal("the backtest produced no summary").into());
    };
    let rules: Vec<Value> = summary
        .rules
        .iter()
        .map(|r| {
            json!({
                "ruleset": r.rule.ruleset,
                "rule": r.rule.rule,
                "indicator": r.rule.indicator,
                "patients": r.patients,
                "alerts": r.alerts,
                "episodes": r.episodes,
                "per100PatientMonths": r.alerts_per_100_patient_months,
                "firstFireMedianDays": r.first_fire_days.as_ref().map(|q| q.median),
            })
        })
        .collect();
    Ok(json!({
        "cohort": cohort.label,
        "mode": summary.mode.describe(),
        "patients": run.patients,
        "evaluations": run.evaluations,
        "cards": run.cards,
        "skipped": run.skipped,
        "seconds": (run.seconds * 100.0).round() / 100.0,
        "rules": rules,
        "report": report.unwrap_or_default(),
    }))
}
