//! `run.json`: what a run replayed (mode, hook, rules, ids) and what it read — all a merge needs
//! besides the cards and patients. No timings, paths of temporary files or host names, so that
//! the same input gives the same file.

use serde::{Deserialize, Serialize};

use crate::summary::{InputCounts, Mode, RuleId, RulesetInfo, Skipped};

/// The format version of `run.json`.
pub const FORMAT: u32 = 1;

/// At most this many skipped lines are listed (all are counted).
pub const MAX_SKIPPED_LISTED: usize = 100;

/// At most this many skipped lines are kept in memory while reading, per phase (the listed
/// ones are the first of them in file and line order).
pub(crate) const MAX_SKIPPED_KEPT: usize = 10 * MAX_SKIPPED_LISTED;

/// Counts every shard sees alike: they all read the whole input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputWide {
    /// Files read.
    pub files: u64,
    /// Lines or entries that are not JSON or not a resource, and invalid shared resources.
    pub skipped: u64,
    /// Resources naming no patient.
    pub unlinked: u64,
    /// Shared resources (outside the Patient compartment) kept.
    pub context_resources: u64,
    /// Resource types found in the input that no rule reads, left unread.
    pub types_not_read: Vec<String>,
}

/// Counts of this run's own patients (summed over shards).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Own {
    /// Patient resources read.
    pub resources: u64,
    /// Invalid patient resources skipped.
    pub skipped: u64,
    /// Resources of patient keys with no Patient resource.
    pub unlinked: u64,
    /// Patients never evaluated.
    pub patients_not_evaluated: u64,
}

/// The contents of `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `FORMAT`.
    pub format: u32,
    /// The evaluation times.
    pub mode: Mode,
    /// The hook, or every rule.
    pub hook: Option<String>,
    /// The rulesets and versions.
    pub rulesets: Vec<RulesetInfo>,
    /// Every rule, in order.
    pub rules: Vec<RuleId>,
    /// A fingerprint of the pseudonymisation key (not the key), when ids are pseudonymised.
    pub key_fingerprint: Option<String>,
    /// The input paths as given.
    pub inputs: Vec<String>,
    /// The shard (`i/n`), or none for all patients (and for merged outputs).
    pub shard: Option<String>,
    /// Counts every shard sees alike.
    pub input: InputWide,
    /// Counts of this run's patients.
    pub own: Own,
    /// The first skipped lines, in file and line order.
    pub skipped: Vec<Skipped>,
}

impl Manifest {
    /// The input counts of the summary.
    pub fn input_counts(&self) -> InputCounts {
        InputCounts {
            files: self.input.files,
            resources: self.own.resources + self.input.context_resources,
            skipped: self.input.skipped + self.own.skipped,
            unlinked: self.input.unlinked + self.own.unlinked,
            types_not_read: self.input.types_not_read.clone(),
        }
    }
}

/// Sorts skipped lines by file, line, column and reason, drops repeats, keeps the first
/// [`MAX_SKIPPED_LISTED`].
pub(crate) fn first_skipped(mut all: Vec<Skipped>) -> Vec<Skipped> {
    all.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.reason).cmp(&(&b.file, b.line, b.column, &b.reason))
    });
    all.dedup();
    all.truncate(MAX_SKIPPED_LISTED);
    all
}
