//! Replay a cohort: load a folder of FHIR data, group it per patient, evaluate every shipped
//! ruleset for every patient in parallel (rayon) at one time, and print how often each rule
//! fired. No patient id is printed.
//!
//!     cargo run --release --example replay_folder -- [FOLDER] [EVALUATION_TIME] [RULESETS]
//!
//! Defaults: the pysynthea-20 NDJSON cohort beside the repository
//! (`../shared/data/pysynthea-20/ndjson`), `2020-01-01T00:00:00Z`, and `rulesets/`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use cds::{DateTime, Engine};
use cds_core::data::load::{load_path, LoadOptions};
use cds_core::data::Cohort;
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let folder = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data/pysynthea-20/ndjson"));
    let at = DateTime::parse(
        &args
            .next()
            .unwrap_or_else(|| "2020-01-01T00:00:00Z".to_string()),
    )?;
    let rulesets = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("rulesets"));

    let engine = match Engine::load(&rulesets) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            std::process::exit(1);
        }
    };

    let start = Instant::now();
    let loaded = load_path(&folder, LoadOptions::default())?;
    // Load errors name the file and the JSON path, never values.
    eprintln!("{} resources rejected", loaded.rejected.len());
    let cohort = Cohort::group(loaded.resources);
    let loaded_in = start.elapsed();

    let start = Instant::now();
    let patients = cohort.patients().len();
    // Per patient: the (ruleset, rule) pairs that fired, or why the record could not be built.
    let per_patient: Vec<Result<Vec<(String, String)>, String>> = (0..patients)
        .into_par_iter()
        .map(|i| {
            let record = cohort
                .record(i)
                .expect("index in range")
                .map_err(|e| e.to_string())?;
            let result = engine.evaluate(&record, &at, None);
            Ok(result
                .cards()
                .iter()
                .map(|f| (f.ruleset.clone(), f.rule.clone()))
                .collect())
        })
        .collect();
    let evaluated_in = start.elapsed();

    let mut fired: BTreeMap<(String, String), usize> = BTreeMap::new();
    for rs in engine.rulesets() {
        for (rule, _, _) in rs.rules() {
            fired.insert((rs.name.clone(), rule.clone()), 0);
        }
    }
    let mut failed = 0;
    for p in &per_patient {
        match p {
            Ok(cards) => {
                for key in cards {
                    *fired.entry(key.clone()).or_default() += 1;
                }
            }
            Err(_) => failed += 1,
        }
    }

    println!(
        "{patients} patients ({failed} records could not be built), evaluated at {at}: loaded in {:.0} ms, evaluated in {:.1} ms",
        loaded_in.as_secs_f64() * 1e3,
        evaluated_in.as_secs_f64() * 1e3
    );
    println!("{:<24} {:<32} {:>8}", "ruleset", "rule", "patients");
    for ((ruleset, rule), n) in fired {
        println!("{ruleset:<24} {rule:<32} {n:>8}");
    }
    Ok(())
}
