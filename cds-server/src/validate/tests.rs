use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| Schemas::new().expect("embedded schemas compile"))
}

fn patient_view() -> Value {
    json!({
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://ehr.example.org/fhir",
        "fhirAuthorization": {
            "access_token": "opaque",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read",
            "subject": "cds-service"
        },
        "context": {"userId": "Practitioner/abc", "patientId": "1288992"},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992"}, "labs": null}
    })
}

fn order_sign(draft_orders: Value) -> Value {
    json!({
        "hook": "order-sign",
        "hookInstance": "a",
        "context": {"userId": "PractitionerRole/1", "patientId": "p1", "draftOrders": draft_orders}
    })
}

fn problems(result: Result<(), Vec<Problem>>) -> Vec<Problem> {
    result.expect_err("expected problems")
}

fn one(result: Result<(), Vec<Problem>>) -> (String, String) {
    let list = problems(result);
    assert_eq!(list.len(), 1, "{list:#?}");
    (list[0].path.clone(), list[0].message.clone())
}

fn pair(path: &str, message: &str) -> (String, String) {
    (path.to_owned(), message.to_owned())
}

#[test]
fn a_complete_request_passes() {
    assert_eq!(schemas().request(&patient_view()), Ok(()));
}

#[test]
fn missing_hook_instance() {
    let mut body = patient_view();
    body.as_object_mut().unwrap().remove("hookInstance");
    insta::assert_json_snapshot!(problems(schemas().request(&body)));
}

#[test]
fn patient_id_a_number() {
    let mut body = patient_view();
    body["context"]["patientId"] = json!(1288992);
    insta::assert_json_snapshot!(problems(schemas().request(&body)));
}

#[test]
fn feedback_outcome_invalid() {
    let body = json!({"feedback": [{
        "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
        "outcome": "dismissed",
        "outcomeTimestamp": "2021-12-11T10:05:31Z"
    }]});
    insta::assert_json_snapshot!(problems(schemas().feedback(&body)));
}

#[test]
fn device_without_patient() {
    let device = json!({
        "resourceType": "Device",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1b9e"}],
        "type": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "528391"}]},
        "contained": [{
            "resourceType": "DeviceMetric", "id": "sys", "category": "measurement",
            "type": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}
        }]
    });
    insta::assert_json_snapshot!(problems(schemas().device(&device)));
}

#[test]
fn several_mistakes_at_once_are_sorted() {
    let body = json!({
        "hook": "order-select",
        "hookInstance": "",
        "fhirAuthorization": {"access_token": "t", "token_type": "MAC", "expires_in": -1},
        "context": {
            "userId": "abc",
            "patientId": "has spaces",
            "selections": [],
            "draftOrders": {"resourceType": "Bundle", "entry": [
                {"resource": {"resourceType": "MedicationRequest"}},
                {"resource": {"resourceType": "ServiceRequest"}},
                {"resource": {"status": "draft"}},
                {"fullUrl": "urn:uuid:x"}
            ]},
            "patientID": "typo"
        },
        "prefetch": {"patient": "Patient/1"}
    });
    insta::assert_json_snapshot!(problems(schemas().request(&body)));
}

#[test]
fn fhir_authorization_needs_fhir_server() {
    let mut body = patient_view();
    body.as_object_mut().unwrap().remove("fhirServer");
    assert_eq!(
        one(schemas().request(&body)),
        pair(
            "fhirServer",
            "is required when fhirAuthorization is present"
        )
    );
}

#[test]
fn unknown_hook_gets_no_context_check() {
    let body =
        json!({"hook": "org.example.custom", "hookInstance": "1", "context": {"anything": [1]}});
    assert_eq!(schemas().request(&body), Ok(()));
    assert!(schemas()
        .context("org.example.custom", &json!({}))
        .is_none());
}

#[test]
fn unknown_context_fields_are_ignored() {
    // Real clients add fields (later hook versions, vendor fields): be lenient.
    let mut body = patient_view();
    body["context"]["bedNumber"] = json!("12");
    assert_eq!(schemas().request(&body), Ok(()));
}

#[test]
fn extensions_and_unknown_request_members_are_allowed() {
    let mut body = patient_view();
    body["extension"] = json!({"com.example.timestamp": "2017-11-27T22:13:25Z"});
    body["context"]["extension"] = json!({"com.example.x": 1});
    body["com.example.other"] = json!(true);
    assert_eq!(schemas().request(&body), Ok(()));
}

#[test]
fn context_problems_are_reported_with_request_problems() {
    let body = json!({"hook": "patient-view", "context": {"patientId": "1"}});
    let found = problems(schemas().request(&body));
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["context.userId", "hookInstance"]);
}

