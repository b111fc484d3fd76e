//! The bridge from FHIRPath quantities to [`crate::ucum`]: conversion between UCUM units and
//! quantity arithmetic with unit algebra.

use super::quantity::Quantity;
use crate::ucum::{self, QuantityUnit};
use rust_decimal::Decimal;

fn to_ucum(q: &Quantity) -> Option<ucum::Quantity> {
    match q.calendar {
        Some(c) => Some(ucum::Quantity::calendar(q.value, c)),
        None => ucum::Quantity::ucum(q.value, &q.unit).ok(),
    }
}

fn from_ucum(q: ucum::Quantity) -> Quantity {
    match &q.unit {
        QuantityUnit::Calendar(c) => Quantity::calendar(q.value, *c, c.singular()),
        QuantityUnit::Ucum(u) => Quantity {
            value: q.value,
            unit: u.code().into(),
            calendar: None,
        },
    }
}

/// `value` in unit `from` expressed in unit `to`; `None` when the units are not commensurable
/// or unknown.
pub(crate) fn convert(value: Decimal, from: &str, to: &str) -> Option<Decimal> {
    if from == to {
        return Some(value);
    }
    ucum::Quantity::ucum(value, from)
        .ok()?
        .convert_to_code(to)
        .ok()
        .map(|q| q.value)
}

/// The quantity expressed in `unit` (for `toQuantity(unit)`).
pub(crate) fn convert_quantity(q: &Quantity, unit: &str) -> Option<Quantity> {
    if *q.unit == *unit {
        return Some(q.clone());
    }
    to_ucum(q)?.convert_to_code(unit).ok().map(from_ucum)
}

/// Whether two quantities can be compared.
pub(crate) fn comparable(a: &Quantity, b: &Quantity) -> bool {
    a.compare(b).is_some()
}

/// `a + b` (or `a - b`), in `a`'s unit.
pub(crate) fn add(a: &Quantity, b: &Quantity, subtract: bool) -> Option<Quantity> {
    if a.unit == b.unit {
        let v = if subtract {
            a.value.checked_sub(b.value)?
        } else {
            a.value.checked_add(b.value)?
        };
        let mut q = a.clone();
        q.value = v;
        return Some(q);
    }
    let (x, y) = (to_ucum(a)?, to_ucum(b)?);
    let r = if subtract { x.sub(&y) } else { x.add(&y) };
    r.ok().map(from_ucum)
}

/// `a * b`.
pub(crate) fn multiply(a: &Quantity, b: &Quantity) -> Option<Quantity> {
    to_ucum(a)?.mul(&to_ucum(b)?).ok().map(from_ucum)
}

/// `a / b`.
pub(crate) fn divide(a: &Quantity, b: &Quantity) -> Option<Quantity> {
    to_ucum(a)?.div(&to_ucum(b)?).ok().map(from_ucum)
}
