//! Resolving a service's prefetch: what the client sent under each key, and for keys it left
//! out (or whose fetch failed on its side) a fetch from `fhirServer`.
//!
//! CDS Hooks 2.0.1: an absent key means "fetch it yourself"; `null` means there is no such
//! data; an OperationOutcome means the client's fetch failed. Data the rules need that is
//! neither prefetched nor obtainable gives 412.

use futures_util::future::join_all;
use serde_json::{Map, Value};

use crate::fetch::Fetcher;
use crate::outcome::{ApiError, Problem};
use crate::record::{is_operation_outcome, unpack, Located};
use crate::services::Service;

/// Fills a prefetch template's 2.0.1 tokens: `{{context.<field>}}` (string fields),
/// `{{userPractitionerId}}`, `{{userPractitionerRoleId}}`, `{{userPatientId}}`,
/// `{{userRelatedPersonId}}` (from `context.userId`). Values are percent-encoded.
/// `None` when a token has no value in this call.
pub fn fill(template: &str, context: &Map<String, Value>) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let token = after[..end].trim();
        let value = token_value(token, context)?;
        out.push_str(&encode(&value));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

fn token_value(token: &str, context: &Map<String, Value>) -> Option<String> {
    if let Some(field) = token.strip_prefix("context.") {
        return context.get(field)?.as_str().map(str::to_string);
    }
    let user = context.get("userId")?.as_str()?;
    let (kind, id) = user.split_once('/')?;
    let wanted = match token {
        "userPractitionerId" => "Practitioner",
        "userPractitionerRoleId" => "PractitionerRole",
        "userPatientId" => "Patient",
        "userRelatedPersonId" => "RelatedPerson",
        _ => return None,
    };
    (kind == wanted).then(|| id.to_string())
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a prefetch key holds in a call.
enum Slot {
    Given(Value),
    NoData,
    Fetch { client_failed: bool },
}

/// The client's FHIR server and token.
pub struct FhirAccess<'a> {
    /// `fhirServer`.
    pub server: Option<&'a str>,
    /// `fhirAuthorization.access_token`.
    pub token: Option<&'a str>,
}

/// Resolves every prefetch key of `service` into located resources.
pub async fn resolve(
    service: &Service,
    prefetch: Option<Map<String, Value>>,
    context: &Map<String, Value>,
    access: FhirAccess<'_>,
    fetcher: &Fetcher,
) -> Result<Vec<Located>, ApiError> {
    let mut prefetch = prefetch.unwrap_or_default();
    let mut out = Vec::new();
    let mut to_fetch = Vec::new();
    for (key, template) in &service.prefetch {
        let slot = match prefetch.remove(key) {
            None => Slot::Fetch {
                client_failed: false,
            },
            Some(Value::Null) => Slot::NoData,
            Some(v) if is_operation_outcome(&v) => Slot::Fetch {
                client_failed: true,
            },
            Some(v) => Slot::Given(v),
        };
        match slot {
            Slot::Given(v) => {
                let first = out.len();
                unpack(v, &format!("prefetch.{key}"), &mut out)?;
                of_template_type(template, &out[first..])?;
            }
            Slot::NoData => {}
            Slot::Fetch { client_failed } => to_fetch.push((key, template, client_failed)),
        }
    }
    if to_fetch.is_empty() {
        return Ok(out);
    }
    let mut problems = Vec::new();
    let Some(server) = access.server else {
        for (key, _, client_failed) in to_fetch {
            let why = if client_failed {
                "the client's prefetch failed (OperationOutcome) and the call gives no fhirServer to fetch it from"
            } else {
                "not prefetched, and the call gives no fhirServer to fetch it from"
            };
            problems.push(Problem::at(format!("prefetch.{key}"), why));
        }
        return Err(ApiError::precondition(problems));
    };
    let mut queries = Vec::new();
    for (key, template, _) in &to_fetch {
        match fill(template, context) {
            Some(q) => queries.push((key, q)),
            None => problems.push(Problem::at(
                format!("prefetch.{key}"),
                "not prefetched, and its template needs a context field this call lacks",
            )),
        }
    }
    let results = join_all(
        queries
            .iter()
            .map(|(_, q)| fetcher.read(server, q, access.token)),
    )
    .await;
    for ((key, _), result) in queries.iter().zip(results) {
        match result {
            Ok(pages) => {
                for (i, page) in pages.into_iter().enumerate() {
                    if is_operation_outcome(&page) {
                        problems.push(Problem::at(
                            format!("prefetch.{key}"),
                            "the FHIR server answered with an OperationOutcome",
                        ));
                        continue;
                    }
                    unpack(page, &format!("fetched.{key}[{i}]"), &mut out)?;
                }
            }
            Err(e) => problems.push(Problem::at(
                format!("prefetch.{key}"),
                format!("not prefetched, and fetching it from fhirServer failed: {e}"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::precondition(problems))
    }
}

/// The resource type a template reads: `Patient/{{context.patientId}}` → `Patient`,
/// `Observation?patient=...` → `Observation`.
fn template_type(template: &str) -> &str {
    template.split(['/', '?']).next().unwrap_or_default()
}

/// Refuses prefetched resources of another type than the key's template reads (a Patient
/// where Observations were asked for...). Medications may come with MedicationRequests.
fn of_template_type(template: &str, given: &[Located]) -> Result<(), ApiError> {
    let expected = template_type(template);
    let problems: Vec<Problem> = given
        .iter()
        .filter(|l| {
            let t = l.json.get("resourceType").and_then(Value::as_str);
            !(t == Some(expected)
                || t == Some("OperationOutcome")
                || (expected == "MedicationRequest" && t == Some("Medication")))
        })
        .take(20)
        .map(|l| {
            Problem::at(
                &l.path,
                format!(
                    "must be a {expected}: this prefetch key's template reads {expected} resources"
                ),
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prefetched_resources_must_be_of_the_templates_type() {
        let located = |t: &str| Located {
            path: "prefetch.patient".into(),
            json: json!({"resourceType": t, "id": "x"}),
            full_url: None,
        };
        assert_eq!(template_type("Patient/{{context.patientId}}"), "Patient");
        assert_eq!(template_type("Observation?patient=1"), "Observation");
        assert!(of_template_type("Patient/{{context.patientId}}", &[located("Patient")]).is_ok());
        let e = of_template_type("Patient/{{context.patientId}}", &[located("Observation")])
            .unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert_eq!(e.problems[0].path, "prefetch.patient");
        assert!(of_template_type("MedicationRequest?patient=1", &[located("Medication")]).is_ok());
    }

    fn ctx(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn tokens_are_filled_and_encoded() {
        let c = ctx(json!({"patientId": "p 1", "userId": "Practitioner/d7"}));
        assert_eq!(
            fill("Observation?patient={{context.patientId}}&code=a|b", &c).unwrap(),
            "Observation?patient=p%201&code=a|b"
        );
        assert_eq!(
            fill("Practitioner/{{userPractitionerId}}", &c).unwrap(),
            "Practitioner/d7"
        );
        assert_eq!(fill("Patient/{{userPatientId}}", &c), None);
        assert_eq!(fill("X?e={{context.encounterId}}", &c), None);
    }
}
