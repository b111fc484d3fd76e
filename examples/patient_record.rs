//! Embedding the engine: load a cohort, build each patient's record, and ask it the questions a
//! rule asks — the latest systolic blood pressure (from plain observations or from the
//! components of 85354-9 panels) within 90 days of an evaluation time, converted to kPa, and
//! whether the patient is an adult, through FHIRPath with the same evaluation clock.
//!
//!     cargo run --release --example patient_record -- [PATH] [EVALUATION_TIME]
//!
//! PATH defaults to the pysynthea-20 NDJSON cohort beside the repository, the time to
//! 2020-01-01. Output: one line per patient (a short hash stands in for the patient id).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use cds_core::data::load::{load_path, LoadOptions};
use cds_core::data::{Cohort, Window};
use cds_core::fhirpath::{self, EvalContext};
use cds_core::temporal::DateTime;
use cds_core::ucum::Unit;

const LOINC: &str = "http://loinc.org";
const SYSTOLIC: &str = "8480-6";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/pysynthea-20/ndjson"
        )
        .to_string()
    });
    let at = DateTime::parse(&args.next().unwrap_or_else(|| "2020-01-01".to_string()))?;

    // 1. Load: files are read in parallel; bad lines are reported, not fatal.
    let loaded = load_path(&path, LoadOptions::default())?;
    for e in &loaded.rejected {
        eprintln!("rejected: {e}");
    }
    // 2. Group by patient (each type may sit in its own NDJSON file).
    let cohort = Cohort::group(loaded.resources);

    // 3. Parse a FHIRPath expression once; evaluate it for every patient.
    let adult = fhirpath::parse("Patient.birthDate <= today() - 18 years")?;
    let ctx = EvalContext::new(at);
    let kpa = Unit::parse("kPa")?;
    let window = Window::ending_at(&at, Duration::from_secs(90 * 24 * 3600));

    for record in cohort.records() {
        let record = record?;
        let patient = record.patient();
        let mut h = DefaultHasher::new();
        patient.id().hash(&mut h);

        let is_adult = adult.evaluate(patient.json(), &ctx)?.as_bool();
        let latest = record.latest_observation(LOINC, SYSTOLIC, window);
        let reading = latest
            .and_then(|entry| entry.value())
            .and_then(|v| v.as_quantity().and_then(|q| q.to_ucum()));
        let shown = match reading {
            Some(q) => {
                let in_kpa = q.convert_to(&kpa).map(|k| k.value.round_dp(1).to_string());
                format!("{q} ({} kPa)", in_kpa.unwrap_or_else(|_| "?".into()))
            }
            None => "no systolic reading in the 90 days before the evaluation time".into(),
        };
        println!(
            "patient {:08x}  adult: {:<5}  latest systolic: {shown}",
            h.finish() as u32,
            is_adult.map_or("?".to_string(), |b| b.to_string())
        );
    }
    Ok(())
}
