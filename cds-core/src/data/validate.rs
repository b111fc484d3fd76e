//! Validation of the resource types the engine indexes — Patient, Observation, Condition,
//! MedicationRequest, Encounter, Appointment, Device — against what FHIR R4 requires of them and
//! what a [`PatientRecord`](crate::data::PatientRecord) needs: required elements, the allowed
//! forms of choice elements (`value[x]`, `effective[x]`, ...), parseable dates, numeric
//! quantities, references as objects with `reference` strings, and required value-set codes.
//!
//! Other resource types are accepted as they are. The first problem found is reported with its
//! JSON path; values are never quoted.
//!
//! ```
//! use cds_core::data::validate::validate_json;
//! let obs = serde_json::json!({
//!     "resourceType": "Observation", "status": "final", "code": {"text": "x"},
//!     "valueQuantity": {"value": "12"}
//! });
//! let err = validate_json("Observation", &obs).unwrap_err();
//! assert_eq!(err.to_string(), "Observation.valueQuantity.value: expected a number");
//! ```

use serde_json::{Map, Value};

use super::error::{Problem, ValidationError};
use super::time::{is_valid_time, parse_fhir, TimeKind};
use super::Resource;

/// Validates a loaded resource (see the module documentation).
pub fn validate(resource: &Resource) -> Result<(), ValidationError> {
    validate_json(resource.resource_type(), resource.json())
}

/// Validates the JSON of a resource of type `resource_type`. Non-objects are reported as such.
pub fn validate_json(resource_type: &'static str, json: &Value) -> Result<(), ValidationError> {
    let root = JPath::root(resource_type);
    let obj = object(json, &root)?;
    match resource_type {
        "Patient" => patient(obj, &root),
        "Observation" => observation(obj, &root),
        "Condition" => condition(obj, &root),
        "MedicationRequest" => medication_request(obj, &root),
        "Encounter" => encounter(obj, &root),
        "Appointment" => appointment(obj, &root),
        "Device" => device(obj, &root),
        _ => Ok(()),
    }
}

/// Validates `Bundle.type` and the shape of `Bundle.entry` (not the entries' resources).
pub(crate) fn bundle_shell(obj: &Map<String, Value>) -> Result<(), ValidationError> {
    let root = JPath::root("Bundle");
    code(
        obj,
        "type",
        &root,
        true,
        &[
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        ],
    )?;
    if let Some(entries) = obj.get("entry") {
        let path = root.field("entry");
        for (i, entry) in array(entries, &path)?.iter().enumerate() {
            object(entry, &path.index(i))?;
        }
    }
    Ok(())
}

const OBSERVATION_STATUS: &[&str] = &[
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
];

/// The value[x] forms of Observation and Observation.component in R4.
const OBSERVATION_VALUE: &[(&str, Check)] = &[
    ("Quantity", quantity),
    ("CodeableConcept", codeable_concept),
    ("String", string),
    ("Boolean", boolean),
    ("Integer", integer),
    ("Range", range),
    ("Ratio", ratio),
    ("SampledData", sampled_data),
    ("Time", time),
    ("DateTime", date_time),
    ("Period", period),
];

const OBSERVATION_EFFECTIVE: &[(&str, Check)] = &[
    ("DateTime", date_time),
    ("Period", period),
    ("Timing", timing),
    ("Instant", instant),
];

const CONDITION_ONSET: &[(&str, Check)] = &[
    ("DateTime", date_time),
    ("Age", quantity),
    ("Period", period),
    ("Range", range),
    ("String", string),
];

fn patient(obj: &Map<String, Value>, p: &JPath) -> Result<(), ValidationError> {
    code(
        obj,
        "gender",
        p,
        false,
        &["male", "female", "other", "unknown"],
    )?;
    opt(obj, "birthDate", p, date)?;
    choice(
        obj,
        "deceased",
        "deceased[x]",
        p,
        &[("Boolean", boolean), ("DateTime", date_time)],
    )?;
    opt(obj, "managingOrganization", p, reference)?;
    opt_each(obj, "generalPractitioner", p, reference)
}

