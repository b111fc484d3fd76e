//! Times of data: FHIR `date`, `dateTime` and `instant` strings, checked strictly against the
//! FHIR R4 syntax, read as [`temporal::DateTime`](crate::temporal::DateTime)s, and turned into
//! epoch-millisecond bounds for ordering and as-of windows.
//!
//! A value of partial precision (`2020`, `2020-05`, `2020-05-17`) stands for every instant it
//! covers: its bounds are the first and the last millisecond of that span. Values without a time
//! zone (dates) are read in UTC.
//!
//! ```
//! use cds_core::data::time::{parse_date_time, TimeBounds};
//! let t = parse_date_time("1970-01-02").unwrap();
//! assert_eq!(TimeBounds::of(&t), TimeBounds { lower_ms: 86_400_000, upper_ms: 2 * 86_400_000 - 1 });
//! // FHIR requires seconds and a zone once a time is given:
//! assert!(parse_date_time("2020-01-01T10:00").is_none());
//! ```

use chrono::{Datelike, NaiveDate};

use crate::temporal::{Date, DateTime};

/// The earliest and the latest instant (UTC epoch milliseconds, both inclusive) a FHIR time value
/// can mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeBounds {
    /// The first millisecond covered.
    pub lower_ms: i64,
    /// The last millisecond covered.
    pub upper_ms: i64,
}

impl TimeBounds {
    /// The bounds of a date-time; one without a zone is read in UTC.
    pub fn of(t: &DateTime) -> TimeBounds {
        TimeBounds {
            lower_ms: t.lower_bound_millis(0),
            upper_ms: t.upper_bound_millis(0),
        }
    }

    /// Bounds spanning from the start of `a` to the end of `b` (a Period).
    pub fn span(a: TimeBounds, b: TimeBounds) -> TimeBounds {
        TimeBounds {
            lower_ms: a.lower_ms.min(b.lower_ms),
            upper_ms: a.upper_ms.max(b.upper_ms),
        }
    }
}

/// Which FHIR primitive a string must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeKind {
    /// `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    Date,
    /// `dateTime`: a date, or a full date and time with a zone.
    DateTime,
    /// `instant`: a full date and time to the second, with a zone.
    Instant,
}

impl TimeKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TimeKind::Date => "date",
            TimeKind::DateTime => "dateTime",
            TimeKind::Instant => "instant",
        }
    }
}

/// Reads a FHIR `dateTime` (`2020`, `2020-05`, `2020-05-17`, `2020-05-17T10:20:30+02:00`);
/// `None` when it is not one.
pub fn parse_date_time(text: &str) -> Option<DateTime> {
    parse_fhir(text, TimeKind::DateTime)
}

/// Reads a FHIR date, dateTime or instant, strictly (FHIR's syntax is narrower than FHIRPath's).
pub(crate) fn parse_fhir(text: &str, kind: TimeKind) -> Option<DateTime> {
    strict_bounds(text, kind)?;
    match kind {
        TimeKind::Date => Date::parse(text).ok().map(DateTime::from),
        TimeKind::DateTime | TimeKind::Instant => DateTime::parse(text).ok(),
    }
}

