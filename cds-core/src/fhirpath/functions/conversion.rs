//! Conversion functions: `toBoolean`, `toInteger`, `toDecimal`, `toString`, `toDate`,
//! `toDateTime`, `toTime`, `toQuantity` and their `convertsTo*` forms.

use super::{arg_string, boolean, input_single};
use crate::fhirpath::ast::{Call, Func};
use crate::fhirpath::convert;
use crate::fhirpath::eval::{Frame, Res};
use crate::fhirpath::ucum_bridge;
use crate::fhirpath::value::{Collection, Item, Str};
use std::sync::Arc;

pub(super) fn call<'a>(
    call: &'a Call,
    input: Collection<'a>,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    let Some(item) = input_single(call, &input)? else {
        return Ok(Collection::empty());
    };
    let converted: Option<Item<'a>> = match call.func {
        Func::ToBoolean | Func::ConvertsToBoolean => convert::to_boolean(&item).map(Item::Boolean),
        Func::ToInteger | Func::ConvertsToInteger => convert::to_integer(&item).map(Item::Integer),
        Func::ToDecimal | Func::ConvertsToDecimal => convert::to_decimal(&item).map(Item::Decimal),
        Func::ToStringFn | Func::ConvertsToString => match item {
            Item::String(s) => Some(Item::String(s)),
            other => convert::to_string(&other).map(|s| Item::String(Str::from(s))),
        },
        Func::ToDate | Func::ConvertsToDate => convert::to_date(&item).map(Item::Date),
        Func::ToDateTime | Func::ConvertsToDateTime => {
            convert::to_datetime(&item).map(Item::DateTime)
        }
        Func::ToTime | Func::ConvertsToTime => convert::to_time(&item).map(Item::Time),
        _ => {
            let q = convert::to_quantity(&item);
            let target = arg_string(call, 0, focus, f)?;
            match (q, target) {
                (Some(q), Some(unit)) => ucum_bridge::convert_quantity(&q, unit.as_str()),
                (q, _) => q,
            }
            .map(|q| Item::Quantity(Arc::new(q)))
        }
    };
    let asks_converts = matches!(
        call.func,
        Func::ConvertsToBoolean
            | Func::ConvertsToInteger
            | Func::ConvertsToDecimal
            | Func::ConvertsToString
            | Func::ConvertsToDate
            | Func::ConvertsToDateTime
            | Func::ConvertsToTime
            | Func::ConvertsToQuantity
    );
    if asks_converts {
        return boolean(converted.is_some());
    }
    Ok(converted.map(Collection::single).unwrap_or_default())
}
