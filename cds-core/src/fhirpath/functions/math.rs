//! Math functions (`abs`, `ceiling`, `exp`, `floor`, `ln`, `log`, `power`, `round`, `sqrt`,
//! `truncate`) and the precision functions (`precision`, `lowBoundary`, `highBoundary`,
//! `comparable`).

use super::{arg_integer, arg_single, boolean, input_single, type_error};
use crate::fhirpath::ast::{Call, Func};
use crate::fhirpath::eval::{Frame, Res};
use crate::fhirpath::ucum_bridge;
use crate::fhirpath::value::{Collection, Item};
use crate::temporal::{Date, DateTime, Precision, Time};
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
            match x {
                Item::Date(_) | Item::DateTime(_) | Item::Time(_) => {
                    one(temporal_boundary(&x, digits, high))
                }
                _ => one(boundary(&x, digits, high)),
            }
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

/// `lowBoundary`/`highBoundary` of a date, date-time or time: missing components take their
/// least (or greatest) value, a missing offset the extreme offset (+14:00 low, -12:00 high),
/// and the result keeps `digits` digits of precision (4 year, 6 month, 8 day, 10 hour,
/// 12 minute, 14 second, 17 millisecond; for times 2, 4, 6, 9).
pub(super) fn temporal_boundary<'a>(
    x: &Item<'a>,
    digits: Option<i64>,
    high: bool,
) -> Option<Item<'a>> {
    let (year, month, day, time, offset, is_time) = match x {
        Item::Date(d) => (d.year(), d.month(), d.day(), None, None, false),
        Item::DateTime(d) => {
            let date = d.date();
            (
                date.year(),
                date.month(),
                date.day(),
                d.time_of_day(),
                d.offset_minutes(),
                false,
            )
        }
        Item::Time(t) => (0, None, None, Some(*t), None, true),
        _ => return None,
    };
    let default = match x {
        Item::Date(_) => 8,
        Item::Time(_) => 9,
        _ => 17,
    };
    let digits = digits.unwrap_or(default) + if is_time { 8 } else { 0 };
    let pick = |v: Option<u8>, low: u8, hi: u8| v.unwrap_or(if high { hi } else { low });
    let month = pick(month, 1, 12);
    let day = pick(day, 1, crate::temporal::days_in_month(year, month));
    let hour = pick(time.map(|t| t.hour()), 0, 23);
    let minute = pick(time.and_then(|t| t.minute()), 0, 59);
    let second = pick(time.and_then(|t| t.second()), 0, 59);
    let milli = time
        .and_then(|t| t.millisecond())
        .unwrap_or(if high { 999 } else { 0 });
    let t = match digits {
        10 => Time::new(hour, None, None, None).ok(),
        12 => Time::new(hour, Some(minute), None, None).ok(),
        14 => Time::new(hour, Some(minute), Some(second), None).ok(),
        17 => Time::new(hour, Some(minute), Some(second), Some(milli)).ok(),
        _ => None,
    };
    if is_time {
        return t.map(Item::Time);
    }
    let date = match digits {
        4 => Date::new(year, None, None).ok()?,
        6 => Date::new(year, Some(month), None).ok()?,
        8 | 10 | 12 | 14 | 17 => Date::new(year, Some(month), Some(day)).ok()?,
        _ => return None,
    };
    if matches!(x, Item::Date(_)) {
        return (digits <= 8).then_some(Item::Date(date));
    }
    if digits <= 8 {
        return Some(Item::DateTime(DateTime::from(date)));
    }
    let offset = offset.unwrap_or(if high { -720 } else { 840 });
    DateTime::new(date, Some(t?), Some(offset))
        .ok()
        .map(Item::DateTime)
}
