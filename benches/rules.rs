//! Rule evaluation: a generated ruleset of 50 rules (10 codes × 5 shapes: thresholds, windows,
//! averages, counts, rises, bands, `and`/`or`; shared definitions and repeated identical
//! expressions) over one patient with 2,000 observations spread over two years.
//!
//! Measures (a) building the `PatientRecord` from already parsed resources, and parsing them
//! from NDJSON separately, (b) one evaluation of the 50 rules, (c) one evaluation of all
//! shipped rulesets (`rulesets/`) on the same patient, and the baseline without sharing:
//! each rule compiled into its own engine, all 50 evaluated one after the other.
//!
//!     cargo bench --bench rules                 # criterion
//!     cargo bench --bench rules -- --summary    # plain timings and ratios
//!     RULES_BENCH_SUMMARY=1 cargo bench --bench rules
//!
//! The graph sizes (nodes with sharing, requested, unshared) are printed once at start.

#[path = "support/rules_fixture.rs"]
mod rules_fixture;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cds::{DateTime, Engine, PatientRecord, Resource};
use cds_core::data::load::{read_bytes, FileFormat, LoadOptions};
use criterion::{BatchSize, Criterion};

struct Fixture {
    engine: Engine,
    shipped: Engine,
    per_rule: Vec<Engine>,
    ndjson: Vec<u8>,
    resources: Vec<Arc<Resource>>,
    record: PatientRecord,
    at: DateTime,
}

fn parse(ndjson: &[u8]) -> Vec<Arc<Resource>> {
    read_bytes(
        ndjson,
        "bench.ndjson",
        FileFormat::Ndjson,
        LoadOptions::default(),
    )
    .map(|r| Arc::new(r.expect("generated resources are valid")))
    .collect()
}

fn fixture() -> Fixture {
    let engine = Engine::from_source("bench.rules", &rules_fixture::ruleset())
        .unwrap_or_else(|e| panic!("generated ruleset: {:?}", miette::Report::new(e)));
    let shipped = Engine::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rulesets"))
        .expect("shipped rulesets load");
    let per_rule = rules_fixture::one_ruleset_per_rule()
        .iter()
        .map(|text| Engine::from_source("one.rules", text).expect("one-rule ruleset"))
        .collect();
    let mut ndjson = Vec::new();
    for r in rules_fixture::patient_json(200) {
        ndjson.extend(serde_json::to_vec(&r).expect("json"));
        ndjson.push(b'\n');
    }
    let resources = parse(&ndjson);
    let record = PatientRecord::build(resources.clone()).expect("one patient");
    let at = DateTime::parse(rules_fixture::AT).expect("time");
    Fixture {
        engine,
        shipped,
        per_rule,
        ndjson,
        resources,
        record,
        at,
    }
}

fn print_stats(f: &Fixture) {
    let s = f.engine.graph().stats();
    let per_rule_nodes: usize = f.per_rule.iter().map(|e| e.graph().stats().nodes).sum();
    let fired = f.engine.evaluate(&f.record, &f.at, None).cards().len();
    let shipped = f.shipped.graph().stats();
    let shipped_fired = f.shipped.evaluate(&f.record, &f.at, None).cards().len();
    println!(
        "generated ruleset: 50 rules, {} resources ({} observations); {fired} rules fire",
        f.resources.len(),
        f.resources.len() - 1
    );
    println!(
        "  graph: {} nodes with sharing, {} requested (identical expressions not merged), {} unshared (every rule's tree expanded); {} queries, {} cards, {} edges",
        s.nodes, s.requested, s.unshared, s.queries, s.cards, s.edges
    );
    println!("  one engine per rule: {per_rule_nodes} nodes in all");
    println!(
        "shipped rulesets: {} rulesets; graph {} nodes, {} requested, {} unshared; {shipped_fired} rules fire",
        f.shipped.files().len(),
        shipped.nodes,
        shipped.requested,
        shipped.unshared
    );
}

/// Runs `op` repeatedly for about `budget` and returns the mean time of one run.
fn time<T>(budget: Duration, mut op: impl FnMut() -> T) -> Duration {
    // Warm up.
    let start = Instant::now();
    while start.elapsed() < budget / 5 {
        black_box(op());
    }
    let mut n = 0u32;
    let start = Instant::now();
    while start.elapsed() < budget {
        black_box(op());
        n += 1;
    }
    start.elapsed() / n
}

