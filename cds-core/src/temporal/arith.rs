//! FHIRPath date/time arithmetic helpers: turning a calendar quantity into whole steps of a
//! unit no finer than the value's precision, and calendar month/year stepping.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::error::TemporalError;
use super::{days_in_month, CalendarUnit, Precision, MAX_YEAR, MIN_YEAR};

const DAY_MS: i64 = 86_400_000;
/// Days per month and per year used only to convert a fine quantity down to a month or year
/// precision value (`@2014 + 400 days` is `@2015`), as CQL does.
const MONTH_MS: i64 = 30 * DAY_MS;
const YEAR_MS: i64 = 365 * DAY_MS;

fn whole(d: Decimal) -> Result<i64, TemporalError> {
    d.trunc().to_i64().ok_or(TemporalError::Overflow)
}

/// Converts `amount` of `unit` into a whole number of steps to add to a value of `precision`:
///
/// * a unit as coarse as or coarser than the precision keeps its unit and drops its decimal
///   portion (FHIRPath: the decimal portion is ignored above seconds) — except seconds added
///   to a millisecond-precision value, which become whole milliseconds;
/// * a unit finer than the precision is converted to the precision's unit and truncated
///   (`@2019-03-01 + 24 hours` adds 1 day; `@2014 + 24 months` adds 2 years).
pub(crate) fn amount_at_precision(
    amount: Decimal,
    unit: CalendarUnit,
    precision: Precision,
) -> Result<(i64, CalendarUnit), TemporalError> {
    if unit == CalendarUnit::Second && precision == Precision::Millisecond {
        let ms = amount
            .checked_mul(Decimal::from(1000))
            .ok_or(TemporalError::Overflow)?;
        return Ok((whole(ms)?, CalendarUnit::Millisecond));
    }
    if unit.precision() <= precision {
        return Ok((whole(amount)?, unit));
    }
    let target = CalendarUnit::of_precision(precision);
    let converted = if unit == CalendarUnit::Month {
        // Only reachable for a year-precision value.
        amount / Decimal::from(12)
    } else {
        let unit_ms = unit.fixed_millis().ok_or(TemporalError::Overflow)?;
        let target_ms = match target {
            CalendarUnit::Year => YEAR_MS,
            CalendarUnit::Month => MONTH_MS,
            other => other.fixed_millis().ok_or(TemporalError::Overflow)?,
        };
        amount
            .checked_mul(Decimal::from(unit_ms))
            .and_then(|v| v.checked_div(Decimal::from(target_ms)))
            .ok_or(TemporalError::Overflow)?
    };
    Ok((whole(converted)?, target))
}

/// Adds `months` calendar months to (year, month), returning the new (year, month).
pub(crate) fn add_months(year: i32, month: u8, months: i64) -> Result<(i32, u8), TemporalError> {
    let index = i64::from(year)
        .checked_mul(12)
        .and_then(|v| v.checked_add(i64::from(month) - 1))
        .and_then(|v| v.checked_add(months))
        .ok_or(TemporalError::Overflow)?;
    let y = index.div_euclid(12);
    let m = index.rem_euclid(12) + 1;
    let y = check_year(y)?;
    Ok((y, m as u8))
}

/// Adds whole years, checking the range.
pub(crate) fn add_years(year: i32, years: i64) -> Result<i32, TemporalError> {
    check_year(
        i64::from(year)
            .checked_add(years)
            .ok_or(TemporalError::Overflow)?,
    )
}

/// Checks a year lies in the supported range.
pub(crate) fn check_year(y: i64) -> Result<i32, TemporalError> {
    if (i64::from(MIN_YEAR)..=i64::from(MAX_YEAR)).contains(&y) {
        Ok(y as i32)
    } else {
        Err(TemporalError::Overflow)
    }
}

/// Clamps a day to the last day of the month (`Jan 31 + 1 month` is the end of February).
pub(crate) fn clamp_day(year: i32, month: u8, day: u8) -> u8 {
    day.min(days_in_month(year, month))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12, day 1–31).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Milliseconds in a day.
pub(crate) const MILLIS_PER_DAY: i64 = DAY_MS;
