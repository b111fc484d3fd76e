//! The error type of the UCUM module. Messages give positions and kinds, never values.

use std::fmt;

/// What is wrong at a position of a UCUM unit expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitProblem {
    /// The unit string is empty.
    Empty,
    /// A unit symbol, number, `(` or `{` was expected here.
    ExpectedUnit,
    /// The symbol is not a UCUM atom (with or without a prefix).
    UnknownAtom,
    /// A prefix was put on an atom that is not metric (e.g. `k[in_i]`).
    PrefixNotAllowed,
    /// A sign was not followed by digits, or the exponent is malformed.
    BadExponent,
    /// The exponent is larger than 99 in absolute value.
    ExponentTooLarge,
    /// A `(` has no matching `)`, or a `)` has no matching `(`.
    UnbalancedParenthesis,
    /// A `[` has no matching `]`.
    UnclosedBracket,
    /// A `{` has no matching `}`.
    UnclosedAnnotation,
    /// A character that cannot appear here (non-ASCII, space, stray brace...).
    UnexpectedCharacter,
    /// A number too large for a unit factor.
    FactorTooLarge,
}

impl fmt::Display for UnitProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnitProblem::Empty => "the unit is empty",
            UnitProblem::ExpectedUnit => "expected a unit symbol, number, '(' or '{'",
            UnitProblem::UnknownAtom => "unknown unit symbol",
            UnitProblem::PrefixNotAllowed => "a prefix is not allowed on this non-metric unit",
            UnitProblem::BadExponent => "malformed exponent",
            UnitProblem::ExponentTooLarge => "exponent out of range (-99 to 99)",
            UnitProblem::UnbalancedParenthesis => "unbalanced parenthesis",
            UnitProblem::UnclosedBracket => "'[' without matching ']'",
            UnitProblem::UnclosedAnnotation => "'{' without matching '}'",
            UnitProblem::UnexpectedCharacter => "unexpected character",
            UnitProblem::FactorTooLarge => "numeric factor too large",
        })
    }
}

/// An error parsing a UCUM unit or computing with quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum UcumError {
    /// The unit expression is malformed or uses an unknown symbol.
    #[error("invalid UCUM unit at byte {offset}: {problem}")]
    Syntax {
        /// Byte offset in the unit string.
        offset: usize,
        /// What is wrong there.
        problem: UnitProblem,
    },
    /// The two units measure different kinds of quantity (e.g. pressure and mass), or one of
    /// them is a calendar year/month, which has no fixed length.
    #[error("the units are not commensurable")]
    Incommensurable,
    /// A calendar year or month was used where a fixed-length unit is needed.
    #[error("calendar years and months have no fixed length")]
    CalendarNotDefinite,
    /// Arithmetic overflowed the decimal range.
    #[error("quantity arithmetic overflowed")]
    Overflow,
    /// Division by a zero quantity.
    #[error("division by zero")]
    DivisionByZero,
}
