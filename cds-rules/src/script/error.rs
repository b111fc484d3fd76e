//! Errors of a score's script, at compile time and at run time.
//!
//! Every error points into the ruleset file and explains itself without showing any value
//! the script was working on: inputs are patient data, so messages name the operation, the
//! variable or the type, never the value.

use super::sandbox::{
    MAX_ARRAY_SIZE, MAX_CALL_LEVELS, MAX_EXPR_DEPTH, MAX_FUNCTIONS, MAX_MAP_SIZE, MAX_OPERATIONS,
    MAX_STRING_SIZE, MAX_VARIABLES,
};
use super::text::ScriptText;
use crate::ast::Span;
use miette::Diagnostic;
use rhai::{EvalAltResult, ParseErrorType, Position};
use thiserror::Error;

/// What kind of problem a [`ScriptError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptErrorKind {
    /// The script is not valid rhai, or uses something the sandbox refuses (`eval`,
    /// `import`).
    Syntax,
    /// The script reads a name that is neither a ruleset name nor a local variable (or a
    /// function reads a ruleset name, which functions cannot see).
    UnknownName,
    /// Two ruleset names (`rr-points`, `rr_points`) are the same name in the script.
    AmbiguousName,
    /// The score reads itself.
    SelfReference,
    /// The script failed while running: a type mismatch, a division by zero, a missing
    /// function, an index out of bounds, a `throw`.
    Runtime,
    /// The script hit a sandbox limit: too many operations, calls nested too deeply, a
    /// string, array or map too large, expressions nested too deeply.
    Limit,
    /// The script returned something a score cannot be (an array, a map, a function).
    WrongResultType,
    /// [`Script::run`](super::Script::run) was given the wrong number of inputs.
    Inputs,
}

/// A problem with a score's script, pointing into the ruleset file.
///
/// It carries no source text: render it with the file attached, for example
/// `miette::Report::new(err).with_source_code(miette::NamedSource::new(file, text))`.
#[derive(Debug, Clone, Error, Diagnostic)]
#[error("score `{score}`: {message}")]
#[diagnostic(code(cds_rules::script))]
pub struct ScriptError {
    /// What kind of problem.
    pub kind: ScriptErrorKind,
    /// The name of the score (as written in the ruleset).
    pub score: String,
    /// What is wrong (never containing input values).
    pub message: String,
    /// Byte span in the ruleset file: the offending token, or the whole script literal.
    #[label("{label}")]
    pub span: Span,
    /// The short label under the span.
    pub label: String,
    /// How to fix it.
    #[help]
    pub help: String,
}

/// Builds errors of one score.
pub(crate) struct Reporter<'a> {
    pub(crate) score: &'a str,
    pub(crate) text: &'a ScriptText,
}

const HELP_NAMES: &str = "a score reads the definitions and scores of its ruleset by name, \
    with dashes written as underscores (`rr-points` is `rr_points`); declare local \
    variables with `let`";

const HELP_ABSENT: &str = "an absent input is `()`: test it first, for example \
    `if type_of(x) == \"()\" { 0 } else { x }`";

