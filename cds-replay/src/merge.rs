//! Merging shard outputs (`--shard i/n`, run anywhere) into one output folder whose cards,
//! patients, summary and report are those of one run over all patients.

use std::path::{Path, PathBuf};

use crate::error::ReplayError;
use crate::manifest::{first_skipped, Manifest, Own};
use crate::output::{io, merge_sorted, CARDS, MANIFEST, PATIENTS};
use crate::shard::Shard;
use crate::summary::Summary;

fn read_manifest(dir: &Path) -> Result<Manifest, ReplayError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    serde_json::from_str(&text).map_err(|e| ReplayError::Output {
        path,
        reason: format!(
            "not the run.json of a replay (line {}, column {})",
            e.line(),
            e.column()
        ),
    })
}

/// Merges the output folders of shards `0/n` .. `n-1/n` of one replay into `out`. Every shard
/// must be there once, with the same mode, hook, rules, key and input.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<Summary, ReplayError> {
    if shards.is_empty() {
        return Err(ReplayError::Usage(
            "give the shard output folders to merge".into(),
        ));
    }
    let manifests = shards
        .iter()
        .map(|d| read_manifest(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &manifests[0];
    let mut seen: Vec<Shard> = Vec::new();
    for (m, dir) in manifests.iter().zip(shards) {
        let name = dir.display();
        let shard: Shard = match &m.shard {
            Some(s) => s.parse().map_err(ReplayError::Merge)?,
            None => Shard::ALL,
        };
        let differs = |what: &str| {
            Err(ReplayError::Merge(format!(
                "{name} was run with another {what} than {}",
                shards[0].display()
            )))
        };
        if m.format != first.format {
            return differs("output format");
        }
        if m.mode != first.mode {
            return differs("mode (--at/--from/--to/--every)");
        }
        if m.hook != first.hook {
            return differs("--hook");
        }
        if m.rulesets != first.rulesets || m.rules != first.rules {
            return differs("set of rulesets");
        }
        if m.key_fingerprint != first.key_fingerprint {
            return differs("pseudonymisation key");
        }
        if m.input != first.input {
            return differs("input (files, malformed lines or shared resources differ)");
        }
        if seen.contains(&shard) {
            return Err(ReplayError::Merge(format!("shard {shard} is given twice")));
        }
        if seen.first().is_some_and(|s| s.count != shard.count) {
            return Err(ReplayError::Merge(format!(
                "{name} is shard {shard}, another is of {} shards",
                seen[0].count
            )));
        }
        seen.push(shard);
    }
    let count = seen[0].count;
    if seen.len() != count as usize {
        let missing: Vec<String> = (0..count)
            .filter(|i| !seen.iter().any(|s| s.index == *i))
            .map(|i| format!("{i}/{count}"))
            .collect();
        return Err(ReplayError::Merge(format!(
            "shards missing: {}",
            missing.join(", ")
        )));
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let files = |name: &str| shards.iter().map(|d| d.join(name)).collect::<Vec<_>>();
    merge_sorted(&files(CARDS), &out.join(CARDS))?;
    merge_sorted(&files(PATIENTS), &out.join(PATIENTS))?;
    let mut own = Own::default();
    let mut skipped = Vec::new();
    for m in &manifests {
        own.resources += m.own.resources;
        own.skipped += m.own.skipped;
        own.unlinked += m.own.unlinked;
        own.patients_not_evaluated += m.own.patients_not_evaluated;
        skipped.extend(m.skipped.iter().cloned());
    }
    let merged = Manifest {
        shard: None,
        own,
        skipped: first_skipped(skipped),
        ..first.clone()
    };
    crate::finish(out, &merged)
}
