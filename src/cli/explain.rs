//! `cds explain RULESETS PATIENT_FILE --at TIME`: why each rule did or did not fire for one
//! patient.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cds::{DateTime, Engine};
use clap::Args;
use serde_json::{json, Value as Json};

use super::check::render;

/// Evaluate rulesets for one patient and explain every rule.
///
/// Loads the rulesets (a `.rules` file or a folder), builds the patient's record from a FHIR
/// JSON resource, Bundle or array, or an NDJSON file, evaluates at `--at` for `--hook` (every
/// rule without it), and prints for each ruleset why each rule did or did not fire, part by part
/// with the values and the resources they came from, then the cards raised with their evidence.
/// Exit code: 0 on success, 2 when the rulesets or the patient file cannot be used.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A `.rules` file or a folder of them.
    rulesets: PathBuf,
    /// The patient: a FHIR JSON resource, Bundle or array of them, NDJSON (one patient), or a
    /// `cds test` case file (its resources, time and hook).
    patient: PathBuf,
    /// The evaluation time, e.g. 2024-03-01T10:00:00Z (default: a test case's `at`).
    #[arg(long, value_name = "DATETIME")]
    at: Option<String>,
    /// Evaluate only the rules answering this CDS Hook, e.g. patient-view (default: a test
    /// case's `hook`, else every rule).
    #[arg(long, value_name = "HOOK")]
    hook: Option<String>,
    /// Print machine-readable JSON: the CDS Hooks cards and the explanations.
    #[arg(long)]
    json: bool,
}

/// Reads a patient file as one JSON value (NDJSON lines become an array).
fn read_patient(path: &Path) -> anyhow::Result<Json> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ndjson = path.extension().is_some_and(|x| x == "ndjson");
    if !ndjson {
        if let Ok(v) = serde_json::from_str(&text) {
            return Ok(v);
        }
    }
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // serde_json's message holds only a position, never the data.
        let v: Json = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
        items.push(v);
    }
    Ok(Json::Array(items))
}

/// Runs `cds explain`.
pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let engine = match Engine::load(&args.rulesets) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}", render(&e));
            return Ok(ExitCode::from(2));
        }
    };
    let mut patient = read_patient(&args.patient)?;
    let (mut at_text, mut hook) = (args.at.clone(), args.hook.clone());
    // A `cds test` case: its resources, and its time and hook unless given.
    if patient.get("resourceType").is_none() && patient.get("resources").is_some() {
        let field = |k: &str| patient.get(k).and_then(Json::as_str).map(str::to_string);
        at_text = at_text.or_else(|| field("at"));
        hook = hook.or_else(|| field("hook"));
        patient = patient["resources"].take();
    }
    let Some(at_text) = at_text else {
        anyhow::bail!("--at is required (the evaluation time, e.g. 2024-03-01T10:00:00Z)");
    };
    let at = DateTime::parse(&at_text).context("--at is not a FHIR date or dateTime")?;
    // The error's own text only: its source chain repeats the reason.
    let record = cds::record_from_json(patient).map_err(|e| {
        anyhow::anyhow!("{}: not one patient's record: {e}", args.patient.display())
    })?;
    let eval = engine.evaluate(&record, &at, hook.as_deref());

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let rulesets: Vec<Json> = engine
            .rulesets()
            .iter()
            .filter_map(|rs| eval.explain(&rs.name))
            .map(|e| e.to_json())
            .collect();
        let cards: Vec<Json> = eval
            .cards()
            .iter()
            .map(|c| serde_json::to_value(&c.card))
            .collect::<Result<_, _>>()?;
        let issues: Vec<&str> = eval.issues().iter().map(|i| i.message.as_str()).collect();
        let doc = json!({
            "at": at_text,
            "hook": hook,
            "cards": cards,
            "explanations": rulesets,
            "issues": issues,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }

    let hook = match &hook {
        Some(h) => format!("hook {h}"),
        None => "every rule".to_string(),
    };
    for rs in engine.rulesets() {
        let Some(e) = eval.explain(&rs.name) else {
            continue;
        };
        writeln!(out, "ruleset {} (at {at_text}, {hook})", rs.name)?;
        for line in e.to_string().lines() {
            writeln!(out, "  {line}")?;
        }
        writeln!(out)?;
    }
    let cards = eval.cards();
    if cards.is_empty() {
        writeln!(out, "no cards")?;
    } else {
        writeln!(
            out,
            "{} card{}:",
            cards.len(),
            if cards.len() == 1 { "" } else { "s" }
        )?;
    }
    for c in cards {
        writeln!(
            out,
            "  [{}] {}/{}: {}",
            c.card.indicator.as_str(),
            c.ruleset,
            c.rule,
            c.card.summary
        )?;
        for v in &c.evidence.values {
            write!(out, "    {} = {}", v.name, v.shown)?;
            if !v.resources.is_empty() {
                write!(out, "  ({})", v.resources.join(", "))?;
            }
            writeln!(out)?;
        }
    }
    if !eval.issues().is_empty() {
        writeln!(out, "\nissues:")?;
        for i in eval.issues() {
            writeln!(out, "  {}", i.message)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_lines_become_an_array() {
        let dir = std::env::temp_dir().join(format!("cds-explain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("p.ndjson");
        std::fs::write(&p, "{\"a\":1}\n\n{\"b\":2}\n").unwrap();
        let v = read_patient(&p).unwrap();
        assert_eq!(v, json!([{"a": 1}, {"b": 2}]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
