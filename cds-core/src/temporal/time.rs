//! [`Time`]: a time of day with partial precision and no timezone.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;

use super::arith::amount_at_precision;
use super::compare::{self, Components};
use super::error::{Field, Target, TemporalError};
use super::parse::Cursor;
use super::{CalendarUnit, Precision};

use super::arith::MILLIS_PER_DAY;

/// A FHIRPath `Time` (and FHIR `time`): `hh`, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fff`.
///
/// Derived equality is structural (same components, same precision); use [`Time::equals`]
/// and [`Time::compare`] for FHIRPath semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    hour: u8,
    minute: Option<u8>,
    second: Option<u8>,
    millisecond: Option<u16>,
}

impl Time {
    /// Builds a time; a finer component requires every coarser one.
    pub fn new(
        hour: u8,
        minute: Option<u8>,
        second: Option<u8>,
        millisecond: Option<u16>,
    ) -> Result<Time, TemporalError> {
        let bad = |field| TemporalError::InvalidComponent {
            target: Target::Time,
            field,
        };
        if hour > 23 {
            return Err(bad(Field::Hour));
        }
        if minute.is_some_and(|m| m > 59) {
            return Err(bad(Field::Minute));
        }
        if second.is_some_and(|s| s > 59) || (second.is_some() && minute.is_none()) {
            return Err(bad(Field::Second));
        }
        if millisecond.is_some_and(|ms| ms > 999) || (millisecond.is_some() && second.is_none()) {
            return Err(bad(Field::Millisecond));
        }
        Ok(Time {
            hour,
            minute,
            second,
            millisecond,
        })
    }

    /// Reads `hh`, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.f…` (the FHIR `time` form, and the FHIRPath
    /// literal with its leading `@T` removed). Fraction digits beyond milliseconds are
    /// truncated.
    pub fn parse(text: &str) -> Result<Time, TemporalError> {
        let mut c = Cursor::new(text, Target::Time)?;
        let (h, m, s, ms) = c.time()?;
        c.expect_end()?;
        Ok(Time::from_parts_unchecked(h, m, s, ms))
    }

    /// Builds a time from components the caller has already validated.
    pub(crate) fn from_parts_unchecked(
        hour: u8,
        minute: Option<u8>,
        second: Option<u8>,
        millisecond: Option<u16>,
    ) -> Time {
        Time {
            hour,
            minute,
            second,
            millisecond,
        }
    }

    /// The hour (0–23).
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// The minute, if given.
    pub fn minute(&self) -> Option<u8> {
        self.minute
    }
    /// The second, if given.
    pub fn second(&self) -> Option<u8> {
        self.second
    }
    /// The millisecond, if given.
    pub fn millisecond(&self) -> Option<u16> {
        self.millisecond
    }

    /// How much of the time was given (`Hour` to `Millisecond`).
    pub fn precision(&self) -> Precision {
        if self.millisecond.is_some() {
            Precision::Millisecond
        } else if self.second.is_some() {
            Precision::Second
        } else if self.minute.is_some() {
            Precision::Minute
        } else {
            Precision::Hour
        }
    }

    /// Milliseconds since midnight of the earliest instant this time can denote.
    pub fn millis_of_day(&self) -> i64 {
        let h = i64::from(self.hour);
        let m = i64::from(self.minute.unwrap_or(0));
        let s = i64::from(self.second.unwrap_or(0));
        let ms = i64::from(self.millisecond.unwrap_or(0));
        ((h * 60 + m) * 60 + s) * 1000 + ms
    }

    pub(crate) fn components(&self) -> Components {
        Components {
            fields: [
                0,
                1,
                1,
                i64::from(self.hour),
                i64::from(self.minute.unwrap_or(0)),
                i64::from(self.second.unwrap_or(0)),
                i64::from(self.millisecond.unwrap_or(0)),
            ],
            precision: self.precision(),
        }
    }

    /// Builds a time of the given precision from milliseconds since midnight (wrapped into
    /// one day).
    pub(crate) fn from_millis_of_day(millis: i64, precision: Precision) -> Time {
        let t = millis.rem_euclid(MILLIS_PER_DAY);
        let hour = (t / 3_600_000) as u8;
        let minute = ((t / 60_000) % 60) as u8;
        let second = ((t / 1000) % 60) as u8;
        let ms = (t % 1000) as u16;
        Time {
            hour,
            minute: (precision >= Precision::Minute).then_some(minute),
            second: (precision >= Precision::Second).then_some(second),
            millisecond: (precision >= Precision::Millisecond).then_some(ms),
        }
    }

    /// FHIRPath ordering: `None` when the precisions differ and the values agree so far.
    /// Seconds and milliseconds are one precision (`10:30:00` equals `10:30:00.000`).
    pub fn compare(&self, other: &Time) -> Option<Ordering> {
        compare::compare(&self.components(), &other.components(), 3)
    }

    /// FHIRPath `=`: `None` when the precisions differ and the values agree so far.
    pub fn equals(&self, other: &Time) -> Option<bool> {
        compare::equals(self.compare(other))
    }

    /// FHIRPath `~`: same value at the same precision.
    pub fn equivalent(&self, other: &Time) -> bool {
        compare::equivalent(self.compare(other))
    }

    /// Adds a time-valued quantity (hours and finer), wrapping around midnight. Units finer
    /// than the time's precision are converted to it and truncated (`@T10 + 90 minutes` is
    /// `@T11`). Years, months, weeks and days are refused.
    pub fn add(
        &self,
        amount: impl Into<Decimal>,
        unit: CalendarUnit,
    ) -> Result<Time, TemporalError> {
        if unit.precision() < Precision::Hour {
            return Err(TemporalError::UnitNotApplicable {
                unit,
                target: Target::Time,
            });
        }
        let precision = self.precision();
        let (n, unit) = amount_at_precision(amount.into(), unit, precision)?;
        let step = unit.fixed_millis().ok_or(TemporalError::Overflow)?;
        let delta = n
            .checked_rem(MILLIS_PER_DAY)
            .and_then(|n| n.checked_mul(step))
            .ok_or(TemporalError::Overflow)?
            % MILLIS_PER_DAY;
        Ok(Time::from_millis_of_day(
            self.millis_of_day() + delta,
            precision,
        ))
    }

    /// The FHIRPath literal for this time, e.g. `@T10:20`.
    pub fn to_fhirpath_literal(&self) -> String {
        format!("@T{self}")
    }
}

impl fmt::Display for Time {
    /// The canonical form at the time's precision: `10`, `10:20`, `10:20:30`, `10:20:30.500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.hour)?;
        if let Some(m) = self.minute {
            write!(f, ":{m:02}")?;
        }
        if let Some(s) = self.second {
            write!(f, ":{s:02}")?;
        }
        if let Some(ms) = self.millisecond {
            write!(f, ".{ms:03}")?;
        }
        Ok(())
    }
}