fn observation(obj: &Map<String, Value>, p: &JPath) -> Result<(), ValidationError> {
    code(obj, "status", p, true, OBSERVATION_STATUS)?;
    req(obj, "code", p, codeable_concept)?;
    opt_each(obj, "category", p, codeable_concept)?;
    opt(obj, "subject", p, reference)?;
    opt(obj, "encounter", p, reference)?;
    choice(obj, "effective", "effective[x]", p, OBSERVATION_EFFECTIVE)?;
    opt(obj, "issued", p, instant)?;
    choice(obj, "value", "value[x]", p, OBSERVATION_VALUE)?;
    opt(obj, "dataAbsentReason", p, codeable_concept)?;
    opt_each(obj, "hasMember", p, reference)?;
    opt_each(obj, "derivedFrom", p, reference)?;
    opt_each(obj, "component", p, |v, cp| {
        let c = object(v, cp)?;
        req(c, "code", cp, codeable_concept)?;
        choice(c, "value", "value[x]", cp, OBSERVATION_VALUE)?;
        opt(c, "dataAbsentReason", cp, codeable_concept)
    })
}

fn condition(obj: &Map<String, Value>, p: &JPath) -> Result<(), ValidationError> {
    req(obj, "subject", p, reference)?;
    opt(obj, "code", p, codeable_concept)?;
    opt(obj, "clinicalStatus", p, codeable_concept)?;
    opt(obj, "verificationStatus", p, codeable_concept)?;
    opt_each(obj, "category", p, codeable_concept)?;
    opt(obj, "encounter", p, reference)?;
    choice(obj, "onset", "onset[x]", p, CONDITION_ONSET)?;
    choice(obj, "abatement", "abatement[x]", p, CONDITION_ONSET)?;
    opt(obj, "recordedDate", p, date_time)
}

fn medication_request(obj: &Map<String, Value>, p: &JPath) -> Result<(), ValidationError> {
    code(
        obj,
        "status",
        p,
        true,
        &[
            "active",
            "on-hold",
            "cancelled",
            "completed",
            "entered-in-error",
            "stopped",
            "draft",
            "unknown",
        ],
    )?;
    code(
        obj,
        "intent",
        p,
        true,
        &[
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        ],
    )?;
    req(obj, "subject", p, reference)?;
    let medication = choice(
        obj,
        "medication",
        "medication[x]",
        p,
        &[
            ("CodeableConcept", codeable_concept),
            ("Reference", reference),
        ],
    )?;
    if medication.is_none() {
        return Err(p.field("medication[x]").problem(Problem::Missing));
    }
    opt(obj, "encounter", p, reference)?;
    opt(obj, "authoredOn", p, date_time)
}

fn encounter(obj: &Map<String, Value>, p: &JPath) -> Result<(), ValidationError> {
    code(
        obj,
        "status",
        p,
        true,
        &[
            "planned",
            "arrived",
            "triaged",
            "in-progress",
            "onleave",
            "finished",
            "cancelled",
            "entered-in-error",
            "unknown",
        ],
    )?;
    req(obj, "class", p, coding)?;
    opt_each(obj, "type", p, codeable_concept)?;
    opt(obj, "subject", p, reference)?;
    opt(obj, "period", p, period)?;
    opt_each(obj, "reasonCode", p, codeable_concept)
}

fn appointment(obj: &Map<String, Value>, p: &JPath) -> Result<(), ValidationError> {
    code(
        obj,
        "status",
        p,
        true,
        &[
            "proposed",
            "pending",
            "booked",
            "arrived",
            "fulfilled",
            "cancelled",
            "noshow",
            "entered-in-error",
            "checked-in",
            "waitlist",
        ],
    )?;
    opt(obj, "start", p, instant)?;
    opt(obj, "end", p, instant)?;
    let participants = req(obj, "participant", p, |v, pp| array(v, pp).map(|_| ()))?;
    let pp = p.field("participant");
    if participants.as_array().is_some_and(Vec::is_empty) {
        return Err(pp.problem(Problem::Missing));
    }
    opt_each(obj, "participant", p, |v, ip| {
        let part = object(v, ip)?;
        opt(part, "actor", ip, reference)?;
        code(
            part,
            "status",
            ip,
            true,
            &["accepted", "declined", "tentative", "needs-action"],
        )
    })
}

fn device(obj: &Map<String, Value>, p: &JPath) -> Result<(), ValidationError> {
    code(
        obj,
        "status",
        p,
        false,
        &["active", "inactive", "entered-in-error", "unknown"],
    )?;
    opt(obj, "type", p, codeable_concept)?;
    opt(obj, "patient", p, reference)
}

// ---- data types -------------------------------------------------------------------------------

type Check = fn(&Value, &JPath) -> Result<(), ValidationError>;

fn codeable_concept(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    opt_each(obj, "coding", p, coding)?;
    opt(obj, "text", p, string)
}

