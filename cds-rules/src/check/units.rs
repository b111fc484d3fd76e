//! UCUM units in rules: parsing with a hint for common misspellings, what a unit
//! measures (for messages), and the usual unit of common LOINC codes.

use crate::ast::Span;
use cds_core::ucum::{UcumError, Unit};
use std::sync::Arc;

/// Parses a UCUM unit code.
pub(crate) fn parse(code: &str) -> Result<Arc<Unit>, UcumError> {
    Unit::parse(code)
}

/// Whether two unit codes are both valid and measure the same kind of quantity. Unknown
/// units are not reported here (they have their own diagnostic): the answer is `true`.
pub(crate) fn commensurable(a: &str, b: &str) -> bool {
    match (parse(a), parse(b)) {
        (Ok(a), Ok(b)) => a.is_commensurable(&b),
        _ => true,
    }
}

/// Common mistakes and the UCUM code meant.
const ALIASES: &[(&str, &str)] = &[
    ("mmHg", "mm[Hg]"),
    ("mm Hg", "mm[Hg]"),
    ("mmhg", "mm[Hg]"),
    ("cmH2O", "cm[H2O]"),
    ("C", "Cel"),
    ("°C", "Cel"),
    ("degC", "Cel"),
    ("celsius", "Cel"),
    ("Celsius", "Cel"),
    ("F", "[degF]"),
    ("°F", "[degF]"),
    ("degF", "[degF]"),
    ("bpm", "/min"),
    ("beats/min", "/min"),
    ("breaths/min", "/min"),
    ("per min", "/min"),
    ("1/min", "/min"),
    ("lb", "[lb_av]"),
    ("lbs", "[lb_av]"),
    ("in", "[in_i]"),
    ("inch", "[in_i]"),
    ("ft", "[ft_i]"),
    ("kg/m^2", "kg/m2"),
    ("kg/m²", "kg/m2"),
    ("µmol/L", "umol/L"),
    ("μmol/L", "umol/L"),
    ("µg", "ug"),
    ("mcg", "ug"),
    ("IU", "[IU]"),
    ("IU/L", "[IU]/L"),
    ("mEq/L", "meq/L"),
    ("mEq", "meq"),
    ("sec", "s"),
    ("secs", "s"),
    ("hr", "h"),
    ("hrs", "h"),
    ("hours", "h"),
    ("days", "d"),
    ("day", "d"),
    ("weeks", "wk"),
    ("months", "mo"),
    ("years", "a"),
    ("yr", "a"),
    ("y", "a"),
    ("percent", "%"),
    ("points", "{score}"),
    ("score", "{score}"),
];

/// Units rules commonly use, for "did you mean" by spelling.
const COMMON: &[&str] = &[
    "mm[Hg]",
    "kPa",
    "cm[H2O]",
    "Cel",
    "[degF]",
    "/min",
    "%",
    "kg",
    "g",
    "mg",
    "ug",
    "cm",
    "mm",
    "m",
    "kg/m2",
    "mg/dL",
    "g/dL",
    "g/L",
    "mg/L",
    "ug/L",
    "ng/mL",
    "pg/mL",
    "ng/L",
    "mmol/L",
    "umol/L",
    "nmol/L",
    "meq/L",
    "U/L",
    "[IU]/L",
    "m[IU]/L",
    "10*9/L",
    "10*3/uL",
    "fL",
    "mL",
    "L",
    "L/min",
    "mL/min",
    "mL/min/{1.73_m2}",
    "mosm/kg",
    "s",
    "min",
    "h",
    "d",
    "wk",
    "mo",
    "a",
    "{score}",
    "[pH]",
    "1",
];

/// The UCUM code probably meant by an invalid unit, if any.
pub(crate) fn hint(bad: &str) -> Option<&'static str> {
    let trimmed = bad.trim();
    if let Some((_, good)) = ALIASES.iter().find(|(a, _)| *a == trimmed) {
        return Some(good);
    }
    if let Some(good) = COMMON
        .iter()
        .find(|c| c.eq_ignore_ascii_case(trimmed) || c.replace(['[', ']'], "") == trimmed)
    {
        return Some(good);
    }
    super::suggest::closest(trimmed, COMMON.iter().copied())
        .and_then(|c| COMMON.iter().copied().find(|k| *k == c))
}

