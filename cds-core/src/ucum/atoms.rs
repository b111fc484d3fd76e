//! The table of UCUM atoms (unit symbols) and prefixes this module knows.
//!
//! Each derived atom is defined, as in the UCUM specification, by a factor times a UCUM
//! expression over atoms defined above it; the table is resolved once, on first use.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::OnceLock;

use rust_decimal::Decimal;

use super::dimension::{Dimension, BASE_NAMES};
use super::magnitude::Magnitude;
use super::parser;

/// A resolved atom.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Atom {
    /// Whether prefixes may be applied.
    pub(crate) metric: bool,
    /// Size in base units.
    pub(crate) magnitude: Magnitude,
    /// What it measures.
    pub(crate) dimension: Dimension,
    /// For the affine temperature scales: base = (value + offset) × magnitude.
    pub(crate) offset: Option<Decimal>,
}

enum Def {
    /// A base or arbitrary dimension slot.
    Slot(usize),
    /// factor × expression.
    Derived(&'static str, &'static str),
    /// An affine scale: base = (value + offset) × factor × expression.
    Special(&'static str, &'static str, &'static str),
}

use Def::{Derived, Slot, Special};

/// (symbol, metric, definition). Order matters: a definition uses only atoms above it.
const TABLE: &[(&str, bool, Def)] = &[
    // Base units (mol and eq are kept as dimensions of their own; see `Dimension`).
    ("m", true, Slot(0)),
    ("g", true, Slot(1)),
    ("s", true, Slot(2)),
    ("rad", true, Slot(3)),
    ("K", true, Slot(4)),
    ("C", true, Slot(5)),
    ("cd", true, Slot(6)),
    ("mol", true, Slot(7)),
    ("eq", true, Slot(8)),
    // Arbitrary units: each is its own dimension, convertible only to itself (with prefixes
    // and in compound units such as [IU]/L → m[IU]/mL).
    ("[IU]", true, Slot(9)),
    ("[arb'U]", false, Slot(10)),
    ("[USP'U]", false, Slot(11)),
    ("[GPL'U]", false, Slot(12)),
    ("[MPL'U]", false, Slot(13)),
    ("[APL'U]", false, Slot(14)),
    ("[beth'U]", false, Slot(15)),
    ("[anti'Xa'U]", false, Slot(16)),
    ("[todd'U]", false, Slot(17)),
    ("[dye'U]", false, Slot(18)),
    ("[smgy'U]", false, Slot(19)),
    ("[bdsk'U]", false, Slot(20)),
    ("[ka'U]", false, Slot(21)),
    ("[knk'U]", false, Slot(22)),
    ("[mclg'U]", false, Slot(23)),
    ("[tb'U]", false, Slot(24)),
    ("[CCID_50]", true, Slot(25)),
    ("[TCID_50]", true, Slot(26)),
    ("[PFU]", true, Slot(27)),
    ("[FFU]", true, Slot(28)),
    ("[CFU]", true, Slot(29)),
    ("[BAU]", true, Slot(30)),
    // UCUM defines [pH] as a logarithmic function of mol/L; here it is opaque.
    ("[pH]", false, Slot(31)),
    ("[iU]", true, Derived("1", "[IU]")),
    // Dimensionless.
    ("10*", false, Derived("10", "1")),
    ("10^", false, Derived("10", "1")),
    ("%", false, Derived("0.01", "1")),
    ("[ppth]", false, Derived("0.001", "1")),
    ("[ppm]", false, Derived("0.000001", "1")),
    ("[ppb]", false, Derived("0.000000001", "1")),
    ("[HPF]", false, Derived("1", "1")),
    ("[LPF]", false, Derived("100", "1")),
    ("sr", true, Derived("1", "rad2")),
    // SI derived units.
    ("Hz", true, Derived("1", "s-1")),
    ("N", true, Derived("1", "kg.m/s2")),
    ("Pa", true, Derived("1", "N/m2")),
    ("J", true, Derived("1", "N.m")),
    ("W", true, Derived("1", "J/s")),
    ("A", true, Derived("1", "C/s")),
    ("V", true, Derived("1", "J/C")),
    ("F", true, Derived("1", "C/V")),
    ("Ohm", true, Derived("1", "V/A")),
    ("S", true, Derived("1", "Ohm-1")),
    ("Gy", true, Derived("1", "J/kg")),
    ("Sv", true, Derived("1", "J/kg")),
    ("Bq", true, Derived("1", "s-1")),
    ("Ci", true, Derived("37000000000", "Bq")),
    ("kat", true, Derived("1", "mol/s")),
    ("osm", true, Derived("1", "mol")),
    // Temperature: Cel and [degF] and [degRe] are affine scales.
    ("Cel", true, Special("1", "K", "273.15")),
    ("[degF]", false, Special("5", "K/9", "459.67")),
    ("[degRe]", false, Special("5", "K/4", "218.52")),
    ("[degR]", false, Derived("5", "K/9")),
    // Time.
    ("min", false, Derived("60", "s")),
    ("h", false, Derived("60", "min")),
    ("d", false, Derived("24", "h")),
    ("wk", false, Derived("7", "d")),
    ("a_j", false, Derived("365.25", "d")),
    ("a_t", false, Derived("365.24219", "d")),
    ("a_g", false, Derived("365.2425", "d")),
    ("a", false, Derived("1", "a_j")),
    ("mo_j", false, Derived("1", "a_j/12")),
    ("mo_g", false, Derived("1", "a_g/12")),
    ("mo_s", false, Derived("29.53059", "d")),
    ("mo", false, Derived("1", "mo_j")),
    ("U", true, Derived("1", "umol/min")),
    // Volume, area, mass, pressure, energy.
    ("l", true, Derived("1", "dm3")),
    ("L", true, Derived("1", "l")),
    ("ar", true, Derived("100", "m2")),
    ("t", true, Derived("1000", "kg")),
    ("u", true, Derived("1.66053906660", "10*-24.g")),
    ("bar", true, Derived("100000", "Pa")),
    ("atm", false, Derived("101325", "Pa")),
    ("m[Hg]", true, Derived("133.322", "kPa")),
    ("m[H2O]", true, Derived("9.80665", "kPa")),
    ("cal", true, Derived("4.184", "J")),
    ("[Cal]", false, Derived("1", "kcal")),
    ("g%", true, Derived("1", "g/dL")),
    // International customary and avoirdupois units.
    ("[in_i]", false, Derived("2.54", "cm")),
    ("[ft_i]", false, Derived("12", "[in_i]")),
    ("[yd_i]", false, Derived("3", "[ft_i]")),
    ("[mi_i]", false, Derived("5280", "[ft_i]")),
    ("[cin_i]", false, Derived("1", "[in_i]3")),
    ("[gr]", false, Derived("64.79891", "mg")),
    ("[lb_av]", false, Derived("7000", "[gr]")),
    ("[oz_av]", false, Derived("1", "[lb_av]/16")),
    ("[stone_av]", false, Derived("14", "[lb_av]")),
    ("[gal_us]", false, Derived("231", "[cin_i]")),
    ("[qt_us]", false, Derived("1", "[gal_us]/4")),
    ("[pt_us]", false, Derived("1", "[qt_us]/2")),
    ("[gil_us]", false, Derived("1", "[pt_us]/4")),
    ("[foz_us]", false, Derived("1", "[gil_us]/4")),
    ("[tbs_us]", false, Derived("1", "[foz_us]/2")),
    ("[tsp_us]", false, Derived("1", "[tbs_us]/3")),
    ("[cup_us]", false, Derived("16", "[tbs_us]")),
    ("[drp]", false, Derived("1", "mL/20")),
    ("[in_i'Hg]", false, Derived("1", "m[Hg].[in_i]/m")),
];

/// Prefixes with their power of ten; two-letter `da` is tried before `d`.
pub(crate) const PREFIXES: &[(&str, i32)] = &[
    ("da", 1),
    ("Y", 24),
    ("Z", 21),
    ("E", 18),
    ("P", 15),
    ("T", 12),
    ("G", 9),
    ("M", 6),
    ("k", 3),
    ("h", 2),
    ("d", -1),
    ("c", -2),
    ("m", -3),
    ("u", -6),
    ("n", -9),
    ("p", -12),
    ("f", -15),
    ("a", -18),
    ("z", -21),
    ("y", -24),
];

#[cfg(test)]
/// The symbols that failed to resolve while building the table (a bug if not empty).
pub(crate) fn unresolved() -> &'static [&'static str] {
    &table().1
}

