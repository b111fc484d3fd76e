//! Subsetting and combining: `single`, `first`, `last`, `tail`, `skip`, `take`,
//! `intersect`, `exclude`, `union`, `combine`.

use super::{arg, arg_integer};
use crate::fhirpath::ast::{Call, Func};
use crate::fhirpath::eval::compare::contains_item;
use crate::fhirpath::eval::{not_singleton, Frame, Res};
use crate::fhirpath::value::Collection;

pub(super) fn call<'a>(
    call: &'a Call,
    input: Collection<'a>,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    let offset = f.ctx.default_offset_minutes;
    Ok(match call.func {
        Func::Single => {
            if input.len() > 1 {
                return Err(not_singleton(call.span, "single"));
            }
            input
        }
        Func::First => input
            .0
            .into_iter()
            .next()
            .map(Collection::single)
            .unwrap_or_default(),
        Func::Last => input
            .0
            .into_iter()
            .last()
            .map(Collection::single)
            .unwrap_or_default(),
        Func::Tail => input.0.into_iter().skip(1).collect(),
        Func::Skip => {
            let n = arg_integer(call, 0, focus, f)?.unwrap_or(0);
            let n = usize::try_from(n).unwrap_or(0);
            input.0.into_iter().skip(n).collect()
        }
        Func::Take => {
            let n = arg_integer(call, 0, focus, f)?.unwrap_or(0);
            let n = usize::try_from(n).unwrap_or(0);
            input.0.into_iter().take(n).collect()
        }
        Func::Intersect => {
            let other = arg(call, 0, focus, f)?;
            let mut out = Collection::empty();
            for item in input {
                if contains_item(&other.0, &item, offset) && !contains_item(&out.0, &item, offset) {
                    out.push(item);
                }
            }
            out
        }
        Func::Exclude => {
            let other = arg(call, 0, focus, f)?;
            input
                .into_iter()
                .filter(|item| !contains_item(&other.0, item, offset))
                .collect()
        }
        Func::Union => {
            let other = arg(call, 0, focus, f)?;
            crate::fhirpath::eval::union_of(input, &other, offset)
        }
        _ => {
            let other = arg(call, 0, focus, f)?;
            let mut out = input;
            out.0.extend(other);
            out
        }
    })
}