/// Checks the FHIR syntax of a date, dateTime or instant and computes its bounds independently
/// of [`crate::temporal`] (the two are cross-checked in tests); `None` when it is not valid.
fn strict_bounds(text: &str, kind: TimeKind) -> Option<TimeBounds> {
    let b = text.as_bytes();
    let year = digits(b, 0, 4)?;
    let (month, day) = match b.get(4) {
        None => return (kind != TimeKind::Instant).then(|| year_bounds(year))?,
        Some(b'-') => {
            let month = digits(b, 5, 2)?;
            match b.get(7) {
                None if kind != TimeKind::Instant => {
                    return month_bounds(year, month);
                }
                Some(b'-') => (month, digits(b, 8, 2)?),
                _ => return None,
            }
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let day_start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    match b.get(10) {
        None if kind != TimeKind::Instant => {
            return Some(TimeBounds {
                lower_ms: day_start,
                upper_ms: day_start + 86_400_000 - 1,
            })
        }
        Some(b'T') if kind != TimeKind::Date => {}
        _ => return None,
    }
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    let mut fraction_upper = 999i64; // no fraction: the whole second
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = b.get(start..i)?;
        let mut ms = 0i64;
        for k in 0..3 {
            ms = ms * 10 + frac.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
        // A fraction is exact (as in FHIRPath, seconds with a fraction are one decimal value).
        millis = ms;
        fraction_upper = ms;
    }
    let offset_min: i64 = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            let h = digits(b, i + 1, 2)?;
            let m = digits(b, i + 4, 2)?;
            if b.get(i + 3) != Some(&b':') || h > 14 || m > 59 {
                return None;
            }
            let total = i64::from(h * 60 + m);
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let seconds = i64::from(hour * 3600 + minute * 60 + second.min(59));
    let base = day_start + seconds * 1000 - offset_min * 60_000;
    Some(TimeBounds {
        lower_ms: base + millis,
        upper_ms: base + fraction_upper.max(millis),
    })
}

/// True when `text` is a valid FHIR `time` (`hh:mm:ss` with optional fraction).
pub(crate) fn is_valid_time(text: &str) -> bool {
    let b = text.as_bytes();
    let (Some(h), Some(m), Some(s)) = (digits(b, 0, 2), digits(b, 3, 2), digits(b, 6, 2)) else {
        return false;
    };
    if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') || h > 23 || m > 59 || s > 60 {
        return false;
    }
    match b.get(8) {
        None => true,
        Some(b'.') => b.len() > 9 && b.iter().skip(9).all(u8::is_ascii_digit),
        _ => false,
    }
}

fn year_bounds(year: u32) -> Option<TimeBounds> {
    let start = NaiveDate::from_ymd_opt(year as i32, 1, 1)?;
    let next = NaiveDate::from_ymd_opt(year as i32 + 1, 1, 1)?;
    Some(bounds_between(start, next))
}

fn month_bounds(year: u32, month: u32) -> Option<TimeBounds> {
    let start = NaiveDate::from_ymd_opt(year as i32, month, 1)?;
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(year as i32 + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year as i32, month + 1, 1)?
    };
    Some(bounds_between(start, next))
}

fn bounds_between(start: NaiveDate, next: NaiveDate) -> TimeBounds {
    let ms = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis())
    };
    TimeBounds {
        lower_ms: ms(start),
        upper_ms: ms(next) - 1,
    }
}

/// `len` ASCII digits at `at` as a number.
fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let s = b.get(at..at + len)?;
    let mut n = 0u32;
    for d in s {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Option<TimeBounds> {
        let strict = strict_bounds(s, TimeKind::DateTime);
        let temporal = parse_date_time(s).map(|t| TimeBounds::of(&t));
        assert_eq!(strict, temporal, "{s}");
        strict
    }

    fn parse_bounds(s: &str, kind: TimeKind) -> Option<TimeBounds> {
        parse_fhir(s, kind).map(|t| TimeBounds::of(&t))
    }

    #[test]
    fn full_date_times() {
        let t = dt("2016-08-18T02:48:40.766551+00:00").unwrap();
        assert_eq!(t.lower_ms, 1_471_488_520_766);
        assert_eq!(t.upper_ms, t.lower_ms);
        let z = dt("1970-01-01T00:00:00Z").unwrap();
        assert_eq!((z.lower_ms, z.upper_ms), (0, 999));
        let off = dt("1970-01-01T01:00:00+01:00").unwrap();
        assert_eq!(off.lower_ms, 0);
        let tenth = dt("1970-01-01T00:00:00.5Z").unwrap();
        assert_eq!((tenth.lower_ms, tenth.upper_ms), (500, 500));
    }

    #[test]
    fn partial_precision() {
        let y = dt("1970").unwrap();
        assert_eq!((y.lower_ms, y.upper_ms), (0, 365 * 86_400_000 - 1));
        let m = dt("1970-02").unwrap();
        assert_eq!(m.lower_ms, 31 * 86_400_000);
        assert_eq!(m.upper_ms, 59 * 86_400_000 - 1);
        let d = dt("1970-01-02").unwrap();
        assert_eq!(d.lower_ms, 86_400_000);
    }

    #[test]
    fn invalid_values() {
        for s in [
            "",
            "70",
            "2020-13",
            "2020-02-30",
            "2020-01-01T10:00",
            "2020-01-01T10:00:00",
            "2020-01-01 10:00:00Z",
            "2020-01-01T25:00:00Z",
            "2020-01-01T10:00:00.Z",
            "2020-01-01T10:00:00+1:00",
            "2020-01-01Z",
        ] {
            assert_eq!(dt(s), None, "{s}");
        }
        assert!(parse_bounds("2020-01-01", TimeKind::Instant).is_none());
        assert!(parse_bounds("2020-01-01T00:00:00Z", TimeKind::Date).is_none());
        assert!(parse_bounds("2020-01-01T00:00:00Z", TimeKind::Instant).is_some());
    }

    #[test]
    fn times() {
        assert!(is_valid_time("10:20:30"));
        assert!(is_valid_time("10:20:30.25"));
        assert!(!is_valid_time("10:20"));
        assert!(!is_valid_time("24:00:00"));
        assert!(!is_valid_time("10:20:30."));
    }
}
