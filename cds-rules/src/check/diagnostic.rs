//! Checker diagnostics: each has a severity, a kind, a position, a label at the offending
//! text and a help that says how to fix it; [`CheckErrors`] holds the diagnostics of a file
//! that has errors.

use crate::ast::Span;
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// How serious a [`CheckDiagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The ruleset is wrong: it must not be compiled.
    Error,
    /// Probably a mistake, but the ruleset can run.
    Warning,
}

/// Which check a [`CheckDiagnostic`] comes from (one variant per check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckKind {
    /// A name (in an expression or a `{name}` of a card text) that is not defined.
    UnknownName,
    /// Two definitions or scores with the same name, or a definition named like a rule.
    DuplicateName,
    /// Two rules with the same id.
    DuplicateRule,
    /// Definitions that depend on themselves.
    Cycle,
    /// A value of the wrong type: text compared with a number, arithmetic on true/false,
    /// an aggregate of a single reading, `is CODE` on a number, ...
    TypeMismatch,
    /// A condition (`when`, `and`, `or`, `not`) that is not true/false.
    NotBoolean,
    /// Band rows or case arms whose values are of different types.
    MixedTypes,
    /// Quantities of units that measure different things (`mm[Hg]` and `kg`).
    UnitMismatch,
    /// A unit that is not a UCUM unit.
    UnknownUnit,
    /// A valid unit in an unusual spelling (`mg/dl` for `mg/dL`) or one that differs from
    /// a common unit only in case (`Mg`, megagram, for `mg`).
    UnitSpelling,
    /// `code "system" "code"` whose system is not a URI.
    BadCodeSystem,
    /// A LOINC code that is not of the form `NNNNN-N` or whose check digit is wrong.
    BadLoincCode,
    /// A value set, link, source or icon URL that is not absolute.
    RelativeUrl,
    /// A rule whose condition can never be true.
    NeverFires,
    /// A part of a condition, or a true/false definition, that can never be true.
    AlwaysFalse,
    /// A band row whose range is empty (`12 to 9`).
    EmptyBand,
    /// A band row that can never match because earlier rows cover all its values.
    UnreachableBand,
    /// A definition or score that nothing uses.
    Unused,
    /// A card summary longer than the 140 characters CDS Hooks allows.
    SummaryTooLong,
    /// An `answers` hook that is not a CDS Hooks 2.0 hook nor a custom hook of this engine
    /// (`device-observation`).
    UnknownHook,
    /// A hook listed twice in `answers`.
    DuplicateHook,
    /// A create/update action whose JSON has no `resourceType`.
    MissingResourceType,
    /// A resource type that FHIR R4 does not have.
    UnknownResourceType,
    /// A delete reference that is not `Type/id`.
    BadReference,
    /// A rhai score that does not compile.
    Script,
}

impl CheckKind {
    /// A short snake_case name, used in the diagnostic code `cds_rules::check::NAME`.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::UnknownName => "unknown_name",
            CheckKind::DuplicateName => "duplicate_name",
            CheckKind::DuplicateRule => "duplicate_rule",
            CheckKind::Cycle => "cycle",
            CheckKind::TypeMismatch => "type_mismatch",
            CheckKind::NotBoolean => "not_boolean",
            CheckKind::MixedTypes => "mixed_types",
            CheckKind::UnitMismatch => "unit_mismatch",
            CheckKind::UnknownUnit => "unknown_unit",
            CheckKind::UnitSpelling => "unit_spelling",
            CheckKind::BadCodeSystem => "bad_code_system",
            CheckKind::BadLoincCode => "bad_loinc_code",
            CheckKind::RelativeUrl => "relative_url",
            CheckKind::NeverFires => "never_fires",
            CheckKind::AlwaysFalse => "always_false",
            CheckKind::EmptyBand => "empty_band",
            CheckKind::UnreachableBand => "unreachable_band",
            CheckKind::Unused => "unused",
            CheckKind::SummaryTooLong => "summary_too_long",
            CheckKind::UnknownHook => "unknown_hook",
            CheckKind::DuplicateHook => "duplicate_hook",
            CheckKind::MissingResourceType => "missing_resource_type",
            CheckKind::UnknownResourceType => "unknown_resource_type",
            CheckKind::BadReference => "bad_reference",
            CheckKind::Script => "script",
        }
    }
}

/// One problem found by the checker.
///
/// Renders with [`miette`] like a [`crate::ParseError`]: file, line and column, the text
/// underlined with [`label`](Self::label), further places (such as the first of two
/// duplicates) underlined with their own labels, and the [`help`](Self::help).
#[derive(Debug, Clone, Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct CheckDiagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Which check.
    pub kind: CheckKind,
    /// Byte span of the offending text.
    pub span: Span,
    /// 1-based line of the span's start.
    pub line: usize,
    /// 1-based column (in characters) of the span's start.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The label under the offending text.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places that explain the problem (the first definition of a duplicate, the
    /// other side of a contradiction), each with its label.
    pub related: Vec<(Span, String)>,
    /// The file name.
    pub file: String,
    src: NamedSource<Arc<String>>,
}

