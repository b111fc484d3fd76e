//! Errors of the two FHIRPath stages: [`ParseError`] (syntax and semantic checks done while
//! building the expression tree) and [`EvalError`] (problems found while evaluating).
//!
//! Both carry the byte span of the offending part of the expression, so a caller can point at
//! it. Messages name the kind of problem and the expression text, never data values from the
//! resource being evaluated.

use miette::{Diagnostic, SourceSpan};
use std::fmt;
use thiserror::Error;

/// A byte range in the expression text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

impl From<Span> for SourceSpan {
    fn from(s: Span) -> SourceSpan {
        SourceSpan::new(s.start.into(), s.end.saturating_sub(s.start))
    }
}

/// What kind of parse problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The text does not follow the FHIRPath grammar.
    Syntax,
    /// The text is grammatical but meaningless: an unknown function, a wrong number of
    /// arguments, a malformed literal.
    Semantic,
}

/// An expression that could not be parsed.
///
/// Renders with [`miette`]: the error carries the expression text and a label at the
/// offending position.
#[derive(Debug, Clone, Error, Diagnostic)]
#[error("{} error at line {line}, column {column}: {message}", kind.word())]
#[diagnostic(code(fhirpath::parse))]
pub struct ParseError {
    /// Syntax or semantic.
    pub kind: ParseErrorKind,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// Byte span of the problem in the expression text.
    #[label("{label}")]
    pub span: Span,
    /// What was expected or what is wrong.
    pub message: String,
    #[source_code]
    src: String,
    label: String,
}

impl ParseErrorKind {
    fn word(&self) -> &'static str {
        match self {
            ParseErrorKind::Syntax => "syntax",
            ParseErrorKind::Semantic => "semantic",
        }
    }
}

impl ParseError {
    pub(crate) fn new(
        kind: ParseErrorKind,
        source: &str,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> ParseError {
        let (line, column) = line_col(source, span.start);
        ParseError {
            kind,
            line,
            column,
            span,
            message: message.into(),
            src: source.to_string(),
            label: label.into(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for (i, ch) in source.char_indices() {
        if i >= offset {
            break;
        }
        if ch == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// What went wrong during evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalErrorKind {
    /// A collection of more than one item where a single item is required.
    NotSingleton,
    /// An operand or argument of the wrong type.
    Type,
    /// An element name that the FHIR model rules out (e.g. `valueQuantity` instead of `value`).
    Model,
    /// A `%variable` that is not defined.
    UnknownVariable,
    /// A type name that is not known.
    UnknownType,
    /// A value set that is not loaded.
    UnknownValueSet,
    /// An invalid argument (bad regex, unknown encoding, unit that cannot be used).
    Argument,
    /// Arithmetic that cannot be carried out (overflow, unit mismatch).
    Arithmetic,
}

/// An error raised while evaluating an expression.
///
/// The message says where in the expression and what kind of problem; it never contains
/// values taken from the resource.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct EvalError {
    /// The kind of problem.
    pub kind: EvalErrorKind,
    /// Byte span of the sub-expression that failed.
    pub span: Span,
    /// Human-readable description.
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(kind: EvalErrorKind, span: Span, message: impl Into<String>) -> EvalError {
        EvalError {
            kind,
            span,
            message: message.into(),
        }
    }

    /// Render the error against the expression text it came from, with line and column.
    pub fn describe(&self, expression: &str) -> String {
        let (line, column) = line_col(expression, self.span.start);
        let end = self.span.end.min(expression.len());
        let start = self.span.start.min(end);
        let part = expression.get(start..end).unwrap_or("");
        format!(
            "{} (at line {line}, column {column}: `{part}`)",
            self.message
        )
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "evaluation error at bytes {}..{}: {}",
            self.span.start, self.span.end, self.message
        )
    }
}
