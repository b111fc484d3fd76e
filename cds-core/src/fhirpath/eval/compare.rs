//! Equality (`=`), equivalence (`~`) and ordering (`<` ...) of items and collections.

use crate::fhirpath::value::{Collection, FhirNode, Item};
use crate::model::SystemType;
use crate::temporal::{Date, DateTime};
use rust_decimal::Decimal;
use serde_json::Value as Json;
use std::cmp::Ordering;

/// Equality of two single items: `Some(true|false)`, or `None` when it cannot be decided
/// (date/times of different precision, incomparable quantities).
pub(crate) fn item_equals(a: &Item<'_>, b: &Item<'_>, offset: i32) -> Option<bool> {
    match (a, b) {
        (Item::Node(n), Item::String(t)) | (Item::String(t), Item::Node(n)) => {
            if let Some(s) = string_primitive(n) {
                return Some(s == t.as_str());
            }
        }
        _ => {}
    }
    if let (Item::Node(x), Item::Node(y)) = (a, b) {
        if !is_primitive_like(a) || !is_primitive_like(b) {
            return Some(json_equal(x.json, y.json));
        }
    }
    let (Some(a), Some(b)) = (a.to_system(), b.to_system()) else {
        return Some(false);
    };
    match (&a, &b) {
        (Item::Boolean(x), Item::Boolean(y)) => Some(x == y),
        (Item::String(x), Item::String(y)) => Some(x.as_str() == y.as_str()),
        (Item::Integer(x), Item::Integer(y)) => Some(x == y),
        (Item::Integer(_) | Item::Decimal(_), Item::Integer(_) | Item::Decimal(_)) => {
            Some(num(&a)? == num(&b)?)
        }
        (Item::Quantity(x), Item::Quantity(y)) => x.compare(y).map(|o| o == Ordering::Equal),
        (Item::Time(x), Item::Time(y)) => x.equals(y),
        (Item::Type(x), Item::Type(y)) => Some(x == y),
        _ => match temporal_pair(&a, &b) {
            Some((x, y)) => x.equals_with_default_offset(&y, offset),
            None => Some(false),
        },
    }
}

/// Equivalence of two single items.
pub(crate) fn item_equivalent(a: &Item<'_>, b: &Item<'_>, offset: i32) -> bool {
    if let (Item::Node(x), Item::Node(y)) = (a, b) {
        if !is_primitive_like(a) || !is_primitive_like(b) {
            return json_equal(x.json, y.json);
        }
    }
    let (Some(a), Some(b)) = (a.to_system(), b.to_system()) else {
        return false;
    };
    match (&a, &b) {
        (Item::Boolean(x), Item::Boolean(y)) => x == y,
        (Item::String(x), Item::String(y)) => string_equivalent(x.as_str(), y.as_str()),
        (Item::Integer(_) | Item::Decimal(_), Item::Integer(_) | Item::Decimal(_)) => {
            match (num(&a), num(&b)) {
                (Some(x), Some(y)) => decimal_equivalent(x, y),
                _ => false,
            }
        }
        (Item::Quantity(x), Item::Quantity(y)) => x.equivalent(y),
        (Item::Time(x), Item::Time(y)) => x.equivalent(y),
        (Item::Type(x), Item::Type(y)) => x == y,
        _ => match temporal_pair(&a, &b) {
            Some((x, y)) => x.equivalent_with_default_offset(&y, offset),
            None => false,
        },
    }
}

/// Ordering of two single System-convertible items; `Err(())` when the types cannot be
/// compared, `Ok(None)` when the answer is unknown (partial precision).
pub(crate) fn item_compare(
    a: &Item<'_>,
    b: &Item<'_>,
    offset: i32,
) -> Result<Option<Ordering>, ()> {
    match (a, b) {
        (Item::Node(n), Item::Integer(i)) => {
            if let Some(x) = float_primitive(n) {
                if let Some(o) = float_cmp_integer(x, *i) {
                    return Ok(Some(o));
                }
            }
        }
        (Item::Node(n), Item::Quantity(q)) if is_quantity_node(n) => {
            // Read in place, without building a System quantity.
            if let Some(x) = crate::fhirpath::convert::node_quantity_parts(n.json) {
                return Ok(x.compare(q.parts()));
            }
        }
        (Item::Integer(i), Item::Node(n)) => {
            if let Some(x) = float_primitive(n) {
                if let Some(o) = float_cmp_integer(x, *i) {
                    return Ok(Some(o.reverse()));
                }
            }
        }
        _ => {}
    }
    let (Some(a), Some(b)) = (a.to_system(), b.to_system()) else {
        return Err(());
    };
    match (&a, &b) {
        (Item::Integer(x), Item::Integer(y)) => Ok(Some(x.cmp(y))),
        (Item::Integer(_) | Item::Decimal(_), Item::Integer(_) | Item::Decimal(_)) => {
            Ok(Some(num(&a).ok_or(())?.cmp(&num(&b).ok_or(())?)))
        }
        (Item::String(x), Item::String(y)) => Ok(Some(x.as_str().cmp(y.as_str()))),
        (Item::Quantity(x), Item::Quantity(y)) => Ok(x.compare(y)),
        (Item::Time(x), Item::Time(y)) => Ok(x.compare(y)),
        _ => match temporal_pair(&a, &b) {
            Some((x, y)) => Ok(x.compare_with_default_offset(&y, offset)),
            None => Err(()),
        },
    }
}

