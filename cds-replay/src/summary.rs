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
    /// Resource types in the input that no rule reads, left unread (see `--all-resources`).
    pub types_not_read: Vec<String>,
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

/// The labels of [`RuleSummary::fire_counts`], with the smallest count of each.
const FIRE_BUCKETS: [(&str, u64); 7] = [
    ("1", 1),
    ("2", 2),
    ("3-5", 3),
    ("6-10", 6),
    ("11-20", 11),
    ("21-50", 21),
    ("51+", 51),
];

/// Days in an average month (365.25 / 12).
const MONTH_DAYS: f64 = 30.4375;

impl Quantiles {
    /// Nearest-rank quantiles of `values` (`None` when empty).
    pub fn of(values: &mut [f64]) -> Option<Quantiles> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let q = |p: f64| values[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        Some(Quantiles {
            min: values[0],
            p25: q(0.25),
            median: q(0.5),
            p75: q(0.75),
            max: values[n - 1],
        })
    }
}

#[derive(Default)]
struct Acc {
    patients: u64,
    alerts: u64,
    episodes: u64,
    first_days: Vec<f64>,
    episode_days: Vec<f64>,
    by_month: std::collections::BTreeMap<String, u64>,
    fire_counts: [u64; FIRE_BUCKETS.len()],
}

/// Computes the summary from a run's manifest, its patient lines and its card lines (each
/// streamed once; memory grows with the number of patients a rule fired for, not the input).
pub(crate) fn summarise(
    manifest: &crate::manifest::Manifest,
    patients: impl Iterator<Item = Result<crate::evaluate::PatientLine, crate::error::ReplayError>>,
    cards: impl Iterator<Item = Result<crate::evaluate::CardLine, crate::error::ReplayError>>,
) -> Result<Summary, crate::error::ReplayError> {
    use std::collections::HashMap;
    let index: HashMap<(&str, &str), usize> = manifest
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.ruleset.as_str(), r.rule.as_str()), i))
        .collect();
    let mut acc: Vec<Acc> = manifest.rules.iter().map(|_| Acc::default()).collect();
    let (mut n_patients, mut evaluations, mut follow_up_days) = (0u64, 0u64, 0f64);
    for p in patients {
        let p = p?;
        n_patients += 1;
        evaluations += p.evaluations;
        follow_up_days += p.follow_up_days;
        for r in p.rules {
            let Some(&i) = index.get(&(r.ruleset.as_str(), r.rule.as_str())) else {
                continue;
            };
            let a = &mut acc[i];
            a.patients += 1;
            a.alerts += r.alerts;
            a.episodes += r.episodes;
            a.first_days.push(r.first_days);
            a.episode_days.extend(r.episode_days);
            let b = FIRE_BUCKETS
                .iter()
                .rposition(|(_, min)| r.alerts >= *min)
                .unwrap_or(0);
            a.fire_counts[b] += 1;
        }
    }
    for c in cards {
        let c = c?;
        if let Some(&i) = index.get(&(c.ruleset.as_str(), c.rule.as_str())) {
            let month = c.time.get(..7).unwrap_or_default().to_string();
            *acc[i].by_month.entry(month).or_default() += 1;
        }
    }
    let timeline = manifest.mode.is_timeline();
    let patient_months = if timeline {
        follow_up_days / MONTH_DAYS
    } else {
        0.0
    };
    let rules = manifest
        .rules
        .iter()
        .zip(acc)
        .map(|(rule, mut a)| RuleSummary {
            rule: rule.clone(),
            patients: a.patients,
            alerts: a.alerts,
            episodes: a.episodes,
            alerts_per_100_patient_months: (timeline && patient_months > 0.0)
                .then(|| a.alerts as f64 / patient_months * 100.0),
            first_fire_days: Quantiles::of(&mut a.first_days),
            episode_days: if timeline {
                Quantiles::of(&mut a.episode_days)
            } else {
                None
            },
            alerts_by_month: a.by_month.into_iter().collect(),
            fire_counts: if a.patients > 0 {
                FIRE_BUCKETS
                    .iter()
                    .zip(a.fire_counts)
                    .map(|((label, _), n)| (label.to_string(), n))
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect();
    Ok(Summary {
        mode: manifest.mode.clone(),
        hook: manifest.hook.clone(),
        rulesets: manifest.rulesets.clone(),
        pseudonymised: manifest.key_fingerprint.is_some(),
        input: manifest.input_counts(),
        patients: n_patients,
        patients_not_evaluated: manifest.own.patients_not_evaluated,
        evaluations,
        patient_months,
        rules,
    })
}

/// The columns of `summary.csv`.
pub const CSV_COLUMNS: &[&str] = &[
    "ruleset",
    "rule",
    "indicator",
    "patients_evaluated",
    "patients_fired",
    "percent_patients_fired",
    "alerts",
    "episodes",
    "alerts_per_100_patient_months",
    "first_fire_days_min",
    "first_fire_days_p25",
    "first_fire_days_median",
    "first_fire_days_p75",
    "first_fire_days_max",
    "episode_days_median",
    "episode_days_max",
    "input_lines_skipped",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2}")).unwrap_or_default()
}

impl Summary {
    /// `summary.csv`: a header, then one row per rule (empty cells where a figure does not
    /// apply). `input_lines_skipped` repeats the run's count of malformed lines on every row.
    pub fn to_csv(&self) -> String {
        let mut out = CSV_COLUMNS.join(",");
        out.push('\n');
        for r in &self.rules {
            let pct = (self.patients > 0).then(|| 100.0 * r.patients as f64 / self.patients as f64);
            let f = r.first_fire_days;
            let e = r.episode_days;
            let row = [
                csv_field(&r.rule.ruleset),
                csv_field(&r.rule.rule),
                csv_field(&r.rule.indicator),
                self.patients.to_string(),
                r.patients.to_string(),
                num(pct),
                r.alerts.to_string(),
                r.episodes.to_string(),
                num(r.alerts_per_100_patient_months),
                num(f.map(|q| q.min)),
                num(f.map(|q| q.p25)),
                num(f.map(|q| q.median)),
                num(f.map(|q| q.p75)),
                num(f.map(|q| q.max)),
                num(e.map(|q| q.median)),
                num(e.map(|q| q.max)),
                self.input.skipped.to_string(),
            ];
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let q = Quantiles::of(&mut [5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(
            (q.min, q.p25, q.median, q.p75, q.max),
            (1.0, 2.0, 3.0, 4.0, 5.0)
        );
        assert!(Quantiles::of(&mut []).is_none());
        let q = Quantiles::of(&mut [7.0]).unwrap();
        assert_eq!(q.median, 7.0);
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("stage-2"), "stage-2");
    }
}
