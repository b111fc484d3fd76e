//! [`DateTime`]: a date with an optional time of day and timezone offset.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;

use super::arith::{
    add_months, add_years, amount_at_precision, check_year, civil_from_days, clamp_day,
    days_from_civil, MILLIS_PER_DAY,
};
use super::compare::{self, Components};
use super::error::{Field, Problem, Target, TemporalError};
use super::parse::Cursor;
use super::{days_in_month, CalendarUnit, Date, Precision, Time};

/// The largest timezone offset accepted, in minutes (±14:00).
pub const MAX_OFFSET_MINUTES: i32 = 14 * 60;

/// A FHIR `dateTime`/`instant` or FHIRPath `DateTime` of any precision from year to
/// millisecond, with a timezone offset in minutes east of UTC when one was given.
///
/// A value without a time never has an offset. Derived equality is structural (same
/// components, same offset); use [`DateTime::equals`] and [`DateTime::compare`] for FHIRPath
/// semantics, which normalise timezones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    time: Option<Time>,
    offset: Option<i16>,
}

impl DateTime {
    /// Builds a date-time. A time requires a full date (day precision); an offset (minutes
    /// east of UTC, within ±14:00) requires a time.
    pub fn new(
        date: Date,
        time: Option<Time>,
        offset_minutes: Option<i32>,
    ) -> Result<DateTime, TemporalError> {
        let bad = |field| TemporalError::InvalidComponent {
            target: Target::DateTime,
            field,
        };
        if time.is_some() && date.day().is_none() {
            return Err(bad(Field::Day));
        }
        let offset = match offset_minutes {
            None => None,
            Some(_) if time.is_none() => return Err(bad(Field::Offset)),
            Some(o) if o.abs() > MAX_OFFSET_MINUTES => return Err(bad(Field::Offset)),
            Some(o) => Some(o as i16),
        };
        Ok(DateTime { date, time, offset })
    }

    /// Reads a FHIR `dateTime` or `instant` (`2024`, `2024-03`, `2024-03-05`,
    /// `2024-03-05T10:20:30.123+01:00`, `2024-03-05T10:20Z`) or a FHIRPath date-time literal
    /// without its leading `@` (`2015T`, `2015-02-04T`, `2015-02-04T14`, offsets optional).
    ///
    /// Fraction digits beyond milliseconds are truncated. Seconds of 60 (leap seconds) and
    /// hour 24 are refused.
    pub fn parse(text: &str) -> Result<DateTime, TemporalError> {
        let mut c = Cursor::new(text, Target::DateTime)?;
        let (y, m, d) = c.date()?;
        let date = Date::from_parts_unchecked(y, m, d);
        if !c.eat(b'T') {
            c.expect_end()?;
            return Ok(DateTime::from(date));
        }
        if c.at_end() {
            return Ok(DateTime::from(date));
        }
        if d.is_none() {
            return Err(c.error(Problem::TimeNeedsFullDate));
        }
        let (h, mi, s, ms) = c.time()?;
        let time = Time::from_parts_unchecked(h, mi, s, ms);
        let offset = if c.at_end() { None } else { Some(c.offset()?) };
        c.expect_end()?;
        Ok(DateTime {
            date,
            time: Some(time),
            offset,
        })
    }

    /// The current instant from the system clock, in UTC, to the millisecond.
    ///
    /// Only for binary edges (the `cds` command, the server): evaluation code takes the
    /// evaluation time as an argument instead.
    pub fn now_utc() -> Result<DateTime, TemporalError> {
        DateTime::from_epoch_millis(chrono::Utc::now().timestamp_millis(), 0)
    }

    /// The instant `millis` after 1970-01-01T00:00:00Z, written at `offset_minutes` (east of
    /// UTC, within ±14:00), to millisecond precision.
    pub fn from_epoch_millis(millis: i64, offset_minutes: i32) -> Result<DateTime, TemporalError> {
        if offset_minutes.abs() > MAX_OFFSET_MINUTES {
            return Err(TemporalError::InvalidComponent {
                target: Target::DateTime,
                field: Field::Offset,
            });
        }
        let local = millis
            .checked_add(i64::from(offset_minutes) * 60_000)
            .ok_or(TemporalError::Overflow)?;
        DateTime::from_local_millis(local, Precision::Millisecond, Some(offset_minutes as i16))
    }

