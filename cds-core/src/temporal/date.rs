//! [`Date`]: a calendar date of year, month or day precision.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;

use super::error::{Field, Target, TemporalError};
use super::parse::Cursor;
use super::{days_in_month, CalendarUnit, DateTime, Precision, MAX_YEAR, MIN_YEAR};

/// A FHIR `date` or FHIRPath `Date`: `2024`, `2024-03` or `2024-03-05`.
///
/// Derived equality is structural; use [`Date::equals`] and [`Date::compare`] for FHIRPath
/// semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    year: i16,
    month: Option<u8>,
    day: Option<u8>,
}

impl Date {
    /// Builds a date; a day requires a month, and the day must exist in that month.
    pub fn new(year: i32, month: Option<u8>, day: Option<u8>) -> Result<Date, TemporalError> {
        let bad = |field| TemporalError::InvalidComponent {
            target: Target::Date,
            field,
        };
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(bad(Field::Year));
        }
        if month.is_some_and(|m| !(1..=12).contains(&m)) {
            return Err(bad(Field::Month));
        }
        if let Some(d) = day {
            match month {
                Some(m) if d >= 1 && d <= days_in_month(year, m) => {}
                _ => return Err(bad(Field::Day)),
            }
        }
        Ok(Date::from_parts_unchecked(year, month, day))
    }

    /// Builds a date from components the caller has already validated.
    pub(crate) fn from_parts_unchecked(year: i32, month: Option<u8>, day: Option<u8>) -> Date {
        Date {
            year: year as i16,
            month,
            day,
        }
    }

    /// Reads `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (FHIR `date`; FHIRPath date literal without
    /// its `@`). Years 0001–9999; the day must exist in its month (leap years respected).
    pub fn parse(text: &str) -> Result<Date, TemporalError> {
        let mut c = Cursor::new(text, Target::Date)?;
        let (y, m, d) = c.date()?;
        c.expect_end()?;
        Ok(Date::from_parts_unchecked(y, m, d))
    }

    /// The date part of the evaluation clock's `now`, for FHIRPath `today()`.
    pub fn today_from(now: &DateTime) -> Date {
        now.date()
    }

    /// The year.
    pub fn year(&self) -> i32 {
        i32::from(self.year)
    }
    /// The month (1–12), if given.
    pub fn month(&self) -> Option<u8> {
        self.month
    }
    /// The day of the month, if given.
    pub fn day(&self) -> Option<u8> {
        self.day
    }

    /// How much of the date was given (`Year`, `Month` or `Day`).
    pub fn precision(&self) -> Precision {
        if self.day.is_some() {
            Precision::Day
        } else if self.month.is_some() {
            Precision::Month
        } else {
            Precision::Year
        }
    }

    /// FHIRPath ordering: `None` when the precisions differ and the values agree so far
    /// (`2024-03` vs `2024-03-05`); `2024` vs `2023-12` is `Greater`.
    pub fn compare(&self, other: &Date) -> Option<Ordering> {
        DateTime::from(*self).compare(&DateTime::from(*other))
    }

    /// FHIRPath `=`: `None` when the precisions differ and the values agree so far.
    pub fn equals(&self, other: &Date) -> Option<bool> {
        self.compare(other).map(|o| o == Ordering::Equal)
    }

    /// FHIRPath `~`: the same date at the same precision.
    pub fn equivalent(&self, other: &Date) -> bool {
        self.compare(other) == Some(Ordering::Equal)
    }

    /// Adds a calendar quantity with the rules of [`DateTime::add`]; units finer than the
    /// date's precision are converted and truncated (`2019-03-01 + 36 hours` is `2019-03-02`).
    pub fn add(
        &self,
        amount: impl Into<Decimal>,
        unit: CalendarUnit,
    ) -> Result<Date, TemporalError> {
        Ok(DateTime::from(*self).add(amount, unit)?.date())
    }

    /// Epoch milliseconds of the first instant of the date, read at `offset_minutes`.
    pub fn lower_bound_millis(&self, offset_minutes: i32) -> i64 {
        DateTime::from(*self).lower_bound_millis(offset_minutes)
    }

    /// Epoch milliseconds of the last millisecond of the date (inclusive), read at
    /// `offset_minutes`.
    pub fn upper_bound_millis(&self, offset_minutes: i32) -> i64 {
        DateTime::from(*self).upper_bound_millis(offset_minutes)
    }

    /// The FHIRPath literal for this date, e.g. `@2024-03`.
    pub fn to_fhirpath_literal(&self) -> String {
        format!("@{self}")
    }
}

impl fmt::Display for Date {
    /// The FHIR form at the date's precision: `2024`, `2024-03`, `2024-03-05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}