fn summary(f: &Fixture) {
    let budget = Duration::from_secs(2);
    let parse_t = time(budget, || parse(&f.ndjson));
    let build_t = time(budget, || {
        PatientRecord::build(f.resources.clone()).expect("one patient")
    });
    // Evaluation: every node of the 50 rules, which rules fire. Cards and their evidence are
    // rendered on demand; `render_t` adds that for the fired rules.
    let eval_t = time(budget, || {
        f.engine.evaluate(&f.record, &f.at, None).fired().count()
    });
    let render_t = time(budget, || {
        f.engine.evaluate(&f.record, &f.at, None).cards().len()
    });
    let shipped_t = time(budget, || {
        f.shipped.evaluate(&f.record, &f.at, None).fired().count()
    });
    let unshared_t = time(budget, || {
        f.per_rule
            .iter()
            .map(|e| e.evaluate(&f.record, &f.at, None).fired().count())
            .sum::<usize>()
    });
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!("summary (mean of repeated runs, ~2 s each)");
    println!(
        "  parse 2,001 resources from NDJSON: {:>10.3} ms",
        ms(parse_t)
    );
    println!(
        "  build the PatientRecord:           {:>10.3} ms   (aim < 2 ms)",
        ms(build_t)
    );
    println!(
        "  evaluate 50 rules (shared graph):  {:>10.1} µs   {:>10.0} evaluations per second   (aim < 50 µs)",
        us(eval_t),
        1.0 / eval_t.as_secs_f64()
    );
    println!(
        "    + render the fired rules' cards and evidence: {:>10.1} µs",
        us(render_t),
    );
    println!(
        "  evaluate 50 rules, one engine each:{:>10.1} µs   {:>10.0} evaluations per second",
        us(unshared_t),
        1.0 / unshared_t.as_secs_f64()
    );
    println!(
        "  evaluate all shipped rulesets:     {:>10.1} µs   {:>10.0} evaluations per second",
        us(shipped_t),
        1.0 / shipped_t.as_secs_f64()
    );
    println!("ratios");
    println!(
        "  one engine per rule / shared graph:   {:.2}x",
        unshared_t.as_secs_f64() / eval_t.as_secs_f64()
    );
    println!(
        "  evaluation / record build:            {:.3}",
        eval_t.as_secs_f64() / build_t.as_secs_f64()
    );
    println!(
        "  record build / parse:                 {:.3}",
        build_t.as_secs_f64() / parse_t.as_secs_f64()
    );
}

fn criterion_benches(f: &Fixture) {
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("record");
    g.bench_function("parse_ndjson_2001", |b| {
        b.iter(|| parse(black_box(&f.ndjson)))
    });
    g.bench_function("build_2001", |b| {
        b.iter_batched(
            || f.resources.clone(),
            |rs| PatientRecord::build(rs).expect("one patient"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let mut g = c.benchmark_group("evaluate");
    g.bench_function("generated_50_rules", |b| {
        b.iter(|| {
            f.engine
                .evaluate(black_box(&f.record), &f.at, None)
                .fired()
                .count()
        })
    });
    g.bench_function("generated_50_rules_with_cards", |b| {
        b.iter(|| {
            f.engine
                .evaluate(black_box(&f.record), &f.at, None)
                .cards()
                .len()
        })
    });
    g.bench_function("generated_50_rules_one_engine_each", |b| {
        b.iter(|| {
            f.per_rule
                .iter()
                .map(|e| {
                    e.evaluate(black_box(&f.record), &f.at, None)
                        .fired()
                        .count()
                })
                .sum::<usize>()
        })
    });
    g.bench_function("shipped_rulesets", |b| {
        b.iter(|| {
            f.shipped
                .evaluate(black_box(&f.record), &f.at, None)
                .fired()
                .count()
        })
    });
    g.finish();
    c.final_summary();
}

fn main() {
    let f = fixture();
    print_stats(&f);
    let summary_mode = std::env::args().any(|a| a == "--summary")
        || std::env::var("RULES_BENCH_SUMMARY").is_ok_and(|v| v == "1");
    if summary_mode {
        summary(&f);
    } else {
        criterion_benches(&f);
    }
}