impl Reporter<'_> {
    pub(crate) fn error(
        &self,
        kind: ScriptErrorKind,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) -> ScriptError {
        ScriptError {
            kind,
            score: self.score.to_string(),
            message: message.into(),
            span,
            label: label.into(),
            help: help.into(),
        }
    }

    /// A compile error from rhai.
    pub(crate) fn parse_error(&self, err: &rhai::ParseError, known: &[&str]) -> ScriptError {
        let pos = err.position();
        let span = self.text.span_at(pos);
        match err.err_type() {
            ParseErrorType::VariableUndefined(name) => {
                let span = self.text.span_of_len(pos, name.len());
                self.error(
                    ScriptErrorKind::UnknownName,
                    span,
                    format!("unknown name `{name}`"),
                    "not a ruleset name nor a local variable",
                    dashed_hint(name, known).unwrap_or_else(|| HELP_NAMES.to_string()),
                )
            }
            ParseErrorType::Reserved(word) | ParseErrorType::ForbiddenVariable(word)
                if word == "eval" || word == "import" =>
            {
                self.refused(word, span)
            }
            ParseErrorType::BadInput(rhai::LexError::ImproperSymbol(word, _))
                if word == "eval" || word == "import" =>
            {
                self.refused(word, span)
            }
            ParseErrorType::ExprTooDeep => self.error(
                ScriptErrorKind::Limit,
                span,
                format!("expressions nested too deeply (the limit is {MAX_EXPR_DEPTH} levels)"),
                "too deep",
                "split the calculation into steps with `let`",
            ),
            ParseErrorType::TooManyFunctions => self.error(
                ScriptErrorKind::Limit,
                span,
                format!("too many functions (the limit is {MAX_FUNCTIONS})"),
                "one too many",
                "a score needs few functions; merge or remove some",
            ),
            ParseErrorType::LiteralTooLarge(what, max) => self.error(
                ScriptErrorKind::Limit,
                span,
                format!("{} too large (the limit is {max})", what.to_lowercase()),
                "too large",
                "scores work on small values; shorten it",
            ),
            other => self.error(
                ScriptErrorKind::Syntax,
                span,
                format!("syntax error in the script: {other}"),
                "here",
                "scores are written in rhai (https://rhai.rs/book/); check the script \
                 around this point",
            ),
        }
    }

    fn refused(&self, word: &str, span: Span) -> ScriptError {
        self.error(
            ScriptErrorKind::Syntax,
            span,
            format!("`{word}` is not available in scores"),
            "refused by the sandbox",
            "scores run in a sandbox without `eval` and `import`: write the calculation \
             directly in the script",
        )
    }

    /// A run-time error from rhai.
    pub(crate) fn eval_error(&self, err: &EvalAltResult) -> ScriptError {
        let (err, function) = innermost(err, None);
        let pos = err.position();
        let span = self.text.span_at(pos);
        let (kind, message, label, help): (ScriptErrorKind, String, &str, String) = match err {
            EvalAltResult::ErrorTooManyOperations(..) => (
                ScriptErrorKind::Limit,
                format!("the script ran too long (more than {MAX_OPERATIONS} operations)"),
                "stopped here",
                "a score must finish quickly: look for a loop that never ends".into(),
            ),
            EvalAltResult::ErrorStackOverflow(..) => (
                ScriptErrorKind::Limit,
                format!("function calls nested too deeply (the limit is {MAX_CALL_LEVELS})"),
                "stopped here",
                "look for a function that calls itself without end; scores rarely need \
                 recursion"
                    .into(),
            ),
            EvalAltResult::ErrorDataTooLarge(what, ..) => (
                ScriptErrorKind::Limit,
                format!("{} too large", what.to_lowercase()),
                "stopped here",
                format!(
                    "scripts are limited to strings of {MAX_STRING_SIZE} bytes, arrays of \
                     {MAX_ARRAY_SIZE} items and maps of {MAX_MAP_SIZE} entries"
                ),
            ),
            EvalAltResult::ErrorTooManyVariables(..) => (
                ScriptErrorKind::Limit,
                format!("too many variables (the limit is {MAX_VARIABLES})"),
                "stopped here",
                "a score needs few variables".into(),
            ),
            EvalAltResult::ErrorVariableNotFound(name, ..) => (
                ScriptErrorKind::Runtime,
                format!("unknown variable `{name}`"),
                "not found",
                "functions cannot read the ruleset's names or the script's variables: pass \
                 them as parameters"
                    .into(),
            ),
            EvalAltResult::ErrorFunctionNotFound(signature, ..) => (
                ScriptErrorKind::Runtime,
                format!("no function or operator `{signature}`"),
                "not found",
                format!(
                    "check the name and the types of the arguments (`decimal` and `i64` are \
                     numbers, `()` is absent); {HELP_ABSENT}"
                ),
            ),
            EvalAltResult::ErrorMismatchDataType(expected, actual, ..) => (
                ScriptErrorKind::Runtime,
                format!("type mismatch: expected {expected}, found {actual}"),
                "wrong type",
                HELP_ABSENT.into(),
            ),
            EvalAltResult::ErrorArithmetic(msg, ..) => (
                ScriptErrorKind::Runtime,
                arithmetic(msg).into(),
                "failed here",
                "check the divisor or the size of the numbers before computing".into(),
            ),
            EvalAltResult::ErrorArrayBounds(..) | EvalAltResult::ErrorStringBounds(..) => (
                ScriptErrorKind::Runtime,
                "index out of bounds".into(),
                "failed here",
                "check the length with `len()` before indexing".into(),
            ),
            EvalAltResult::ErrorIndexNotFound(..) => (
                ScriptErrorKind::Runtime,
                "index not found".into(),
                "failed here",
                "check that the key exists with `contains` before reading it".into(),
            ),
            EvalAltResult::ErrorIndexingType(typ, ..) => (
                ScriptErrorKind::Runtime,
                format!("cannot index a value of type {typ}"),
                "failed here",
                HELP_ABSENT.into(),
            ),
            EvalAltResult::ErrorPropertyNotFound(prop, ..) => (
                ScriptErrorKind::Runtime,
                format!("no property `{prop}`"),
                "failed here",
                "check the property name".into(),
            ),
            EvalAltResult::ErrorFor(..) => (
                ScriptErrorKind::Runtime,
                "`for` needs a range, an array or a string".into(),
                "failed here",
                "loop over a range such as `0..n` or an array".into(),
            ),
            EvalAltResult::ErrorRuntime(..) => (
                ScriptErrorKind::Runtime,
                "the script threw an error".into(),
                "thrown here",
                "the thrown value is not shown because it may hold patient data".into(),
            ),
            EvalAltResult::ErrorAssignmentToConstant(name, ..)
            | EvalAltResult::ErrorNonPureMethodCallOnConstant(name, ..) => (
                ScriptErrorKind::Runtime,
                format!("cannot change the constant `{name}`"),
                "failed here",
                "copy it into a variable with `let` first".into(),
            ),
            _ => (
                ScriptErrorKind::Runtime,
                "the script failed".into(),
                "failed here",
                "check the script around this point".into(),
            ),
        };
        let message = match function {
            Some(f) => format!("in function `{f}`: {message}"),
            None => message,
        };
        self.error(kind, span, message, label, help)
    }

    /// The whole script literal.
    pub(crate) fn whole(&self) -> Span {
        self.text.literal
    }

    /// The span of a name read at `pos`.
    pub(crate) fn name_span(&self, pos: Position, name: &str) -> Span {
        self.text.span_of_len(pos, name.len())
    }
}

