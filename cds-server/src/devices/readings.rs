//! Device readings as they arrive: one Observation, a Bundle of them, or a bare array; each an
//! Observation, about the device's patient, naming no other device, with a time.

use cds_core::data::time::parse_date_time;
use serde_json::Value;

use crate::outcome::{ApiError, Problem};
use crate::record::{self, Located};

/// The id a reference points to, when it points to a Device: `Device/x`,
/// `https://host/fhir/Device/x`, `Device/x/_history/2`.
pub fn device_id_of(reference: &str) -> Option<&str> {
    let rest = if let Some(r) = reference.strip_prefix("Device/") {
        r
    } else {
        let i = reference.rfind("/Device/")?;
        &reference[i + "/Device/".len()..]
    };
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Checks that a located resource is an Observation and, when `device` is given, that its
/// `device` (if it names a Device) names that one. References to a DeviceMetric, to a
/// contained resource or by `urn:` cannot be checked and are accepted.
pub fn check_observation(l: &Located, device: Option<&str>, problems: &mut Vec<Problem>) {
    if l.json.get("resourceType").and_then(Value::as_str) != Some("Observation") {
        problems.push(Problem::at(
            format!("{}.resourceType", l.path),
            "must be an Observation",
        ));
        return;
    }
    let (Some(device), Some(reference)) = (
        device,
        l.json
            .get("device")
            .and_then(|d| d.get("reference"))
            .and_then(Value::as_str),
    ) else {
        return;
    };
    if device_id_of(reference).is_some_and(|id| id != device) {
        problems.push(Problem::at(
            format!("{}.device.reference", l.path),
            "refers to a device other than the one the readings are sent for",
        ));
    }
}

/// An Observation's time as the record orders it — effective\[x\] (dateTime, instant, the start
/// of a Period or else its end, the earliest event of a Timing), else `issued` — as UTC epoch
/// milliseconds (its earliest instant); `None` when it has none.
pub fn reading_time(obs: &Value) -> Option<i64> {
    let time = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(parse_date_time)
            .map(|t| t.lower_bound_millis(0))
    };
    if let Some(t) = time(obs.get("effectiveDateTime")) {
        return Some(t);
    }
    if let Some(t) = time(obs.get("effectiveInstant")) {
        return Some(t);
    }
    if let Some(p) = obs.get("effectivePeriod") {
        if let Some(t) = time(p.get("start")).or_else(|| time(p.get("end"))) {
            return Some(t);
        }
    }
    let events = obs
        .get("effectiveTiming")
        .and_then(|t| t.get("event"))
        .and_then(Value::as_array);
    if let Some(t) = events
        .into_iter()
        .flatten()
        .filter_map(|e| time(Some(e)))
        .min()
    {
        return Some(t);
    }
    time(obs.get("issued"))
}

/// The readings of a `POST /devices/{id}/observations` body, checked: Observations of
/// `patient_id` through `device_id`, each with a time. Paths are from the body's root (`""` for
/// a single Observation, `entry[2].resource`, `[2]`).
pub fn from_body(
    body: Value,
    device_id: &str,
    patient_id: &str,
    max: usize,
) -> Result<Vec<(Located, i64)>, ApiError> {
    let mut located = Vec::new();
    record::unpack(body, "", &mut located).map_err(from_root)?;
    for l in &mut located {
        if let Some(rest) = l.path.strip_prefix('.') {
            l.path = rest.to_string();
        }
    }
    if located.is_empty() {
        return Err(ApiError::invalid_at(
            "",
            "no Observation: send one, a Bundle of them or an array",
        ));
    }
    let mut problems = Vec::new();
    let mut times = Vec::with_capacity(located.len());
    for l in &located {
        let before = problems.len();
        check_observation(l, Some(device_id), &mut problems);
        if problems.len() > before {
            continue;
        }
        match reading_time(&l.json) {
            Some(t) => times.push(t),
            None => problems.push(Problem::at(
                format!("{}.effectiveDateTime", l.path),
                "is required (or effectiveInstant, effectivePeriod, effectiveTiming, issued): a reading needs its time",
            )),
        }
    }
    if !problems.is_empty() {
        problems.truncate(crate::validate::MAX_PROBLEMS);
        return Err(from_root(ApiError::invalid(problems)));
    }
    // The record's checks: R4 shape, and about the device's patient only.
    record::build(patient_id, "the device's patient", located.clone(), max).map_err(from_root)?;
    Ok(located.into_iter().zip(times).collect())
}

