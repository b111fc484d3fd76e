//! Existence functions: `empty`, `exists`, `all`, `allTrue`..., `subsetOf`, `count`,
//! `distinct`, `isDistinct`, and `not`.

use super::{arg, boolean, type_error};
use crate::fhirpath::ast::{Call, Func};
use crate::fhirpath::eval::compare::contains_item;
use crate::fhirpath::eval::{as_boolean, eval, Frame, Res};
use crate::fhirpath::value::{Collection, Item};

pub(super) fn call<'a>(
    call: &'a Call,
    input: Collection<'a>,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    let offset = f.ctx.default_offset_minutes;
    match call.func {
        Func::Empty => boolean(input.is_empty()),
        Func::Exists => match call.args.first() {
            None => boolean(!input.is_empty()),
            Some(crit) => {
                for (i, item) in input.iter().enumerate() {
                    if criterion(crit, item, i, call, f)? {
                        return boolean(true);
                    }
                }
                boolean(false)
            }
        },
        Func::All => {
            let Some(crit) = call.args.first() else {
                return boolean(true);
            };
            for (i, item) in input.iter().enumerate() {
                if !criterion(crit, item, i, call, f)? {
                    return boolean(false);
                }
            }
            boolean(true)
        }
        Func::AllTrue | Func::AnyTrue | Func::AllFalse | Func::AnyFalse => {
            let mut any_true = false;
            let mut any_false = false;
            for item in input.iter() {
                match item.to_system() {
                    Some(Item::Boolean(true)) => any_true = true,
                    Some(Item::Boolean(false)) => any_false = true,
                    _ => return Err(type_error(call, "Boolean items", item)),
                }
            }
            boolean(match call.func {
                Func::AllTrue => !any_false,
                Func::AnyTrue => any_true,
                Func::AllFalse => !any_true,
                _ => any_false,
            })
        }
        Func::SubsetOf | Func::SupersetOf => {
            let other = arg(call, 0, focus, f)?;
            let (small, big) = if call.func == Func::SubsetOf {
                (&input, &other)
            } else {
                (&other, &input)
            };
            boolean(small.iter().all(|x| contains_item(&big.0, x, offset)))
        }
        Func::Count => Ok(Collection::single(Item::Integer(input.len() as i64))),
        Func::Distinct => Ok(distinct(input, offset)),
        Func::IsDistinct => {
            let n = input.len();
            boolean(distinct(input, offset).len() == n)
        }
        _ => match as_boolean(&input, call.span, "not")? {
            None => Ok(Collection::empty()),
            Some(b) => boolean(!b),
        },
    }
}

/// Evaluate a criterion with `item` as `$this`; true only for a single `true`.
pub(crate) fn criterion<'a>(
    crit: &'a crate::fhirpath::ast::Node,
    item: &Item<'a>,
    index: usize,
    call: &Call,
    f: &Frame<'a, '_>,
) -> Result<bool, crate::fhirpath::error::EvalError> {
    let this = Collection::single(item.clone());
    let r = eval(crit, &this, &f.with_index(index))?;
    Ok(as_boolean(&r, call.span, call.func.name())? == Some(true))
}

/// Items without duplicates (by equality), keeping the first of each.
pub(crate) fn distinct<'a>(input: Collection<'a>, offset: i32) -> Collection<'a> {
    let mut out = Collection::empty();
    for item in input {
        if !contains_item(&out.0, &item, offset) {
            out.push(item);
        }
    }
    out
}