/// For a valid unit written with the case of a common unit's letters changed (`mg/dl`,
/// `Mg`): the common unit, and whether both mean the same (`l` and `L` are both litre).
pub(crate) fn respelling(code: &str) -> Option<(&'static str, bool)> {
    let common = COMMON
        .iter()
        .copied()
        .find(|c| *c != code && c.eq_ignore_ascii_case(code))?;
    let (a, b) = (parse(code).ok()?, parse(common).ok()?);
    let same = a.is_commensurable(&b)
        && a.convert_value(rust_decimal::Decimal::ONE, &b).ok() == Some(rust_decimal::Decimal::ONE);
    Some((common, same))
}

/// What a unit measures, in words, for messages: "a pressure", "a mass", ...
pub(crate) fn describe(code: &str) -> Option<&'static str> {
    const KINDS: &[(&str, &str)] = &[
        ("Pa", "a pressure"),
        ("g", "a mass"),
        ("m", "a length"),
        ("m2", "an area"),
        ("L", "a volume"),
        ("K", "a temperature"),
        ("s", "a duration"),
        ("/min", "a rate per time"),
        ("mol/L", "an amount of substance per volume"),
        ("g/L", "a mass per volume"),
        ("kg/m2", "a mass per area"),
        ("eq/L", "equivalents per volume"),
        ("L/min", "a flow"),
        ("mol", "an amount of substance"),
        ("1", "a plain ratio"),
    ];
    let unit = parse(code).ok()?;
    KINDS.iter().find_map(|(reference, words)| {
        let r = parse(reference).ok()?;
        unit.is_commensurable(&r).then_some(*words)
    })
}

/// "mm[Hg] (a pressure)" or just "mm[Hg]".
pub(crate) fn with_kind(code: &str) -> String {
    match describe(code) {
        Some(kind) => format!("`{code}` ({kind})"),
        None => format!("`{code}`"),
    }
}

/// The usual UCUM unit of common LOINC codes (vital signs, common labs, scores).
const LOINC_UNITS: &[(&str, &str)] = &[
    // vital signs
    ("8480-6", "mm[Hg]"), // systolic blood pressure
    ("8462-4", "mm[Hg]"), // diastolic blood pressure
    ("8478-0", "mm[Hg]"), // mean blood pressure
    ("8867-4", "/min"),   // heart rate
    ("9279-1", "/min"),   // respiratory rate
    ("59408-5", "%"),     // SpO2 by pulse oximetry
    ("2708-6", "%"),      // oxygen saturation in arterial blood
    ("8310-5", "Cel"),    // body temperature
    ("8331-1", "Cel"),    // oral temperature
    ("29463-7", "kg"),    // body weight
    ("3141-9", "kg"),     // body weight measured
    ("8302-2", "cm"),     // body height
    ("8306-3", "cm"),     // body height lying
    ("39156-5", "kg/m2"), // body mass index
    ("8280-0", "cm"),     // waist circumference
    ("9843-4", "cm"),     // head circumference
    ("3151-8", "L/min"),  // inhaled oxygen flow rate
    ("3150-0", "%"),      // inhaled oxygen concentration
    // chemistry
    ("2823-3", "mmol/L"),            // potassium, serum/plasma
    ("6298-4", "mmol/L"),            // potassium, blood
    ("2951-2", "mmol/L"),            // sodium, serum/plasma
    ("2947-0", "mmol/L"),            // sodium, blood
    ("2075-0", "mmol/L"),            // chloride
    ("1963-8", "mmol/L"),            // bicarbonate
    ("2524-7", "mmol/L"),            // lactate
    ("2160-0", "mg/dL"),             // creatinine, serum/plasma (mass)
    ("14682-9", "umol/L"),           // creatinine, serum/plasma (moles)
    ("3094-0", "mg/dL"),             // urea nitrogen
    ("2339-0", "mg/dL"),             // glucose, blood
    ("2345-7", "mg/dL"),             // glucose, serum/plasma
    ("15074-8", "mmol/L"),           // glucose (moles)
    ("4548-4", "%"),                 // hemoglobin A1c
    ("17856-6", "%"),                // hemoglobin A1c by HPLC
    ("2093-3", "mg/dL"),             // cholesterol
    ("2085-9", "mg/dL"),             // HDL cholesterol
    ("13457-7", "mg/dL"),            // LDL cholesterol (calculated)
    ("2571-8", "mg/dL"),             // triglycerides
    ("17861-6", "mg/dL"),            // calcium
    ("2601-3", "mg/dL"),             // magnesium
    ("1742-6", "U/L"),               // ALT
    ("1920-8", "U/L"),               // AST
    ("1975-2", "mg/dL"),             // bilirubin, total
    ("1751-7", "g/dL"),              // albumin
    ("1988-5", "mg/L"),              // C reactive protein
    ("33762-6", "pg/mL"),            // NT-proBNP
    ("10839-9", "ng/mL"),            // troponin I
    ("3016-3", "m[IU]/L"),           // TSH
    ("33914-3", "mL/min/{1.73_m2}"), // eGFR (MDRD)
    ("62238-1", "mL/min/{1.73_m2}"), // eGFR (CKD-EPI)
    ("48642-3", "mL/min/{1.73_m2}"), // eGFR (non-black)
    ("48643-1", "mL/min/{1.73_m2}"), // eGFR (black)
    // blood gases
    ("2019-8", "mm[Hg]"), // pCO2, arterial
    ("2703-7", "mm[Hg]"), // pO2, arterial
    ("11558-4", "[pH]"),  // pH, blood
    // hematology and coagulation
    ("718-7", "g/dL"),     // hemoglobin
    ("4544-3", "%"),       // hematocrit
    ("6690-2", "10*3/uL"), // leukocytes
    ("777-3", "10*3/uL"),  // platelets
    ("6301-6", "{INR}"),   // INR
    // scores
    ("9269-2", "{score}"),  // Glasgow coma score total
    ("72514-3", "{score}"), // pain severity 0-10
];