/// Paths of problems found under the root path `""` (`.subject.reference` → `subject.reference`).
fn from_root(mut e: ApiError) -> ApiError {
    for p in &mut e.problems {
        if let Some(rest) = p.path.strip_prefix('.') {
            p.path = rest.to_string();
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hr(id: &str, subject: &str, at: &str) -> Value {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": subject}, "device": {"reference": "Device/watch"},
            "effectiveDateTime": at,
            "valueQuantity": {"value": 88, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}})
    }

    #[test]
    fn one_observation_a_bundle_or_an_array() {
        let one = from_body(
            hr("a", "Patient/p1", "2024-03-01T10:00:00Z"),
            "watch",
            "p1",
            10,
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].0.path, "");
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": hr("a", "Patient/p1", "2024-03-01T10:00:00Z")},
            {"resource": hr("b", "Patient/p1", "2024-03-01T10:01:00Z")}]});
        let b = from_body(bundle, "watch", "p1", 10).unwrap();
        assert_eq!(b[1].0.path, "entry[1].resource");
        assert_eq!(b[1].1 - b[0].1, 60_000);
        let array = json!([hr("a", "Patient/p1", "2024-03-01T10:00:00Z")]);
        assert_eq!(
            from_body(array, "watch", "p1", 10).unwrap()[0].0.path,
            "[0]"
        );
    }

    #[test]
    fn another_patient_is_refused_at_its_path_without_quoting_it() {
        let e = from_body(
            json!([
                hr("a", "Patient/p1", "2024-03-01T10:00:00Z"),
                hr("b", "Patient/p2", "2024-03-01T10:00:00Z")
            ]),
            "watch",
            "p1",
            10,
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.problems[0].path, "[1].subject.reference");
        assert!(e.problems[0].message.contains("the device's patient"));
        assert!(!e.to_string().contains("p2"));
    }

    #[test]
    fn another_device_a_non_observation_and_an_untimed_reading_are_refused() {
        let mut other = hr("a", "Patient/p1", "2024-03-01T10:00:00Z");
        other["device"]["reference"] = json!("https://ehr/fhir/Device/cgm/_history/2");
        let mut untimed = hr("b", "Patient/p1", "2024-03-01T10:00:00Z");
        untimed.as_object_mut().unwrap().remove("effectiveDateTime");
        let body = json!({"resourceType": "Bundle", "entry": [
            {"resource": other}, {"resource": {"resourceType": "Condition"}}, {"resource": untimed}]});
        let e = from_body(body, "watch", "p1", 10).unwrap_err();
        let paths: Vec<_> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "entry[0].resource.device.reference",
                "entry[1].resource.resourceType",
                "entry[2].resource.effectiveDateTime"
            ]
        );
    }

    #[test]
    fn an_empty_bundle_is_refused() {
        let e = from_body(
            json!({"resourceType": "Bundle", "type": "collection"}),
            "w",
            "p1",
            10,
        )
        .unwrap_err();
        assert_eq!(e.problems[0].path, "");
    }

    #[test]
    fn times_follow_the_records_order_of_elements() {
        assert_eq!(
            reading_time(&json!({"effectivePeriod": {"end": "1970-01-01T00:00:01Z"}})),
            Some(1000)
        );
        assert_eq!(
            reading_time(
                &json!({"effectiveTiming": {"event": ["1970-01-01T00:00:03Z", "1970-01-01T00:00:02Z"]}})
            ),
            Some(2000)
        );
        assert_eq!(
            reading_time(&json!({"issued": "1970-01-01T00:00:04Z"})),
            Some(4000)
        );
        assert_eq!(reading_time(&json!({"effectiveDateTime": "soon"})), None);
        assert_eq!(device_id_of("Device/w/_history/1"), Some("w"));
        assert_eq!(device_id_of("DeviceMetric/m"), None);
    }
}
