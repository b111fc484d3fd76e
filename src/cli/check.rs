//! `cds check PATH...`: parse and check every `.rules` file, render every diagnostic.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cds_core::fhirpath::ValueSetRegistry;
use clap::Args;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use rayon::prelude::*;

/// Parse and check ruleset files, and report every error and warning.
///
/// Every `.rules` file under the paths is parsed and checked on its own; then the files that
/// passed are compiled together, which finds problems across files (two rulesets with the same
/// name). Diagnostics show the file, line and column with the source underlined. Exit code: 0
/// when there are no errors (warnings allowed), 1 when there are errors, 2 on a usage or I/O
/// error.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// `.rules` files or folders, walked recursively.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// The miette renderer for terminal output: colour only on a terminal without `NO_COLOR`.
pub(crate) fn handler() -> GraphicalReportHandler {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme).with_width(100)
}

/// Renders one diagnostic (with its related diagnostics).
pub(crate) fn render(d: &dyn Diagnostic) -> String {
    let mut out = String::new();
    if handler().render_report(&mut out, d).is_err() {
        out = format!("{d}\n");
    }
    out
}

/// The `.rules` files under every path, sorted and without duplicates.
pub(crate) fn all_rules_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        files.extend(cds::rules_files(p).with_context(|| format!("cannot read {}", p.display()))?);
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// One file's outcome.
struct Checked {
    rendered: Vec<String>,
    errors: usize,
    warnings: usize,
    /// The syntax tree and text, when the file has no errors.
    ok: Option<(cds_rules::ast::Ruleset, String)>,
}

fn check_file(path: &PathBuf) -> anyhow::Result<Checked> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let ast = match cds_rules::parse(&text, &name) {
        Ok(ast) => ast,
        Err(e) => {
            return Ok(Checked {
                rendered: vec![render(&e)],
                errors: e.errors.len(),
                warnings: 0,
                ok: None,
            })
        }
    };
    let report = cds_rules::check(&ast, &text, &name);
    let errors = report.errors().count();
    let warnings = report.warnings().count();
    let rendered = report
        .diagnostics()
        .iter()
        .map(|d| render(d as &dyn Diagnostic))
        .collect();
    Ok(Checked {
        rendered,
        errors,
        warnings,
        ok: (errors == 0).then_some((ast, text)),
    })
}

/// The same ruleset name in two files.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{at}: two rulesets are named `{name}`")]
#[diagnostic(
    code(cds::check::duplicate_ruleset),
    help(
        "ruleset names must be unique among the rulesets loaded together; the first is at {first}"
    )
)]
struct DuplicateRuleset {
    /// `file:line:column` of the second name.
    at: String,
    name: String,
    #[source_code]
    src: miette::NamedSource<String>,
    #[label("this name is already used")]
    span: miette::SourceSpan,
    first: String,
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// The 1-based column (in characters) of a byte offset.
fn column_of(text: &str, offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    before[line_start..].chars().count() + 1
}

/// Runs `cds check`.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let files = all_rules_files(&args.paths)?;
    let checked: Vec<Checked> = files
        .par_iter()
        .map(check_file)
        .collect::<anyhow::Result<_>>()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut errors, mut warnings) = (0, 0);
    for c in &checked {
        for r in &c.rendered {
            writeln!(out, "{r}")?;
        }
        errors += c.errors;
        warnings += c.warnings;
    }

    // Across files: the same ruleset name twice, then compiling everything together.
    let good: Vec<(&PathBuf, &cds_rules::ast::Ruleset, &str)> = files
        .iter()
        .zip(&checked)
        .filter_map(|(p, c)| c.ok.as_ref().map(|(a, t)| (p, a, t.as_str())))
        .collect();
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, ast, _)) in good.iter().enumerate() {
        by_name
            .entry(ast.header.name.name.as_str())
            .or_default()
            .push(i);
    }
    let mut duplicate = false;
    for ids in by_name.values() {
        let (first, others) = ids.split_first().expect("grouped names are non-empty");
        for &i in others {
            duplicate = true;
            errors += 1;
            let (path, ast, text) = good[i];
            let (first_path, first_ast, first_text) = good[*first];
            let span = ast.header.name.span;
            let d = DuplicateRuleset {
                at: format!(
                    "{}:{}:{}",
                    path.display(),
                    line_of(text, span.start),
                    column_of(text, span.start)
                ),
                name: ast.header.name.name.clone(),
                src: miette::NamedSource::new(path.display().to_string(), text.to_string()),
                span: (ast.header.name.span.start..ast.header.name.span.end).into(),
                first: format!(
                    "{}:{}",
                    first_path.display(),
                    line_of(first_text, first_ast.header.name.span.start)
                ),
            };
            writeln!(out, "{}", render(&d))?;
        }
    }
    if !duplicate && !good.is_empty() {
        let inputs: Vec<(&cds_rules::ast::Ruleset, &str)> =
            good.iter().map(|(_, a, t)| (*a, *t)).collect();
        if let Err(e) = cds_rules::compile::compile(&inputs, Arc::new(ValueSetRegistry::new())) {
            errors += 1;
            writeln!(out, "  × {e}\n")?;
        }
    }
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    writeln!(
        out,
        "checked {}: {}, {}",
        plural(files.len(), "file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    )?;
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