/// The resolved atoms by symbol.
pub(crate) fn atoms() -> &'static HashMap<&'static str, Atom> {
    &table().0
}

fn table() -> &'static (HashMap<&'static str, Atom>, Vec<&'static str>) {
    static TABLE_CELL: OnceLock<(HashMap<&'static str, Atom>, Vec<&'static str>)> = OnceLock::new();
    TABLE_CELL.get_or_init(build)
}

fn build() -> (HashMap<&'static str, Atom>, Vec<&'static str>) {
    let mut map: HashMap<&'static str, Atom> = HashMap::with_capacity(TABLE.len());
    let mut failed = Vec::new();
    for (symbol, metric, def) in TABLE {
        let resolved = match def {
            Slot(slot) => {
                debug_assert!(*slot < BASE_NAMES.len() + 23);
                Some(Atom {
                    metric: *metric,
                    magnitude: Magnitude::ONE,
                    dimension: Dimension::base(*slot),
                    offset: None,
                })
            }
            Derived(factor, expr) => derive(&map, *metric, factor, expr, None),
            Special(factor, expr, offset) => {
                derive(&map, *metric, factor, expr, Decimal::from_str(offset).ok())
            }
        };
        match resolved {
            Some(atom) => {
                map.insert(symbol, atom);
            }
            None => failed.push(*symbol),
        }
    }
    (map, failed)
}

fn derive(
    map: &HashMap<&'static str, Atom>,
    metric: bool,
    factor: &str,
    expr: &str,
    offset: Option<Decimal>,
) -> Option<Atom> {
    let factor = Magnitude::from_decimal(Decimal::from_str(factor).ok()?);
    let term = parser::parse_with(expr, map).ok()?;
    Some(Atom {
        metric,
        magnitude: factor.mul(term.magnitude).ok()?,
        dimension: term.dimension,
        offset,
    })
}
