//! `cds replay` and `cds replay-merge`: how often rules would have fired over a cohort.

use std::path::PathBuf;
use std::process::ExitCode;

use cds_replay::{Ids, Mode, ProgressMode, ReplayError, ReplayOptions, Shard};
use clap::Args;

/// Replay rulesets over a cohort of FHIR R4 data (Bulk Data NDJSON folders, folders of Bundles)
/// as of one time or along a timeline, without look-ahead; write cards.ndjson, patients.ndjson,
/// summary.csv, report.html and run.json into --out.
///
/// Examples:
///   cds replay ../shared/data/pysynthea-20/ndjson --out target/replay --at 2024-01-01
///   cds replay DATA --out OUT --from 2015-01-01 --to 2025-01-01 --every 1w
///   cds replay DATA --out OUT --every encounter
///   cds replay DATA --out OUT-0 --at 2024-01-01 --shard 0/4    (then cds replay-merge)
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// NDJSON folders, folders of Bundles, or files.
    #[arg(required = true, value_name = "DATA")]
    data: Vec<PathBuf>,
    /// A .rules file or a folder of them.
    #[arg(long, default_value = "rulesets", value_name = "PATH")]
    rulesets: PathBuf,
    /// The output folder (created; the files a replay writes are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Evaluate once, as of this date or time (a date means its first instant, UTC).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["every"])]
    at: Option<String>,
    /// Timeline: evaluate every STEP (30m, 12h, 1d, 1w), or at the end of each encounter
    /// (`encounter`).
    #[arg(long, value_name = "STEP")]
    every: Option<String>,
    /// Timeline start (required with a step; optional with `encounter`).
    #[arg(long, value_name = "TIME", requires = "every")]
    from: Option<String>,
    /// Timeline end, included (required with a step; optional with `encounter`).
    #[arg(long, value_name = "TIME", requires = "every")]
    to: Option<String>,
    /// Only the rules answering this CDS Hooks hook (default: every rule).
    #[arg(long, value_name = "HOOK")]
    hook: Option<String>,
    /// Only shard I of N of the patients (0-based, by a stable hash of the patient id).
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Replace patient ids (and evidence resource ids) by keyed hashes; the key is this file's
    /// content (at least 16 bytes, e.g. `openssl rand -hex 32 > key`).
    #[arg(long, value_name = "KEY_FILE")]
    pseudonymise: Option<PathBuf>,
    /// Worker threads (default: all cores). Outputs do not depend on it.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// MiB of input JSON per partition bucket: the bound on memory (default 64).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    partition_mb: u64,
    /// Where partition files go (default: OUT/.partitions, removed at the end).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Read every resource, also of types no rule reads (by default those are not read:
    /// NDJSON files of such types are not even opened).
    #[arg(long)]
    all_resources: bool,
    /// No progress on standard error.
    #[arg(long, short)]
    quiet: bool,
}

/// Merge the output folders of `cds replay --shard i/n` runs (all n of them) into one output
/// with the cards, patients, summary and report of a single run over all patients.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' output folders.
    #[arg(required = true, value_name = "SHARD_OUT")]
    shards: Vec<PathBuf>,
    /// The merged output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn mode(args: &ReplayArgs) -> Result<Mode, ReplayError> {
    let usage = |m: &str| Err(ReplayError::Usage(m.to_string()));
    match (&args.at, &args.every) {
        (Some(at), None) => Ok(Mode::At { at: at.clone() }),
        (None, Some(every)) if every == "encounter" || every == "encounters" => Ok(Mode::Encounters {
            from: args.from.clone(),
            to: args.to.clone(),
        }),
        (None, Some(every)) => match (&args.from, &args.to) {
            (Some(from), Some(to)) => Ok(Mode::Every {
                from: from.clone(),
                to: to.clone(),
                every: every.clone(),
            }),
            _ => usage("--every STEP needs --from and --to (or use --every encounter)"),
        },
        _ => usage("say when to evaluate: --at TIME, or --every STEP --from TIME --to TIME, or --every encounter"),
    }
}

fn error(e: ReplayError) -> anyhow::Error {
    match e {
        ReplayError::Rules(e) => anyhow::anyhow!("{}", cds::testing::render_error(&e)),
        e => e.into(),
    }
}

/// Runs `cds replay`.
pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let mode = mode(args).map_err(error)?;
    // Check the times before reading anything.
    let mut opts = ReplayOptions::new(
        args.data.clone(),
        args.rulesets.clone(),
        args.out.clone(),
        mode,
    );
    opts.hook = args.hook.clone();
    opts.shard = args.shard.unwrap_or(Shard::ALL);
    if let Some(key) = &args.pseudonymise {
        opts.ids = Ids::from_key_file(key).map_err(error)?;
    }
    opts.partition_bytes = args.partition_mb.max(1) << 20;
    opts.work_dir = args.work_dir.clone();
    opts.all_resources = args.all_resources;
    opts.progress = if args.quiet {
        ProgressMode::Quiet
    } else {
        ProgressMode::Auto
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()?;
    let report = pool.install(|| cds_replay::replay(&opts)).map_err(error)?;
    let secs = report.seconds.max(1e-9);
    println!(
        "replayed {} patients ({} evaluations, {} cards) from {} files, {:.1} MB in {:.2} s ({:.1} patients/s, {:.1} MB/s; partitioning {:.2} s, {} buckets)",
        report.patients,
        report.evaluations,
        report.cards,
        report.files,
        report.bytes as f64 / 1e6,
        secs,
        report.patients as f64 / secs,
        report.bytes as f64 / 1e6 / secs,
        report.partition_seconds,
        report.buckets,
    );
    if report.skipped > 0 {
        println!(
            "skipped {} malformed lines or invalid resources (listed in {}/run.json and report.html)",
            report.skipped,
            args.out.display()
        );
    }
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs `cds replay-merge`.
pub fn run_merge(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    let summary = cds_replay::merge(&args.shards, &args.out).map_err(error)?;
    println!(
        "merged {} shards: {} patients, {} alerts; wrote {}",
        args.shards.len(),
        summary.patients,
        summary.rules.iter().map(|r| r.alerts).sum::<u64>(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
