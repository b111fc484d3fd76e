//! Criterion benchmarks of FHIRPath: parsing, and evaluation of typical rule expressions
//! (`benches/fhirpath-expressions.tsv`) over the Observations of the pysynthea-20 cohort.
//!
//!     cargo bench --bench fhirpath

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

use cds_core::fhirpath::{self, EvalContext};
use cds_core::temporal::DateTime;

/// The allocator of the shipped `cds` binary, as in `fhirpath_compare`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("fhirpath/parse");
    for (name, source) in support::expressions() {
        group.bench_with_input(BenchmarkId::from_parameter(&name), &source, |b, s| {
            b.iter(|| fhirpath::parse(black_box(s)).expect("parses"))
        });
    }
    group.finish();
}

fn bench_evaluate(c: &mut Criterion) {
    let resources = support::load_observations(&support::default_observations());
    let ctx = EvalContext::new(DateTime::parse("2024-01-01T00:00:00Z").expect("valid clock"));
    let mut group = c.benchmark_group("fhirpath/evaluate-observations");
    group.throughput(Throughput::Elements(resources.len() as u64));
    group.sample_size(20);
    for (name, source) in support::expressions() {
        let expr = fhirpath::parse(&source).expect("parses");
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for r in &resources {
                    n += expr.evaluate(r, &ctx).map(|c| c.len()).unwrap_or(0);
                }
                black_box(n)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parse, bench_evaluate);
criterion_main!(benches);
