//! `cds stats PATH`: what a file or folder of FHIR R4 data holds, and what could not be loaded.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cds_core::data::load::{files_in, read_file, FileCounts, LoadOptions};
use cds_core::data::{LoadError, LoadErrorKind};
use clap::Args;
use rayon::prelude::*;
use serde_json::json;

/// Count the resources in FHIR R4 JSON files, Bundles and Bulk Data NDJSON.
///
/// Prints the number of files, Bundles, patients and resources (by type), and every rejected
/// resource with its file:line:column and reason. Exit code: 0 when nothing was rejected, 1 when
/// something was, 2 on a usage error or when a file could not be read.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// A file (.json or .ndjson) or a folder, walked recursively.
    path: PathBuf,
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    json: bool,
    /// List at most this many rejections.
    #[arg(long, default_value_t = 20, value_name = "N")]
    max_errors: usize,
}

/// The totals over all files.
#[derive(Debug, Default)]
struct Stats {
    files: usize,
    by_type: BTreeMap<&'static str, usize>,
    patients: HashSet<String>,
    counts: FileCounts,
    rejected: usize,
    io_errors: usize,
    errors: Vec<LoadError>,
}

impl Stats {
    fn resources(&self) -> usize {
        self.by_type.values().sum()
    }

    fn merge(&mut self, other: Stats, cap: usize) {
        self.files += other.files;
        for (t, n) in other.by_type {
            *self.by_type.entry(t).or_default() += n;
        }
        self.patients.extend(other.patients);
        self.counts.bundles += other.counts.bundles;
        self.counts.outcomes_skipped += other.counts.outcomes_skipped;
        self.counts.entries_without_resource += other.counts.entries_without_resource;
        self.rejected += other.rejected;
        self.io_errors += other.io_errors;
        let room = cap.saturating_sub(self.errors.len());
        self.errors.extend(other.errors.into_iter().take(room));
    }
}

fn scan_file(path: &Path, cap: usize) -> Stats {
    let mut stats = Stats {
        files: 1,
        ..Stats::default()
    };
    let mut reader = read_file(path, LoadOptions::default());
    for result in reader.by_ref() {
        match result {
            Ok(resource) => {
                let t = resource.resource_type();
                *stats.by_type.entry(t).or_default() += 1;
                if t == "Patient" {
                    let key = resource
                        .id()
                        .map(|id| format!("id:{id}"))
                        .or_else(|| resource.full_url().map(|u| format!("url:{u}")))
                        .unwrap_or_else(|| {
                            format!("at:{}:{}", path.display(), resource.source().line)
                        });
                    stats.patients.insert(key);
                }
            }
            Err(e) => {
                stats.rejected += 1;
                if matches!(e.kind, LoadErrorKind::Io(_)) {
                    stats.io_errors += 1;
                }
                if stats.errors.len() < cap {
                    stats.errors.push(e);
                }
            }
        }
    }
    stats.counts = reader.counts();
    stats
}

/// Runs `cds stats`.
pub fn run(args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let files =
        files_in(&args.path).with_context(|| format!("cannot list {}", args.path.display()))?;
    let cap = args.max_errors;
    let per_file: Vec<Stats> = files.par_iter().map(|f| scan_file(f, cap)).collect();
    let mut stats = Stats::default();
    for s in per_file {
        stats.merge(s, cap);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&to_json(&args.path, &stats))?
        )?;
    } else {
        write_text(&mut out, &args.path, &stats, cap)?;
    }
    Ok(if stats.io_errors > 0 {
        ExitCode::from(2)
    } else if stats.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_text(out: &mut impl Write, path: &Path, s: &Stats, cap: usize) -> std::io::Result<()> {
    writeln!(out, "path:      {}", path.display())?;
    writeln!(out, "files:     {}", s.files)?;
    writeln!(out, "bundles:   {}", s.counts.bundles)?;
    writeln!(out, "patients:  {}", s.patients.len())?;
    writeln!(out, "resources: {}", s.resources())?;
    let width = s.by_type.keys().map(|t| t.len()).max().unwrap_or(0);
    for (t, n) in &s.by_type {
        writeln!(out, "  {t:<width$}  {n:>8}")?;
    }
    if s.counts.outcomes_skipped + s.counts.entries_without_resource > 0 {
        writeln!(
            out,
            "skipped:   {} search outcomes, {} entries without a resource",
            s.counts.outcomes_skipped, s.counts.entries_without_resource
        )?;
    }
    writeln!(out, "rejected:  {}", s.rejected)?;
    for e in s.errors.iter().take(cap) {
        writeln!(out, "  {e}")?;
    }
    if s.rejected > s.errors.len().min(cap) {
        writeln!(
            out,
            "  ... and {} more",
            s.rejected - s.errors.len().min(cap)
        )?;
    }
    Ok(())
}

fn to_json(path: &Path, s: &Stats) -> serde_json::Value {
    let errors: Vec<_> = s
        .errors
        .iter()
        .map(|e| {
            json!({
                "file": e.file.display().to_string(),
                "line": e.line,
                "column": e.column,
                "entry": e.entry,
                "kind": e.kind.code(),
                "message": e.kind.to_string(),
            })
        })
        .collect();
    json!({
        "path": path.display().to_string(),
        "files": s.files,
        "bundles": s.counts.bundles,
        "patients": s.patients.len(),
        "resources": s.resources(),
        "by_type": s.by_type,
        "skipped": {
            "search_outcomes": s.counts.outcomes_skipped,
            "entries_without_resource": s.counts.entries_without_resource,
        },
        "rejected": {
            "count": s.rejected,
            "listed": errors,
        },
    })
}
