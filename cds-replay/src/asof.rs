//! A patient's record as it was known at a time: no look-ahead.
//!
//! Each resource becomes known at a time read from its own elements (an Observation when it was
//! both taken and issued, a Condition when recorded or else at onset, a MedicationRequest when
//! authored, an Encounter when it started, ...; see [`known_at`]). The record as of `t` holds the
//! resources known by `t`, and undoes what happened after `t` to those it holds: a Condition that
//! abated after `t` is active at `t` (its abatement removed), a Patient who died after `t` is
//! alive (`deceased[x]` removed). Resources with none of those elements (a Device, a Patient) are
//! taken as known all along.
//!
//! What a FHIR R4 export cannot tell is left as recorded: a MedicationRequest's status has no
//! date (a stopped order looks stopped before it stopped), and a resolved Condition without an
//! abatement date looks resolved from its onset.

use std::sync::Arc;

use cds_core::data::time::parse_date_time;
use cds_core::data::{Resource, Source};
use serde_json::Value;

/// The first millisecond of a FHIR date/dateTime/instant string.
fn ms_of(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_str)
        .and_then(parse_date_time)
        .map(|t| t.lower_bound_millis(0))
}

/// The time of element `name` of `json`: a dateTime/instant/date, or a Period's start; `name`
/// ending in `[x]` tries the `DateTime`, `Instant`, `Period` and `Date` forms.
fn time_of(json: &Value, name: &str) -> Option<i64> {
    if let Some(stem) = name.strip_suffix("[x]") {
        return ["DateTime", "Instant", "Date"]
            .iter()
            .find_map(|s| ms_of(json.get(format!("{stem}{s}"))))
            .or_else(|| {
                ms_of(
                    json.get(format!("{stem}Period"))
                        .and_then(|p| p.get("start")),
                )
            });
    }
    match json.get(name)? {
        Value::Object(period) => ms_of(period.get("start")),
        v => ms_of(Some(v)),
    }
}

/// The elements that tell when a resource of a type became known, in order of preference.
fn known_elements(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "Condition" | "AllergyIntolerance" => &["recordedDate", "onset[x]"],
        "MedicationRequest" | "ServiceRequest" | "DeviceRequest" => &["authoredOn"],
        "MedicationStatement" => &["dateAsserted", "effective[x]"],
        "MedicationAdministration" => &["effective[x]"],
        "MedicationDispense" => &["whenHandedOver", "whenPrepared"],
        "Encounter" | "CareTeam" | "EpisodeOfCare" | "Coverage" => &["period"],
        "Procedure" => &["performed[x]"],
        "Immunization" => &["recorded", "occurrence[x]"],
        "CarePlan" => &["created", "period"],
        "Goal" => &["statusDate", "start[x]"],
        "Claim" | "ExplanationOfBenefit" => &["created", "billablePeriod"],
        "DocumentReference" | "Composition" => &["date"],
        "ImagingStudy" => &["started"],
        "Provenance" => &["recorded"],
        "SupplyDelivery" | "ImmunizationEvaluation" => &["occurrence[x]", "date"],
        "QuestionnaireResponse" => &["authored"],
        "Communication" => &["sent"],
        "Appointment" => &["created"],
        "Flag" => &["period"],
        "RiskAssessment" => &["occurrence[x]"],
        "FamilyMemberHistory" => &["date"],
        _ => &[],
    }
}

/// When a resource became known (milliseconds since the epoch), or `None` when it tells no time.
pub(crate) fn known_at(r: &Resource) -> Option<i64> {
    let json = r.json();
    match r.resource_type() {
        // A result is known once it is both taken and issued.
        "Observation" | "DiagnosticReport" => {
            match (time_of(json, "effective[x]"), ms_of(json.get("issued"))) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        }
        t => known_elements(t).iter().find_map(|e| time_of(json, e)),
    }
}

