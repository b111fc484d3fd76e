//! The tree-walking evaluator.
//!
//! Every node is evaluated against a *focus* collection (the input of the path step or the
//! `$this` of a lambda). Navigation borrows JSON nodes from the resource; collections of up
//! to two items live on the stack.

pub(crate) mod compare;
mod navigate;
mod operators;

use super::ast::{Call, Node, VarRef};
use super::context::EvalContext;
use super::error::{EvalError, EvalErrorKind, Span};
use super::functions;
use super::value::{Collection, Item};

pub(crate) use navigate::{children_of, member_of};
pub(crate) use operators::arithmetic;
pub(crate) use operators::union as union_of;

/// Per-evaluation state shared by all nodes.
pub(crate) struct Frame<'a, 'f> {
    pub ctx: &'f EvalContext<'a>,
    /// `%context` (and `%resource` when no other resource is known).
    pub root: &'f Collection<'a>,
    /// `%resource` / `%rootResource`.
    pub resource: &'f Collection<'a>,
    /// `$index` inside a lambda.
    pub index: Option<usize>,
    /// `$total` inside `aggregate`.
    pub total: Option<&'f Collection<'a>>,
}

impl<'a, 'f> Frame<'a, 'f> {
    /// A frame for a lambda iteration.
    pub(crate) fn with_index(&self, index: usize) -> Frame<'a, 'f> {
        Frame {
            ctx: self.ctx,
            root: self.root,
            resource: self.resource,
            index: Some(index),
            total: self.total,
        }
    }
}

/// Result of evaluation.
pub(crate) type Res<'a> = Result<Collection<'a>, EvalError>;

/// Evaluate `node` with `focus` as the input.
pub(crate) fn eval<'a>(node: &'a Node, focus: &Collection<'a>, f: &Frame<'a, '_>) -> Res<'a> {
    match node {
        Node::Empty => Ok(Collection::empty()),
        Node::Lit(l) => Ok(Collection::single(l.item())),
        Node::This => Ok(focus.clone()),
        Node::Index => Ok(match f.index {
            Some(i) => Collection::single(Item::Integer(i as i64)),
            None => Collection::empty(),
        }),
        Node::Total => Ok(f.total.cloned().unwrap_or_default()),
        Node::Var(v, span) => match v {
            VarRef::Resource => Ok(f.resource.clone()),
            VarRef::Context => Ok(f.root.clone()),
            VarRef::Named(name) => f.ctx.variable(name).ok_or_else(|| {
                EvalError::new(
                    EvalErrorKind::UnknownVariable,
                    *span,
                    format!("unknown variable `%{name}`"),
                )
            }),
        },
        Node::Member(base, m) => {
            let mut out = Collection::empty();
            match base {
                None => {
                    for item in focus.iter() {
                        if m.may_be_type && navigate::is_type_prefix(item, &m.name) {
                            out.push(item.clone());
                            continue;
                        }
                        member_of(item, m, f, &mut out)?;
                    }
                }
                Some(b) => {
                    let input = eval(b, focus, f)?;
                    for item in input.iter() {
                        member_of(item, m, f, &mut out)?;
                    }
                }
            }
            Ok(out)
        }
        Node::Call(call) => eval_call(call, focus, f),
        Node::Is(base, spec) => {
            let input = eval(base, focus, f)?;
            match input.0.as_slice() {
                [] => Ok(Collection::empty()),
                [item] => Ok(Collection::single(Item::Boolean(spec.matches(item)))),
                _ => Err(not_singleton(base.span(), "is")),
            }
        }
        Node::As(base, spec, span) => {
            let input = eval(base, focus, f)?;
            match input.0.as_slice() {
                [] => Ok(Collection::empty()),
                [item] => Ok(if spec.matches_exact_primitive(item) {
                    input.clone()
                } else {
                    Collection::empty()
                }),
                _ => Err(not_singleton(*span, "as")),
            }
        }
        Node::Indexer(base, index, span) => {
            let input = eval(base, focus, f)?;
            let idx = eval(index, focus, f)?;
            let i = match singleton(&idx, *span, "[ ]")? {
                None => return Ok(Collection::empty()),
                Some(Item::Integer(i)) => i,
                Some(_) => {
                    return Err(EvalError::new(
                        EvalErrorKind::Type,
                        *span,
                        "an index must be an Integer",
                    ))
                }
            };
            Ok(usize::try_from(i)
                .ok()
                .and_then(|i| input.0.get(i).cloned())
                .map(Collection::single)
                .unwrap_or_default())
        }
        Node::Neg(operand, span) => {
            let v = eval(operand, focus, f)?;
            operators::negate(&v, *span)
        }
        Node::Binary(b) => operators::binary(b, focus, f),
    }
}

fn eval_call<'a>(call: &'a Call, focus: &Collection<'a>, f: &Frame<'a, '_>) -> Res<'a> {
    let input = match &call.base {
        Some(b) => eval(b, focus, f)?,
        None => focus.clone(),
    };
    functions::call(call, input, focus, f)
}

/// The error for a collection of several items where one is needed.
pub(crate) fn not_singleton(span: Span, what: &str) -> EvalError {
    EvalError::new(
        EvalErrorKind::NotSingleton,
        span,
        format!("`{what}` needs a single item but got a collection of several"),
    )
}

/// The single item of a collection converted to a System value where possible; `None` when
/// empty; an error when there are several items.
pub(crate) fn singleton<'a>(
    c: &Collection<'a>,
    span: Span,
    what: &str,
) -> Result<Option<Item<'a>>, EvalError> {
    match c.0.as_slice() {
        [] => Ok(None),
        [item] => Ok(Some(item.to_system().unwrap_or_else(|| item.clone()))),
        _ => Err(not_singleton(span, what)),
    }
}

/// A collection read as a Boolean where one is expected: empty is `None`, a Boolean is its
/// value, any other single item is `true`; several items are an error.
pub(crate) fn as_boolean(
    c: &Collection<'_>,
    span: Span,
    what: &str,
) -> Result<Option<bool>, EvalError> {
    match c.0.as_slice() {
        [] => Ok(None),
        [Item::Boolean(b)] => Ok(Some(*b)),
        [item @ Item::Node(_)] => Ok(Some(match item.to_system() {
            Some(Item::Boolean(b)) => b,
            _ => true,
        })),
        [_] => Ok(Some(true)),
        _ => Err(not_singleton(span, what)),
    }
}
