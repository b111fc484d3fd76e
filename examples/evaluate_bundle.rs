//! Evaluate every shipped ruleset on one FHIR Bundle at a given time, and print the cards as a
//! CDS Hooks response followed by the evidence of each card.
//!
//!     cargo run --example evaluate_bundle -- [BUNDLE] [EVALUATION_TIME] [RULESETS]
//!
//! Defaults: `examples/data/hypertensive-patient.json` (a made-up patient with four blood
//! pressure panels over two months, the last in the crisis range), `2024-06-01T09:00:00Z`, and
//! the `rulesets/` folder of the repository.

use std::path::PathBuf;

use cds::{DateTime, Engine};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let bundle = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("examples/data/hypertensive-patient.json"));
    let at = DateTime::parse(
        &args
            .next()
            .unwrap_or_else(|| "2024-06-01T09:00:00Z".to_string()),
    )?;
    let rulesets = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("rulesets"));

    // Load, check and compile every ruleset into one shared graph.
    let engine = match Engine::load(&rulesets) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            std::process::exit(1);
        }
    };
    // One patient's record from the Bundle.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&bundle)?)?;
    let record = cds::record_from_json(json)?;

    // Evaluate all rules (no hook filter) at the given time.
    let result = engine.evaluate(&record, &at, None);
    for issue in result.issues() {
        eprintln!("issue: {}", issue.message);
    }
    let cards: Vec<&cds::Card> = result.cards().iter().map(|f| &f.card).collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({ "cards": cards }))?
    );

    println!("\nevidence");
    for fired in result.cards() {
        println!(
            "  {} {} {}: {}",
            fired.ruleset, fired.evidence.version, fired.rule, fired.card.summary
        );
        for v in &fired.evidence.values {
            println!(
                "    {} = {}  from {}",
                v.name,
                v.shown,
                v.resources.join(", ")
            );
        }
    }
    Ok(())
}
