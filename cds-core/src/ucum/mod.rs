//! UCUM units and quantities: parsing, comparison, conversion and arithmetic.
//!
//! * [`Unit::parse`] reads a UCUM code with a real expression parser (products `.`, quotients
//!   `/`, a leading `/`, integer exponents, parentheses, `{annotations}`, `10*3`, prefixes on
//!   metric atoms only) and caches the result process-wide, returning an `Arc<Unit>`.
//! * [`Quantity`] pairs a `rust_decimal::Decimal` with a [`QuantityUnit`]: a UCUM unit or a
//!   FHIRPath calendar duration (`3 days`).
//!
//! Dimensions: the UCUM base units `m g s rad K C cd`, plus `mol` and `eq` each kept as a
//! dimension of their own (so `mmol/L` is never silently converted to `mg/dL`, which needs a
//! molar mass, nor to `meq/L`, which needs a valence), plus one dimension per arbitrary unit
//! (`[IU]`, `[CFU]`, …; `[pH]` is treated as such an opaque unit). `Cel`, `[degF]` and
//! `[degRe]` are affine scales: a quantity in exactly that unit converts with its offset;
//! inside a compound unit (`Cel/h`) only the scale applies.
//!
//! ```
//! use cds_core::ucum::{Quantity, Unit};
//! use rust_decimal::Decimal;
//! use std::cmp::Ordering;
//!
//! let sbp = Quantity::ucum(Decimal::from(120), "mm[Hg]")?;
//! let kpa = sbp.convert_to_code("kPa")?;
//! assert_eq!(kpa.value.round_dp(1), Decimal::new(160, 1));
//!
//! let glucose = Quantity::ucum(Decimal::from(100), "mg/dL")?;
//! let same = Quantity::ucum(Decimal::from(1), "g/L")?;
//! assert_eq!(glucose.compare(&same), Some(Ordering::Equal));
//!
//! let mass = Quantity::ucum(Decimal::from(70), "kg")?;
//! assert_eq!(sbp.compare(&mass), None); // not commensurable
//! assert_eq!(Quantity::ucum(Decimal::new(55, 1), "mg/dL")?.to_string(), "5.5 'mg/dL'");
//! # Ok::<(), cds_core::ucum::UcumError>(())
//! ```

mod atoms;
mod dimension;
mod error;
mod magnitude;
mod parser;
mod quantity;
mod unit;

#[cfg(test)]
mod tests;

pub use dimension::Dimension;
pub use error::{UcumError, UnitProblem};
pub use quantity::{Quantity, QuantityUnit};
pub use unit::Unit;

/// The FHIR `Quantity.system` URI for UCUM.
pub const UCUM_SYSTEM: &str = "http://unitsofmeasure.org";
