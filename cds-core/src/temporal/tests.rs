//! Tests of the temporal module: parsing, display, comparison, arithmetic, bounds.

use std::cmp::Ordering;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

fn dt(s: &str) -> DateTime {
    match DateTime::parse(s) {
        Ok(v) => v,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn d(s: &str) -> Date {
    match Date::parse(s) {
        Ok(v) => v,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn t(s: &str) -> Time {
    match Time::parse(s) {
        Ok(v) => v,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn parse_err(r: Result<impl std::fmt::Debug, TemporalError>) -> (usize, Problem) {
    match r {
        Err(TemporalError::Parse {
            offset, problem, ..
        }) => (offset, problem),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn parses_dates_of_every_precision() {
    assert_eq!(d("2024").precision(), Precision::Year);
    assert_eq!(d("2024-03").precision(), Precision::Month);
    let full = d("2024-03-05");
    assert_eq!(full.precision(), Precision::Day);
    assert_eq!(
        (full.year(), full.month(), full.day()),
        (2024, Some(3), Some(5))
    );
    assert_eq!(d("2024-02-29").day(), Some(29));
    assert_eq!(d("2000-02-29").day(), Some(29));
    assert_eq!(d("0001-01-01").year(), 1);
}

#[test]
fn rejects_bad_dates_with_offsets() {
    assert_eq!(
        parse_err(Date::parse("2023-02-29")),
        (8, Problem::OutOfRange(Field::Day))
    );
    assert_eq!(
        parse_err(Date::parse("1900-02-29")),
        (8, Problem::OutOfRange(Field::Day))
    );
    assert_eq!(
        parse_err(Date::parse("2024-04-31")),
        (8, Problem::OutOfRange(Field::Day))
    );
    assert_eq!(
        parse_err(Date::parse("2024-13")),
        (5, Problem::OutOfRange(Field::Month))
    );
    assert_eq!(
        parse_err(Date::parse("2024-00")),
        (5, Problem::OutOfRange(Field::Month))
    );
    assert_eq!(
        parse_err(Date::parse("0000")),
        (0, Problem::OutOfRange(Field::Year))
    );
    assert_eq!(parse_err(Date::parse("")), (0, Problem::Empty));
    assert_eq!(
        parse_err(Date::parse("24")),
        (2, Problem::ExpectedDigit(Field::Year))
    );
    assert_eq!(
        parse_err(Date::parse("2024-3-05")),
        (6, Problem::ExpectedDigit(Field::Month))
    );
    assert_eq!(
        parse_err(Date::parse("2024-03-05T10:00")),
        (10, Problem::TrailingCharacters)
    );
    assert_eq!(
        parse_err(Date::parse("2024/03")),
        (4, Problem::TrailingCharacters)
    );
}

#[test]
fn error_messages_name_position_not_value() {
    let e = Date::parse("1987-02-30").err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("invalid date at byte 8: the day of month is out of range")
    );
    let e = DateTime::parse("1987-02-03T25:00Z")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(!e.contains("1987"), "{e}");
    assert!(e.contains("byte 11"), "{e}");
}

#[test]
fn parses_datetimes_of_every_precision() {
    let cases = [
        ("2024", Precision::Year),
        ("2024-03", Precision::Month),
        ("2024-03-05", Precision::Day),
        ("2024-03-05T10", Precision::Hour),
        ("2024-03-05T10:20Z", Precision::Minute),
        ("2024-03-05T10:20:30-05:00", Precision::Second),
        ("2024-03-05T10:20:30.123+01:00", Precision::Millisecond),
    ];
    for (text, p) in cases {
        assert_eq!(dt(text).precision(), p, "{text}");
    }
    let v = dt("2024-03-05T10:20:30.123+01:00");
    assert_eq!(v.offset_minutes(), Some(60));
    assert_eq!(v.millisecond(), Some(123));
    assert_eq!(dt("2024-03-05T10:20:30").offset_minutes(), None);
}

#[test]
fn parses_fhirpath_partial_forms() {
    // `@2015T` and `@2015-02-04T` are date-times without a time.
    assert_eq!(dt("2015T").precision(), Precision::Year);
    assert_eq!(dt("2015T").to_fhirpath_literal(), "@2015T");
    assert_eq!(dt("2015-02-04T").precision(), Precision::Day);
    assert_eq!(dt("2015-02-04T14").hour(), Some(14));
    assert_eq!(t("14").precision(), Precision::Hour);
    assert_eq!(t("14:30").to_fhirpath_literal(), "@T14:30");
}

#[test]
fn fractional_seconds_of_any_length() {
    assert_eq!(dt("2024-03-05T10:20:30.5Z").millisecond(), Some(500));
    assert_eq!(dt("2024-03-05T10:20:30.05Z").millisecond(), Some(50));
    assert_eq!(
        dt("2024-03-05T10:20:30.123456789Z").millisecond(),
        Some(123)
    );
    assert_eq!(dt("2024-03-05T10:20:30.9999Z").millisecond(), Some(999));
    assert_eq!(t("10:20:30.5").millisecond(), Some(500));
    assert_eq!(
        parse_err(Time::parse("10:20:30.")),
        (9, Problem::ExpectedDigit(Field::Millisecond))
    );
}

#[test]
fn offsets_within_range() {
    assert_eq!(dt("2024-03-05T10:00+14:00").offset_minutes(), Some(840));
    assert_eq!(dt("2024-03-05T10:00-12:00").offset_minutes(), Some(-720));
    assert_eq!(dt("2024-03-05T10:00+05:45").offset_minutes(), Some(345));
    assert_eq!(dt("2024-03-05T10:00-00:00").offset_minutes(), Some(0));
    assert_eq!(
        parse_err(DateTime::parse("2024-03-05T10:00+14:30")),
        (16, Problem::OutOfRange(Field::Offset))
    );
    assert_eq!(
        parse_err(DateTime::parse("2024-03-05T10:00+15:00")),
        (17, Problem::OutOfRange(Field::Offset))
    );
    assert_eq!(
        parse_err(DateTime::parse("2024-03-05T10:00+0100")),
        (19, Problem::ExpectedSeparator(':'))
    );
    assert_eq!(
        parse_err(DateTime::parse("2024-03-05T10:00 ")),
        (16, Problem::ExpectedOffset)
    );
    // An offset needs a time.
    assert_eq!(
        parse_err(DateTime::parse("2024-03-05Z")),
        (10, Problem::TrailingCharacters)
    );
}

#[test]
fn rejects_bad_times() {
    assert_eq!(
        parse_err(Time::parse("24:00")),
        (0, Problem::OutOfRange(Field::Hour))
    );
    assert_eq!(
        parse_err(Time::parse("10:60")),
        (3, Problem::OutOfRange(Field::Minute))
    );
    assert_eq!(
        parse_err(Time::parse("10:20:60")),
        (6, Problem::OutOfRange(Field::Second))
    );
    assert_eq!(
        parse_err(Time::parse("10:20+01:00")),
        (5, Problem::TrailingCharacters)
    );
    assert_eq!(
        parse_err(DateTime::parse("2024-03T10:00")),
        (8, Problem::TimeNeedsFullDate)
    );
}

#[test]
fn display_keeps_precision() {
    for s in [
        "2024",
        "2024-03",
        "2024-03-05",
        "2024-03-05T10",
        "2024-03-05T10:20",
        "2024-03-05T10:20Z",
        "2024-03-05T10:20:30.123+01:00",
        "2024-03-05T10:20:30-05:30",
        "0001-01-01T00:00:00.000Z",
    ] {
        assert_eq!(dt(s).to_string(), s);
    }
    assert_eq!(
        dt("2024-03-05T10:20+00:00").to_string(),
        "2024-03-05T10:20Z"
    );
    assert_eq!(t("10:20:30.5").to_string(), "10:20:30.500");
    assert_eq!(d("2024-03").to_string(), "2024-03");
    assert_eq!(d("2024-03").to_fhirpath_literal(), "@2024-03");
}

#[test]
fn compares_same_precision() {
    assert_eq!(
        d("2024-03-05").compare(&d("2024-03-06")),
        Some(Ordering::Less)
    );
    assert_eq!(d("2024").compare(&d("2023")), Some(Ordering::Greater));
    assert_eq!(
        dt("2024-03-05T10:20:30Z").compare(&dt("2024-03-05T10:20:30Z")),
        Some(Ordering::Equal)
    );
    assert_eq!(t("10:00").compare(&t("09:59")), Some(Ordering::Greater));
}

#[test]
fn mixed_precision_is_unknown_only_when_agreeing() {
    assert_eq!(d("2024-03").compare(&d("2024-03-05")), None);
    assert_eq!(d("2024-03").equals(&d("2024-03-05")), None);
    assert!(!d("2024-03").equivalent(&d("2024-03-05")));
    assert_eq!(d("2012").compare(&d("2011-05")), Some(Ordering::Greater));
    assert_eq!(d("2012").equals(&d("2011-05")), Some(false));
    assert_eq!(dt("2024-03-05").compare(&dt("2024-03-05T10:00Z")), None);
    assert_eq!(
        dt("2024-03-04").compare(&dt("2024-03-05T10:00Z")),
        Some(Ordering::Less)
    );
    assert_eq!(t("10").compare(&t("10:30")), None);
    assert_eq!(t("10").compare(&t("11:30")), Some(Ordering::Less));
}

#[test]
fn seconds_and_milliseconds_are_one_precision() {
    let a = dt("2024-03-05T10:20:30Z");
    let b = dt("2024-03-05T10:20:30.000Z");
    assert_eq!(a.compare(&b), Some(Ordering::Equal));
    assert_eq!(a.equals(&b), Some(true));
    assert!(a.equivalent(&b));
    assert_eq!(
        a.compare(&dt("2024-03-05T10:20:30.001Z")),
        Some(Ordering::Less)
    );
    assert_eq!(t("10:20:30").equals(&t("10:20:30.000")), Some(true));
    assert_eq!(
        t("10:20:30").compare(&t("10:20:29.999")),
        Some(Ordering::Greater)
    );
}

#[test]
fn timezones_are_normalised() {
    let a = dt("2024-03-05T10:00+01:00");
    let b = dt("2024-03-05T09:00Z");
    assert_eq!(a.equals(&b), Some(true));
    assert!(a.equivalent(&b));
    assert_ne!(a, b, "derived equality stays structural");
    // Across a date boundary.
    assert_eq!(
        dt("2024-03-06T01:00+02:00").compare(&dt("2024-03-05T23:30Z")),
        Some(Ordering::Less)
    );
    assert_eq!(
        dt("2024-01-01T00:30+14:00").compare(&dt("2023-12-31T10:30Z")),
        Some(Ordering::Equal)
    );
    // No offset: read at UTC by default, or at the caller's offset.
    let local = dt("2024-03-05T10:00");
    assert_eq!(local.compare(&b), Some(Ordering::Greater));
    assert_eq!(
        local.compare_with_default_offset(&b, 60),
        Some(Ordering::Equal)
    );
    assert!(local.equivalent_with_default_offset(&a, 60));
    assert_eq!(local.equals_with_default_offset(&a, -60), Some(false));
}

#[test]
fn adds_months_with_clamping() {
    assert_eq!(
        dt("2024-01-31")
            .add(1, CalendarUnit::Month)
            .map(|v| v.to_string()),
        Ok("2024-02-29".into())
    );
    assert_eq!(
        dt("2023-01-31")
            .add(1, CalendarUnit::Month)
            .map(|v| v.to_string()),
        Ok("2023-02-28".into())
    );
    assert_eq!(
        dt("2024-03-31")
            .add(-1, CalendarUnit::Month)
            .map(|v| v.to_string()),
        Ok("2024-02-29".into())
    );
    assert_eq!(
        dt("2024-11-15")
            .add(3, CalendarUnit::Month)
            .map(|v| v.to_string()),
        Ok("2025-02-15".into())
    );
    assert_eq!(
        dt("2024-01")
            .add(-13, CalendarUnit::Month)
            .map(|v| v.to_string()),
        Ok("2022-12".into())
    );
    assert_eq!(
        d("2024-02-29")
            .add(1, CalendarUnit::Year)
            .map(|v| v.to_string()),
        Ok("2025-02-28".into())
    );
    assert_eq!(
        d("2024-02-29")
            .add(4, CalendarUnit::Year)
            .map(|v| v.to_string()),
        Ok("2028-02-29".into())
    );
    assert_eq!(
        d("2024-02-29")
            .add(-1, CalendarUnit::Year)
            .map(|v| v.to_string()),
        Ok("2023-02-28".into())
    );
}

#[test]
fn adds_days_and_times() {
    let s = |v: Result<DateTime, TemporalError>| v.map(|v| v.to_string());
    assert_eq!(
        s(dt("2024-02-28").add(1, CalendarUnit::Day)),
        Ok("2024-02-29".into())
    );
    assert_eq!(
        s(dt("2023-12-31").add(1, CalendarUnit::Day)),
        Ok("2024-01-01".into())
    );
    assert_eq!(
        s(dt("2024-03-01").add(-1, CalendarUnit::Day)),
        Ok("2024-02-29".into())
    );
    assert_eq!(
        s(dt("2024-03-01").add(2, CalendarUnit::Week)),
        Ok("2024-03-15".into())
    );
    assert_eq!(
        s(dt("2024-03-05T23:30+01:00").add(45, CalendarUnit::Minute)),
        Ok("2024-03-06T00:15+01:00".into())
    );
    assert_eq!(
        s(dt("2024-03-05T10:20:30.500Z").add(Decimal::new(15, 1), CalendarUnit::Second)),
        Ok("2024-03-05T10:20:32.000Z".into())
    );
    assert_eq!(
        s(dt("2024-03-05T10:20:30Z").add(Decimal::new(15, 1), CalendarUnit::Second)),
        Ok("2024-03-05T10:20:31Z".into())
    );
    // Decimal portions above seconds are ignored.
    assert_eq!(
        s(dt("2024-03-05").add(Decimal::new(15, 1), CalendarUnit::Day)),
        Ok("2024-03-06".into())
    );
}

#[test]
fn converts_fine_units_to_the_value_precision() {
    let s = |v: Result<DateTime, TemporalError>| v.map(|v| v.to_string());
    assert_eq!(
        s(dt("2014").add(24, CalendarUnit::Month)),
        Ok("2016".into())
    );
    assert_eq!(
        s(dt("2014").add(23, CalendarUnit::Month)),
        Ok("2015".into())
    );
    assert_eq!(
        s(dt("2019-03-01").add(24, CalendarUnit::Hour)),
        Ok("2019-03-02".into())
    );
    assert_eq!(
        s(dt("2019-03-01").add(47, CalendarUnit::Hour)),
        Ok("2019-03-02".into())
    );
    assert_eq!(
        s(dt("2019-03-01").add(-24, CalendarUnit::Hour)),
        Ok("2019-02-28".into())
    );
    assert_eq!(s(dt("2014").add(400, CalendarUnit::Day)), Ok("2015".into()));
    assert_eq!(
        s(dt("2014-01").add(60, CalendarUnit::Day)),
        Ok("2014-03".into())
    );
    assert_eq!(
        s(dt("2024-03-05T10").add(90, CalendarUnit::Minute)),
        Ok("2024-03-05T11".into())
    );
    assert_eq!(
        d("2019-03-01")
            .add(36, CalendarUnit::Hour)
            .map(|v| v.to_string()),
        Ok("2019-03-02".into())
    );
}

#[test]
fn time_arithmetic_wraps_and_refuses_dates() {
    assert_eq!(
        t("23:30")
            .add(45, CalendarUnit::Minute)
            .map(|v| v.to_string()),
        Ok("00:15".into())
    );
    assert_eq!(
        t("00:15")
            .add(-30, CalendarUnit::Minute)
            .map(|v| v.to_string()),
        Ok("23:45".into())
    );
    assert_eq!(
        t("10").add(90, CalendarUnit::Minute).map(|v| v.to_string()),
        Ok("11".into())
    );
    assert_eq!(
        t("10:00").add(1, CalendarUnit::Day),
        Err(TemporalError::UnitNotApplicable {
            unit: CalendarUnit::Day,
            target: Target::Time
        })
    );
    assert!(t("10:00").add(i64::MAX, CalendarUnit::Hour).is_ok());
}

#[test]
fn arithmetic_overflow_is_an_error() {
    assert_eq!(
        d("9999-12-31").add(1, CalendarUnit::Day),
        Err(TemporalError::Overflow)
    );
    assert_eq!(
        d("0001").add(-1, CalendarUnit::Year),
        Err(TemporalError::Overflow)
    );
    assert_eq!(
        dt("2024-03-05T10:00Z").add(i64::MAX, CalendarUnit::Hour),
        Err(TemporalError::Overflow)
    );
    assert_eq!(
        dt("2024-03").add(i64::MIN, CalendarUnit::Month),
        Err(TemporalError::Overflow)
    );
    assert_eq!(
        dt("2024").add(Decimal::MAX, CalendarUnit::Year),
        Err(TemporalError::Overflow)
    );
    assert_eq!(
        dt("2024-03-05T10:00:00.000Z").add(Decimal::MAX, CalendarUnit::Second),
        Err(TemporalError::Overflow)
    );
}

#[test]
fn bounds_in_epoch_millis() {
    assert_eq!(dt("1970-01-01T00:00:00.000Z").lower_bound_millis(0), 0);
    assert_eq!(dt("1970").upper_bound_millis(0), 365 * 86_400_000 - 1);
    assert_eq!(dt("1970-01-01T01:00+01:00").lower_bound_millis(0), 0);
    assert_eq!(dt("1970-01-01").lower_bound_millis(60), -3_600_000);
    assert_eq!(
        dt("2024-02").upper_bound_millis(0),
        dt("2024-02-29T23:59:59.999Z").lower_bound_millis(0)
    );
    assert_eq!(
        dt("2024-02-29T10:20Z").upper_bound_millis(0),
        dt("2024-02-29T10:20:59.999Z").lower_bound_millis(0)
    );
    assert_eq!(d("2000-03-01").lower_bound_millis(0), 951_868_800_000);
}

#[test]
fn epoch_millis_round_trip() {
    let v = DateTime::from_epoch_millis(1_709_634_030_123, 60);
    assert_eq!(
        v.map(|v| v.to_string()),
        Ok("2024-03-05T11:20:30.123+01:00".into())
    );
    assert!(DateTime::from_epoch_millis(0, 15 * 60).is_err());
    assert_eq!(
        DateTime::from_epoch_millis(i64::MAX, 0),
        Err(TemporalError::Overflow)
    );
    let now = dt("2024-03-05T23:30:00.000-05:00");
    assert_eq!(Date::today_from(&now).to_string(), "2024-03-05");
}

#[test]
fn conversions() {
    let v = dt("2024-03-05T10:20:30.123+01:00");
    assert_eq!(v.date(), d("2024-03-05"));
    assert_eq!(v.time_of_day(), Some(t("10:20:30.123")));
    assert_eq!(DateTime::from(d("2024-03")).precision(), Precision::Month);
    assert_eq!(dt("2024-03-05").time_of_day(), None);
    assert!(DateTime::new(d("2024-03"), Some(t("10")), None).is_err());
    assert!(DateTime::new(d("2024-03-05"), None, Some(60)).is_err());
    assert!(DateTime::new(d("2024-03-05"), Some(t("10")), Some(900)).is_err());
    assert!(Date::new(2023, Some(2), Some(29)).is_err());
    assert!(Date::new(2024, None, Some(1)).is_err());
    assert!(Time::new(10, None, Some(1), None).is_err());
    assert_eq!(
        CalendarUnit::from_keyword("weeks"),
        Some(CalendarUnit::Week)
    );
    assert_eq!(CalendarUnit::from_keyword("fortnight"), None);
}

#[test]
fn civil_day_algorithms_agree_with_chrono() {
    use chrono::{Datelike, NaiveDate};
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1);
    for days in (-719_162i64..2_932_896).step_by(997) {
        let (y, m, dd) = arith::civil_from_days(days);
        assert_eq!(arith::days_from_civil(y, m, dd), days);
        let c = epoch.and_then(|e| e.checked_add_signed(chrono::Duration::days(days)));
        let c = c.map(|c| {
            (
                i64::from(c.year()),
                i64::from(c.month()),
                i64::from(c.day()),
            )
        });
        assert_eq!(c, Some((y, m, dd)));
    }
}

fn arb_datetime() -> impl Strategy<Value = DateTime> {
    (
        1i32..=9999,
        0u8..=12,
        1u8..=31,
        0u8..=4,
        (0u8..24, 0u8..60, 0u8..60, 0u16..1000),
        proptest::option::of(-840i32..=840),
    )
        .prop_filter_map("valid", |(y, m, day, depth, (h, mi, s, ms), off)| {
            let month = (m > 0).then_some(m);
            let day = month.map(|m| day.min(days_in_month(y, m)));
            let date = Date::new(y, month, day).ok()?;
            if day.is_none() || depth == 0 {
                return Some(DateTime::from(date));
            }
            let time = Time::new(
                h,
                (depth >= 2).then_some(mi),
                (depth >= 3).then_some(s),
                (depth >= 4).then_some(ms),
            )
            .ok()?;
            DateTime::new(date, Some(time), off).ok()
        })
}

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC{0,40}") {
        let _ = Date::parse(&s);
        let _ = DateTime::parse(&s);
        let _ = Time::parse(&s);
    }

    #[test]
    fn parsers_never_panic_on_near_valid(s in "[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,12})?)?)?([Z+-][0-9:]{0,6})?)?)?)?") {
        let _ = Date::parse(&s);
        if let Ok(v) = DateTime::parse(&s) {
            prop_assert!(v.lower_bound_millis(0) <= v.upper_bound_millis(0));
        }
    }

    #[test]
    fn display_round_trips(v in arb_datetime()) {
        prop_assert_eq!(DateTime::parse(&v.to_string()), Ok(v));
        prop_assert_eq!(Date::parse(&v.date().to_string()), Ok(v.date()));
        if let Some(t) = v.time_of_day() {
            prop_assert_eq!(Time::parse(&t.to_string()), Ok(t));
        }
        prop_assert_eq!(v.compare(&v), Some(Ordering::Equal));
    }

    #[test]
    fn ordering_agrees_with_bounds(a in arb_datetime(), b in arb_datetime()) {
        if let Some(ord) = a.compare(&b) {
            prop_assert_eq!(b.compare(&a), Some(ord.reverse()));
            let both_dates = a.time_of_day().is_none() && b.time_of_day().is_none();
            let both_times = a.time_of_day().is_some() && b.time_of_day().is_some();
            if ord == Ordering::Less && both_dates {
                prop_assert!(a.upper_bound_millis(0) < b.lower_bound_millis(0));
            }
            if ord == Ordering::Less && both_times {
                prop_assert!(a.lower_bound_millis(0) < b.upper_bound_millis(0));
            }
            if ord == Ordering::Equal && a.precision() == b.precision() && both_times {
                prop_assert_eq!(a.lower_bound_millis(0), b.lower_bound_millis(0));
            }
        }
    }

    #[test]
    fn adding_days_then_subtracting_returns(v in arb_datetime(), n in -100_000i64..100_000) {
        if v.precision() >= Precision::Day {
            if let Ok(w) = v.add(n, CalendarUnit::Day) {
                prop_assert_eq!(w.add(-n, CalendarUnit::Day), Ok(v));
            }
        }
    }
}
