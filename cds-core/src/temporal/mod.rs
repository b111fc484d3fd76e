//! FHIR dates, date-times and times with partial precision, following FHIRPath semantics.
//!
//! * [`Date`]: `2024`, `2024-03`, `2024-03-05` (FHIR `date`, FHIRPath `@2024-03-05`).
//! * [`DateTime`]: `2024`, … `2024-03-05T10:20:30.123+01:00` (FHIR `dateTime` and `instant`,
//!   FHIRPath `@2024-03-05T10:20`, `@2015T`). A value without a time has no timezone; a value
//!   with a time may or may not carry one (`None` = not given).
//! * [`Time`]: `10`, `10:20`, `10:20:30.5` (FHIR `time`, FHIRPath `@T10:20`); no timezone.
//!
//! Every value keeps the [`Precision`] it was written with. Comparison follows FHIRPath:
//! values are compared component by component up to the coarser of the two precisions
//! (seconds and milliseconds count as one precision, compared as a decimal); when they agree
//! that far but one is more precise, the answer is unknown (`None`). Date-times that both have
//! a time are normalised to UTC first; one without a timezone offset is read at a default
//! offset chosen by the caller ([`DateTime::compare_with_default_offset`]).
//!
//! Arithmetic ([`DateTime::add`]) follows the FHIRPath "Date/Time Arithmetic" rules: calendar
//! months clamp the day to the end of the month, and a quantity finer than the value's
//! precision is first converted to that precision and truncated.
//!
//! Nothing here reads the system clock except [`DateTime::now_utc`], meant for binary edges.
//!
//! ```
//! use cds_core::temporal::{CalendarUnit, DateTime, Precision};
//! use std::cmp::Ordering;
//!
//! let a = DateTime::parse("2024-03-05T10:20:30.123+01:00")?;
//! assert_eq!(a.precision(), Precision::Millisecond);
//! assert_eq!(a.to_string(), "2024-03-05T10:20:30.123+01:00");
//!
//! let b = DateTime::parse("2024-03-05T09:20:30.123Z")?;
//! assert_eq!(a.compare(&b), Some(Ordering::Equal));
//!
//! // Different precision that agrees so far: unknown.
//! let month = DateTime::parse("2024-03")?;
//! assert_eq!(a.compare(&month), None);
//!
//! let end_of_jan = DateTime::parse("2024-01-31")?;
//! assert_eq!(end_of_jan.add(1, CalendarUnit::Month)?.to_string(), "2024-02-29");
//! # Ok::<(), cds_core::temporal::TemporalError>(())
//! ```

mod arith;
mod compare;
mod date;
mod datetime;
mod error;
mod parse;
mod time;

#[cfg(test)]
mod tests;

pub use date::Date;
pub use datetime::DateTime;
pub use error::{Field, Problem, Target, TemporalError};
pub use time::Time;

use std::fmt;

/// How much of a date or time value was given, from coarsest to finest.
///
/// The derived ordering is coarse < fine: `Year < Month < … < Millisecond`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Precision {
    /// Year only (`2024`).
    Year,
    /// Year and month (`2024-03`).
    Month,
    /// A full calendar date (`2024-03-05`).
    Day,
    /// To the hour (`T10`).
    Hour,
    /// To the minute (`T10:20`).
    Minute,
    /// To the second (`T10:20:30`).
    Second,
    /// To the millisecond (`T10:20:30.123`).
    Millisecond,
}

impl Precision {
    /// The index of this precision, 0 for `Year` to 6 for `Millisecond`.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The comparison level: seconds and milliseconds are one level for comparison.
    pub(crate) fn comparison_level(self) -> usize {
        self.index().min(Precision::Second.index())
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Year => "year",
            Precision::Month => "month",
            Precision::Day => "day",
            Precision::Hour => "hour",
            Precision::Minute => "minute",
            Precision::Second => "second",
            Precision::Millisecond => "millisecond",
        })
    }
}

