//! The Rust half of `benches/compare-fhirpath.sh`: evaluates each expression of
//! `benches/fhirpath-expressions.tsv` over every Observation of an NDJSON file, single-threaded,
//! and prints one JSON line per expression in the same shape as `benches/js/fhirpath-bench.mjs`.
//!
//!     cargo bench --bench fhirpath_compare -- [OBSERVATIONS.ndjson] [SECONDS_PER_EXPRESSION]

mod support;

use std::path::PathBuf;
use std::time::Instant;

use cds_core::fhirpath::{self, EvalContext, Item};
use cds_core::temporal::DateTime;

/// The allocator of the shipped `cds` binary (see src/main.rs), so the figures are those of the
/// engine as it runs there; evaluation reads JSON whose layout in memory the allocator decides.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `cargo bench` appends `--bench`; keep only positional arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let data = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(support::default_observations);
    let min_seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);

    let resources = support::load_observations(&data);
    let now = DateTime::parse("2024-01-01T00:00:00Z").expect("valid clock");
    let ctx = EvalContext::new(now);

    for (name, source) in support::expressions() {
        let expr = fhirpath::parse(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (mut non_empty, mut trues, mut errors) = (0u64, 0u64, 0u64);
        for r in &resources {
            match expr.evaluate(r, &ctx) {
                Ok(out) => {
                    if !out.is_empty() {
                        non_empty += 1;
                    }
                    if out.len() == 1 && matches!(out.iter().next(), Some(Item::Boolean(true))) {
                        trues += 1;
                    }
                }
                Err(_) => errors += 1,
            }
        }
        let start = Instant::now();
        let mut evals = 0u64;
        let mut sink = 0usize;
        while start.elapsed().as_secs_f64() < min_seconds {
            for r in &resources {
                sink += expr.evaluate(r, &ctx).map(|c| c.len()).unwrap_or(0);
            }
            evals += resources.len() as u64;
        }
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        println!(
            "{}",
            serde_json::json!({
                "engine": "cds",
                "name": name,
                "evals": evals,
                "seconds": seconds,
                "evals_per_sec": evals as f64 / seconds,
                "non_empty": non_empty,
                "true": trues,
                "errors": errors,
            })
        );
    }
}
