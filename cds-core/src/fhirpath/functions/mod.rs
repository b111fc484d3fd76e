//! The FHIRPath function library, dispatched on the [`Func`] resolved at parse time.

mod conversion;
mod existence;
mod filtering;
mod math;
mod strings;
mod subsetting;
mod tree;

use super::ast::{Call, Func};
use super::error::{EvalError, EvalErrorKind};
use super::eval::{eval, singleton, Frame, Res};
use super::value::{Collection, Item};

/// Evaluate a call: `input` is the value of the call's base, `focus` is the context in which
/// (non-lambda) arguments are evaluated.
pub(crate) fn call<'a>(
    call: &'a Call,
    input: Collection<'a>,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    use Func::*;
    match call.func {
        Empty | Exists | All | AllTrue | AnyTrue | AllFalse | AnyFalse | SubsetOf | SupersetOf
        | Count | Distinct | IsDistinct | Not => existence::call(call, input, focus, f),
        Where | Select | Repeat | OfType | Aggregate | Sort | Iif => {
            filtering::call(call, input, focus, f)
        }
        Single | First | Last | Tail | Skip | Take | Intersect | Exclude | Union | Combine => {
            subsetting::call(call, input, focus, f)
        }
        ToBoolean | ConvertsToBoolean | ToInteger | ConvertsToInteger | ToDecimal
        | ConvertsToDecimal | ToStringFn | ConvertsToString | ToDate | ConvertsToDate
        | ToDateTime | ConvertsToDateTime | ToTime | ConvertsToTime | ToQuantity
        | ConvertsToQuantity => conversion::call(call, input, focus, f),
        IndexOf | Substring | StartsWith | EndsWith | Contains | Upper | Lower | Replace
        | Matches | MatchesFull | ReplaceMatches | Length | ToChars | Trim | Split | Join
        | Encode | Decode | Escape | Unescape => strings::call(call, input, focus, f),
        Abs | Ceiling | Exp | Floor | Ln | Log | Power | Round | Sqrt | Truncate | LowBoundary
        | HighBoundary | Precision | Comparable => math::call(call, input, focus, f),
        Children | Descendants | Trace | Now | TimeOfDay | Today | TypeFn | Extension
        | HasValue | GetValue | Resolve | MemberOf | ConformsTo => {
            tree::call(call, input, focus, f)
        }
    }
}

/// Evaluate argument `i` against the focus.
pub(crate) fn arg<'a>(
    call: &'a Call,
    i: usize,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    match call.args.get(i) {
        Some(a) => eval(a, focus, f),
        None => Ok(Collection::empty()),
    }
}

/// Argument `i` as a single System value (`None` when empty).
pub(crate) fn arg_single<'a>(
    call: &'a Call,
    i: usize,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Result<Option<Item<'a>>, EvalError> {
    let c = arg(call, i, focus, f)?;
    singleton(&c, call.span, call.func.name())
}

/// Argument `i` as an Integer (`None` when empty; error for another type).
pub(crate) fn arg_integer<'a>(
    call: &'a Call,
    i: usize,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Result<Option<i64>, EvalError> {
    match arg_single(call, i, focus, f)? {
        None => Ok(None),
        Some(Item::Integer(n)) => Ok(Some(n)),
        Some(other) => Err(type_error(call, "an Integer argument", &other)),
    }
}

/// Argument `i` as a String (`None` when empty; error for another type).
pub(crate) fn arg_string<'a>(
    call: &'a Call,
    i: usize,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Result<Option<super::value::Str<'a>>, EvalError> {
    match arg_single(call, i, focus, f)? {
        None => Ok(None),
        Some(Item::String(s)) => Ok(Some(s)),
        Some(other) => Err(type_error(call, "a String argument", &other)),
    }
}

/// The input as a single System value (`None` when empty).
pub(crate) fn input_single<'a>(
    call: &Call,
    input: &Collection<'a>,
) -> Result<Option<Item<'a>>, EvalError> {
    singleton(input, call.span, call.func.name())
}

pub(crate) fn type_error(call: &Call, expected: &str, found: &Item<'_>) -> EvalError {
    EvalError::new(
        EvalErrorKind::Type,
        call.span,
        format!(
            "`{}` expects {expected}, found {}",
            call.func.name(),
            found.kind_name()
        ),
    )
}

pub(crate) fn boolean<'a>(b: bool) -> Res<'a> {
    Ok(Collection::single(Item::Boolean(b)))
}
