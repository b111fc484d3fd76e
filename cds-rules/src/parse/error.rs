//! Parse errors: each has a position, a label at the offending text and a hint in
//! clinician words; [`ParseErrors`] holds all errors of one file.

use crate::ast::Span;
use miette::{Diagnostic, NamedSource};
use std::sync::Arc;
use thiserror::Error;

/// What kind of problem a [`ParseError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The text does not follow the grammar.
    Syntax,
    /// A literal (number, version, window, string escape) is malformed.
    Literal,
    /// A `{name}` interpolation in a card text is malformed.
    Template,
    /// An embedded `fhirpath "..."` expression does not parse.
    FhirPath,
    /// A suggestion's resource template is not valid JSON.
    Json,
    /// A card clause that may appear once appears twice.
    Duplicate,
}

/// One syntax problem in a ruleset file.
#[derive(Debug, Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
#[diagnostic(code(cds_rules::parse))]
pub struct ParseError {
    /// What kind of problem.
    pub kind: ParseErrorKind,
    /// What is wrong.
    pub message: String,
    /// The file name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Byte span of the offending text.
    #[label("{label}")]
    pub span: Span,
    label: String,
    /// How to fix it.
    #[help]
    pub help: Option<String>,
    #[source_code]
    src: NamedSource<Arc<String>>,
}

/// All syntax problems of one ruleset file (at least one).
#[derive(Debug, Error)]
#[error("{file}: {} syntax {}", errors.len(), if errors.len() == 1 { "error" } else { "errors" })]
pub struct ParseErrors {
    /// The file name.
    pub file: String,
    /// The problems in file order.
    pub errors: Vec<ParseError>,
}

impl Diagnostic for ParseErrors {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("cds_rules::parse"))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.errors.iter().map(|e| e as &dyn Diagnostic)))
    }
}

/// Builds errors for one file: knows the file name and text to compute line and column.
pub(crate) struct ErrorSink {
    file: String,
    src: Arc<String>,
    pub(crate) errors: Vec<ParseError>,
}

impl ErrorSink {
    pub(crate) fn new(file: &str, source: &str) -> ErrorSink {
        ErrorSink {
            file: file.to_string(),
            src: Arc::new(source.to_string()),
            errors: Vec::new(),
        }
    }

    /// Records an error at `span` (byte offsets into the file).
    pub(crate) fn push(
        &mut self,
        kind: ParseErrorKind,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let text: &str = &self.src;
        let start = clamp_to_char(text, span.start);
        let end = clamp_to_char(text, span.end.max(start));
        let (line, column) = line_col(text, start);
        self.errors.push(ParseError {
            kind,
            message: message.into(),
            file: self.file.clone(),
            line,
            column,
            span: Span::new(start, end),
            label: label.into(),
            help,
            src: NamedSource::new(self.file.clone(), Arc::clone(&self.src)),
        });
    }

    pub(crate) fn into_errors(mut self) -> ParseErrors {
        self.errors.sort_by_key(|e| (e.span.start, e.span.end));
        ParseErrors {
            file: self.file,
            errors: self.errors,
        }
    }
}

fn clamp_to_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = clamp_to_char(text, at);
    let before = text.get(..at).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
    (line, column)
}