fn coding(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    for name in ["system", "version", "code", "display"] {
        opt(obj, name, p, string)?;
    }
    Ok(())
}

fn reference(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    opt(obj, "reference", p, string)?;
    opt(obj, "display", p, string)
}

fn quantity(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    opt(obj, "value", p, number)?;
    for name in ["comparator", "unit", "system", "code"] {
        opt(obj, name, p, string)?;
    }
    Ok(())
}

fn range(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    opt(obj, "low", p, quantity)?;
    opt(obj, "high", p, quantity)
}

fn ratio(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    opt(obj, "numerator", p, quantity)?;
    opt(obj, "denominator", p, quantity)
}

fn sampled_data(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    req(obj, "origin", p, quantity)?;
    req(obj, "period", p, number)?;
    req(obj, "dimensions", p, positive_integer)?;
    for name in ["factor", "lowerLimit", "upperLimit"] {
        opt(obj, name, p, number)?;
    }
    opt(obj, "data", p, string)
}

fn period(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    opt(obj, "start", p, date_time)?;
    opt(obj, "end", p, date_time)
}

fn timing(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let obj = object(v, p)?;
    opt_each(obj, "event", p, date_time)?;
    opt(obj, "code", p, codeable_concept)
}

fn string(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    match v {
        Value::String(_) => Ok(()),
        _ => Err(p.problem(Problem::Expected("a string"))),
    }
}

fn boolean(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    match v {
        Value::Bool(_) => Ok(()),
        _ => Err(p.problem(Problem::Expected("a boolean"))),
    }
}

fn number(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    match v {
        Value::Number(_) => Ok(()),
        _ => Err(p.problem(Problem::Expected("a number"))),
    }
}

fn integer(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    match v.as_i64() {
        Some(n) if i32::try_from(n).is_ok() => Ok(()),
        _ => Err(p.problem(Problem::Expected("an integer"))),
    }
}

fn positive_integer(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    match v.as_i64() {
        Some(n) if n > 0 && i32::try_from(n).is_ok() => Ok(()),
        _ => Err(p.problem(Problem::Expected("a positive integer"))),
    }
}

fn time_of(kind: TimeKind, v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let s = v
        .as_str()
        .ok_or_else(|| p.problem(Problem::Expected("a string")))?;
    match parse_fhir(s, kind) {
        Some(_) => Ok(()),
        None => Err(p.problem(Problem::BadTime(kind.name()))),
    }
}

fn date(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    time_of(TimeKind::Date, v, p)
}

fn date_time(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    time_of(TimeKind::DateTime, v, p)
}

fn instant(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    time_of(TimeKind::Instant, v, p)
}

fn time(v: &Value, p: &JPath) -> Result<(), ValidationError> {
    let s = v
        .as_str()
        .ok_or_else(|| p.problem(Problem::Expected("a string")))?;
    if is_valid_time(s) {
        Ok(())
    } else {
        Err(p.problem(Problem::BadTime("time")))
    }
}

// ---- element helpers --------------------------------------------------------------------------

fn object<'v>(v: &'v Value, p: &JPath) -> Result<&'v Map<String, Value>, ValidationError> {
    v.as_object()
        .ok_or_else(|| p.problem(Problem::Expected("an object")))
}

fn array<'v>(v: &'v Value, p: &JPath) -> Result<&'v Vec<Value>, ValidationError> {
    v.as_array()
        .ok_or_else(|| p.problem(Problem::Expected("an array")))
}

/// A required element, checked.
/// The member `name` of an object. FHIR objects are small (a Coding has 2 to 4 members, an
/// Observation about a dozen): a scan of the keys is cheaper than hashing the name, most of all
/// for the many optional names that are absent.
fn field<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    if obj.len() <= 16 {
        obj.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    } else {
        obj.get(name)
    }
}

fn req<'v>(
    obj: &'v Map<String, Value>,
    name: &'static str,
    p: &JPath,
    check: impl Fn(&Value, &JPath) -> Result<(), ValidationError>,
) -> Result<&'v Value, ValidationError> {
    let fp = p.field(name);
    match field(obj, name) {
        None | Some(Value::Null) => Err(fp.problem(Problem::Missing)),
        Some(v) => check(v, &fp).map(|()| v),
    }
}

