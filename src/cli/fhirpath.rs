//! `cds fhirpath EXPRESSION PATH`: evaluate a FHIRPath expression over every resource of a file
//! or folder, for trying out the expressions that rules use.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cds_core::data::load::{load_path, LoadOptions};
use cds_core::fhirpath::{self, EvalContext};
use cds_core::temporal::DateTime;
use clap::Args;

/// Evaluate a FHIRPath expression over each resource of a FHIR JSON file, Bundle, NDJSON file or
/// folder, and print the non-empty results as JSON, one resource a line.
///
/// `today()` and `now()` are taken from `--at` (default: the current time), so a run over the
/// same data with the same `--at` always prints the same. Exit code: 0 when every evaluation
/// succeeded, 1 when some failed or resources were rejected, 2 on an invalid expression or a
/// usage or I/O error.
#[derive(Debug, Args)]
pub struct FhirpathArgs {
    /// The FHIRPath expression, e.g. "Observation.value.ofType(Quantity) > 140 'mm[Hg]'".
    expression: String,
    /// A file (.json or .ndjson) or a folder, walked recursively.
    path: PathBuf,
    /// The evaluation time for now() and today(), e.g. 2024-01-01 or 2024-01-01T08:00:00Z.
    #[arg(long, value_name = "DATETIME")]
    at: Option<String>,
    /// Evaluate only resources of this type (e.g. Observation).
    #[arg(long = "type", value_name = "RESOURCE_TYPE")]
    resource_type: Option<String>,
    /// Print empty results too.
    #[arg(long)]
    all: bool,
}

/// Runs `cds fhirpath`.
pub fn run(args: &FhirpathArgs) -> anyhow::Result<ExitCode> {
    let expr = match fhirpath::parse(&args.expression) {
        Ok(expr) => expr,
        Err(e) => {
            let report = miette::Report::new(e);
            eprintln!("{report:?}");
            return Ok(ExitCode::from(2));
        }
    };
    let now = match &args.at {
        Some(at) => DateTime::parse(at).with_context(|| "--at is not a FHIR date or dateTime")?,
        None => DateTime::now_utc().context("reading the system clock")?,
    };
    let loaded = load_path(&args.path, LoadOptions::default())
        .with_context(|| format!("cannot read {}", args.path.display()))?;
    for rejected in &loaded.rejected {
        eprintln!("rejected: {rejected}");
    }

    let ctx = EvalContext::new(now);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut evaluated, mut failed) = (0usize, 0usize);
    for resource in &loaded.resources {
        if args
            .resource_type
            .as_deref()
            .is_some_and(|t| t != resource.resource_type())
        {
            continue;
        }
        evaluated += 1;
        let label = format!(
            "{}/{}",
            resource.resource_type(),
            resource.id().unwrap_or("(no id)")
        );
        match expr.evaluate(resource.json(), &ctx) {
            Ok(result) if result.is_empty() && !args.all => {}
            Ok(result) => {
                if let Err(e) = writeln!(out, "{label}\t{}", result.to_json()) {
                    // A closed pipe (`cds fhirpath ... | head`) is not an error.
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(ExitCode::SUCCESS);
                    }
                    return Err(e.into());
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{label}: {}", e.describe(expr.source()));
            }
        }
    }
    eprintln!(
        "{evaluated} resource(s) evaluated, {failed} failed, {} rejected",
        loaded.rejected.len()
    );
    Ok(if failed > 0 || !loaded.rejected.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