/// The text of a primitive node whose System value is a String (read without conversion).
fn string_primitive<'a>(n: &FhirNode<'a>) -> Option<&'a str> {
    let Json::String(s) = n.json else {
        return None;
    };
    match n.ty {
        None => Some(s),
        Some(t) => (crate::model::system_type_of_primitive(t) == Some(SystemType::String))
            .then_some(s.as_str()),
    }
}

/// The value of a primitive node written as a JSON floating-point number, whose System value
/// is the Decimal with the shortest text that reads back as this double.
fn float_primitive(n: &FhirNode<'_>) -> Option<f64> {
    let Json::Number(x) = n.json else {
        return None;
    };
    if !x.is_f64() {
        return None;
    }
    if let Some(t) = n.ty {
        crate::model::system_type_of_primitive(t)?;
    }
    x.as_f64()
}

/// The order of a double and an integer, without converting the double to a Decimal. Reading
/// a decimal text as the nearest double is monotonic, and integers up to 2^53 are doubles
/// exactly, so the double orders against such an integer as its shortest decimal text does.
/// `None` outside that range (and beyond the range of Decimal), where the slow path decides.
fn float_cmp_integer(x: f64, i: i64) -> Option<Ordering> {
    const EXACT: i64 = 1 << 53;
    if !(-EXACT..=EXACT).contains(&i) || x.abs() >= 1e27 {
        return None;
    }
    x.partial_cmp(&(i as f64))
}

/// Whether the node is a FHIR `Quantity` (or a subtype such as `Age`).
fn is_quantity_node(n: &FhirNode<'_>) -> bool {
    n.ty.is_some_and(|t| {
        crate::fhirpath::convert::quantity_type().is_some_and(|q| crate::model::is_subtype_of(t, q))
    })
}

fn is_primitive_like(item: &Item<'_>) -> bool {
    match item {
        Item::Node(n) => match n.ty {
            Some(t) => {
                t.is_primitive()
                    || crate::fhirpath::convert::quantity_type()
                        .is_some_and(|q| crate::model::is_subtype_of(t, q))
            }
            None => !matches!(n.json, Json::Object(_) | Json::Array(_)),
        },
        _ => true,
    }
}

fn num(item: &Item<'_>) -> Option<Decimal> {
    match item {
        Item::Integer(i) => Some(Decimal::from(*i)),
        Item::Decimal(d) => Some(*d),
        _ => None,
    }
}

/// Date and date-time operands as date-times (a string is read as either when the other side
/// is temporal, for nodes whose type the model does not know).
fn temporal_pair(a: &Item<'_>, b: &Item<'_>) -> Option<(DateTime, DateTime)> {
    fn as_dt(item: &Item<'_>, other_is_temporal: bool) -> Option<DateTime> {
        match item {
            Item::DateTime(d) => Some(*d),
            Item::Date(d) => Some(DateTime::from(*d)),
            Item::String(s) if other_is_temporal => DateTime::parse(s.as_str())
                .ok()
                .or_else(|| Date::parse(s.as_str()).ok().map(DateTime::from)),
            _ => None,
        }
    }
    let ta = matches!(a, Item::Date(_) | Item::DateTime(_));
    let tb = matches!(b, Item::Date(_) | Item::DateTime(_));
    if !ta && !tb {
        return None;
    }
    // A Date compared with a Date stays at date precision; mixed kinds compare as date-times.
    Some((as_dt(a, tb)?, as_dt(b, ta)?))
}

/// Strings are equivalent ignoring case and with whitespace runs normalised to one space.
pub(crate) fn string_equivalent(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .flat_map(|w| {
                w.chars()
                    .flat_map(char::to_lowercase)
                    .chain(std::iter::once(' '))
            })
            .collect::<String>()
    };
    norm(a) == norm(b)
}

/// Decimals are equivalent when equal at the precision (scale) of the less precise one.
pub(crate) fn decimal_equivalent(a: Decimal, b: Decimal) -> bool {
    let scale = a.scale().min(b.scale());
    let round = |d: Decimal| {
        d.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    };
    round(a) == round(b)
}

/// Structural JSON equality (object key order ignored).
pub(crate) fn json_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_equal(v, w))
        }
        _ => a == b,
    }
}

/// `=` on collections: empty if either is empty; false if sizes differ; else item-wise in
/// order, empty if any item comparison is undecided.
pub(crate) fn collections_equal(
    a: &Collection<'_>,
    b: &Collection<'_>,
    offset: i32,
) -> Option<bool> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a.len() != b.len() {
        return Some(false);
    }
    let mut all = true;
    for (x, y) in a.iter().zip(b.iter()) {
        match item_equals(x, y, offset) {
            Some(true) => {}
            Some(false) => all = false,
            None => return None,
        }
    }
    Some(all)
}

/// `~` on collections: both empty is true; otherwise same size and every item of `a` has an
/// equivalent item in `b` (order ignored).
pub(crate) fn collections_equivalent(a: &Collection<'_>, b: &Collection<'_>, offset: i32) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    'outer: for x in a.iter() {
        for (j, y) in b.iter().enumerate() {
            if !used[j] && item_equivalent(x, y, offset) {
                used[j] = true;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// Whether `item` is in `c` by equality (used by `in`, `contains`, `distinct`, `union`...).
pub(crate) fn contains_item(c: &[Item<'_>], item: &Item<'_>, offset: i32) -> bool {
    c.iter().any(|x| item_equals(x, item, offset) == Some(true))
}
