//! Filtering and projection: `where`, `select`, `repeat`, `ofType`, `aggregate`, `sort`,
//! and `iif`.

use super::existence::criterion;
use crate::fhirpath::ast::{Call, Func, Node};
use crate::fhirpath::error::{EvalError, EvalErrorKind};
use crate::fhirpath::eval::compare::{contains_item, item_compare};
use crate::fhirpath::eval::{as_boolean, eval, singleton, Frame, Res};
use crate::fhirpath::value::{Collection, Item};
use std::cmp::Ordering;

pub(super) fn call<'a>(
    call: &'a Call,
    input: Collection<'a>,
    _focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    let offset = f.ctx.default_offset_minutes;
    match call.func {
        Func::Where => {
            let Some(crit) = call.args.first() else {
                return Ok(input);
            };
            let mut out = Collection::empty();
            for (i, item) in input.iter().enumerate() {
                if criterion(crit, item, i, call, f)? {
                    out.push(item.clone());
                }
            }
            Ok(out)
        }
        Func::Select => {
            let Some(proj) = call.args.first() else {
                return Ok(input);
            };
            let mut out = Collection::empty();
            for (i, item) in input.iter().enumerate() {
                let this = Collection::single(item.clone());
                let r = eval(proj, &this, &f.with_index(i))?;
                out.0.extend(r);
            }
            Ok(out)
        }
        Func::Repeat => {
            let Some(proj) = call.args.first() else {
                return Ok(input);
            };
            let mut out = Collection::empty();
            let mut queue: Vec<Item<'a>> = input.into_iter().collect();
            let mut next = 0;
            while let Some(item) = queue.get(next).cloned() {
                next += 1;
                let this = Collection::single(item);
                for r in eval(proj, &this, &f.with_index(next - 1))? {
                    if !contains_item(&out.0, &r, offset) {
                        out.push(r.clone());
                        queue.push(r);
                    }
                }
            }
            Ok(out)
        }
        Func::OfType => {
            let Some(spec) = &call.type_arg else {
                return Ok(Collection::empty());
            };
            Ok(input
                .into_iter()
                .filter(|i| spec.matches_exact_primitive(i))
                .collect())
        }
        Func::Aggregate => {
            let Some(agg) = call.args.first() else {
                return Ok(Collection::empty());
            };
            let mut total = match call.args.get(1) {
                Some(init) => eval(init, &input, f)?,
                None => Collection::empty(),
            };
            for (i, item) in input.iter().enumerate() {
                let this = Collection::single(item.clone());
                let frame = Frame {
                    ctx: f.ctx,
                    root: f.root,
                    resource: f.resource,
                    index: Some(i),
                    total: Some(&total),
                };
                let next = eval(agg, &this, &frame)?;
                total = next;
            }
            Ok(total)
        }
        Func::Sort => sort(call, input, f),
        _ => iif(call, input, f),
    }
}

fn iif<'a>(call: &'a Call, input: Collection<'a>, f: &Frame<'a, '_>) -> Res<'a> {
    if input.len() > 1 {
        return Err(crate::fhirpath::eval::not_singleton(call.span, "iif"));
    }
    let (Some(crit), Some(then)) = (call.args.first(), call.args.get(1)) else {
        return Ok(Collection::empty());
    };
    let c = eval(crit, &input, f)?;
    let cond = as_boolean(&c, call.span, "iif")?;
    if cond == Some(true) {
        eval(then, &input, f)
    } else {
        match call.args.get(2) {
            Some(otherwise) => eval(otherwise, &input, f),
            None => Ok(Collection::empty()),
        }
    }
}

/// `sort(key, ...)`: a key written `-expr` sorts descending. Items whose keys cannot be
/// compared keep their order.
fn sort<'a>(call: &'a Call, input: Collection<'a>, f: &Frame<'a, '_>) -> Res<'a> {
    let offset = f.ctx.default_offset_minutes;
    let mut keyed: Vec<(Vec<Option<Item<'a>>>, Item<'a>)> = Vec::with_capacity(input.len());
    for (i, item) in input.into_iter().enumerate() {
        let this = Collection::single(item.clone());
        let mut keys = Vec::new();
        if call.args.is_empty() {
            keys.push(item.to_system());
        }
        for a in &call.args {
            let expr = match a {
                Node::Neg(inner, _) => &**inner,
                other => other,
            };
            let v = eval(expr, &this, &f.with_index(i))?;
            keys.push(singleton(&v, call.span, "sort")?);
        }
        keyed.push((keys, item));
    }
    let desc: Vec<bool> = if call.args.is_empty() {
        vec![false]
    } else {
        call.args
            .iter()
            .map(|a| matches!(a, Node::Neg(..)))
            .collect()
    };
    let mut failed = false;
    keyed.sort_by(|(ka, _), (kb, _)| {
        for (j, (x, y)) in ka.iter().zip(kb).enumerate() {
            // Items without a key come first, whatever the direction.
            let o = match (x, y) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => match item_compare(x, y, offset) {
                    Ok(Some(o)) => o,
                    Ok(None) => Ordering::Equal,
                    Err(()) => {
                        failed = true;
                        Ordering::Equal
                    }
                },
            };
            let o = if desc.get(j).copied().unwrap_or(false) {
                o.reverse()
            } else {
                o
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    if failed {
        return Err(EvalError::new(
            EvalErrorKind::Type,
            call.span,
            "`sort` keys must be comparable values of one type",
        ));
    }
    Ok(keyed.into_iter().map(|(_, item)| item).collect())
}