/// The usual UCUM unit of a LOINC code, if the checker knows it.
pub(crate) fn loinc_unit(code: &str) -> Option<&'static str> {
    LOINC_UNITS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, u)| *u)
}

/// The span of the quoted unit at the end of `span` (`140 'mm[Hg]'` → `mm[Hg]`), or `span`
/// itself when the source there holds no quoted unit.
pub(crate) fn unit_span(source: &str, span: Span) -> Span {
    let Some(text) = source.get(span.start..span.end) else {
        return span;
    };
    let Some(close) = text.rfind('\'') else {
        return span;
    };
    match text[..close].rfind('\'') {
        Some(open) => Span::new(span.start + open + 1, span.start + close),
        None => span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_units_parse_and_codes_have_valid_check_digits() {
        for (code, unit) in LOINC_UNITS {
            assert!(parse(unit).is_ok(), "{unit}");
            assert!(
                super::super::codes::loinc_problem(code).is_none(),
                "{code} in the table is not a valid LOINC code"
            );
        }
        for (_, good) in ALIASES {
            assert!(parse(good).is_ok(), "{good}");
        }
        for c in COMMON {
            assert!(parse(c).is_ok(), "{c}");
        }
    }

    #[test]
    fn hints_for_common_misspellings() {
        assert_eq!(hint("mmHg"), Some("mm[Hg]"));
        assert_eq!(hint("C"), Some("Cel"));
        assert_eq!(hint("mg/dl"), Some("mg/dL"));
        assert_eq!(hint("mmol/l"), Some("mmol/L"));
        assert_eq!(hint("degF"), Some("[degF]"));
        assert_eq!(hint("pH"), Some("[pH]"));
        assert_eq!(hint("xyzzy-unit"), None);
        assert_eq!(respelling("mg/dl"), Some(("mg/dL", true)));
        assert_eq!(respelling("Mg"), Some(("mg", false)));
        assert_eq!(respelling("mg/dL"), None);
    }

    #[test]
    fn kinds_and_commensurability() {
        assert_eq!(describe("mm[Hg]"), Some("a pressure"));
        assert_eq!(describe("kg"), Some("a mass"));
        assert_eq!(describe("Cel"), Some("a temperature"));
        assert!(commensurable("mm[Hg]", "kPa"));
        assert!(!commensurable("mm[Hg]", "kg"));
        assert!(commensurable("nonsense", "kg"));
        assert_eq!(loinc_unit("8480-6"), Some("mm[Hg]"));
    }

    #[test]
    fn unit_span_finds_the_quotes() {
        let src = "x >= 140 'mm[Hg]' y";
        assert_eq!(unit_span(src, Span::new(5, 17)), Span::new(10, 16));
        assert_eq!(unit_span(src, Span::new(0, 4)), Span::new(0, 4));
        assert_eq!(unit_span(src, Span::new(50, 60)), Span::new(50, 60));
    }
}
