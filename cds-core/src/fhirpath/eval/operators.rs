//! Operators: boolean logic, equality and comparison, membership, union, arithmetic.

use super::compare::{self, collections_equal, collections_equivalent, contains_item};
use super::{as_boolean, eval, singleton, Frame, Res};
use crate::fhirpath::ast::{BinOp, Binary, Node};
use crate::fhirpath::error::{EvalError, EvalErrorKind, Span};
use crate::fhirpath::quantity::Quantity;
use crate::fhirpath::ucum_bridge;
use crate::fhirpath::value::{Collection, Item, Str};
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::sync::Arc;

fn boolean<'a>(b: Option<bool>) -> Collection<'a> {
    match b {
        Some(b) => Collection::single(Item::Boolean(b)),
        None => Collection::empty(),
    }
}

pub(crate) fn binary<'a>(b: &'a Binary, focus: &Collection<'a>, f: &Frame<'a, '_>) -> Res<'a> {
    let sym = b.op.symbol();
    let span = b.span;
    // Boolean operators short-circuit where the answer is already known.
    match b.op {
        BinOp::And => {
            let l = as_boolean(&eval(&b.lhs, focus, f)?, span, sym)?;
            if l == Some(false) {
                return Ok(boolean(Some(false)));
            }
            let r = as_boolean(&eval(&b.rhs, focus, f)?, span, sym)?;
            return Ok(boolean(match (l, r) {
                (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            }));
        }
        BinOp::Or => {
            let l = as_boolean(&eval(&b.lhs, focus, f)?, span, sym)?;
            if l == Some(true) {
                return Ok(boolean(Some(true)));
            }
            let r = as_boolean(&eval(&b.rhs, focus, f)?, span, sym)?;
            return Ok(boolean(match (l, r) {
                (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            }));
        }
        BinOp::Xor => {
            let l = as_boolean(&eval(&b.lhs, focus, f)?, span, sym)?;
            let r = as_boolean(&eval(&b.rhs, focus, f)?, span, sym)?;
            return Ok(boolean(match (l, r) {
                (Some(x), Some(y)) => Some(x != y),
                _ => None,
            }));
        }
        BinOp::Implies => {
            let l = as_boolean(&eval(&b.lhs, focus, f)?, span, sym)?;
            if l == Some(false) {
                return Ok(boolean(Some(true)));
            }
            let r = as_boolean(&eval(&b.rhs, focus, f)?, span, sym)?;
            return Ok(boolean(match (l, r) {
                (_, Some(true)) => Some(true),
                (Some(true), Some(false)) => Some(false),
                _ => None,
            }));
        }
        _ => {}
    }
    let offset = f.ctx.default_offset_minutes;
    // `path = 'literal'`: the literal is compared as it is, without a collection around it.
    if let (BinOp::Eq | BinOp::Ne, Node::Lit(lit)) = (b.op, &b.rhs) {
        let l = eval(&b.lhs, focus, f)?;
        let eq = match l.0.as_slice() {
            [] => None,
            [x] => compare::item_equals(x, &lit.item(), offset),
            _ => Some(false),
        };
        return Ok(boolean(if b.op == BinOp::Eq {
            eq
        } else {
            eq.map(|x| !x)
        }));
    }
    let l = eval(&b.lhs, focus, f)?;
    let r = eval(&b.rhs, focus, f)?;
    match b.op {
        BinOp::Eq => Ok(boolean(collections_equal(&l, &r, offset))),
        BinOp::Ne => Ok(boolean(collections_equal(&l, &r, offset).map(|x| !x))),
        BinOp::Equiv => Ok(boolean(Some(collections_equivalent(&l, &r, offset)))),
        BinOp::NotEquiv => Ok(boolean(Some(!collections_equivalent(&l, &r, offset)))),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            // `item_compare` reads FHIR primitives itself; the converted values are only
            // needed for the message when the operands cannot be compared.
            let ([x], [y]) = (l.0.as_slice(), r.0.as_slice()) else {
                // Empty operands give empty; several items are an error.
                singleton(&l, span, sym)?;
                singleton(&r, span, sym)?;
                return Ok(Collection::empty());
            };
            let ord = compare::item_compare(x, y, offset).map_err(|()| {
                let (x, y) = (
                    x.to_system().unwrap_or_else(|| x.clone()),
                    y.to_system().unwrap_or_else(|| y.clone()),
                );
                EvalError::new(
                    EvalErrorKind::Type,
                    span,
                    format!(
                        "cannot compare {} with {} using `{sym}`",
                        x.kind_name(),
                        y.kind_name()
                    ),
                )
            })?;
            Ok(boolean(ord.map(|o| match b.op {
                BinOp::Lt => o == Ordering::Less,
                BinOp::Le => o != Ordering::Greater,
                BinOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })))
        }
        BinOp::In => membership(&l, &r, span, offset),
        BinOp::Contains => membership(&r, &l, span, offset),
        BinOp::Union => Ok(union(l, &r, offset)),
        BinOp::Concat => {
            let text = |c: &Collection<'a>| -> Result<Option<Str<'a>>, EvalError> {
                match singleton(c, span, sym)? {
                    None => Ok(None),
                    Some(Item::String(s)) => Ok(Some(s)),
                    Some(other) => Err(EvalError::new(
                        EvalErrorKind::Type,
                        span,
                        format!("`&` needs Strings, found {}", other.kind_name()),
                    )),
                }
            };
            let s = match (text(&l)?, text(&r)?) {
                (None, None) => Str::Borrowed(""),
                (Some(x), None) => x,
                (None, Some(y)) => y,
                (Some(x), Some(y)) => concat(x.as_str(), y.as_str()),
            };
            Ok(Collection::single(Item::String(s)))
        }
        _ => {
            let (Some(x), Some(y)) = (singleton(&l, span, sym)?, singleton(&r, span, sym)?) else {
                return Ok(Collection::empty());
            };
            arithmetic(b.op, &x, &y, span)
        }
    }
}

/// `a` followed by `b`, in one allocation (short texts are joined on the stack first).
fn concat<'a>(a: &str, b: &str) -> Str<'a> {
    let mut buf = [0u8; 128];
    let n = a.len() + b.len();
    let copied = match buf.get_mut(..a.len()) {
        Some(head) => {
            head.copy_from_slice(a.as_bytes());
            match buf.get_mut(a.len()..n) {
                Some(rest) => {
                    rest.copy_from_slice(b.as_bytes());
                    true
                }
                None => false,
            }
        }
        None => false,
    };
    if copied {
        if let Some(joined) = buf.get(..n).and_then(|t| std::str::from_utf8(t).ok()) {
            return Str::Shared(Arc::from(joined));
        }
    }
    let mut s = String::with_capacity(n);
    s.push_str(a);
    s.push_str(b);
    Str::from(s)
}

fn membership<'a>(
    item: &Collection<'a>,
    within: &Collection<'a>,
    span: Span,
    offset: i32,
) -> Res<'a> {
    match item.0.as_slice() {
        [] => Ok(Collection::empty()),
        [x] => Ok(boolean(Some(contains_item(&within.0, x, offset)))),
        _ => Err(super::not_singleton(span, "in/contains")),
    }
}