    /// Builds a value of `precision` from local milliseconds since 1970-01-01T00:00.
    fn from_local_millis(
        local: i64,
        precision: Precision,
        offset: Option<i16>,
    ) -> Result<DateTime, TemporalError> {
        let days = local.div_euclid(MILLIS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let year = check_year(y)?;
        let date = Date::from_parts_unchecked(
            year,
            (precision >= Precision::Month).then_some(m as u8),
            (precision >= Precision::Day).then_some(d as u8),
        );
        if precision < Precision::Hour {
            return Ok(DateTime::from(date));
        }
        let time = Time::from_millis_of_day(local.rem_euclid(MILLIS_PER_DAY), precision);
        Ok(DateTime {
            date,
            time: Some(time),
            offset,
        })
    }

    /// The date part (truncating the time), e.g. for `today()` from the evaluation clock.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The time of day, when the value has one.
    pub fn time_of_day(&self) -> Option<Time> {
        self.time
    }

    /// The timezone offset in minutes east of UTC, when one was given.
    pub fn offset_minutes(&self) -> Option<i32> {
        self.offset.map(i32::from)
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.date.year()
    }
    /// The month (1–12), if given.
    pub fn month(&self) -> Option<u8> {
        self.date.month()
    }
    /// The day of the month, if given.
    pub fn day(&self) -> Option<u8> {
        self.date.day()
    }
    /// The hour, if given.
    pub fn hour(&self) -> Option<u8> {
        self.time.map(|t| t.hour())
    }
    /// The minute, if given.
    pub fn minute(&self) -> Option<u8> {
        self.time.and_then(|t| t.minute())
    }
    /// The second, if given.
    pub fn second(&self) -> Option<u8> {
        self.time.and_then(|t| t.second())
    }
    /// The millisecond, if given.
    pub fn millisecond(&self) -> Option<u16> {
        self.time.and_then(|t| t.millisecond())
    }

    /// How much of the value was given.
    pub fn precision(&self) -> Precision {
        match self.time {
            Some(t) => t.precision(),
            None => self.date.precision(),
        }
    }

    /// Local milliseconds since 1970-01-01T00:00 of the earliest instant, ignoring offsets.
    fn local_lower_millis(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.date.year()),
            i64::from(self.date.month().unwrap_or(1)),
            i64::from(self.date.day().unwrap_or(1)),
        );
        days * MILLIS_PER_DAY + self.time.map_or(0, |t| t.millis_of_day())
    }

    /// Local milliseconds of the latest instant the value can denote, ignoring offsets.
    fn local_upper_millis(&self) -> i64 {
        let year = self.date.year();
        let month = self.date.month().unwrap_or(12);
        let day = self.date.day().unwrap_or(days_in_month(year, month));
        let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
        let time_part = match self.time {
            None => MILLIS_PER_DAY - 1,
            Some(t) => {
                let step = match t.precision() {
                    Precision::Hour => 3_600_000,
                    Precision::Minute => 60_000,
                    Precision::Second => 1000,
                    _ => 1,
                };
                t.millis_of_day() + step - 1
            }
        };
        days * MILLIS_PER_DAY + time_part
    }

    fn effective_offset_millis(&self, default_offset_minutes: i32) -> i64 {
        i64::from(self.offset.map_or(default_offset_minutes, i32::from)) * 60_000
    }

    /// Epoch milliseconds (UTC) of the earliest instant this partial value can denote; a value
    /// without an offset (including every value without a time) is read at
    /// `default_offset_minutes`. `2024-03` gives 2024-03-01T00:00:00.000.
    pub fn lower_bound_millis(&self, default_offset_minutes: i32) -> i64 {
        self.local_lower_millis() - self.effective_offset_millis(default_offset_minutes)
    }

    /// Epoch milliseconds (UTC) of the latest instant this partial value can denote (inclusive);
    /// `2024-03` gives 2024-03-31T23:59:59.999.
    pub fn upper_bound_millis(&self, default_offset_minutes: i32) -> i64 {
        self.local_upper_millis() - self.effective_offset_millis(default_offset_minutes)
    }

    fn local_components(&self) -> Components {
        let mut fields = [
            i64::from(self.date.year()),
            i64::from(self.date.month().unwrap_or(1)),
            i64::from(self.date.day().unwrap_or(1)),
            0,
            0,
            0,
            0,
        ];
        if let Some(t) = self.time {
            let tc = t.components().fields;
            fields[3..].copy_from_slice(&tc[3..]);
        }
        Components {
            fields,
            precision: self.precision(),
        }
    }

    fn utc_components(&self, default_offset_minutes: i32) -> Components {
        let utc = self.lower_bound_millis(default_offset_minutes);
        let (y, m, d) = civil_from_days(utc.div_euclid(MILLIS_PER_DAY));
        let t = utc.rem_euclid(MILLIS_PER_DAY);
        Components {
            fields: [
                y,
                m,
                d,
                t / 3_600_000,
                (t / 60_000) % 60,
                (t / 1000) % 60,
                t % 1000,
            ],
            precision: self.precision(),
        }
    }

    /// FHIRPath ordering, with values lacking an offset read at UTC.
    /// See [`DateTime::compare_with_default_offset`].
    pub fn compare(&self, other: &DateTime) -> Option<Ordering> {
        self.compare_with_default_offset(other, 0)
    }

    /// FHIRPath ordering. When both values have a time they are normalised to UTC first, a
    /// value without an offset being read at `default_offset_minutes`; when either has only a
    /// date, the dates are compared as written. Components are compared up to the coarser
    /// precision (seconds and milliseconds as one); `None` when they agree so far but the
    /// precisions differ (`2024-03` vs `2024-03-05`), which FHIRPath reports as empty.
    pub fn compare_with_default_offset(
        &self,
        other: &DateTime,
        default_offset_minutes: i32,
    ) -> Option<Ordering> {
        if self.time.is_some() && other.time.is_some() {
            compare::compare(
                &self.utc_components(default_offset_minutes),
                &other.utc_components(default_offset_minutes),
                0,
            )
        } else {
            compare::compare(&self.local_components(), &other.local_components(), 0)
        }
    }

    /// FHIRPath `=` (values without offset read at UTC): `None` when precisions differ and the
    /// values agree so far.
    pub fn equals(&self, other: &DateTime) -> Option<bool> {
        compare::equals(self.compare(other))
    }

    /// FHIRPath `=` with a default offset for values without one.
    pub fn equals_with_default_offset(
        &self,
        other: &DateTime,
        default_offset_minutes: i32,
    ) -> Option<bool> {
        compare::equals(self.compare_with_default_offset(other, default_offset_minutes))
    }

    /// FHIRPath `~`: the same instant at the same precision (different precision → false).
    pub fn equivalent(&self, other: &DateTime) -> bool {
        compare::equivalent(self.compare(other))
    }

    /// FHIRPath `~` with a default offset for values without one.
    pub fn equivalent_with_default_offset(
        &self,
        other: &DateTime,
        default_offset_minutes: i32,
    ) -> bool {
        compare::equivalent(self.compare_with_default_offset(other, default_offset_minutes))
    }

    /// Adds a calendar quantity (negative to subtract), following FHIRPath:
    ///
    /// * years and months step the calendar and clamp the day to the end of the month
    ///   (`2024-02-29 + 1 year` is `2025-02-28`, `2024-01-31 + 1 month` is `2024-02-29`);
    /// * weeks are 7 days; days and finer respect month and year lengths;
    /// * the decimal portion of a unit coarser than seconds is ignored; seconds added to a
    ///   millisecond-precision value keep whole milliseconds;
    /// * a unit finer than the value's precision is converted to the precision and truncated
    ///   (`2014 + 24 months` is `2016`, `2019-03-01 + 24 hours` is `2019-03-02`; for this
    ///   conversion a month is 30 days and a year 365 days).
    ///
    /// The result keeps the value's precision and offset. Leaving years 1–9999 is an error.
    pub fn add(
        &self,
        amount: impl Into<Decimal>,
        unit: CalendarUnit,
    ) -> Result<DateTime, TemporalError> {
        let precision = self.precision();
        let (n, unit) = amount_at_precision(amount.into(), unit, precision)?;
        match unit {
            CalendarUnit::Year => {
                let year = add_years(self.date.year(), n)?;
                Ok(self.with_year_month(year, self.date.month()))
            }
            CalendarUnit::Month => {
                let month = self.date.month().ok_or(TemporalError::Overflow)?;
                let (year, month) = add_months(self.date.year(), month, n)?;
                Ok(self.with_year_month(year, Some(month)))
            }
            _ => {
                let step = if unit == CalendarUnit::Week {
                    7 * MILLIS_PER_DAY
                } else {
                    unit.fixed_millis().ok_or(TemporalError::Overflow)?
                };
                let local = n
                    .checked_mul(step)
                    .and_then(|delta| self.local_lower_millis().checked_add(delta))
                    .ok_or(TemporalError::Overflow)?;
                DateTime::from_local_millis(local, precision, self.offset)
            }
        }
    }

    /// Replaces year and month, clamping the day to the month's length.
    fn with_year_month(&self, year: i32, month: Option<u8>) -> DateTime {
        let day = match (month, self.date.day()) {
            (Some(m), Some(d)) => Some(clamp_day(year, m, d)),
            _ => None,
        };
        DateTime {
            date: Date::from_parts_unchecked(year, month, day),
            ..*self
        }
    }

    /// The FHIRPath literal for this value: `@2024-03-05T10:20Z`, or `@2024T` for a value
    /// without a time (so it reads back as a DateTime, not a Date).
    pub fn to_fhirpath_literal(&self) -> String {
        if self.time.is_some() {
            format!("@{self}")
        } else {
            format!("@{self}T")
        }
    }
}

impl From<Date> for DateTime {
    /// A FHIR `date` used as a dateTime: same precision, no time, no offset.
    fn from(date: Date) -> DateTime {
        DateTime {
            date,
            time: None,
            offset: None,
        }
    }
}

impl fmt::Display for DateTime {
    /// The FHIR form at the value's precision: `2024-03`, `2024-03-05T10:20:30.123+01:00`;
    /// offset zero is written `Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date)?;
        if let Some(t) = self.time {
            write!(f, "T{t}")?;
            match self.offset {
                None => {}
                Some(0) => f.write_str("Z")?,
                Some(o) => {
                    let sign = if o < 0 { '-' } else { '+' };
                    let a = o.unsigned_abs();
                    write!(f, "{sign}{:02}:{:02}", a / 60, a % 60)?;
                }
            }
        }
        Ok(())
    }
}
