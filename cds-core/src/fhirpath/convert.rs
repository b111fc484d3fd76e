//! Conversions: FHIR primitives to System values, and the `toX()` / `convertsToX()` rules.

use super::quantity::{Quantity, QuantityRef};
use super::value::{FhirNode, Item, Str};
use crate::model::{self, SystemType};
use crate::temporal::{Date, DateTime, Time};
use rust_decimal::Decimal;
use serde_json::Value as Json;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

/// The model's `Quantity` type (cached).
pub(crate) fn quantity_type() -> Option<model::TypeRef> {
    static Q: OnceLock<Option<model::TypeRef>> = OnceLock::new();
    *Q.get_or_init(|| model::type_named("FHIR.Quantity"))
}

/// A JSON number as a Decimal.
pub(crate) fn json_decimal(n: &serde_json::Number) -> Option<Decimal> {
    if let Some(i) = n.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(Decimal::from(u));
    }
    let f = n.as_f64()?;
    // The shortest text that reads back as the same double keeps the written digits; it is
    // written into a stack buffer to keep this hot path free of allocation.
    let mut buf = [0u8; 40];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if std::io::Write::write_fmt(&mut cursor, format_args!("{f}")).is_ok() {
        let len = usize::try_from(cursor.position()).unwrap_or(0);
        if let Some(d) = buf
            .get(..len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| Decimal::from_str(t).ok())
        {
            return Some(d);
        }
    }
    Decimal::from_scientific(&format!("{f:e}")).ok()
}

/// A FHIR node as a System value, by its FHIR type (or, when the type is unknown, by the
/// kind of JSON value). `None` for complex nodes other than quantities, and for primitives
/// that carry only extensions.
pub(crate) fn node_to_system<'a>(n: &FhirNode<'a>) -> Option<Item<'a>> {
    let json = n.json;
    let Some(t) = n.ty else {
        return json_to_system(json);
    };
    if let Some(sys) = model::system_type_of_primitive(t) {
        return Some(match (sys, json) {
            (_, Json::Null) => return None,
            (SystemType::Boolean, Json::Bool(b)) => Item::Boolean(*b),
            (SystemType::Integer, Json::Number(x)) => match x.as_i64() {
                Some(i) => Item::Integer(i),
                None => Item::Decimal(json_decimal(x)?),
            },
            (SystemType::Decimal, Json::Number(x)) => Item::Decimal(json_decimal(x)?),
            (SystemType::Date, Json::String(s)) => match Date::parse(s) {
                Ok(d) => Item::Date(d),
                Err(_) => Item::String(Str::Borrowed(s)),
            },
            (SystemType::DateTime, Json::String(s)) => match DateTime::parse(s) {
                Ok(d) => Item::DateTime(d),
                Err(_) => Item::String(Str::Borrowed(s)),
            },
            (SystemType::Time, Json::String(s)) => match Time::parse(s) {
                Ok(d) => Item::Time(d),
                Err(_) => Item::String(Str::Borrowed(s)),
            },
            _ => return json_to_system(json),
        });
    }
    if quantity_type().is_some_and(|q| model::is_subtype_of(t, q)) {
        return node_quantity(json).map(|q| Item::Quantity(Arc::new(q)));
    }
    None
}

/// A FHIR `Quantity` object as a System quantity (unit from `code`, else `unit`).
pub(crate) fn node_quantity(json: &Json) -> Option<Quantity> {
    let q = node_quantity_parts(json)?;
    Some(Quantity::ucum(q.value, q.unit))
}

/// The parts of a FHIR `Quantity` object, borrowed (see [`node_quantity`]).
pub(crate) fn node_quantity_parts(json: &Json) -> Option<QuantityRef<'_>> {
    use super::json_key::get;
    let value = json_decimal(get(json, "value")?.as_number()?)?;
    let unit = get(json, "code")
        .and_then(Json::as_str)
        .or_else(|| get(json, "unit").and_then(Json::as_str))
        .unwrap_or("1");
    Some(QuantityRef::ucum(value, unit))
}

fn json_to_system(json: &Json) -> Option<Item<'_>> {
    match json {
        Json::Bool(b) => Some(Item::Boolean(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Some(Item::Integer(i)),
            _ => json_decimal(n).map(Item::Decimal),
        },
        Json::String(s) => Some(Item::String(Str::Borrowed(s))),
        _ => None,
    }
}