/// `|`: items of both, without duplicates, in order of first appearance.
pub(crate) fn union<'a>(l: Collection<'a>, r: &Collection<'a>, offset: i32) -> Collection<'a> {
    let mut out = Collection::empty();
    for item in l.into_iter().chain(r.iter().cloned()) {
        if !contains_item(&out.0, &item, offset) {
            out.push(item);
        }
    }
    out
}

/// Unary minus.
pub(crate) fn negate<'a>(v: &Collection<'a>, span: Span) -> Res<'a> {
    let Some(x) = singleton(v, span, "-")? else {
        return Ok(Collection::empty());
    };
    Ok(match x {
        Item::Integer(i) => match i.checked_neg() {
            Some(n) => Collection::single(Item::Integer(n)),
            None => Collection::empty(),
        },
        Item::Decimal(d) => Collection::single(Item::Decimal(-d)),
        Item::Quantity(q) => {
            let mut q = (*q).clone();
            q.value = -q.value;
            Collection::single(Item::Quantity(Arc::new(q)))
        }
        other => {
            return Err(EvalError::new(
                EvalErrorKind::Type,
                span,
                format!("cannot negate a {}", other.kind_name()),
            ))
        }
    })
}

fn type_error(op: BinOp, a: &Item<'_>, b: &Item<'_>, span: Span) -> EvalError {
    EvalError::new(
        EvalErrorKind::Type,
        span,
        format!(
            "`{}` is not defined for {} and {}",
            op.symbol(),
            a.kind_name(),
            b.kind_name()
        ),
    )
}

fn dec(i: &Item<'_>) -> Option<Decimal> {
    match i {
        Item::Integer(x) => Some(Decimal::from(*x)),
        Item::Decimal(d) => Some(*d),
        _ => None,
    }
}

fn single<'a>(item: Option<Item<'a>>) -> Collection<'a> {
    item.map(Collection::single).unwrap_or_default()
}

