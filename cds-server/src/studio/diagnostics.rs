//! The parser's and checker's problems as the editor needs them: severity, message, label,
//! help, 1-based line and column (in characters) of both ends, and the span as UTF-16 offsets
//! (indices into a JavaScript string). The same stages as `cds check`: syntax errors stop
//! before the meaning checks.

use cds_rules::ast::Span;
use cds_rules::check::Severity;
use miette::Diagnostic as _;
use serde::Serialize;

/// One problem, positioned in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The check (`cds_rules::check::unknown-name`) or `cds_rules::parse`.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// The words under the offending text.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start, in characters.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end, in characters.
    pub end_column: usize,
    /// Start, in UTF-16 code units.
    pub from: usize,
    /// End, in UTF-16 code units.
    pub to: usize,
}

/// What the text holds: its syntax tree when it parses, and every problem.
pub struct Checked {
    /// The syntax tree (`None` on syntax errors).
    pub ast: Option<cds_rules::ast::Ruleset>,
    /// Problems in text order, errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// The number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == "error")
            .count()
    }
}

/// Parses and checks `text` (named `file` in messages).
pub fn check(text: &str, file: &str) -> Checked {
    let ast = match cds_rules::parse(text, file) {
        Ok(ast) => ast,
        Err(errors) => {
            let diagnostics = errors
                .errors
                .iter()
                .map(|e| {
                    let label = e
                        .labels()
                        .and_then(|mut l| l.next())
                        .and_then(|l| l.label().map(str::to_string))
                        .unwrap_or_default();
                    let span = Span::new(e.span.start, e.span.end);
                    positioned(
                        text,
                        span,
                        "error",
                        "cds_rules::parse".into(),
                        e.message.clone(),
                        label,
                        e.help.clone(),
                    )
                })
                .collect();
            return Checked {
                ast: None,
                diagnostics,
            };
        }
    };
    let report = cds_rules::check(&ast, text, file);
    let mut diagnostics: Vec<Diagnostic> = report
        .diagnostics()
        .iter()
        .map(|d| {
            let severity = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            positioned(
                text,
                d.span,
                severity,
                format!("cds_rules::check::{}", d.kind.name()),
                d.message.clone(),
                d.label.clone(),
                d.help.clone(),
            )
        })
        .collect();
    diagnostics.sort_by_key(|d| (d.from, d.to));
    Checked {
        ast: Some(ast),
        diagnostics,
    }
}

fn positioned(
    text: &str,
    span: Span,
    severity: &'static str,
    code: String,
    message: String,
    label: String,
    help: Option<String>,
) -> Diagnostic {
    let start = floor_char(text, span.start.min(text.len()));
    let end = floor_char(text, span.end.clamp(start, text.len()));
    let (line, column) = line_column(text, start);
    let (end_line, end_column) = line_column(text, end);
    let from = utf16_len(&text[..start]);
    Diagnostic {
        severity,
        code,
        message,
        label,
        help,
        line,
        column,
        end_line,
        end_column,
        from,
        to: from + utf16_len(&text[start..end]),
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// 1-based line and column (characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BP: &str = "ruleset bp version 1.0.0\n  answers patient-view\n\n\
define systolic = latest observation loinc 8480-6 within 90 days\n\n\
rule high\n  when systolc >= 140 'mm[Hg]'\n  then warning \"High\"\n";

    #[test]
    fn a_misspelt_name_is_an_error_at_its_place() {
        let c = check(BP, "bp.rules");
        assert!(c.ast.is_some());
        assert_eq!(c.errors(), 1, "{:?}", c.diagnostics);
        let d = c
            .diagnostics
            .iter()
            .find(|d| d.severity == "error")
            .unwrap();
        assert_eq!((d.line, d.column), (7, 8));
        assert_eq!(&BP[d.from..d.to], "systolc");
        assert_eq!(d.end_column, 15);
        assert!(d.code.starts_with("cds_rules::check::"), "{}", d.code);
        assert!(
            d.help.as_deref().unwrap_or("").contains("systolic"),
            "{d:?}"
        );
    }

    #[test]
    fn syntax_errors_stop_before_the_checks() {
        let c = check(
            "ruleset bp version 1.0.0\n\nrule x\n  when 1 >\n",
            "bp.rules",
        );
        assert!(c.ast.is_none());
        assert!(c.errors() >= 1);
        assert!(c.diagnostics.iter().all(|d| d.code == "cds_rules::parse"));
        assert!(c.diagnostics[0].line >= 4);
    }

    #[test]
    fn offsets_count_utf16_units_as_javascript_does() {
        // "é" is 2 bytes and 1 UTF-16 unit; "𝑥" is 4 bytes and 2 units.
        let text =
            "ruleset bp version 1.0.0\n  \"é𝑥 title\"\n\nrule r\n  when nope\n  then info \"x\"\n";
        let c = check(text, "bp.rules");
        let d = c
            .diagnostics
            .iter()
            .find(|d| d.severity == "error")
            .expect("nope is unknown");
        let js: Vec<u16> = text.encode_utf16().collect();
        assert_eq!(String::from_utf16(&js[d.from..d.to]).unwrap(), "nope");
        assert_eq!((d.line, d.column), (5, 8));
    }

    #[test]
    fn a_clean_ruleset_has_no_errors() {
        let c = check(&BP.replace("systolc", "systolic"), "bp.rules");
        assert_eq!(c.errors(), 0, "{:?}", c.diagnostics);
    }
}