#[test]
fn context_alone() {
    let result = schemas()
        .context(
            "order-select",
            &json!({"userId": "Practitioner/1", "patientId": "1"}),
        )
        .unwrap();
    let found = problems(result);
    assert_eq!(
        found[0],
        Problem {
            path: "draftOrders".into(),
            message: "is required".into()
        }
    );
}

#[test]
fn draft_orders_bundle_or_bare_array() {
    let order = json!({"resourceType": "MedicationRequest", "id": "m1", "status": "draft"});
    let bundle =
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]});
    assert_eq!(schemas().request(&order_sign(bundle)), Ok(()));
    assert_eq!(schemas().request(&order_sign(json!([order]))), Ok(()));
    assert_eq!(
        one(schemas().request(&order_sign(json!("MedicationRequest/m1")))),
        pair("context.draftOrders", "must be an array or an object")
    );
    assert_eq!(
        one(schemas().request(&order_sign(json!([])))),
        pair("context.draftOrders", "must not be empty")
    );
    assert_eq!(
        one(schemas().request(&order_sign(json!({"resourceType": "MedicationRequest"})))),
        pair("context.draftOrders.resourceType", "must be Bundle")
    );
}

#[test]
fn appointments_bundle_or_bare_array() {
    let appointment = json!({"resourceType": "Appointment", "id": "a1", "status": "proposed"});
    let body = |appointments: Value| {
        json!({"hook": "appointment-book", "hookInstance": "1", "context": {
            "userId": "PractitionerRole/1", "patientId": "p", "appointments": appointments}})
    };
    assert_eq!(schemas().request(&body(json!([appointment]))), Ok(()));
    assert_eq!(
        schemas().request(&body(
            json!({"resourceType": "Bundle", "entry": [{"resource": appointment}]})
        )),
        Ok(())
    );
    assert_eq!(
        one(
            schemas().request(&body(json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Encounter", "status": "planned"}}]})))
        ),
        pair(
            "context.appointments.entry[0].resource.resourceType",
            "must be Appointment"
        )
    );
    assert_eq!(
        one(schemas().request(&body(json!([{"resourceType": "Appointment"}])))),
        pair("context.appointments[0].status", "is required")
    );
}

#[test]
fn device_observation_takes_a_bundle_or_one_observation() {
    let observation = json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "valueQuantity": {"value": 72, "unit": "/min"}
    });
    let body = |observations: Value| {
        json!({"hook": "device-observation", "hookInstance": "1",
               "context": {"patientId": "p", "deviceId": "watch-1", "observations": observations}})
    };
    assert_eq!(schemas().request(&body(observation.clone())), Ok(()));
    assert_eq!(
        schemas().request(&body(
            json!({"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": observation}]})
        )),
        Ok(())
    );
    assert_eq!(
        one(
            schemas().request(&body(json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Observation", "status": "final"}}]})))
        ),
        pair("context.observations.entry[0].resource.code", "is required")
    );
    assert_eq!(
        one(schemas().request(&body(
            json!({"resourceType": "Patient", "status": "x", "code": {}})
        ))),
        pair("context.observations.resourceType", "must be Observation")
    );
}

#[test]
fn feedback_forms() {
    let item =
        json!({"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"});
    assert_eq!(
        schemas().feedback(&json!({"feedback": [item.clone()]})),
        Ok(())
    );
    assert_eq!(schemas().feedback(&json!([item.clone()])), Ok(()));
    assert_eq!(schemas().feedback(&item), Ok(()));
    assert_eq!(
        one(schemas().feedback(&json!({"feedback": []}))),
        pair("feedback", "must not be empty")
    );
    assert_eq!(
        one(schemas().feedback(&json!("accepted"))),
        pair("", "must be an object")
    );
}

#[test]
fn accepted_feedback_without_suggestions_is_accepted_leniently() {
    // CDS Hooks 2.0 asks for acceptedSuggestions on accepted cards; clients acknowledging a
    // card without suggestions leave it out, and that is still feedback worth counting.
    let body = json!({"feedback": [{"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2021-12-11T10:05:31Z"}]});
    assert_eq!(schemas().feedback(&body), Ok(()));
    let body = json!({"feedback": [{"card": "c1", "outcome": "accepted", "acceptedSuggestions": [],
                                     "outcomeTimestamp": "2021-12-11T10:05:31Z"}]});
    assert!(schemas().feedback(&body).is_err());
}

#[test]
fn override_reason_needs_a_reason_or_a_comment() {
    let body = json!({"card": "c1", "outcome": "overridden", "overrideReason": {},
                      "outcomeTimestamp": "2021-12-11T10:05:31+01:00"});
    assert_eq!(
        one(schemas().feedback(&body)),
        pair(
            "overrideReason",
            "must have at least one of: reason, userComment"
        )
    );
    let body = json!({"card": "c1", "outcome": "overridden", "overrideReason": {"reason": {"code": "x"}},
                      "outcomeTimestamp": "yesterday"});
    assert_eq!(
        problems(schemas().feedback(&body)),
        vec![
            Problem {
                path: "outcomeTimestamp".into(),
                message:
                    "must be an RFC 3339 date-time with a time zone, e.g. 2021-12-11T10:05:31Z"
                        .into()
            },
            Problem {
                path: "overrideReason.reason.system".into(),
                message: "is required".into()
            },
        ]
    );
}

#[test]
fn device_needs_identifier_or_id_and_a_metric() {
    let device = json!({
        "resourceType": "Device",
        "patient": {"reference": "Patient/p1"},
        "type": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "528391"}]},
        "contained": []
    });
    insta::assert_json_snapshot!(problems(schemas().device(&device)));
}

