//! A typed view over the `value[x]` of an Observation or an Observation component, borrowing
//! from the resource's JSON.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::time::{is_valid_time, parse_date_time};
use crate::temporal::{DateTime, Time};

/// The URI of UCUM, the code system of quantities the engine can convert.
pub const UCUM_SYSTEM: &str = "http://unitsofmeasure.org";

/// The `value[x]` of an observation (or component), by form.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationValue<'a> {
    /// `valueQuantity`.
    Quantity(QuantityValue<'a>),
    /// `valueCodeableConcept` (its JSON).
    CodeableConcept(&'a Value),
    /// `valueString`.
    String(&'a str),
    /// `valueBoolean`.
    Boolean(bool),
    /// `valueInteger`.
    Integer(i64),
    /// `valueRange`.
    Range {
        /// `low`.
        low: Option<QuantityValue<'a>>,
        /// `high`.
        high: Option<QuantityValue<'a>>,
    },
    /// `valueRatio`.
    Ratio {
        /// `numerator`.
        numerator: Option<QuantityValue<'a>>,
        /// `denominator`.
        denominator: Option<QuantityValue<'a>>,
    },
    /// `valueSampledData` (its JSON).
    SampledData(&'a Value),
    /// `valueTime`.
    Time(Time),
    /// `valueDateTime`.
    DateTime(DateTime),
    /// `valuePeriod`.
    Period {
        /// `start`.
        start: Option<DateTime>,
        /// `end`.
        end: Option<DateTime>,
    },
}

/// A FHIR Quantity as written: the value as an exact decimal, and the unit fields.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityValue<'a> {
    /// `value`, when present and numeric.
    pub value: Option<Decimal>,
    /// `comparator` (`<`, `<=`, `>=`, `>`).
    pub comparator: Option<&'a str>,
    /// `unit` (human-readable).
    pub unit: Option<&'a str>,
    /// `system` of the coded unit.
    pub system: Option<&'a str>,
    /// `code`: the coded unit (a UCUM expression when `system` is UCUM).
    pub code: Option<&'a str>,
}

impl<'a> QuantityValue<'a> {
    /// Reads a Quantity object (lenient: absent or mistyped fields are `None`).
    pub fn from_json(json: &'a Value) -> Option<Self> {
        let obj = json.as_object()?;
        let s = |k: &str| obj.get(k).and_then(Value::as_str);
        Some(QuantityValue {
            value: obj.get("value").and_then(decimal),
            comparator: s("comparator"),
            unit: s("unit"),
            system: s("system"),
            code: s("code"),
        })
    }

    /// The quantity as a [`ucum::Quantity`](crate::ucum::Quantity) to compare and convert: when
    /// it has a numeric value and a UCUM-coded unit that parses (`None` otherwise).
    pub fn to_ucum(&self) -> Option<crate::ucum::Quantity> {
        let code = self.ucum_code()?;
        crate::ucum::Quantity::ucum(self.value?, code).ok()
    }

    /// The UCUM unit code, when the quantity has a numeric value and a UCUM-coded unit — the
    /// quantities that can be compared and converted.
    pub fn ucum_code(&self) -> Option<&'a str> {
        match (self.value, self.system, self.code) {
            (Some(_), Some(UCUM_SYSTEM), Some(code)) => Some(code),
            _ => None,
        }
    }
}

impl<'a> ObservationValue<'a> {
    /// The `value[x]` of an Observation or component object; `None` when it has none (or one of
    /// a form that does not parse).
    pub fn of(element: &'a Value) -> Option<Self> {
        let obj = element.as_object()?;
        let (form, v) = choice(obj, "value")?;
        Some(match form {
            "Quantity" => ObservationValue::Quantity(QuantityValue::from_json(v)?),
            "CodeableConcept" => ObservationValue::CodeableConcept(v),
            "String" => ObservationValue::String(v.as_str()?),
            "Boolean" => ObservationValue::Boolean(v.as_bool()?),
            "Integer" => ObservationValue::Integer(v.as_i64()?),
            "Range" => ObservationValue::Range {
                low: v.get("low").and_then(QuantityValue::from_json),
                high: v.get("high").and_then(QuantityValue::from_json),
            },
            "Ratio" => ObservationValue::Ratio {
                numerator: v.get("numerator").and_then(QuantityValue::from_json),
                denominator: v.get("denominator").and_then(QuantityValue::from_json),
            },
            "SampledData" => ObservationValue::SampledData(v),
            "Time" => {
                let s = v.as_str().filter(|s| is_valid_time(s))?;
                ObservationValue::Time(Time::parse(s).ok()?)
            }
            "DateTime" => ObservationValue::DateTime(parse_date_time(v.as_str()?)?),
            "Period" => ObservationValue::Period {
                start: v
                    .get("start")
                    .and_then(Value::as_str)
                    .and_then(parse_date_time),
                end: v
                    .get("end")
                    .and_then(Value::as_str)
                    .and_then(parse_date_time),
            },
            _ => return None,
        })
    }

    /// The quantity, when the value is one.
    pub fn as_quantity(&self) -> Option<&QuantityValue<'a>> {
        match self {
            ObservationValue::Quantity(q) => Some(q),
            _ => None,
        }
    }
}