/// `toBoolean()`.
pub(crate) fn to_boolean(item: &Item<'_>) -> Option<bool> {
    match item {
        Item::Boolean(b) => Some(*b),
        Item::Integer(1) => Some(true),
        Item::Integer(0) => Some(false),
        Item::Decimal(d) if *d == Decimal::ONE => Some(true),
        Item::Decimal(d) if d.is_zero() => Some(false),
        Item::String(s) => match s.as_str().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(true),
            "false" | "f" | "no" | "n" | "0" | "0.0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `toInteger()`.
pub(crate) fn to_integer(item: &Item<'_>) -> Option<i64> {
    match item {
        Item::Integer(i) => Some(*i),
        Item::Boolean(b) => Some(i64::from(*b)),
        Item::String(s) => {
            let t = s.as_str();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        }
        _ => None,
    }
}

/// `toDecimal()`.
pub(crate) fn to_decimal(item: &Item<'_>) -> Option<Decimal> {
    match item {
        Item::Decimal(d) => Some(*d),
        Item::Integer(i) => Some(Decimal::from(*i)),
        Item::Boolean(b) => Some(if *b { Decimal::ONE } else { Decimal::ZERO }),
        Item::String(s) => parse_decimal(s.as_str()),
        _ => None,
    }
}

/// A FHIRPath decimal in text form: `[+-]digits[.digits]`.
pub(crate) fn parse_decimal(t: &str) -> Option<Decimal> {
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return None;
    }
    Decimal::from_str(t.strip_prefix('+').unwrap_or(t)).ok()
}

/// `toString()`.
pub(crate) fn to_string(item: &Item<'_>) -> Option<String> {
    match item {
        Item::Node(_) | Item::Type(_) => None,
        Item::DateTime(d) => Some(d.to_string()),
        other => Some(other.to_string()),
    }
}

/// `toQuantity()`: numbers get unit `'1'`; strings in the form `value unit`, where the unit
/// is a quoted UCUM code or a calendar keyword.
pub(crate) fn to_quantity(item: &Item<'_>) -> Option<Quantity> {
    match item {
        Item::Quantity(q) => Some((**q).clone()),
        Item::Integer(i) => Some(Quantity::ucum(Decimal::from(*i), "1")),
        Item::Decimal(d) => Some(Quantity::ucum(*d, "1")),
        Item::Boolean(b) => Some(Quantity::ucum(
            if *b { Decimal::ONE } else { Decimal::ZERO },
            "1",
        )),
        Item::String(s) => parse_quantity_text(s.as_str()),
        _ => None,
    }
}

fn parse_quantity_text(t: &str) -> Option<Quantity> {
    let t = t.trim();
    let (num, rest) = match t.find(' ') {
        Some(i) => (&t[..i], t[i..].trim_start()),
        None => (t, ""),
    };
    let value = parse_decimal(num)?;
    if rest.is_empty() {
        return Some(Quantity::ucum(value, "1"));
    }
    if let Some(code) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Some(Quantity::ucum(value, code));
    }
    let unit = crate::temporal::CalendarUnit::from_keyword(rest)?;
    Some(Quantity::calendar(value, unit, rest))
}

/// `toDate()`.
pub(crate) fn to_date(item: &Item<'_>) -> Option<Date> {
    match item {
        Item::Date(d) => Some(*d),
        Item::DateTime(d) => Some(d.date()),
        Item::String(s) => Date::parse(s.as_str())
            .ok()
            .or_else(|| DateTime::parse(s.as_str()).ok().map(|d| d.date())),
        _ => None,
    }
}

/// `toDateTime()`.
pub(crate) fn to_datetime(item: &Item<'_>) -> Option<DateTime> {
    match item {
        Item::DateTime(d) => Some(*d),
        Item::Date(d) => Some(DateTime::from(*d)),
        Item::String(s) => DateTime::parse(s.as_str()).ok(),
        _ => None,
    }
}

/// `toTime()`.
pub(crate) fn to_time(item: &Item<'_>) -> Option<Time> {
    match item {
        Item::Time(t) => Some(*t),
        Item::String(s) => Time::parse(s.as_str().strip_prefix('T').unwrap_or(s.as_str())).ok(),
        _ => None,
    }
}
