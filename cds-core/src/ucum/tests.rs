//! Tests of the UCUM module: a table over the clinical units, temperatures, errors, algebra.

use std::cmp::Ordering;
use std::str::FromStr;
use std::sync::Arc;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::temporal::CalendarUnit;

fn dec(s: &str) -> Decimal {
    match Decimal::from_str(s) {
        Ok(d) => d,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn unit(code: &str) -> Arc<Unit> {
    match Unit::parse(code) {
        Ok(u) => u,
        Err(e) => panic!("{code}: {e}"),
    }
}

fn q(value: &str, code: &str) -> Quantity {
    match Quantity::ucum(dec(value), code) {
        Ok(q) => q,
        Err(e) => panic!("{code}: {e}"),
    }
}

fn syntax(code: &str) -> (usize, UnitProblem) {
    match Unit::parse(code) {
        Err(UcumError::Syntax { offset, problem }) => (offset, problem),
        other => panic!("{code}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn atom_table_resolves() {
    assert!(atoms::unresolved().is_empty(), "{:?}", atoms::unresolved());
}

/// (code, reference code of the same dimension, how many reference units one unit is).
const TABLE: &[(&str, &str, &str)] = &[
    ("mm[Hg]", "Pa", "133.322"),
    ("kPa", "Pa", "1000"),
    ("bar", "kPa", "100"),
    ("cm[H2O]", "Pa", "98.0665"),
    ("kg", "g", "1000"),
    ("g", "g", "1"),
    ("mg", "g", "0.001"),
    ("ug", "g", "0.000001"),
    ("[lb_av]", "g", "453.59237"),
    ("[oz_av]", "g", "28.349523125"),
    ("mg/dL", "g/L", "0.01"),
    ("g/L", "mg/dL", "100"),
    ("g/dL", "g/L", "10"),
    ("mg/L", "g/L", "0.001"),
    ("ug/L", "g/L", "0.000001"),
    ("mg%", "mg/dL", "1"),
    ("mmol/L", "mol/L", "0.001"),
    ("umol/L", "mmol/L", "0.001"),
    ("mol/L", "mmol/L", "1000"),
    ("meq/L", "eq/L", "0.001"),
    ("%", "1", "0.01"),
    ("{score}", "1", "1"),
    ("/min", "/s", "0.016666666666666666667"),
    ("{beats}/min", "/min", "1"),
    ("{breaths}/min", "/h", "60"),
    ("s", "s", "1"),
    ("ms", "s", "0.001"),
    ("min", "s", "60"),
    ("h", "min", "60"),
    ("d", "h", "24"),
    ("wk", "d", "7"),
    ("mo", "d", "30.4375"),
    ("a", "d", "365.25"),
    ("a", "mo", "12"),
    ("m", "cm", "100"),
    ("cm", "mm", "10"),
    ("mm", "m", "0.001"),
    ("[in_i]", "cm", "2.54"),
    ("[ft_i]", "[in_i]", "12"),
    ("[ft_i]", "m", "0.3048"),
    ("kg/m2", "g/cm2", "0.1"),
    ("L", "mL", "1000"),
    ("dL", "mL", "100"),
    ("mL", "cm3", "1"),
    ("L", "dm3", "1"),
    ("mL/min/{1.73_m2}", "L/h", "0.06"),
    ("10*3/uL", "10*9/L", "1"),
    ("10*9/L", "/mL", "1000000"),
    ("[IU]/L", "m[IU]/mL", "1"),
    ("[iU]/L", "[IU]/mL", "0.001"),
    ("U/L", "mU/mL", "1"),
    ("U", "umol/min", "1"),
    ("K", "K", "1"),
    ("[degF]/h", "K/h", "0.55555555555555555556"),
    ("kcal", "J", "4184"),
    ("m/s2", "cm/s2", "100"),
    ("(kg.m)/(s2)", "N", "1"),
    ("N.m", "J", "1"),
    ("s-1", "Hz", "1"),
    ("[pH]", "[pH]", "1"),
    ("[CFU]/mL", "[CFU]/L", "1000"),
    ("1", "1", "1"),
];

#[test]
fn clinical_unit_table() {
    for (code, reference, factor) in TABLE {
        let u = unit(code);
        let r = unit(reference);
        assert!(u.is_commensurable(&r), "{code} vs {reference}");
        assert_eq!(u.dimension(), r.dimension(), "{code}");
        let got = u.convert_value(Decimal::ONE, &r);
        assert_eq!(got, Ok(dec(factor).normalize()), "{code} -> {reference}");
        // And back.
        let back = got
            .and_then(|v| r.convert_value(v, &u))
            .map(|v| v.round_sf(15));
        assert_eq!(
            back,
            Ok(Some(Decimal::ONE.round_sf(15).unwrap_or(Decimal::ONE))),
            "{code} round trip"
        );
    }
}

#[test]
fn dimensions_that_must_not_mix() {
    let pairs = [
        ("mm[Hg]", "kg"),
        ("mmol/L", "mg/dL"),
        ("mmol/L", "meq/L"),
        ("[IU]/L", "U/L"),
        ("[IU]", "[arb'U]"),
        ("%", "mg"),
        ("/min", "{beats}"),
        ("kg/m2", "kg"),
        ("Cel", "s"),
        ("[pH]", "1"),
    ];
    for (a, b) in pairs {
        assert!(!unit(a).is_commensurable(&unit(b)), "{a} vs {b}");
        assert_eq!(q("1", a).compare(&q("1", b)), None, "{a} vs {b}");
        assert_eq!(q("1", a).equals(&q("1", b)), None);
        assert!(!q("1", a).equivalent(&q("1", b)));
        assert_eq!(q("1", a).add(&q("1", b)), Err(UcumError::Incommensurable));
    }
}

#[test]
fn required_conversions() {
    let kpa = q("120", "mm[Hg]").convert_to_code("kPa").map(|q| q.value);
    assert_eq!(kpa, Ok(dec("15.99864")));
    assert_eq!(kpa.map(|v| v.round_dp(1)), Ok(dec("16.0")));
    assert_eq!(
        q("98.6", "[degF]")
            .convert_to_code("Cel")
            .map(|q| q.value.round_dp(10)),
        Ok(dec("37"))
    );
    assert_eq!(
        q("1", "[lb_av]").convert_to_code("g").map(|q| q.value),
        Ok(dec("453.59237"))
    );
    assert_eq!(
        q("100", "mg/dL").convert_to_code("g/L").map(|q| q.value),
        Ok(dec("1"))
    );
}

#[test]
fn affine_temperatures() {
    let cases = [
        ("37", "Cel", "[degF]", "98.6"),
        ("98.6", "[degF]", "Cel", "37"),
        ("0", "Cel", "K", "273.15"),
        ("273.15", "K", "Cel", "0"),
        ("-40", "Cel", "[degF]", "-40"),
        ("32", "[degF]", "Cel", "0"),
        ("212", "[degF]", "K", "373.15"),
        ("0", "K", "[degF]", "-459.67"),
        ("80", "[degRe]", "Cel", "100"),
    ];
    for (v, from, to, want) in cases {
        let got = q(v, from).convert_to_code(to).map(|q| q.value.round_dp(10));
        assert_eq!(got, Ok(dec(want)), "{v} {from} -> {to}");
    }
    assert_eq!(
        q("37", "Cel").compare(&q("98.6", "[degF]")),
        Some(Ordering::Equal)
    );
    assert_eq!(
        q("38", "Cel").compare(&q("100", "[degF]")),
        Some(Ordering::Greater)
    );
    // Adding intervals ignores offsets.
    assert_eq!(
        q("37", "Cel").add(&q("1", "K")).map(|q| q.to_string()),
        Ok("38 'Cel'".into())
    );
    assert_eq!(
        q("37", "Cel")
            .add(&q("1.8", "[degF]"))
            .map(|q| q.value.round_dp(10)),
        Ok(dec("38"))
    );
    // Inside a compound unit only the scale applies.
    assert!(!unit("Cel/h").is_affine());
    assert!(unit("Cel").is_affine());
    assert_eq!(
        unit("Cel/h").convert_value(Decimal::ONE, &unit("K/h")),
        Ok(Decimal::ONE)
    );
}

#[test]
fn annotations_are_unity() {
    assert_eq!(
        q("72", "{beats}/min").compare(&q("72", "/min")),
        Some(Ordering::Equal)
    );
    assert!(unit("{score}").is_dimensionless());
    assert_eq!(q("5", "{score}").equals(&q("5", "1")), Some(true));
    assert_eq!(
        unit("mL/min/{1.73_m2}").dimension(),
        unit("mL/min").dimension()
    );
    assert_eq!(unit("g{total}").dimension(), unit("g").dimension());
    assert_eq!(unit("{RBC}/uL").dimension(), unit("/uL").dimension());
}

#[test]
fn syntax_errors_have_positions() {
    assert_eq!(syntax(""), (0, UnitProblem::Empty));
    assert_eq!(syntax("mg/xyz"), (3, UnitProblem::UnknownAtom));
    assert_eq!(syntax("k[in_i]"), (0, UnitProblem::PrefixNotAllowed));
    assert_eq!(syntax("kmin"), (0, UnitProblem::PrefixNotAllowed));
    assert_eq!(syntax("m-"), (1, UnitProblem::BadExponent));
    assert_eq!(syntax("m123"), (1, UnitProblem::ExponentTooLarge));
    assert_eq!(syntax("(kg/m2"), (0, UnitProblem::UnbalancedParenthesis));
    assert_eq!(syntax("kg)"), (2, UnitProblem::UnbalancedParenthesis));
    assert_eq!(syntax("mm[Hg"), (2, UnitProblem::UnclosedBracket));
    assert_eq!(syntax("{beats/min"), (0, UnitProblem::UnclosedAnnotation));
    assert_eq!(syntax("mg/"), (3, UnitProblem::ExpectedUnit));
    assert_eq!(syntax("mg//dL"), (3, UnitProblem::ExpectedUnit));
    assert_eq!(syntax("mg dL"), (2, UnitProblem::UnexpectedCharacter));
    assert_eq!(syntax("µg"), (0, UnitProblem::UnexpectedCharacter));
    assert_eq!(syntax("MG"), (0, UnitProblem::UnknownAtom));
    let msg = Unit::parse("mg/xyz").err().map(|e| e.to_string());
    assert_eq!(
        msg.as_deref(),
        Some("invalid UCUM unit at byte 3: unknown unit symbol")
    );
}

#[test]
fn exponents_and_structure() {
    assert_eq!(unit("m2").dimension(), unit("m.m").dimension());
    assert_eq!(unit("s-1").dimension(), unit("/s").dimension());
    assert_eq!(unit("m+2").dimension(), unit("m2").dimension());
    // `.` and `/` have equal precedence, left to right.
    assert_eq!(unit("kg/m.s").dimension(), unit("kg.s/m").dimension());
    assert_eq!(unit("kg/(m.s)").dimension(), unit("kg.m-1.s-1").dimension());
    assert_eq!(
        unit("10*-3").convert_value(Decimal::ONE, &unit("1")),
        Ok(dec("0.001"))
    );
    assert_eq!(
        unit("10^6").convert_value(Decimal::ONE, &unit("1")),
        Ok(dec("1000000"))
    );
    assert_eq!(
        unit("1000/L").convert_value(Decimal::ONE, &unit("/mL")),
        Ok(dec("1"))
    );
    assert_eq!(
        unit("cd").dimension(),
        &Dimension::base(6),
        "candela, not centi-day"
    );
    assert_eq!(unit("Pa").dimension().to_string(), "m-1.g.s-2");
}

#[test]
fn calendar_durations() {
    let week = Quantity::calendar(dec("1"), CalendarUnit::Week);
    let days = Quantity::calendar(dec("7"), CalendarUnit::Day);
    assert_eq!(week.equals(&days), Some(true));
    assert_eq!(week.equals(&q("1", "wk")), Some(true));
    assert_eq!(q("1", "wk").equals(&week), Some(true));
    assert_eq!(
        Quantity::calendar(dec("1"), CalendarUnit::Second).equals(&q("1000", "ms")),
        Some(true)
    );
    let year = Quantity::calendar(dec("1"), CalendarUnit::Year);
    let months = Quantity::calendar(dec("12"), CalendarUnit::Month);
    assert_eq!(year.equals(&months), Some(true));
    assert_eq!(
        year.compare(&Quantity::calendar(dec("13"), CalendarUnit::Month)),
        Some(Ordering::Less)
    );
    // Calendar year vs UCUM `a`: not equal-comparable, but equivalent.
    assert_eq!(year.equals(&q("1", "a")), None);
    assert!(year.equivalent(&q("1", "a")));
    assert!(Quantity::calendar(dec("1"), CalendarUnit::Month).equivalent(&q("1", "mo")));
    assert_eq!(
        year.compare(&Quantity::calendar(dec("365"), CalendarUnit::Day)),
        None
    );
    assert_eq!(
        year.add(&Quantity::calendar(dec("6"), CalendarUnit::Month))
            .map(|q| q.to_string()),
        Ok("1.5 years".into())
    );
    assert_eq!(days.to_string(), "7 days");
    assert_eq!(
        Quantity::calendar(dec("1"), CalendarUnit::Day).to_string(),
        "1 day"
    );
    assert_eq!(year.mul(&q("2", "1")), Err(UcumError::CalendarNotDefinite));
    assert_eq!(
        QuantityUnit::from_keyword("hours"),
        Some(QuantityUnit::Calendar(CalendarUnit::Hour))
    );
}

#[test]
fn equivalence_rounds_to_least_precise() {
    assert!(q("1.0", "g").equivalent(&q("1000", "mg")));
    assert!(q("16.0", "kPa").equivalent(&q("120", "mm[Hg]")));
    assert_eq!(q("16.0", "kPa").equals(&q("120", "mm[Hg]")), Some(false));
    assert!(!q("16.1", "kPa").equivalent(&q("120.00", "mm[Hg]")));
}

#[test]
fn arithmetic_and_unit_algebra() {
    let bmi = q("2", "kg").div(&q("4", "m2"));
    assert_eq!(
        bmi.as_ref().map(|q| q.to_string()),
        Ok("0.5 'kg/m2'".into())
    );
    assert_eq!(
        bmi.map(|b| b.compare(&q("500", "g/m2"))),
        Ok(Some(Ordering::Equal))
    );
    assert_eq!(
        q("2", "kg").mul(&q("3", "m")).map(|q| q.to_string()),
        Ok("6 'kg.m'".into())
    );
    assert_eq!(
        q("10", "mg").div(&q("2", "mL/min")).map(|q| q.to_string()),
        Ok("5 'mg/(mL/min)'".into())
    );
    assert_eq!(
        q("10", "mg")
            .div(&q("2", "mL/min"))
            .map(|r| r.compare(&q("5", "mg.min/mL"))),
        Ok(Some(Ordering::Equal))
    );
    assert_eq!(
        q("1", "g").div(&q("500", "mg")).map(|q| q.to_string()),
        Ok("2 '1'".into())
    );
    assert_eq!(
        q("1", "g").div(&q("0", "mg")),
        Err(UcumError::DivisionByZero)
    );
    assert_eq!(
        q("1", "g").add(&q("500", "mg")).map(|q| q.to_string()),
        Ok("1.5 'g'".into())
    );
    assert_eq!(
        q("1", "g").sub(&q("500", "mg")).map(|q| q.to_string()),
        Ok("0.5 'g'".into())
    );
    assert_eq!(
        q("3", "mg").scale(dec("2")).map(|q| q.to_string()),
        Ok("6 'mg'".into())
    );
    assert_eq!(
        Quantity::calendar(dec("2"), CalendarUnit::Hour)
            .mul(&q("3", "mg/h"))
            .map(|r| r.compare(&q("6", "mg"))),
        Ok(Some(Ordering::Equal))
    );
    assert_eq!(q("1", "[arb'U]").to_string(), "1 '[arb\\'U]'");
}

#[test]
fn cache_returns_shared_units() {
    let a = unit("mg/dL");
    let b = unit("mg/dL");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(a.code(), "mg/dL");
    assert_eq!(
        *a,
        Unit::parse_uncached("mg/dL").unwrap_or_else(|e| panic!("{e}"))
    );
}

fn arb_code() -> impl Strategy<Value = &'static str> {
    prop::sample::select(TABLE.iter().map(|(c, _, _)| *c).collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn unit_parse_never_panics(s in "\\PC{0,24}") {
        let _ = Unit::parse_uncached(&s);
    }

    #[test]
    fn unit_parse_never_panics_on_unit_like(s in "[\\[\\]{}()./0-9a-zA-Z*^+%'_-]{0,16}") {
        let _ = Unit::parse_uncached(&s);
    }

    #[test]
    fn conversion_round_trips(
        pair in prop::sample::select(TABLE.to_vec()),
        mantissa in -1_000_000_000i64..1_000_000_000,
        scale in 0u32..6,
    ) {
        let (a, b, _) = pair;
        let v = Decimal::new(mantissa, scale);
        let qa = Quantity::ucum(v, a);
        prop_assert!(qa.is_ok());
        if let Ok(qa) = qa {
            let there = qa.convert_to_code(b);
            prop_assert!(there.is_ok());
            if let Ok(there) = there {
                let back = there.convert_to_code(a).map(|q| q.value);
                prop_assert!(back.is_ok());
                if let Ok(back) = back {
                    let tolerance = v.abs() * Decimal::new(1, 9) + Decimal::new(1, 12);
                    prop_assert!((back - v).abs() <= tolerance, "{} {} -> {} -> {}", v, a, there, back);
                }
            }
        }
    }

    #[test]
    fn compare_is_antisymmetric(a in arb_code(), x in -1000i64..1000, y in -1000i64..1000) {
        let qa = Quantity::ucum(Decimal::from(x), a);
        let qb = Quantity::ucum(Decimal::from(y), a);
        if let (Ok(qa), Ok(qb)) = (qa, qb) {
            prop_assert_eq!(qa.compare(&qb), Some(x.cmp(&y)));
        }
    }
}
