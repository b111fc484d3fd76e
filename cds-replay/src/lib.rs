//! Cohort replay: how often would these rules have fired?
//!
//! Evaluates rulesets over a cohort of FHIR R4 data read from Bulk Data NDJSON files and folders
//! of Bundles, offline, as of one time or along a timeline, without look-ahead, and writes into
//! an output folder:
//!
//! * `cards.ndjson`: every card, one per line ([`CardLine`]), in patient, time and rule order;
//! * `patients.ndjson`: per patient evaluated, each rule's alerts, episodes and first fire
//!   ([`PatientLine`]);
//! * `summary.csv`: per rule, patients, alerts, alerts per 100 patient-months and the first-fire
//!   distribution ([`Summary::to_csv`]);
//! * `report.html`: the same with charts, self-contained;
//! * `run.json`: what was replayed and read ([`Manifest`]), for merging shards.
//!
//! How it runs: a first pass reads every file once and appends each resource's text, unparsed,
//! to the partition file of its patient's bucket on disk (`partition`); a second pass takes
//! one bucket at a time, groups its resources by patient and replays the patients on all cores
//! (rayon). Memory is bounded by one bucket (`--partition-mb` of JSON, parsed one patient per
//! thread at a time), the shared resources outside the Patient compartment (Practitioners,
//! Organizations, Locations, Medications), and the outputs of one bucket's patients.
//!
//! ```no_run
//! use cds_replay::{replay, Mode, ReplayOptions};
//! let opts = ReplayOptions::new(
//!     vec!["../shared/data/pysynthea-20/ndjson".into()],
//!     "rulesets".into(),
//!     "target/replay-out".into(),
//!     Mode::At { at: "2024-01-01".into() },
//! );
//! let report = replay(&opts)?;
//! println!("{} patients, {} cards", report.patients, report.cards);
//! # Ok::<(), cds_replay::ReplayError>(())
//! ```

mod asof;
mod error;
mod evaluate;
mod manifest;
mod merge;
mod output;
mod partition;
mod progress;
mod pseudonym;
pub mod report;
mod scan;
mod schedule;
mod shard;
pub mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cds_core::data::load::{files_in, parse_resource, LoadOptions};
use cds_core::data::{Resource, ResourceIndex, Source};
use cds_rules::engine::Engine;
use rayon::prelude::*;

pub use error::ReplayError;
pub use evaluate::{CardLine, PatientLine, RuleLine};
pub use manifest::{InputWide, Manifest, Own};
pub use merge::merge;
pub use output::{CARDS, MANIFEST, PATIENTS, REPORT, SUMMARY};
pub use progress::ProgressMode;
pub use pseudonym::Ids;
pub use schedule::{format_time, parse_step, parse_time};
pub use shard::Shard;
pub use summary::{Mode, RuleId, RulesetInfo, Skipped, Summary};

use evaluate::{PatientOutcome, Replayer};
use output::{io, LineWriter};
use progress::Progress;
use schedule::Schedule;

/// What to replay, and how.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// NDJSON folders, folders of Bundles, or files.
    pub inputs: Vec<PathBuf>,
    /// A `.rules` file or a folder of them.
    pub rulesets: PathBuf,
    /// The output folder (created; files in it are replaced).
    pub out: PathBuf,
    /// The evaluation times.
    pub mode: Mode,
    /// Only the rules answering this hook (`None`: every rule).
    pub hook: Option<String>,
    /// Only this slice of the patients.
    pub shard: Shard,
    /// How patient ids are written.
    pub ids: Ids,
    /// Bytes of input JSON per partition bucket (the bound on memory), default 64 MiB.
    pub partition_bytes: u64,
    /// Where partition files go (default: a `.partitions` folder in `out`, removed at the end).
    pub work_dir: Option<PathBuf>,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// Read every resource, even of types no rule reads (default: only the types the rules
    /// can read, see `Graph::resource_types_read`).
    pub all_resources: bool,
    /// Rulesets already loaded (the studio's edited text): used instead of loading `rulesets`.
    pub engine: Option<Arc<Engine>>,
}

impl ReplayOptions {
    /// Options with defaults: every rule, all patients, plain ids, 64 MiB buckets.
    pub fn new(inputs: Vec<PathBuf>, rulesets: PathBuf, out: PathBuf, mode: Mode) -> Self {
        ReplayOptions {
            inputs,
            rulesets,
            out,
            mode,
            hook: None,
            shard: Shard::ALL,
            ids: Ids::Plain,
            partition_bytes: 64 << 20,
            work_dir: None,
            progress: ProgressMode::Quiet,
            all_resources: false,
            engine: None,
        }
    }
}

