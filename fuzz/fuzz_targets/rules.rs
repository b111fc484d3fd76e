//! Fuzz target `rules`: arbitrary bytes (when valid UTF-8) as a ruleset file, through what
//! `cds check` and `cds fmt` do with it: `cds_rules::parse` → `cds_rules::check` → miette
//! rendering of every diagnostic → `compile::compile` (for a file without check errors) →
//! `cds_rules::format` (for every file that parses, as `cds fmt` does).
//!
//! Invariants (a violation panics, which libFuzzer reports as a crash):
//! 1. nothing panics;
//! 2. every diagnostic (parse error, check error or warning, and each related span) has a span
//!    with `start <= end <= len`, both on char boundaries, and its `line`/`column` are those of
//!    its start (1-based, column in characters);
//! 3. when the file parses, the formatter keeps its promise (`cds-rules/src/fmt.rs`: "Formatting
//!    is idempotent and parsing the output gives the same tree (modulo positions)"): the
//!    formatted text parses, to the same tree up to positions, and formats to itself. The
//!    promise is for every tree the parser gives, so this is checked whether or not the checker
//!    finds errors (`cds fmt` formats files that parse, checked or not).
#![no_main]

use std::sync::Arc;

use cds_core::fhirpath::ValueSetRegistry;
use cds_rules::ast::Span;
use libfuzzer_sys::fuzz_target;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

const FILE: &str = "fuzz.rules";

/// `(line, column)` of byte offset `at`, 1-based, column in characters.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn check_span(what: &str, text: &str, span: Span) {
    assert!(
        span.start <= span.end && span.end <= text.len(),
        "{what}: span {}..{} outside the source ({} bytes)",
        span.start,
        span.end,
        text.len()
    );
    assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "{what}: span {}..{} not on char boundaries",
        span.start,
        span.end
    );
}

fn check_position(what: &str, text: &str, span: Span, line: usize, column: usize) {
    check_span(what, text, span);
    assert_eq!(
        (line, column),
        line_col(text, span.start),
        "{what}: line/column are not those of the span's start {}",
        span.start
    );
}

/// Renders a diagnostic as `cds check` does (miette's graphical handler, no colour).
fn render(d: &dyn Diagnostic) {
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut out = String::new();
    // A formatting error is not a finding (cds check falls back to Display); a panic is.
    let _ = handler.render_report(&mut out, d);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ast = match cds_rules::parse(text, FILE) {
        Ok(ast) => ast,
        Err(errors) => {
            assert!(!errors.errors.is_empty(), "ParseErrors without an error");
            for e in &errors.errors {
                check_position("parse error", text, e.span, e.line, e.column);
            }
            render(&errors);
            return;
        }
    };

    let report = cds_rules::check(&ast, text, FILE);
    for d in report.diagnostics() {
        check_position(d.kind.name(), text, d.span, d.line, d.column);
        for (span, _) in &d.related {
            check_span(d.kind.name(), text, *span);
        }
        render(d);
    }
    if report.errors().next().is_none() {
        // As `cds check` does with the files that passed; errors are fine, panics are not.
        let _ = cds_rules::compile::compile(&[(&ast, text)], Arc::new(ValueSetRegistry::new()));
    }

    let formatted = cds_rules::format(&ast);
    let again = match cds_rules::parse(&formatted, FILE) {
        Ok(again) => again,
        Err(e) => {
            panic!("the formatted text does not parse: {e:?}\n--- formatted ---\n{formatted}")
        }
    };
    assert!(
        again.without_spans() == ast.without_spans(),
        "the formatted text parses to another tree\n--- formatted ---\n{formatted}"
    );
    let twice = cds_rules::format(&again);
    assert!(
        twice == formatted,
        "formatting is not idempotent\n--- once ---\n{formatted}\n--- twice ---\n{twice}"
    );
});