/// A calendar duration unit, as in the FHIRPath quantities `1 year`, `2 weeks`, `30 minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CalendarUnit {
    /// Calendar years.
    Year,
    /// Calendar months.
    Month,
    /// Weeks of 7 days.
    Week,
    /// Days.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
    /// Seconds.
    Second,
    /// Milliseconds.
    Millisecond,
}

impl CalendarUnit {
    /// All units, coarsest first.
    pub const ALL: [CalendarUnit; 8] = [
        CalendarUnit::Year,
        CalendarUnit::Month,
        CalendarUnit::Week,
        CalendarUnit::Day,
        CalendarUnit::Hour,
        CalendarUnit::Minute,
        CalendarUnit::Second,
        CalendarUnit::Millisecond,
    ];

    /// The singular FHIRPath keyword (`year`, `month`, …).
    pub fn singular(self) -> &'static str {
        match self {
            CalendarUnit::Year => "year",
            CalendarUnit::Month => "month",
            CalendarUnit::Week => "week",
            CalendarUnit::Day => "day",
            CalendarUnit::Hour => "hour",
            CalendarUnit::Minute => "minute",
            CalendarUnit::Second => "second",
            CalendarUnit::Millisecond => "millisecond",
        }
    }

    /// The plural FHIRPath keyword (`years`, `months`, …).
    pub fn plural(self) -> &'static str {
        match self {
            CalendarUnit::Year => "years",
            CalendarUnit::Month => "months",
            CalendarUnit::Week => "weeks",
            CalendarUnit::Day => "days",
            CalendarUnit::Hour => "hours",
            CalendarUnit::Minute => "minutes",
            CalendarUnit::Second => "seconds",
            CalendarUnit::Millisecond => "milliseconds",
        }
    }

    /// Reads a FHIRPath calendar keyword, singular or plural (`"day"`, `"days"`).
    pub fn from_keyword(word: &str) -> Option<CalendarUnit> {
        CalendarUnit::ALL
            .into_iter()
            .find(|u| u.singular() == word || u.plural() == word)
    }

    /// The precision this unit corresponds to (`Week` maps to `Day`).
    pub fn precision(self) -> Precision {
        match self {
            CalendarUnit::Year => Precision::Year,
            CalendarUnit::Month => Precision::Month,
            CalendarUnit::Week | CalendarUnit::Day => Precision::Day,
            CalendarUnit::Hour => Precision::Hour,
            CalendarUnit::Minute => Precision::Minute,
            CalendarUnit::Second => Precision::Second,
            CalendarUnit::Millisecond => Precision::Millisecond,
        }
    }

    /// The calendar unit matching a precision.
    pub fn of_precision(p: Precision) -> CalendarUnit {
        match p {
            Precision::Year => CalendarUnit::Year,
            Precision::Month => CalendarUnit::Month,
            Precision::Day => CalendarUnit::Day,
            Precision::Hour => CalendarUnit::Hour,
            Precision::Minute => CalendarUnit::Minute,
            Precision::Second => CalendarUnit::Second,
            Precision::Millisecond => CalendarUnit::Millisecond,
        }
    }

    /// The length in milliseconds when the unit has a fixed length (week and finer).
    pub fn fixed_millis(self) -> Option<i64> {
        match self {
            CalendarUnit::Year | CalendarUnit::Month => None,
            CalendarUnit::Week => Some(7 * 86_400_000),
            CalendarUnit::Day => Some(86_400_000),
            CalendarUnit::Hour => Some(3_600_000),
            CalendarUnit::Minute => Some(60_000),
            CalendarUnit::Second => Some(1_000),
            CalendarUnit::Millisecond => Some(1),
        }
    }
}

impl fmt::Display for CalendarUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.singular())
    }
}

/// Whether `year` is a leap year in the proleptic Gregorian calendar.
pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in `month` (1–12) of `year`; 0 for a month out of range.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The smallest year a value may have.
pub const MIN_YEAR: i32 = 1;
/// The largest year a value may have.
pub const MAX_YEAR: i32 = 9999;