impl CheckDiagnostic {
    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl Diagnostic for CheckDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("cds_rules::check::{}", self.kind.name())))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.src)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span);
        let others = self
            .related
            .iter()
            .map(|(s, l)| LabeledSpan::new_with_span(Some(l.clone()), *s));
        Some(Box::new(std::iter::once(primary).chain(others)))
    }
}

/// The diagnostics of a ruleset file that has at least one error: all its errors and
/// warnings in source order. Renders with [`miette`] like [`crate::ParseErrors`].
#[derive(Debug, Clone, Error)]
#[error("{file}: {}", counts(.diagnostics))]
pub struct CheckErrors {
    /// The file name.
    pub file: String,
    /// Errors and warnings in source order.
    pub diagnostics: Vec<CheckDiagnostic>,
}

impl CheckErrors {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &CheckDiagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &CheckDiagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

impl Diagnostic for CheckErrors {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("cds_rules::check"))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.diagnostics.iter().map(|e| e as &dyn Diagnostic),
        ))
    }
}

/// "2 errors, 1 warning".
pub(crate) fn counts(ds: &[CheckDiagnostic]) -> String {
    let errors = ds.iter().filter(|d| d.is_error()).count();
    let warnings = ds.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// Collects the diagnostics of one file.
pub(crate) struct Sink {
    file: String,
    src: Arc<String>,
    pub(crate) diagnostics: Vec<CheckDiagnostic>,
}

/// A diagnostic being built (see [`Sink::error`] and [`Sink::warning`]).
pub(crate) struct Draft<'s> {
    sink: &'s mut Sink,
    severity: Severity,
    kind: CheckKind,
    span: Span,
    message: String,
    label: String,
    help: Option<String>,
    related: Vec<(Span, String)>,
}

impl Draft<'_> {
    /// The help line.
    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Another place, with its label.
    pub(crate) fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }
}

impl Drop for Draft<'_> {
    fn drop(&mut self) {
        let d = self.sink.make(
            self.severity,
            self.kind,
            self.span,
            std::mem::take(&mut self.message),
            std::mem::take(&mut self.label),
            self.help.take(),
            std::mem::take(&mut self.related),
        );
        self.sink.diagnostics.push(d);
    }
}

impl Sink {
    pub(crate) fn new(file: &str, source: &str) -> Sink {
        Sink {
            file: file.to_string(),
            src: Arc::new(source.to_string()),
            diagnostics: Vec::new(),
        }
    }

    /// Starts an error at `span`; it is recorded when the returned draft is dropped.
    pub(crate) fn error(
        &mut self,
        kind: CheckKind,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Draft<'_> {
        self.draft(Severity::Error, kind, span, message.into(), label.into())
    }

    /// Starts a warning at `span`; it is recorded when the returned draft is dropped.
    pub(crate) fn warning(
        &mut self,
        kind: CheckKind,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Draft<'_> {
        self.draft(Severity::Warning, kind, span, message.into(), label.into())
    }

    fn draft(
        &mut self,
        severity: Severity,
        kind: CheckKind,
        span: Span,
        message: String,
        label: String,
    ) -> Draft<'_> {
        Draft {
            sink: self,
            severity,
            kind,
            span,
            message,
            label,
            help: None,
            related: Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn make(
        &self,
        severity: Severity,
        kind: CheckKind,
        span: Span,
        message: String,
        label: String,
        help: Option<String>,
        related: Vec<(Span, String)>,
    ) -> CheckDiagnostic {
        let text: &str = &self.src;
        let span = clamp_span(text, span);
        let (line, column) = line_col(text, span.start);
        let related = related
            .into_iter()
            .map(|(s, l)| (clamp_span(text, s), l))
            .filter(|(s, _)| *s != span)
            .collect();
        CheckDiagnostic {
            severity,
            kind,
            span,
            line,
            column,
            message,
            label,
            help,
            related,
            file: self.file.clone(),
            src: NamedSource::new(self.file.clone(), Arc::clone(&self.src)),
        }
    }

    /// All diagnostics in source order (errors before warnings at the same place), without
    /// repeats.
    pub(crate) fn finish(mut self) -> (String, Vec<CheckDiagnostic>) {
        self.diagnostics.sort_by(|a, b| {
            (a.span.start, a.span.end, a.severity).cmp(&(b.span.start, b.span.end, b.severity))
        });
        self.diagnostics
            .dedup_by(|b, a| a.span == b.span && a.kind == b.kind && a.message == b.message);
        (self.file, self.diagnostics)
    }
}

fn clamp_to_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn clamp_span(text: &str, span: Span) -> Span {
    let start = clamp_to_char(text, span.start);
    let end = clamp_to_char(text, span.end.max(start));
    Span::new(start, end)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = clamp_to_char(text, at);
    let before = text.get(..at).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col("ab\ncµd", 6), (2, 3));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn counts_read_naturally() {
        let mut s = Sink::new("f", "abc");
        assert_eq!(counts(&s.diagnostics), "0 errors");
        s.error(CheckKind::Cycle, Span::new(0, 1), "m", "l");
        s.warning(CheckKind::Unused, Span::new(1, 9), "m", "l");
        s.warning(CheckKind::Unused, Span::new(2, 3), "m", "l");
        assert_eq!(counts(&s.diagnostics), "1 error, 2 warnings");
        let (_, ds) = s.finish();
        assert_eq!(ds[1].span, Span::new(1, 3), "clamped to the text");
    }
}