/// The error raised inside nested function calls, with the name of the innermost function.
fn innermost<'e>(
    err: &'e EvalAltResult,
    function: Option<&'e str>,
) -> (&'e EvalAltResult, Option<&'e str>) {
    match err {
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => innermost(inner, Some(name)),
        _ => (err, function),
    }
}

/// rhai's arithmetic messages show the operands; keep only what went wrong.
fn arithmetic(msg: &str) -> &'static str {
    let msg = msg.to_lowercase();
    if msg.contains("by zero") {
        "division by zero"
    } else if msg.contains("overflow") {
        "number too large (overflow)"
    } else if msg.contains("square root") {
        "square root of a negative number"
    } else if msg.contains("log") {
        "logarithm of a number that is not positive"
    } else if msg.contains("negative power") {
        "integer raised to a negative power"
    } else {
        "invalid arithmetic operation"
    }
}

/// For `rr-points` written with its dash, rhai reads `rr - points` and reports `rr`.
fn dashed_hint(name: &str, known: &[&str]) -> Option<String> {
    let prefix = format!("{name}-");
    let found = known.iter().find(|k| k.starts_with(&prefix))?;
    Some(format!(
        "in scripts, dashes in names are written as underscores: write `{}` for `{found}` \
         (`a-b` would subtract `b` from `a`)",
        super::rhai_name(found)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_messages_drop_operands() {
        assert_eq!(arithmetic("Division by zero: 7 / 0"), "division by zero");
        assert_eq!(
            arithmetic("Addition overflow: 9223372036854775807 + 1"),
            "number too large (overflow)"
        );
        assert_eq!(
            arithmetic("Error taking the square root of -4"),
            "square root of a negative number"
        );
        assert_eq!(
            arithmetic("anything else: 42"),
            "invalid arithmetic operation"
        );
    }

    #[test]
    fn dashed_names_get_a_hint() {
        let hint = dashed_hint("rr", &["age", "rr-points"]).unwrap();
        assert!(hint.contains("`rr_points`"), "{hint}");
        assert!(dashed_hint("age", &["age", "rr-points"]).is_none());
    }
}
