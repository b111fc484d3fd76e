//! Shared by the FHIRPath benchmarks: the expression list and the Observations they run over.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root (benches run with the package root, which is the repository root).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default data: the pysynthea-20 cohort's Observations from `../shared`.
pub fn default_observations() -> PathBuf {
    repo_root().join("../shared/data/pysynthea-20/ndjson/Observation.000.ndjson")
}

/// `(name, expression)` pairs of `benches/fhirpath-expressions.tsv`.
pub fn expressions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("benches/fhirpath-expressions.tsv"))
        .expect("benches/fhirpath-expressions.tsv is readable");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, expr) = l.split_once('\t').expect("name<TAB>expression");
            (name.to_string(), expr.to_string())
        })
        .collect()
}

/// Every Observation of an NDJSON file, parsed as JSON.
pub fn load_observations(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("valid NDJSON line"))
        .filter(|r| r["resourceType"] == "Observation")
        .collect()
}