/// An optional element, checked when present.
fn opt(
    obj: &Map<String, Value>,
    name: &'static str,
    p: &JPath,
    check: impl Fn(&Value, &JPath) -> Result<(), ValidationError>,
) -> Result<(), ValidationError> {
    match field(obj, name) {
        None => Ok(()),
        Some(v) => check(v, &p.field(name)),
    }
}

/// An optional repeating element: an array whose items are each checked.
fn opt_each(
    obj: &Map<String, Value>,
    name: &'static str,
    p: &JPath,
    check: impl Fn(&Value, &JPath) -> Result<(), ValidationError>,
) -> Result<(), ValidationError> {
    let Some(v) = field(obj, name) else {
        return Ok(());
    };
    let fp = p.field(name);
    for (i, item) in array(v, &fp)?.iter().enumerate() {
        check(item, &fp.index(i))?;
    }
    Ok(())
}

/// A code element with a required value set.
fn code(
    obj: &Map<String, Value>,
    name: &'static str,
    p: &JPath,
    required: bool,
    allowed: &[&str],
) -> Result<(), ValidationError> {
    let fp = p.field(name);
    match field(obj, name) {
        None if !required => Ok(()),
        None => Err(fp.problem(Problem::Missing)),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(Value::String(_)) => Err(fp.problem(Problem::NotInValueSet)),
        Some(_) => Err(fp.problem(Problem::Expected("a string"))),
    }
}