/// What a run did, for the command line (timings are here, never in the output files).
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Files read.
    pub files: u64,
    /// Bytes of input read.
    pub bytes: u64,
    /// Patients evaluated.
    pub patients: u64,
    /// Evaluations (patient × time).
    pub evaluations: u64,
    /// Cards written.
    pub cards: u64,
    /// Malformed lines and invalid resources skipped.
    pub skipped: u64,
    /// Partition buckets used.
    pub buckets: usize,
    /// Seconds partitioning.
    pub partition_seconds: f64,
    /// Seconds in all.
    pub seconds: f64,
    /// What `summary.csv` and `report.html` show (absent only in a default report).
    pub summary: Option<Summary>,
}

/// Replays rulesets over a cohort (see the crate documentation).
pub fn replay(opts: &ReplayOptions) -> Result<RunReport, ReplayError> {
    let started = Instant::now();
    let schedule = Schedule::of(&opts.mode)?;
    let engine = match &opts.engine {
        Some(e) => e.clone(),
        None => Arc::new(Engine::load(&opts.rulesets)?),
    };
    let (files, names) = input_files(&opts.inputs)?;
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let per_bucket = opts.partition_bytes.max(1 << 20);
    let buckets = (bytes / u64::from(opts.shard.count) / per_bucket + 1).min(4096) as usize;
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let work = opts
        .work_dir
        .clone()
        .unwrap_or_else(|| opts.out.join(".partitions"));
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io(&work))?;
    }

    let keep = types_to_read(&engine, opts);
    let progress = Progress::start(opts.progress, "partitioning", "bytes", bytes);
    let plan = partition::Plan {
        files: &files,
        names: &names,
        dir: &work,
        buckets,
        shard: opts.shard,
        keep: keep.as_ref(),
    };
    let parts = partition::partition(&plan, &progress)?;
    progress.finish();
    let partition_seconds = started.elapsed().as_secs_f64();

    let mut input = InputWide {
        files: files.len() as u64,
        skipped: parts.skipped_count,
        unlinked: parts.unlinked,
        context_resources: 0,
        types_not_read: parts.types_not_read.iter().map(|t| t.to_string()).collect(),
    };
    let mut skipped = parts.skipped.clone();
    let context = read_context(&parts.context, &files, &names, &mut input, &mut skipped)?;
    let mut own = Own {
        resources: parts.resources,
        ..Own::default()
    };

    let replayer = Replayer {
        engine: &engine,
        hook: opts.hook.as_deref(),
        schedule: &schedule,
        ids: &opts.ids,
        context,
    };
    let total_patients: u64 = parts.patients.iter().sum();
    let progress = Progress::start(opts.progress, "evaluating", "patients", total_patients);
    let mut card_files = Vec::new();
    let mut patient_files = Vec::new();
    let mut report = RunReport {
        files: files.len() as u64,
        bytes,
        buckets,
        partition_seconds,
        ..RunReport::default()
    };
    for (b, path) in parts.buckets.iter().enumerate() {
        let data = std::fs::read(path).map_err(io(path))?;
        let records = partition::records(&data).map_err(|reason| ReplayError::Output {
            path: path.clone(),
            reason,
        })?;
        let mut groups: BTreeMap<&str, Vec<&partition::Record<'_>>> = BTreeMap::new();
        for r in &records {
            groups.entry(r.key).or_default().push(r);
        }
        let mut groups: Vec<(&str, Vec<&partition::Record<'_>>)> = groups.into_iter().collect();
        // Largest patients first, so that no core is left waiting on one at the end.
        groups.sort_by_key(|(_, recs)| {
            std::cmp::Reverse(recs.iter().map(|r| r.json.len()).sum::<usize>())
        });
        let outcomes: Vec<(PatientOutcome, Vec<Skipped>, u64, bool)> = groups
            .par_iter()
            .map(|(key, recs)| {
                let parsed: Vec<Result<Resource, Skipped>> = recs
                    .par_iter()
                    .with_min_len(64)
                    .map(|r| resource_of(r, &files, &names))
                    .collect();
                let mut bad = Vec::new();
                let mut resources = Vec::with_capacity(parsed.len());
                for p in parsed {
                    match p {
                        Ok(res) => resources.push(Arc::new(res)),
                        Err(s) => bad.push(s),
                    }
                }
                let has_patient = resources.iter().any(|r| r.resource_type() == "Patient");
                if !has_patient {
                    let n = resources.len() as u64;
                    return (PatientOutcome::default(), bad, n, false);
                }
                let outcome = replayer.patient(key, resources);
                progress.advance(1);
                (outcome, bad, 0, true)
            })
            .collect();
        let mut outcomes: Vec<PatientOutcome> = outcomes
            .into_iter()
            .filter_map(|(o, bad, unlinked, real)| {
                own.skipped += bad.len() as u64;
                let room = manifest::MAX_SKIPPED_KEPT.saturating_sub(skipped.len());
                skipped.extend(bad.into_iter().take(room));
                own.unlinked += unlinked;
                real.then_some(o)
            })
            .collect();
        outcomes.sort_by(|a, b| a.id.cmp(&b.id));
        let cards_path = work.join(format!("bucket-{b:05}.cards"));
        let patients_path = work.join(format!("bucket-{b:05}.patients"));
        let mut cw = LineWriter::create(&cards_path)?;
        let mut pw = LineWriter::create(&patients_path)?;
        for o in &outcomes {
            for c in &o.cards {
                cw.write(c)?;
            }
            report.cards += o.cards.len() as u64;
            match &o.line {
                Some(line) => {
                    pw.write(line)?;
                    report.patients += 1;
                    report.evaluations += line.evaluations;
                }
                None => own.patients_not_evaluated += 1,
            }
        }
        cw.finish()?;
        pw.finish()?;
        card_files.push(cards_path);
        patient_files.push(patients_path);
        drop(records);
        std::fs::remove_file(path).map_err(io(path))?;
    }
    progress.finish();
    output::merge_sorted(&card_files, &opts.out.join(CARDS))?;
    output::merge_sorted(&patient_files, &opts.out.join(PATIENTS))?;
    std::fs::remove_dir_all(&work).map_err(io(&work))?;

    report.skipped = input.skipped + own.skipped;
    let manifest = Manifest {
        format: manifest::FORMAT,
        mode: opts.mode.clone(),
        hook: opts.hook.clone(),
        rulesets: engine
            .rulesets()
            .iter()
            .map(|r| RulesetInfo {
                name: r.name.clone(),
                version: r.version.clone(),
            })
            .collect(),
        rules: engine
            .graph()
            .cards()
            .iter()
            .filter(|c| {
                opts.hook
                    .as_deref()
                    .is_none_or(|h| c.hooks.is_empty() || c.hooks.iter().any(|x| x == h))
            })
            .map(|c| RuleId {
                ruleset: c.ruleset.clone(),
                rule: c.rule.clone(),
                indicator: c.indicator.as_str().to_string(),
            })
            .collect(),
        key_fingerprint: opts.ids.fingerprint(),
        inputs: opts
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        shard: (opts.shard.count > 1).then(|| opts.shard.to_string()),
        input,
        own,
        skipped: manifest::first_skipped(skipped),
    };
    report.summary = Some(finish(&opts.out, &manifest)?);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The resource types to read: those the rules can read, the Patient, and the Encounters that
/// time an encounter timeline (`None`: all of them).
fn types_to_read(engine: &Engine, opts: &ReplayOptions) -> Option<BTreeSet<&'static str>> {
    if opts.all_resources {
        return None;
    }
    let mut types = engine.graph().resource_types_read(opts.hook.as_deref())?;
    types.insert("Patient");
    if matches!(opts.mode, Mode::Encounters { .. }) {
        types.insert("Encounter");
    }
    Some(types)
}

