//! Trying the edited rules on one sample patient: the cards it would get, and for every rule
//! why it did or did not fire, with the values and resources it used, and how long the
//! evaluation took.
//!
//! `POST /studio/api/try` `{file, text, patient, at?, hook?}`: the ruleset folder of `file` is
//! loaded with `text` in place of the file (unsaved edits), the sample's resources become a
//! patient record, and the rules are evaluated at `at` (else the sample's own time, else just
//! after the patient's latest observation, else now) for `hook` (else every rule). The time is
//! the mean of repeated evaluations (at least 20, or 50 ms).

use std::time::{Duration, Instant};

use cds_core::data::PatientRecord;
use cds_core::temporal::DateTime;
use cds_rules::engine::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::diagnostics::check as check_text;
use super::edit::workspace;
use super::{samples, Refusal};
use crate::access::Access;
use crate::outcome::ApiError;
use crate::state::AppState;

/// The body of a try.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TryRequest {
    /// The ruleset file edited.
    pub file: String,
    /// Its text as edited.
    pub text: String,
    /// The sample patient's id.
    pub patient: String,
    /// The evaluation time (FHIR dateTime).
    #[serde(default)]
    pub at: Option<String>,
    /// The hook (`None`: every rule).
    #[serde(default)]
    pub hook: Option<String>,
}

/// The edited file's ruleset folder, loaded with `text` in place of the file.
pub(crate) fn engine_with(
    state: &AppState,
    access: &Access,
    file: &str,
    text: &str,
) -> Result<(Engine, super::workspace::RulesFile), Refusal> {
    if text.len() > super::edit::MAX_TEXT {
        return Err(ApiError::invalid_at("text", "the ruleset is too large").into());
    }
    let ws = workspace(state);
    let f = ws.file(file, false)?;
    super::edit::visible(access, &f, text)?;
    let checked = check_text(text, file);
    if checked.errors() > 0 {
        return Err(Refusal::Diagnostics(checked.diagnostics));
    }
    let engine =
        Engine::load_with(f.dir(), &[(f.path.clone(), text.to_string())]).map_err(|e| {
            // The edited file checks clean: the problem is another file of its folder or the two
            // together (a ruleset name used twice, a value set file).
            ApiError::invalid_at(
                "text",
                format!("the ruleset folder does not load: {}", first_line(&e)),
            )
        })?;
    Ok((engine, f))
}

fn first_line(e: &cds_rules::engine::EngineError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// The evaluation time: given, else the sample's, else just after its latest observation, else now.
pub(crate) fn evaluation_time(
    given: Option<&str>,
    sample: &samples::Patient,
    record: &PatientRecord,
) -> Result<DateTime, ApiError> {
    if let Some(at) = given.filter(|s| !s.trim().is_empty()) {
        return DateTime::parse(at.trim()).map_err(|_| {
            ApiError::invalid_at("at", "not a FHIR dateTime (e.g. 2024-03-01T10:00:00Z)")
        });
    }
    if let Some(at) = sample.at.as_deref().and_then(|a| DateTime::parse(a).ok()) {
        return Ok(at);
    }
    let latest = record
        .observation_index()
        .iter()
        .flat_map(|(_, _, entries)| entries.iter())
        .filter_map(|e| e.time().map(|t| t.start_ms()))
        .max();
    let now = || DateTime::now_utc().map_err(|_| ApiError::internal("the clock cannot be read"));
    match latest {
        Some(ms) => DateTime::from_epoch_millis(ms + 60_000, 0).or_else(|_| now()),
        None => now(),
    }
}

/// `POST /studio/api/try`.
pub fn run(state: &AppState, access: &Access, req: TryRequest) -> Result<Value, Refusal> {
    let (engine, _) = engine_with(state, access, &req.file, &req.text)?;
    let sample = samples::patient(state, access, &req.patient)?;
    let record =
        cds_rules::engine::record_from_json(samples::resources(&sample)?).map_err(|e| {
            ApiError::invalid_at(
                "patient",
                format!("the sample {} is not one patient's record: {e}", sample.id),
            )
        })?;
    let at = evaluation_time(req.at.as_deref(), &sample, &record)?;
    let hook = req
        .hook
        .as_deref()
        .filter(|h| !h.is_empty() && *h != "any")
        .map(str::to_string);
    let micros = mean_micros(|| {
        std::hint::black_box(engine.evaluate(&record, &at, hook.as_deref()).cards().len());
    });
    let eval = engine.evaluate(&record, &at, hook.as_deref());
    let cards: Vec<Value> = eval
        .cards()
        .iter()
        .map(|c| {
            let evidence: Vec<Value> = c
                .evidence
                .values
                .iter()
                .map(|v| json!({"name": v.name, "value": v.shown, "resources": v.resources}))
                .collect();
            json!({
                "ruleset": c.ruleset,
                "rule": c.rule,
                "indicator": c.card.indicator.as_str(),
                "summary": c.card.summary,
                "detail": c.card.detail,
                "source": c.card.source.label,
                "links": c.card.links.iter().map(|l| json!({"label": l.label, "url": l.url})).collect::<Vec<_>>(),
                "suggestions": c.card.suggestions.iter().map(|s| s.label.clone()).collect::<Vec<_>>(),
                "evidence": evidence,
            })
        })
        .collect();
    let mut rules = Vec::new();
    for rs in engine.rulesets() {
        let Some(x) = eval.explain(&rs.name) else {
            continue;
        };
        let Value::Array(list) = x.to_json()["rules"].take() else {
            continue;
        };
        for mut r in list {
            r["ruleset"] = json!(rs.name);
            rules.push(r);
        }
    }
    let issues: Vec<&str> = eval.issues().iter().map(|i| i.message.as_str()).collect();
    Ok(json!({
        "at": at.to_string(),
        "hook": hook,
        "micros": (micros * 10.0).round() / 10.0,
        "resources": record.resources().len(),
        "cards": cards,
        "rules": rules,
        "issues": issues,
    }))
}

/// Mean microseconds of `f` over at least 20 runs or 50 ms (at most 10,000 runs).
fn mean_micros(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 10_000 && (runs < 20 || start.elapsed() < Duration::from_millis(50)) {
        f();
        runs += 1;
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
}