/// A choice element `prefix[x]`: at most one present, of an allowed form, checked. Returns the
/// form's suffix and value when present.
fn choice<'v>(
    obj: &'v Map<String, Value>,
    prefix: &'static str,
    label: &'static str,
    p: &JPath,
    forms: &[(&'static str, Check)],
) -> Result<Option<(&'static str, &'v Value)>, ValidationError> {
    let mut found: Option<(&'static str, &'v Value)> = None;
    for (key, v) in obj {
        let Some(suffix) = key.strip_prefix(prefix) else {
            continue;
        };
        if !suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        let Some((form, check)) = forms.iter().find(|(f, _)| *f == suffix) else {
            return Err(p.field(label).problem(Problem::UnknownChoice(label)));
        };
        if found.is_some() {
            return Err(p.field(label).problem(Problem::MultipleChoices(label)));
        }
        let fp = p.field_owned(prefix, form);
        check(v, &fp)?;
        found = Some((form, v));
    }
    Ok(found)
}

// ---- lazily rendered JSON paths ---------------------------------------------------------------

#[derive(Clone, Copy)]
enum Seg {
    Root(&'static str),
    Field(&'static str),
    Choice(&'static str, &'static str),
    Index(usize),
}

/// A JSON path built on the stack and rendered only when a problem is reported.
struct JPath<'a> {
    parent: Option<&'a JPath<'a>>,
    seg: Seg,
}

impl<'a> JPath<'a> {
    fn root(resource_type: &'static str) -> JPath<'static> {
        JPath {
            parent: None,
            seg: Seg::Root(resource_type),
        }
    }

    fn field(&'a self, name: &'static str) -> JPath<'a> {
        JPath {
            parent: Some(self),
            seg: Seg::Field(name),
        }
    }

    fn field_owned(&'a self, prefix: &'static str, form: &'static str) -> JPath<'a> {
        JPath {
            parent: Some(self),
            seg: Seg::Choice(prefix, form),
        }
    }

    fn index(&'a self, i: usize) -> JPath<'a> {
        JPath {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            segs.push(p.seg);
            cur = p.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root(name) => out.push_str(name),
                Seg::Field(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Seg::Choice(prefix, form) => {
                    out.push('.');
                    out.push_str(prefix);
                    out.push_str(form);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn problem(&self, problem: Problem) -> ValidationError {
        ValidationError {
            path: self.render(),
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(rt: &'static str, v: Value) -> String {
        validate_json(rt, &v).unwrap_err().to_string()
    }

    fn obs(extra: Value) -> Value {
        let mut base =
            json!({"resourceType": "Observation", "status": "final", "code": {"text": "t"}});
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        base
    }

    #[test]
    fn observation_requirements() {
        assert_eq!(
            err("Observation", json!({"code": {}})),
            "Observation.status: required element missing"
        );
        assert_eq!(
            err("Observation", json!({"status": "final"})),
            "Observation.code: required element missing"
        );
        assert_eq!(
            err("Observation", json!({"status": "done", "code": {}})),
            "Observation.status: not a code of the required value set"
        );
        assert!(validate_json("Observation", &obs(json!({}))).is_ok());
    }

    #[test]
    fn value_forms() {
        let ok = [
            json!({"valueQuantity": {"value": 1.5, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}),
            json!({"valueCodeableConcept": {"coding": [{"system": "s", "code": "c"}]}}),
            json!({"valueString": "x"}),
            json!({"valueBoolean": true}),
            json!({"valueInteger": 3}),
            json!({"valueRange": {"low": {"value": 1}, "high": {"value": 2}}}),
            json!({"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 2}}}),
            json!({"valueSampledData": {"origin": {"value": 0}, "period": 10, "dimensions": 1, "data": "1 2"}}),
            json!({"valueTime": "10:00:00"}),
            json!({"valueDateTime": "2020-01"}),
            json!({"valuePeriod": {"start": "2020-01-01"}}),
            json!({"effectiveDateTime": "2020-01-01T10:00:00Z"}),
            json!({"effectivePeriod": {"start": "2020", "end": "2021"}}),
            json!({"effectiveInstant": "2020-01-01T10:00:00.123+02:00"}),
            json!({"effectiveTiming": {"event": ["2020-01-01"]}}),
        ];
        for extra in ok {
            let v = obs(extra.clone());
            assert!(validate_json("Observation", &v).is_ok(), "{extra}");
        }
        let bad = [
            (
                json!({"valueFoo": 1}),
                "Observation.value[x]: not an allowed form of value[x]",
            ),
            (
                json!({"valueString": "a", "valueBoolean": true}),
                "Observation.value[x]: more than one value[x] element",
            ),
            (
                json!({"valueInteger": 1.5}),
                "Observation.valueInteger: expected an integer",
            ),
            (
                json!({"valueTime": "25:00:00"}),
                "Observation.valueTime: not a valid FHIR time",
            ),
            (
                json!({"valueRange": {"low": {"value": "1"}}}),
                "Observation.valueRange.low.value: expected a number",
            ),
            (
                json!({"valueSampledData": {"origin": {}, "period": 1}}),
                "Observation.valueSampledData.dimensions: required element missing",
            ),
            (
                json!({"effectiveDateTime": "2020-01-01T10:00"}),
                "Observation.effectiveDateTime: not a valid FHIR dateTime",
            ),
            (
                json!({"effectiveInstant": "2020-01-01"}),
                "Observation.effectiveInstant: not a valid FHIR instant",
            ),
            (
                json!({"effectivePeriod": {"start": 2020}}),
                "Observation.effectivePeriod.start: expected a string",
            ),
            (
                json!({"effectiveTiming": {"event": "2020"}}),
                "Observation.effectiveTiming.event: expected an array",
            ),
            (
                json!({"subject": "Patient/1"}),
                "Observation.subject: expected an object",
            ),
            (
                json!({"subject": {"reference": 1}}),
                "Observation.subject.reference: expected a string",
            ),
            (
                json!({"component": [{"code": {}}, {"code": {}, "valueQuantity": {"value": "x"}}]}),
                "Observation.component[1].valueQuantity.value: expected a number",
            ),
            (
                json!({"component": [{"valueString": "x"}]}),
                "Observation.component[0].code: required element missing",
            ),
        ];
        for (extra, msg) in bad {
            assert_eq!(err("Observation", obs(extra)), msg);
        }
    }

    #[test]
    fn other_types() {
        assert_eq!(
            err("Condition", json!({})),
            "Condition.subject: required element missing"
        );
        assert_eq!(
            err(
                "MedicationRequest",
                json!({"status": "active", "intent": "order", "subject": {}})
            ),
            "MedicationRequest.medication[x]: required element missing"
        );
        assert_eq!(
            err("Encounter", json!({"status": "finished"})),
            "Encounter.class: required element missing"
        );
        assert_eq!(
            err(
                "Appointment",
                json!({"status": "booked", "participant": []})
            ),
            "Appointment.participant: required element missing"
        );
        assert_eq!(
            err(
                "Appointment",
                json!({"status": "booked", "participant": [{"actor": {}}]})
            ),
            "Appointment.participant[0].status: required element missing"
        );
        assert_eq!(
            err("Patient", json!({"birthDate": "1970-02-30"})),
            "Patient.birthDate: not a valid FHIR date"
        );
        assert_eq!(
            err("Device", json!({"patient": []})),
            "Device.patient: expected an object"
        );
        assert!(validate_json("Patient", &json!({})).is_ok());
        assert!(validate_json("Practitioner", &json!({"anything": 1})).is_ok());
    }
}