/// A Condition's abatement time, when its recorded status is no longer active.
fn abated_at(r: &Resource) -> Option<i64> {
    if r.resource_type() != "Condition" {
        return None;
    }
    let status = r
        .json()
        .get("clinicalStatus")
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find_map(|c| c.get("code").and_then(Value::as_str)));
    if !matches!(status, Some("resolved" | "inactive" | "remission")) {
        return None;
    }
    time_of(r.json(), "abatement[x]")
}

/// `r` with `json` changed by `f`, same source and fullUrl.
fn rewritten(r: &Resource, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Arc<Resource> {
    let mut json = r.json().clone();
    if let Value::Object(map) = &mut json {
        f(map);
    }
    let source: Source = r.source().clone();
    let url = r.full_url().map(Arc::from);
    Arc::new(Resource::from_json(json, source, url).unwrap_or_else(|_| r.clone()))
}

/// The Condition as it was before it abated: active, without abatement.
fn before_abatement(r: &Resource) -> Arc<Resource> {
    rewritten(r, |m| {
        m.retain(|k, _| !k.starts_with("abatement"));
        m.insert(
            "clinicalStatus".into(),
            serde_json::json!({"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "active"
            }]}),
        );
    })
}

/// A patient's resources ordered by when they became known.
pub(crate) struct History {
    /// Known all along (the Patient first, alive).
    always: Vec<Arc<Resource>>,
    /// Known from a time, in time order (stable: input order among equal times).
    timed: Vec<(i64, Arc<Resource>)>,
    /// For Conditions of `timed` that abated: index, abatement time, the Condition before it.
    abating: Vec<(usize, i64, Arc<Resource>)>,
    /// Abatement times, sorted.
    abatement_times: Vec<i64>,
    /// When the patient was born and died, when known.
    pub born: Option<i64>,
    pub died: Option<i64>,
}

impl History {
    /// Orders a patient's resources (the Patient among them).
    pub(crate) fn new(resources: Vec<Arc<Resource>>) -> History {
        let mut always = Vec::new();
        let mut timed = Vec::new();
        let (mut born, mut died) = (None, None);
        for r in resources {
            if r.resource_type() == "Patient" {
                let json = r.json();
                born = born.or_else(|| ms_of(json.get("birthDate")));
                let death = ms_of(json.get("deceasedDateTime"));
                died = died.or(death);
                let alive = if death.is_some() {
                    rewritten(&r, |m| {
                        m.remove("deceasedDateTime");
                    })
                } else {
                    r
                };
                // The Patient leads, as in a Bundle.
                always.insert(0, alive);
                continue;
            }
            match known_at(&r) {
                Some(t) => timed.push((t, r)),
                None => always.push(r),
            }
        }
        timed.sort_by_key(|(t, _)| *t);
        let mut abating = Vec::new();
        for (i, (known, r)) in timed.iter().enumerate() {
            if let Some(a) = abated_at(r) {
                if a > *known {
                    abating.push((i, a, before_abatement(r)));
                }
            }
        }
        let mut abatement_times: Vec<i64> = abating.iter().map(|(_, a, _)| *a).collect();
        abatement_times.sort_unstable();
        History {
            always,
            timed,
            abating,
            abatement_times,
            born,
            died,
        }
    }

    /// What changes the record: how many timed resources are known at `t`, and how many
    /// abatements have happened by `t`. Equal states mean equal records.
    pub(crate) fn state_at(&self, t: i64) -> (usize, usize) {
        (
            self.timed.partition_point(|(k, _)| *k <= t),
            self.abatement_times.partition_point(|a| *a <= t),
        )
    }

    /// The resources known at `t`, as they were then.
    pub(crate) fn resources_at(&self, t: i64) -> Vec<Arc<Resource>> {
        let (known, _) = self.state_at(t);
        let mut out: Vec<Arc<Resource>> = self.always.clone();
        out.reserve(known);
        out.extend(self.timed[..known].iter().map(|(_, r)| r.clone()));
        let base = self.always.len();
        for (i, a, before) in &self.abating {
            if *i < known && *a > t {
                out[base + i] = before.clone();
            }
        }
        out
    }