/// The form suffix and value of the first `prefix[x]` element of an object.
pub(crate) fn choice<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
) -> Option<(&'a str, &'a Value)> {
    obj.iter().find_map(|(k, v)| {
        let form = k.strip_prefix(prefix)?;
        form.starts_with(|c: char| c.is_ascii_uppercase())
            .then_some((form, v))
    })
}

/// A JSON number as an exact decimal (via its shortest text form).
pub(crate) fn decimal(v: &Value) -> Option<Decimal> {
    let n = v.as_number()?;
    let text = n.to_string();
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_each_form() {
        let q = json!({"valueQuantity": {"value": 117.4, "unit": "mm[Hg]", "system": UCUM_SYSTEM, "code": "mm[Hg]"}});
        let v = ObservationValue::of(&q).unwrap();
        let q = v.as_quantity().unwrap();
        assert_eq!(q.value, Some(Decimal::from_str("117.4").unwrap()));
        assert_eq!(q.ucum_code(), Some("mm[Hg]"));
        let kpa = q.to_ucum().unwrap().convert_to_code("kPa").unwrap();
        assert!(kpa.value > Decimal::from(15) && kpa.value < Decimal::from(16));
        let no_system = json!({"value": 1, "code": "mg"});
        assert_eq!(
            QuantityValue::from_json(&no_system).unwrap().to_ucum(),
            None
        );
        assert!(matches!(
            ObservationValue::of(&json!({"valueBoolean": false})),
            Some(ObservationValue::Boolean(false))
        ));
        assert!(matches!(
            ObservationValue::of(&json!({"valueInteger": 3})),
            Some(ObservationValue::Integer(3))
        ));
        assert!(matches!(
            ObservationValue::of(&json!({"valueString": "x"})),
            Some(ObservationValue::String("x"))
        ));
        assert!(matches!(
            ObservationValue::of(&json!({"valueTime": "10:00:00"})),
            Some(ObservationValue::Time(_))
        ));
        assert!(matches!(
            ObservationValue::of(&json!({"valuePeriod": {"start": "2020"}})),
            Some(ObservationValue::Period {
                start: Some(_),
                end: None
            })
        ));
        assert_eq!(ObservationValue::of(&json!({"valueFoo": 1})), None);
        assert_eq!(ObservationValue::of(&json!({"_valueString": {}})), None);
        assert_eq!(ObservationValue::of(&json!({})), None);
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(&json!(0.1)), Decimal::from_str("0.1").ok());
        assert_eq!(decimal(&json!(1e-7)), Decimal::from_str("0.0000001").ok());
        assert_eq!(decimal(&json!(12)), Some(Decimal::from(12)));
        assert_eq!(decimal(&json!("12")), None);
    }
}
