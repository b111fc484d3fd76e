//! One patient replayed: their record rebuilt as it was at each evaluation time (see
//! [`crate::asof`]), the rules evaluated, and each rule's alerts, episodes and first fire kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use cds_core::data::{PatientRecord, Resource, ResourceIndex};
use cds_core::temporal::DateTime;
use cds_rules::engine::Engine;
use serde::{Deserialize, Serialize};

use crate::asof::History;
use crate::pseudonym::Ids;
use crate::schedule::{days, format_time, Schedule};

/// One line of `cards.ndjson`: a card one rule raised for one patient at one evaluation time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardLine {
    /// The patient (pseudonymised when asked).
    pub patient: String,
    /// The evaluation time.
    pub time: String,
    /// The ruleset.
    pub ruleset: String,
    /// The rule.
    pub rule: String,
    /// `info`, `warning` or `critical`.
    pub indicator: String,
    /// The card's summary.
    pub summary: String,
    /// The resources its evidence came from (`Type/id`, pseudonymised when asked).
    pub evidence: Vec<String>,
    /// True when the rule did not fire at the patient's previous evaluation time (an alert
    /// starts); false while it goes on firing.
    pub starts_episode: bool,
}

/// What one rule did for one patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleLine {
    /// The ruleset.
    pub ruleset: String,
    /// The rule.
    pub rule: String,
    /// Evaluation times at which it fired.
    pub alerts: u64,
    /// Runs of consecutive firing evaluation times.
    pub episodes: u64,
    /// When it first fired.
    pub first: String,
    /// Days from the patient's first evaluation time to the first fire.
    pub first_days: f64,
    /// How long each episode lasted, in days.
    pub episode_days: Vec<f64>,
}

/// One line of `patients.ndjson`: a patient evaluated, and the rules that fired for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientLine {
    /// The patient (pseudonymised when asked).
    pub patient: String,
    /// Evaluation times.
    pub evaluations: u64,
    /// The first evaluation time.
    pub from: String,
    /// The last evaluation time.
    pub to: String,
    /// Days from the first to the last evaluation time.
    pub follow_up_days: f64,
    /// The rules that fired, in ruleset and rule order.
    pub rules: Vec<RuleLine>,
}

/// The outcome of one patient.
#[derive(Debug, Default)]
pub(crate) struct PatientOutcome {
    /// The id written.
    pub id: String,
    /// Their cards, in time then rule order.
    pub cards: Vec<CardLine>,
    /// Their line, when they were evaluated at least once.
    pub line: Option<PatientLine>,
}

#[derive(Default)]
struct RuleState {
    alerts: u64,
    episodes: u64,
    first: Option<i64>,
    since: Option<i64>,
    episode_days: Vec<f64>,
}

/// Evaluates one patient.
pub(crate) struct Replayer<'a> {
    pub engine: &'a Engine,
    pub hook: Option<&'a str>,
    pub schedule: &'a Schedule,
    pub ids: &'a Ids,
    pub context: Arc<ResourceIndex>,
}

impl Replayer<'_> {
    /// Replays one patient (their Patient resource among `resources`).
    pub(crate) fn patient(&self, key: &str, resources: Vec<Arc<Resource>>) -> PatientOutcome {
        let id = self.ids.patient(key);
        let times = self.schedule.times(&resources);
        let history = History::new(resources);
        let times: Vec<i64> = times.into_iter().filter(|t| history.alive_at(*t)).collect();
        let specs = self.engine.graph().cards();
        let mut states: BTreeMap<usize, RuleState> = BTreeMap::new();
        let mut cards = Vec::new();
        let mut record: Option<((usize, usize), Option<PatientRecord>)> = None;
        let mut evaluated: Vec<i64> = Vec::with_capacity(times.len());
        for &t in &times {
            let state = history.state_at(t);
            if record.as_ref().is_none_or(|(s, _)| *s != state) {
                let built = PatientRecord::build_with_context(
                    history.resources_at(t),
                    self.context.clone(),
                )
                .ok();
                record = Some((state, built));
            }
            let Some((_, Some(rec))) = &record else {
                continue;
            };
            let Ok(at) = DateTime::from_epoch_millis(t, 0) else {
                continue;
            };
            evaluated.push(t);
            let evaluation = self.engine.evaluate(rec, &at, self.hook);
            let mut fired_now: Vec<usize> = Vec::new();
            for fired in evaluation.cards() {
                let Some(spec) = specs.get(fired.spec) else {
                    continue;
                };
                fired_now.push(fired.spec);
                let s = states.entry(fired.spec).or_default();
                let starts = s.since.is_none();
                if starts {
                    s.since = Some(t);
                    s.episodes += 1;
                }
                s.alerts += 1;
                s.first.get_or_insert(t);
                let mut evidence: Vec<String> = Vec::new();
                for v in &fired.evidence.values {
                    for r in &v.resources {
                        let r = self.ids.reference(r);
                        if !evidence.contains(&r) {
                            evidence.push(r);
                        }
                    }
                }
                cards.push(CardLine {
                    patient: id.clone(),
                    time: format_time(t),
                    ruleset: fired.ruleset.clone(),
                    rule: fired.rule.clone(),
                    indicator: spec.indicator.as_str().to_string(),
                    summary: fired.card.summary.clone(),
                    evidence,
                    starts_episode: starts,
                });
            }
            for (spec, s) in states.iter_mut() {
                if !fired_now.contains(spec) {
                    if let Some(since) = s.since.take() {
                        s.episode_days.push(days(since, t));
                    }
                }
            }
        }
        let (Some(&first), Some(&last)) = (evaluated.first(), evaluated.last()) else {
            return PatientOutcome {
                id,
                cards,
                line: None,
            };
        };
        let rules = states
            .into_iter()
            .filter_map(|(spec, mut s)| {
                let card = specs.get(spec)?;
                if let Some(since) = s.since.take() {
                    s.episode_days.push(days(since, last));
                }
                let f = s.first?;
                Some(RuleLine {
                    ruleset: card.ruleset.clone(),
                    rule: card.rule.clone(),
                    alerts: s.alerts,
                    episodes: s.episodes,
                    first: format_time(f),
                    first_days: days(first, f),
                    episode_days: s.episode_days,
                })
            })
            .collect();
        PatientOutcome {
            id: id.clone(),
            cards,
            line: Some(PatientLine {
                patient: id,
                evaluations: evaluated.len() as u64,
                from: format_time(first),
                to: format_time(last),
                follow_up_days: days(first, last),
                rules,
            }),
        }
    }
}
