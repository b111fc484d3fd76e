//! What a replay found, per rule: the figures of `summary.csv` and `report.html`, computed from
//! the per-patient lines of `patients.ndjson` and the cards of `cards.ndjson` (so that a merge of
//! shards computes them exactly as one run over all patients would).

use serde::{Deserialize, Serialize};

/// How the evaluation times were chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mode {
    /// Once, as of one time.
    At {
        /// The evaluation time (RFC 3339, UTC).
        at: String,
    },
    /// A timeline from `from` to `to` (both included) every `every`.
    Every {
        /// The first evaluation time.
        from: String,
        /// The last evaluation time at the latest.
        to: String,
        /// The step, as given (`1d`, `12h`, `1w`).
        every: String,
    },
    /// At the end of each of the patient's encounters (between `from` and `to` when given).
    Encounters {
        /// Encounters ending before this are skipped.
        from: Option<String>,
        /// Encounters ending after this are skipped.
        to: Option<String>,
    },
}

impl Mode {
    /// A short description for people (`as of 2024-01-01T00:00:00Z`, ...).
    pub fn describe(&self) -> String {
        match self {
            Mode::At { at } => format!("as of {at}"),
            Mode::Every { from, to, every } => format!("every {every} from {from} to {to}"),
            Mode::Encounters { from, to } => {
                let mut s = "at the end of each encounter".to_string();
                if let Some(f) = from {
                    s.push_str(&format!(" from {f}"));
                }
                if let Some(t) = to {
                    s.push_str(&format!(" to {t}"));
                }
                s
            }
        }
    }

    /// True for the timeline modes (several evaluation times per patient).
    pub fn is_timeline(&self) -> bool {
        !matches!(self, Mode::At { .. })
    }
}

/// One rule of the rulesets replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleId {
    /// The ruleset's name.
    pub ruleset: String,
    /// The rule's id.
    pub rule: String,
    /// The card indicator the rule raises (`info`, `warning`, `critical`).
    pub indicator: String,
}

/// A ruleset replayed, with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesetInfo {
    /// The ruleset's name.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// What was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputCounts {
    /// Files read.
    pub files: u64,
    /// Resources read and kept (of this run's patients, and the shared context).
    pub resources: u64,
    /// Lines or entries skipped as malformed (not JSON, not a resource, invalid).
    pub skipped: u64,
    /// Resources of patient-compartment types that named no patient found in the input.
    pub unlinked: u64,
}

/// A skipped line or entry: where, and why (never its content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file, as given on the command line or found under the input folder.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

/// Five figures of a distribution (nearest-rank quantiles).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Smallest.
    pub min: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub median: f64,
    /// 75th percentile.
    pub p75: f64,
    /// Largest.
    pub max: f64,
}

/// The figures of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSummary {
    /// Which rule.
    pub rule: RuleId,
    /// Patients for whom it fired at least once.
    pub patients: u64,
    /// Cards raised: one per evaluation time at which it fired.
    pub alerts: u64,
    /// Runs of consecutive evaluation times at which it fired (an alert that starts, lasts,
    /// and stops); equals `alerts` as of one time.
    pub episodes: u64,
    /// Alerts per 100 patients per month of follow-up (timeline modes with follow-up only).
    pub alerts_per_100_patient_months: Option<f64>,
    /// Days from each firing patient's first evaluation time to the rule's first fire.
    pub first_fire_days: Option<Quantiles>,
    /// Days each episode lasted (from its first firing evaluation to the first one at which the
    /// rule no longer fired, or the last evaluation).
    pub episode_days: Option<Quantiles>,
    /// Alerts per calendar month (`YYYY-MM`), in month order; only months with alerts.
    pub alerts_by_month: Vec<(String, u64)>,
    /// How many patients had how many alerts (`1`, `2`, `3-5`, `6-10`, `11-20`, `21-50`, `51+`).
    pub fire_counts: Vec<(String, u64)>,
}

/// Everything a replay found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How evaluation times were chosen.
    pub mode: Mode,
    /// The hook whose rules were evaluated (`None`: every rule).
    pub hook: Option<String>,
    /// The rulesets, with versions.
    pub rulesets: Vec<RulesetInfo>,
    /// True when patient ids were replaced by keyed hashes.
    pub pseudonymised: bool,
    /// What was read.
    pub input: InputCounts,
    /// Patients evaluated at least once.
    pub patients: u64,
    /// Patients found but never evaluated (not alive at any evaluation time, or their record
    /// could not be built).
    pub patients_not_evaluated: u64,
    /// Evaluations (patient × time).
    pub evaluations: u64,
    /// Months of follow-up summed over patients (timeline modes).
    pub patient_months: f64,
    /// One entry per rule of the rulesets, in ruleset and rule order, fired or not.
    pub rules: Vec<RuleSummary>,
}
