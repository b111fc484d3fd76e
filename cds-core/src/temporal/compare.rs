//! Precision-aware comparison shared by dates, date-times and times.

use std::cmp::Ordering;

use super::Precision;

/// The components of a value, year to millisecond, with absent components filled by their
/// lowest value (month and day 1, time components 0), plus the precision actually given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Components {
    pub(crate) fields: [i64; 7],
    pub(crate) precision: Precision,
}

/// Compares two values component by component from `first` (a [`Precision`] index: 0 for
/// dates and date-times, 3 for times) to the coarser of the two precisions, seconds and
/// milliseconds being one component. Returns `None` when they agree that far but have
/// different precision.
pub(crate) fn compare(a: &Components, b: &Components, first: usize) -> Option<Ordering> {
    let la = a.precision.comparison_level();
    let lb = b.precision.comparison_level();
    let common = la.min(lb);
    let second = Precision::Second.index();
    for level in first..=common {
        let ord = if level == second {
            let ma = a.fields[5] * 1000 + a.fields[6];
            let mb = b.fields[5] * 1000 + b.fields[6];
            ma.cmp(&mb)
        } else {
            a.fields[level].cmp(&b.fields[level])
        };
        if ord != Ordering::Equal {
            return Some(ord);
        }
    }
    if la == lb {
        Some(Ordering::Equal)
    } else {
        None
    }
}

/// FHIRPath `=`: `Some(false)` when they differ within the common precision, `None` when they
/// agree but have different precision, `Some(true)` otherwise.
pub(crate) fn equals(ord: Option<Ordering>) -> Option<bool> {
    ord.map(|o| o == Ordering::Equal)
}

/// FHIRPath `~`: equal at the same precision; different precision is never equivalent.
pub(crate) fn equivalent(ord: Option<Ordering>) -> bool {
    ord == Some(Ordering::Equal)
}
