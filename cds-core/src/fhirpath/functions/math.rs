//! Math functions (`abs`, `ceiling`, `exp`, `floor`, `ln`, `log`, `power`, `round`, `sqrt`,
//! `truncate`) and the precision functions (`precision`, `lowBoundary`, `highBoundary`,
//! `comparable`).

use super::{arg_integer, arg_single, boolean, input_single, type_error};
use crate::fhirpath::ast::{Call, Func};
use crate::fhirpath::eval::{Frame, Res};
use crate::fhirpath::ucum_bridge;
use crate::fhirpath::value::{Collection, Item};
use crate::temporal::Precision;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::MathematicalOps;
use rust_decimal::{Decimal, RoundingStrategy};
use std::sync::Arc;

fn one<'a>(item: Option<Item<'a>>) -> Res<'a> {
    Ok(item.map(Collection::single).unwrap_or_default())
}

fn from_f64<'a>(x: f64) -> Option<Item<'a>> {
    if !x.is_finite() {
        return None;
    }
    Decimal::from_f64(x).map(|d| Item::Decimal(d.normalize()))
}

pub(super) fn call<'a>(
    call: &'a Call,
    input: Collection<'a>,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    let Some(x) = input_single(call, &input)? else {
        return Ok(Collection::empty());
    };
    let num = match &x {
        Item::Integer(i) => Some(Decimal::from(*i)),
        Item::Decimal(d) => Some(*d),
        _ => None,
    };
    match (call.func, &x) {
        (Func::Abs, Item::Integer(i)) => one(i.checked_abs().map(Item::Integer)),
        (Func::Abs, Item::Decimal(d)) => one(Some(Item::Decimal(d.abs()))),
        (Func::Abs, Item::Quantity(q)) => {
            let mut q = (**q).clone();
            q.value = q.value.abs();
            one(Some(Item::Quantity(Arc::new(q))))
        }
        (Func::Ceiling | Func::Floor | Func::Truncate, _) => {
            let Some(d) = num else {
                return Err(type_error(call, "a number", &x));
            };
            let r = match call.func {
                Func::Ceiling => d.ceil(),
                Func::Floor => d.floor(),
                _ => d.trunc(),
            };
            one(r.to_i64().map(Item::Integer))
        }
        (Func::Round, _) => {
            let Some(d) = num else {
                return Err(type_error(call, "a number", &x));
            };
            let digits = arg_integer(call, 0, focus, f)?.unwrap_or(0);
            let Ok(digits) = u32::try_from(digits) else {
                return Ok(Collection::empty());
            };
            one(Some(Item::Decimal(d.round_dp_with_strategy(
                digits,
                RoundingStrategy::MidpointAwayFromZero,
            ))))
        }
        (Func::Exp | Func::Ln | Func::Sqrt | Func::Log | Func::Power, _) => {
            let Some(d) = num else {
                return Err(type_error(call, "a number", &x));
            };
            let v = d.to_f64().unwrap_or(f64::NAN);
            match call.func {
                Func::Exp => one(from_f64(v.exp())),
                Func::Ln => one(from_f64(v.ln())),
                Func::Sqrt => one(from_f64(v.sqrt())),
                Func::Log => {
                    let base = match arg_single(call, 0, focus, f)? {
                        Some(Item::Integer(b)) => b as f64,
                        Some(Item::Decimal(b)) => b.to_f64().unwrap_or(f64::NAN),
                        Some(other) => return Err(type_error(call, "a number", &other)),
                        None => return Ok(Collection::empty()),
                    };
                    one(from_f64(v.ln() / base.ln()))
                }
                _ => {
                    let exp = arg_single(call, 0, focus, f)?;
                    match (&x, exp) {
                        (_, None) => Ok(Collection::empty()),
                        (Item::Integer(b), Some(Item::Integer(e))) => {
                            let r = u32::try_from(e).ok().and_then(|e| b.checked_pow(e));
                            match r {
                                Some(r) => one(Some(Item::Integer(r))),
                                None => one(from_f64((*b as f64).powf(e as f64))),
                            }
                        }
                        (_, Some(Item::Integer(e))) => match d.checked_powi(e) {
                            Some(r) => one(Some(Item::Decimal(r))),
                            None => Ok(Collection::empty()),
                        },
                        (_, Some(Item::Decimal(e))) => {
                            one(from_f64(v.powf(e.to_f64().unwrap_or(f64::NAN))))
                        }
                        (_, Some(other)) => Err(type_error(call, "a number", &other)),
                    }
                }
            }
        }
        (Func::Precision, _) => one(precision_of(&x).map(Item::Integer)),
        (Func::LowBoundary | Func::HighBoundary, _) => {
            let high = call.func == Func::HighBoundary;
            let digits = arg_integer(call, 0, focus, f)?;
            one(boundary(&x, digits, high))
        }
        (Func::Comparable, Item::Quantity(q)) => match arg_single(call, 0, focus, f)? {
            Some(Item::Quantity(other)) => boolean(ucum_bridge::comparable(q, &other)),
            Some(other) => Err(type_error(call, "a Quantity argument", &other)),
            None => Ok(Collection::empty()),
        },
        _ => Err(type_error(call, "a number", &x)),
    }
}

fn precision_digits(p: Precision, time_only: bool) -> i64 {
    let date = match p {
        Precision::Year => 4,
        Precision::Month => 6,
        Precision::Day => 8,
        Precision::Hour => 10,
        Precision::Minute => 12,
        Precision::Second => 14,
        Precision::Millisecond => 17,
    };
    if time_only {
        date - 8
    } else {
        date
    }
}

fn precision_of(x: &Item<'_>) -> Option<i64> {
    Some(match x {
        Item::Decimal(d) => i64::from(d.scale()),
        Item::Integer(_) => 0,
        Item::Date(d) => precision_digits(d.precision(), false),
        Item::DateTime(d) => precision_digits(d.precision(), false),
        Item::Time(t) => precision_digits(t.precision(), true),
        _ => return None,
    })
}

/// `lowBoundary`/`highBoundary` of a decimal (or quantity): the value's uncertainty interval
/// (half a unit of its last digit either side), at `digits` decimal places (default 8).
fn boundary<'a>(x: &Item<'a>, digits: Option<i64>, high: bool) -> Option<Item<'a>> {
    let digits = u32::try_from(digits.unwrap_or(8))
        .ok()
        .filter(|d| *d <= 28)?;
    let bound = |d: Decimal| -> Option<Decimal> {
        let half = Decimal::new(5, d.scale() + 1);
        let edge = if high {
            d.checked_add(half)?
        } else {
            d.checked_sub(half)?
        };
        let strategy = if high {
            RoundingStrategy::ToPositiveInfinity
        } else {
            RoundingStrategy::ToNegativeInfinity
        };
        let mut r = edge.round_dp_with_strategy(digits, strategy);
        r.rescale(digits);
        Some(r)
    };
    match x {
        Item::Decimal(d) => bound(*d).map(Item::Decimal),
        Item::Integer(i) => bound(Decimal::from(*i)).map(Item::Decimal),
        Item::Quantity(q) => {
            let mut q2 = (**q).clone();
            q2.value = bound(q.value)?;
            Some(Item::Quantity(Arc::new(q2)))
        }
        _ => None,
    }
}