#[test]
fn device_examples_in_the_readme_pass() {
    let readme = include_str!("../../../fhir-profiles/device/README.md");
    let mut checked = 0;
    for block in readme.split("```json").skip(1) {
        let text = block.split("```").next().unwrap_or_default();
        let device: Value = serde_json::from_str(text).expect("README example is JSON");
        assert_eq!(schemas().device(&device), Ok(()), "{text}");
        checked += 1;
    }
    assert!(
        checked >= 3,
        "the README shows a BP cuff, a CGM and a watch"
    );
}

#[test]
fn problems_are_capped() {
    let selections: Vec<Value> = (0..40).map(|_| json!("not a reference")).collect();
    let body = json!({"hook": "order-select", "hookInstance": "1", "context": {
        "userId": "Practitioner/1", "patientId": "1", "selections": selections, "draftOrders": []}});
    let found = problems(schemas().request(&body));
    assert_eq!(found.len(), MAX_PROBLEMS);
    assert_eq!(found[0].path, "context.draftOrders");
    assert_eq!(found[2].path, "context.selections[1]");
}

#[test]
fn duplicate_problems_are_removed() {
    let raw = vec![
        RawProblem {
            path: vec![Segment::Key("b".into())],
            message: "x".into(),
        },
        RawProblem {
            path: vec![Segment::Key("a".into())],
            message: "x".into(),
        },
        RawProblem {
            path: vec![Segment::Key("b".into())],
            message: "x".into(),
        },
    ];
    let found = finish(raw).unwrap_err();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].to_string(), "a: x");
}

#[test]
fn every_schema_pattern_has_a_message() {
    fn patterns(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    match (key.as_str(), member) {
                        ("pattern", Value::String(p)) => out.push(p.clone()),
                        _ => patterns(member, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| patterns(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for source in [&FHIR, &REQUEST, &FEEDBACK, &DEVICE]
        .into_iter()
        .chain(CONTEXTS.iter())
    {
        patterns(&parse(source).unwrap(), &mut found);
    }
    assert!(found.len() >= 7);
    for pattern in found {
        assert!(
            messages::PATTERN_MESSAGES
                .iter()
                .any(|(p, _)| *p == pattern),
            "no message for pattern {pattern}"
        );
    }
}

/// A marker that no message or path text contains by accident.
fn secret() -> impl Strategy<Value = String> {
    "Zq[a-z]{6,10}"
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        secret().prop_map(Value::String),
        (700_001i64..800_000).prop_map(Value::from),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,8}", inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(members) => members.values().for_each(|v| leaves(v, out)),
        _ => {}
    }
}

proptest! {
    /// Whatever is sent where, no value sent appears in a problem.
    #[test]
    fn values_sent_are_never_echoed(
        hook in prop::sample::select(KNOWN_HOOKS.to_vec()),
        field in prop::sample::select(vec![
            "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch",
        ]),
        context_field in prop::sample::select(vec![
            "userId", "patientId", "encounterId", "selections", "draftOrders", "appointments",
            "observations", "deviceId", "unknown",
        ]),
        sent in value(),
        also in value(),
    ) {
        let mut body = json!({"hook": hook, "hookInstance": "1", "context": {}});
        body[field] = sent.clone();
        if body["context"].is_object() {
            body["context"][context_field] = also.clone();
        }
        let mut values = Vec::new();
        leaves(&sent, &mut values);
        leaves(&also, &mut values);
        let found = [
            schemas().request(&body),
            schemas().feedback(&sent),
            schemas().device(&also),
        ];
        for problem in found.into_iter().filter_map(Result::err).flatten() {
            prop_assert!(!problem.message.is_empty());
            for value in &values {
                prop_assert!(!problem.message.contains(value.as_str()), "{problem:?}");
                prop_assert!(!problem.path.contains(value.as_str()), "{problem:?}");
            }
        }
    }
}
