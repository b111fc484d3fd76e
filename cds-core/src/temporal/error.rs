//! The error type of the temporal module. Messages say where and what, never the value.

use std::fmt;

use super::CalendarUnit;

/// What kind of value was being read or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A [`super::Date`].
    Date,
    /// A [`super::DateTime`].
    DateTime,
    /// A [`super::Time`].
    Time,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Date => "date",
            Target::DateTime => "dateTime",
            Target::Time => "time",
        })
    }
}

/// A component of a date or time value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The year (1–9999).
    Year,
    /// The month (1–12).
    Month,
    /// The day of the month (1–28/29/30/31).
    Day,
    /// The hour (0–23).
    Hour,
    /// The minute (0–59).
    Minute,
    /// The second (0–59).
    Second,
    /// The millisecond (0–999).
    Millisecond,
    /// The timezone offset (-14:00 to +14:00).
    Offset,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Year => "year",
            Field::Month => "month",
            Field::Day => "day of month",
            Field::Hour => "hour",
            Field::Minute => "minute",
            Field::Second => "second",
            Field::Millisecond => "millisecond",
            Field::Offset => "timezone offset",
        })
    }
}

/// What is wrong at a position of a date or time string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The string is empty.
    Empty,
    /// A digit of the given field was expected.
    ExpectedDigit(Field),
    /// This separator character was expected.
    ExpectedSeparator(char),
    /// The field's value is outside its range (for days: outside the month).
    OutOfRange(Field),
    /// A timezone offset (`Z`, `+hh:mm`, `-hh:mm`) was expected.
    ExpectedOffset,
    /// Something follows the end of a complete value.
    TrailingCharacters,
    /// A time of day follows a date that is not a full date.
    TimeNeedsFullDate,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("the value is empty"),
            Problem::ExpectedDigit(field) => write!(f, "expected a digit of the {field}"),
            Problem::ExpectedSeparator(c) => write!(f, "expected '{c}'"),
            Problem::OutOfRange(field) => write!(f, "the {field} is out of range"),
            Problem::ExpectedOffset => {
                f.write_str("expected a timezone offset ('Z', '+hh:mm' or '-hh:mm')")
            }
            Problem::TrailingCharacters => f.write_str("unexpected characters after the value"),
            Problem::TimeNeedsFullDate => f.write_str("a time of day needs a full date before it"),
        }
    }
}

/// An error reading, building or computing with a date or time value.
///
/// Messages name the position and the kind of problem but never contain the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TemporalError {
    /// A string could not be read as a date, dateTime or time.
    #[error("invalid {target} at byte {offset}: {problem}")]
    Parse {
        /// What was being read.
        target: Target,
        /// The byte offset in the string where the problem is.
        offset: usize,
        /// What is wrong there.
        problem: Problem,
    },
    /// A value was built from components that do not form a valid value.
    #[error("invalid {target}: the {field} is out of range or missing")]
    InvalidComponent {
        /// What was being built.
        target: Target,
        /// The offending component.
        field: Field,
    },
    /// Arithmetic left the supported range (years 1 to 9999) or overflowed.
    #[error("date/time arithmetic left the supported range (years 1 to 9999)")]
    Overflow,
    /// The calendar unit cannot be added to this kind of value (e.g. months to a time of day).
    #[error("a quantity in {unit}s cannot be added to a {target}")]
    UnitNotApplicable {
        /// The unit that was given.
        unit: CalendarUnit,
        /// The kind of value it was added to.
        target: Target,
    },
}