/// The `.json`/`.ndjson` files of the inputs (folders walked in sorted order) and their names
/// for reports (the path as found from the input given).
fn input_files(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<String>), ReplayError> {
    let mut files = Vec::new();
    for input in inputs {
        let found = files_in(input).map_err(|e| ReplayError::Io {
            path: input.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if found.is_empty() {
            return Err(ReplayError::NoInput(input.clone()));
        }
        files.extend(found);
    }
    let names = files.iter().map(|f| f.display().to_string()).collect();
    Ok((files, names))
}

/// A partition record parsed and validated as a resource, or why it was skipped.
fn resource_of(
    r: &partition::Record<'_>,
    files: &[PathBuf],
    names: &[String],
) -> Result<Resource, Skipped> {
    let file = files
        .get(r.file as usize)
        .map(|f| Arc::<Path>::from(f.as_path()))
        .unwrap_or_else(|| Arc::from(Path::new("?")));
    let source = Source {
        file,
        line: r.line as usize,
        column: r.column as usize,
        entry: r.entry.map(|e| e as usize),
    };
    let expected = cds_core::data::intern_resource_type(r.resource_type);
    parse_resource(
        r.json,
        source,
        r.full_url.map(Arc::from),
        expected,
        &LoadOptions::default(),
    )
    .map_err(|e| Skipped {
        file: names.get(r.file as usize).cloned().unwrap_or_default(),
        line: e.line.unwrap_or(r.line as usize) as u64,
        column: e.column.map(|c| c as u64),
        reason: e.kind.to_string(),
    })
}

/// Reads the shared resources (outside the Patient compartment) into one index.
fn read_context(
    path: &Path,
    files: &[PathBuf],
    names: &[String],
    input: &mut InputWide,
    skipped: &mut Vec<Skipped>,
) -> Result<Arc<ResourceIndex>, ReplayError> {
    let data = std::fs::read(path).map_err(io(path))?;
    let records = partition::records(&data).map_err(|reason| ReplayError::Output {
        path: path.to_path_buf(),
        reason,
    })?;
    let parsed: Vec<Result<Resource, Skipped>> = records
        .par_iter()
        .map(|r| resource_of(r, files, names))
        .collect();
    let mut index = ResourceIndex::new();
    for p in parsed {
        match p {
            Ok(r) => {
                input.context_resources += 1;
                index.insert(Arc::new(r));
            }
            Err(s) => {
                input.skipped += 1;
                skipped.push(s);
            }
        }
    }
    Ok(Arc::new(index))
}

/// Writes `run.json`, `summary.csv` and `report.html` from the manifest and the cards and
/// patients files in `out`.
pub(crate) fn finish(out: &Path, manifest: &Manifest) -> Result<Summary, ReplayError> {
    let text = serde_json::to_string_pretty(manifest).map_err(|e| ReplayError::Io {
        path: out.join(MANIFEST),
        source: e.into(),
    })?;
    let mpath = out.join(MANIFEST);
    std::fs::write(&mpath, text + "\n").map_err(io(&mpath))?;
    let summary = summary::summarise(
        manifest,
        read_lines::<PatientLine>(&out.join(PATIENTS))?,
        read_lines::<CardLine>(&out.join(CARDS))?,
    )?;
    let spath = out.join(SUMMARY);
    std::fs::write(&spath, summary.to_csv()).map_err(io(&spath))?;
    let rpath = out.join(REPORT);
    std::fs::write(&rpath, report::render(&summary, &manifest.skipped)).map_err(io(&rpath))?;
    Ok(summary)
}

/// Streams the JSON lines of an output file.
fn read_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<impl Iterator<Item = Result<T, ReplayError>>, ReplayError> {
    use std::io::BufRead;
    let f = std::fs::File::open(path).map_err(io(path))?;
    let path = path.to_path_buf();
    Ok(std::io::BufReader::with_capacity(1 << 16, f)
        .lines()
        .enumerate()
        .map(move |(i, line)| {
            let line = line.map_err(|e| ReplayError::Io {
                path: path.clone(),
                source: e,
            })?;
            serde_json::from_str(&line).map_err(|e| ReplayError::Output {
                path: path.clone(),
                reason: format!(
                    "line {}, column {}: not a line written by cds replay",
                    i + 1,
                    e.column()
                ),
            })
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(source: &str, mode: Mode) -> Option<Vec<&'static str>> {
        let engine = Engine::from_source("t.rules", source).expect("a valid ruleset");
        let opts = ReplayOptions::new(vec![], "t.rules".into(), "out".into(), mode);
        types_to_read(&engine, &opts).map(|t| t.into_iter().collect())
    }

    const HEAD: &str = "ruleset t version 1.0.0\n  answers patient-view\n\n";
    const AT: fn() -> Mode = || Mode::At {
        at: "2024-01-01".into(),
    };

    #[test]
    fn reads_only_the_types_the_rules_read() {
        let obs = format!("{HEAD}define s = latest observation loinc 8480-6\n\nrule r\n  when s > 1 'mm[Hg]'\n  then info \"x\"\n");
        assert_eq!(types(&obs, AT()), Some(vec!["Observation", "Patient"]));
        let enc = Mode::Encounters {
            from: None,
            to: None,
        };
        assert_eq!(
            types(&obs, enc),
            Some(vec!["Encounter", "Observation", "Patient"])
        );
        let meds = format!(
            "{HEAD}define m = active medication rxnorm 1\n\nrule r\n  when m\n  then info \"x\"\n"
        );
        assert_eq!(
            types(&meds, AT()),
            Some(vec!["Medication", "MedicationRequest", "Patient"])
        );
        let appt = format!("{HEAD}define a = fhirpath \"Appointment.exists()\"\n\nrule r\n  when a\n  then info \"x\"\n");
        assert_eq!(types(&appt, AT()), Some(vec!["Appointment", "Patient"]));
        // What a FHIRPath expression may reach through references cannot be bounded.
        let any = format!("{HEAD}define a = fhirpath \"Patient.generalPractitioner.resolve().exists()\"\n\nrule r\n  when a\n  then info \"x\"\n");
        assert_eq!(types(&any, AT()), None);
    }
}