/// `+ - * / div mod` on two System values.
pub(crate) fn arithmetic<'a>(op: BinOp, a: &Item<'a>, b: &Item<'a>, span: Span) -> Res<'a> {
    use Item::*;
    let out = match (op, a, b) {
        (BinOp::Add, Integer(x), Integer(y)) => x.checked_add(*y).map(Integer),
        (BinOp::Sub, Integer(x), Integer(y)) => x.checked_sub(*y).map(Integer),
        (BinOp::Mul, Integer(x), Integer(y)) => x.checked_mul(*y).map(Integer),
        (BinOp::IntDiv, Integer(x), Integer(y)) => x.checked_div(*y).map(Integer),
        (BinOp::Mod, Integer(x), Integer(y)) => x.checked_rem(*y).map(Integer),
        (BinOp::Add, String(x), String(y)) => Some(String(concat(x.as_str(), y.as_str()))),
        (_, Integer(_) | Decimal(_), Integer(_) | Decimal(_)) => {
            let (x, y) = (dec(a).unwrap_or_default(), dec(b).unwrap_or_default());
            match op {
                BinOp::Add => x.checked_add(y).map(Decimal),
                BinOp::Sub => x.checked_sub(y).map(Decimal),
                BinOp::Mul => x.checked_mul(y).map(Decimal),
                BinOp::Div => x.checked_div(y).map(Decimal),
                BinOp::IntDiv => x
                    .checked_div(y)
                    .and_then(|d| i64::try_from(d.trunc()).ok())
                    .map(Integer),
                BinOp::Mod => x.checked_rem(y).map(Decimal),
                _ => return Err(type_error(op, a, b, span)),
            }
        }
        (BinOp::Add | BinOp::Sub, Date(_) | DateTime(_) | Time(_), Quantity(q)) => {
            return temporal_arith(op, a, q, span).map(|i| single(Some(i)))
        }
        (_, Quantity(x), Quantity(y)) => quantity_arith(op, x, y, span)?,
        (BinOp::Mul, Quantity(q), Integer(_) | Decimal(_))
        | (BinOp::Mul, Integer(_) | Decimal(_), Quantity(q)) => {
            let n = dec(a).or_else(|| dec(b)).unwrap_or_default();
            q.value.checked_mul(n).map(|v| scaled(q, v))
        }
        (BinOp::Div, Quantity(q), Integer(_) | Decimal(_)) => {
            let n = dec(b).unwrap_or_default();
            q.value.checked_div(n).map(|v| scaled(q, v))
        }
        _ => return Err(type_error(op, a, b, span)),
    };
    Ok(single(out))
}

fn scaled<'a>(q: &Quantity, value: Decimal) -> Item<'a> {
    let mut q = q.clone();
    q.value = value;
    Item::Quantity(Arc::new(q))
}

fn quantity_arith<'a>(
    op: BinOp,
    x: &Quantity,
    y: &Quantity,
    span: Span,
) -> Result<Option<Item<'a>>, EvalError> {
    let q = match op {
        BinOp::Add | BinOp::Sub => match ucum_bridge::add(x, y, op == BinOp::Sub) {
            Some(q) => Some(q),
            None => {
                return Err(EvalError::new(
                    EvalErrorKind::Arithmetic,
                    span,
                    format!(
                        "cannot add or subtract quantities in units '{}' and '{}'",
                        x.unit, y.unit
                    ),
                ))
            }
        },
        BinOp::Mul => ucum_bridge::multiply(x, y),
        BinOp::Div => {
            if y.value.is_zero() {
                None
            } else {
                ucum_bridge::divide(x, y)
            }
        }
        _ => {
            return Err(EvalError::new(
                EvalErrorKind::Type,
                span,
                format!("`{}` is not defined for quantities", op.symbol()),
            ))
        }
    };
    Ok(q.map(|q| Item::Quantity(Arc::new(q))))
}

fn temporal_arith<'a>(
    op: BinOp,
    a: &Item<'a>,
    q: &Quantity,
    span: Span,
) -> Result<Item<'a>, EvalError> {
    let unit = q.arithmetic_unit().ok_or_else(|| {
        EvalError::new(
            EvalErrorKind::Arithmetic,
            span,
            format!("the unit '{}' cannot be added to a date or time (use a calendar duration such as `1 month`)", q.unit),
        )
    })?;
    // FHIRPath: a calendar quantity's decimal part is dropped (`7.7 days` adds 7 days).
    let whole = q.value.trunc();
    let amount = if op == BinOp::Sub { -whole } else { whole };
    let err = |_| {
        EvalError::new(
            EvalErrorKind::Arithmetic,
            span,
            "date/time arithmetic is out of range",
        )
    };
    Ok(match a {
        Item::Date(d) => Item::Date(d.add(amount, unit).map_err(err)?),
        Item::DateTime(d) => Item::DateTime(d.add(amount, unit).map_err(err)?),
        Item::Time(t) => Item::Time(t.add(amount, unit).map_err(err)?),
        _ => {
            return Err(EvalError::new(
                EvalErrorKind::Type,
                span,
                "expected a date or time",
            ))
        }
    })
}