    /// True when the patient is alive at `t` (born by then, not dead yet); unknown birth or
    /// death dates do not exclude.
    pub(crate) fn alive_at(&self, t: i64) -> bool {
        self.born.is_none_or(|b| b <= t) && self.died.is_none_or(|d| t < d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(v: Value) -> Arc<Resource> {
        Arc::new(Resource::from_json(v, Source::memory(), None).unwrap())
    }

    fn ms(s: &str) -> i64 {
        parse_date_time(s).unwrap().lower_bound_millis(0)
    }

    #[test]
    fn known_times() {
        let obs = r(
            json!({"resourceType": "Observation", "effectiveDateTime": "2024-01-01T10:00:00Z", "issued": "2024-01-01T15:00:00Z"}),
        );
        assert_eq!(known_at(&obs), Some(ms("2024-01-01T15:00:00Z")));
        let obs =
            r(json!({"resourceType": "Observation", "effectivePeriod": {"start": "2024-01-02"}}));
        assert_eq!(known_at(&obs), Some(ms("2024-01-02")));
        let cond = r(json!({"resourceType": "Condition", "onsetDateTime": "2020-05-01"}));
        assert_eq!(known_at(&cond), Some(ms("2020-05-01")));
        let cond = r(
            json!({"resourceType": "Condition", "onsetDateTime": "2020-05-01", "recordedDate": "2021"}),
        );
        assert_eq!(known_at(&cond), Some(ms("2021")));
        let enc =
            r(json!({"resourceType": "Encounter", "period": {"start": "2022-02-02T08:00:00Z"}}));
        assert_eq!(known_at(&enc), Some(ms("2022-02-02T08:00:00Z")));
        assert_eq!(known_at(&r(json!({"resourceType": "Device"}))), None);
    }

    #[test]
    fn nothing_after_t_is_seen_and_abatements_are_undone() {
        let h = History::new(vec![
            r(
                json!({"resourceType": "Observation", "id": "late", "effectiveDateTime": "2024-06-01T00:00:00Z"}),
            ),
            r(
                json!({"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01", "deceasedDateTime": "2030-01-01"}),
            ),
            r(
                json!({"resourceType": "Observation", "id": "early", "effectiveDateTime": "2024-01-01T00:00:00Z"}),
            ),
            r(
                json!({"resourceType": "Condition", "id": "c", "onsetDateTime": "2023-01-01",
                "clinicalStatus": {"coding": [{"code": "resolved"}]}, "abatementDateTime": "2024-03-01"}),
            ),
            r(json!({"resourceType": "Device", "id": "d"})),
        ]);
        let ids = |t: &str| -> Vec<String> {
            h.resources_at(ms(t))
                .iter()
                .map(|r| format!("{}/{}", r.resource_type(), r.id().unwrap()))
                .collect()
        };
        assert_eq!(ids("2022-12-31"), ["Patient/p", "Device/d"]);
        assert_eq!(
            ids("2024-02-01"),
            ["Patient/p", "Device/d", "Condition/c", "Observation/early"]
        );
        let at_feb = h.resources_at(ms("2024-02-01"));
        assert_eq!(
            at_feb[2].json()["clinicalStatus"]["coding"][0]["code"],
            "active"
        );
        assert!(at_feb[2].json().get("abatementDateTime").is_none());
        assert!(at_feb[0].json().get("deceasedDateTime").is_none());
        let at_apr = h.resources_at(ms("2024-04-01"));
        assert_eq!(
            at_apr[2].json()["clinicalStatus"]["coding"][0]["code"],
            "resolved"
        );
        assert_eq!(ids("2024-07-01").len(), 5);
        assert_ne!(h.state_at(ms("2024-02-01")), h.state_at(ms("2024-04-01")));
        assert_eq!(h.state_at(ms("2024-04-01")), h.state_at(ms("2024-05-01")));
        assert!(h.alive_at(ms("2029-12-31")) && !h.alive_at(ms("2030-01-01")));
        assert!(!h.alive_at(ms("1949-12-31")));
    }
}
