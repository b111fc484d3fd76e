//! Devices: wearables and home monitors registered with the server, whose readings are kept
//! in a bounded, expiring in-memory window per patient and evaluated by the rulesets that
//! answer `device-observation`.
//!
//! | route | |
//! | --- | --- |
//! | `POST /devices` | register a FHIR Device (`fhir-profiles/device/`); 201 with the [summary] (200 when the id was registered already: replaced) |
//! | `GET /devices/{id}` | the summary |
//! | `DELETE /devices/{id}` | forget the device and the readings that came through it (204) |
//! | `POST /devices/{id}/observations[?at=]` | readings: one Observation, a Bundle or an array; answers `{"cards": [...]}` over the patient's window |
//!
//! * [`registry`]: the registered devices; [`window`]: the readings kept per patient;
//! * [`readings`]: the checks of arriving readings; [`summary`]: which codes the rules read.
//!
//! Nothing is written to disk: a restart forgets devices and readings. The plain CDS Hooks
//! call of the `device-observation` services is stateless (see [`crate::adapters::devices`]).

pub mod readings;
pub mod registry;
pub mod summary;
pub mod window;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use cds_core::temporal::DateTime;
use serde_json::Value;

use crate::access::Access;
use crate::body::JsonBody;
use crate::hooks::Answered;
use crate::observe::CallFacts;
use crate::outcome::ApiError;
use crate::record::{self, Located};
use crate::state::AppState;
use registry::{RegisteredDevice, Registry};
use summary::HOOK;
use window::{Reading, Windows};

/// The devices' share of the server state.
#[derive(Debug)]
pub struct Devices {
    /// The registered devices.
    pub registry: Registry,
    /// The readings, per patient.
    pub windows: Windows,
}

impl Devices {
    /// Empty registry and windows bounded as configured.
    pub fn new(config: &crate::config::Devices) -> Devices {
        let ttl = Duration::from_secs(config.ttl_seconds.max(1));
        Devices {
            registry: Registry::new(config.max_devices, ttl),
            windows: Windows::new(config.max_patients, config.max_readings_per_patient, ttl),
        }
    }
}

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/devices", post(register))
        .route("/devices/{id}", get(show).delete(forget))
        .route("/devices/{id}/observations", post(observations))
}

fn unknown_device() -> ApiError {
    ApiError::not_found("no registered device with this id; POST /devices registers one")
}

/// `POST /devices`.
async fn register(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    body: Result<JsonBody, ApiError>,
) -> Response {
    match registered(&state, &access, body) {
        Ok((status, device)) => {
            let mut res = (status, Json(device_summary(&state, &device))).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/devices/{}", device.id)) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
        Err(e) => e.into_response(),
    }
}

fn registered(
    state: &AppState,
    access: &Access,
    body: Result<JsonBody, ApiError>,
) -> Result<(StatusCode, RegisteredDevice), ApiError> {
    let JsonBody(body) = body?;
    state.schemas.device(&body).map_err(ApiError::invalid)?;
    let device = RegisteredDevice::from_device(&body)?;
    let key = access.scoped(&device.id);
    let status = match state.devices.registry.register_as(key, device.clone()) {
        None => StatusCode::CREATED,
        Some(previous) => {
            if previous.patient_id != device.patient_id {
                // Readings it sent about its former patient are no longer its own.
                state
                    .devices
                    .windows
                    .forget_device(&access.scoped(&previous.patient_id), &previous.id);
                update_gauge(state);
            }
            StatusCode::OK
        }
    };
    Ok((status, device))
}

fn device_summary(state: &AppState, device: &RegisteredDevice) -> Value {
    let rules = state.rules.load();
    summary::summary(device, &rules.services, &rules.engine)
}

/// `GET /devices/{id}`.
async fn show(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Response {
    match state.devices.registry.get(&access.scoped(&id)) {
        Some(device) => Json(device_summary(&state, &device)).into_response(),
        None => unknown_device().into_response(),
    }
}

/// `DELETE /devices/{id}`.
async fn forget(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Response {
    let Some(device) = state.devices.registry.remove(&access.scoped(&id)) else {
        return unknown_device().into_response();
    };
    state
        .devices
        .windows
        .forget_device(&access.scoped(&device.patient_id), &device.id);
    update_gauge(&state);
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /devices/{id}/observations`.
async fn observations(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let limit = Duration::from_millis(state.config.limits.max_evaluation_ms);
    let patient = state
        .devices
        .registry
        .get(&access.scoped(&id))
        .map(|d| d.patient_id.clone());
    let a = access.clone();
    let result =
        crate::limits::evaluation(limit, move || answer(&state, &a, &id, query, body)).await;
    let mut facts = CallFacts {
        hook: Some(HOOK.to_string()),
        patient_id: patient,
        ..CallFacts::default()
    };
    let mut res = match result {
        Ok(answered) => {
            facts.cards_by_rule = answered.cards_by_rule;
            Json(answered.body).into_response()
        }
        Err(e) => e.into_response(),
    };
    res.extensions_mut().insert(facts);
    res
}

/// The evaluation time: `?at=` (a FHIR dateTime; a `+` of an offset sent unencoded reads as a
/// space and is understood), else now.
fn evaluation_time(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<DateTime, ApiError> {
    let Query(query) = query.map_err(|_| ApiError::invalid_at("", "malformed query string"))?;
    match query.get("at") {
        Some(at) => DateTime::parse(&at.replace(' ', "+"))
            .map_err(|_| ApiError::invalid_at("at", "the query parameter must be a FHIR dateTime")),
        None => DateTime::now_utc().map_err(|_| ApiError::internal("the clock cannot be read")),
    }
}

fn answer(
    state: &AppState,
    access: &Access,
    id: &str,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Result<JsonBody, ApiError>,
) -> Result<Answered, ApiError> {
    let device = state
        .devices
        .registry
        .get(&access.scoped(id))
        .ok_or_else(unknown_device)?;
    let at = evaluation_time(query)?;
    let JsonBody(body) = body?;
    let arrived = readings::from_body(
        body,
        &device.id,
        &device.patient_id,
        state.config.limits.max_resources,
    )?;
    let arrived = arrived
        .into_iter()
        .map(|(l, time_ms)| Reading {
            id: l.json.get("id").and_then(Value::as_str).map(str::to_string),
            time_ms,
            device: device.id.clone(),
            json: Arc::new(l.json),
        })
        .collect();
    let (window, _) = state
        .devices
        .windows
        .add(&access.scoped(&device.patient_id), arrived);
    update_gauge(state);
    let located = window
        .readings()
        .iter()
        .enumerate()
        .map(|(i, r)| Located {
            path: format!("window[{i}]"),
            json: Value::clone(&r.json),
            full_url: None,
        })
        .collect();
    // Every reading passed these checks on arrival.
    let record = record::build(
        &device.patient_id,
        "the device's patient",
        located,
        usize::MAX,
    )
    .map_err(|_| ApiError::internal("the window of readings could not be read"))?;
    let rules = state.rules.load();
    let service_of = |fired: &cds_core::graph::FiredCard| format!("{}-{HOOK}", fired.ruleset);
    if access.rulesets == crate::tenants::Rulesets::All {
        let evaluation = rules.engine.evaluate(&record, &at, Some(HOOK));
        return crate::hooks::answer_cards(state, access, &evaluation, service_of);
    }
    // A tenant's device services only: other tenants' rules are not evaluated.
    let mut answered = Answered::default();
    for service in rules
        .services
        .iter()
        .filter(|s| s.hook == HOOK && access.sees(&s.ruleset))
    {
        let evaluation = rules.engine.evaluate_plan(&record, &at, &service.plan);
        answered.merge(crate::hooks::answer_cards(
            state,
            access,
            &evaluation,
            service_of,
        )?);
    }
    if !answered.body.is_object() {
        answered.body = serde_json::json!({"cards": []});
    }
    Ok(answered)
}

fn update_gauge(state: &AppState) {
    let n = state.devices.windows.patients();
    state
        .metrics
        .device_windows
        .set(i64::try_from(n).unwrap_or(i64::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use cds_rules::engine::Engine;
    use serde_json::json;

    const RULES: &str =
        "ruleset pulse version 1.0.0\n  \"Pulse\"\n  answers device-observation\n\n\
        define pulse = latest observation loinc 8867-4 within 1 hour\n\n\
        rule fast\n  when pulse > 120 '/min'\n  then warning \"Fast\"\n";

    fn state() -> AppState {
        let mut config = Config::default();
        config.audit.store = crate::audit::StoreKind::Memory;
        AppState::with_engine(config, Engine::from_source("pulse.rules", RULES).unwrap()).unwrap()
    }

    fn watch(patient: &str) -> JsonBody {
        JsonBody(json!({"resourceType": "Device", "id": "w1",
            "type": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "528388"}]},
            "patient": {"reference": format!("Patient/{patient}")},
            "contained": [{"resourceType": "DeviceMetric", "id": "hr", "category": "measurement",
                "type": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}}]}))
    }

    fn post(state: &AppState, patient: &str, rate: u32) -> Result<Value, ApiError> {
        let reading = json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "effectiveDateTime": "2024-03-01T10:00:00Z",
            "valueQuantity": {"value": rate, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}});
        let at = HashMap::from([("at".to_string(), "2024-03-01T10:01:00Z".to_string())]);
        answer(
            state,
            &Access::open(),
            "w1",
            Ok(Query(at)),
            Ok(JsonBody(reading)),
        )
        .map(|a| a.body)
    }

    #[test]
    fn readings_are_evaluated_over_the_window_and_counted() {
        let state = state();
        assert_eq!(
            registered(&state, &Access::open(), Ok(watch("p1")))
                .unwrap()
                .0,
            StatusCode::CREATED
        );
        let answer = post(&state, "p1", 130).unwrap();
        assert_eq!(answer["cards"][0]["summary"], "Fast");
        assert!(answer.get("systemActions").is_none());
        let metrics = state.metrics.render();
        assert!(metrics.contains("cds_device_windows 1"), "{metrics}");
        assert!(
            metrics.contains("service=\"pulse-device-observation\""),
            "{metrics}"
        );
        let uuid = answer["cards"][0]["uuid"].as_str().unwrap();
        assert_eq!(state.cards.get(uuid).unwrap().rule, "fast");
        // The amended reading (same id) replaces it.
        assert_eq!(post(&state, "p1", 80).unwrap(), json!({"cards": []}));
    }

    #[test]
    fn registering_for_another_patient_forgets_the_former_patients_readings() {
        let state = state();
        registered(&state, &Access::open(), Ok(watch("p1"))).unwrap();
        post(&state, "p1", 130).unwrap();
        assert!(state.devices.windows.get("p1").is_some());
        assert_eq!(
            registered(&state, &Access::open(), Ok(watch("p2")))
                .unwrap()
                .0,
            StatusCode::OK
        );
        assert!(state.devices.windows.get("p1").is_none());
        // Readings about the former patient are now another patient's.
        let e = post(&state, "p1", 130).unwrap_err();
        assert_eq!(e.problems[0].path, "subject.reference");
        assert!(state.metrics.render().contains("cds_device_windows 0"));
    }

    #[test]
    fn tenants_do_not_see_each_others_devices() {
        let state = state();
        let north = Access {
            tenant: "north".into(),
            client: "https://a".into(),
            admin: false,
            rulesets: crate::tenants::Rulesets::All,
        };
        registered(&state, &north, Ok(watch("p1"))).unwrap();
        let at = HashMap::from([("at".to_string(), "2024-03-01T10:01:00Z".to_string())]);
        let reading = json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-03-01T10:00:00Z",
            "valueQuantity": {"value": 130, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}});
        // The same device id, sent by another tenant (or with no tenant): unknown.
        let e = answer(
            &state,
            &Access::open(),
            "w1",
            Ok(Query(at.clone())),
            Ok(JsonBody(reading.clone())),
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let a = answer(&state, &north, "w1", Ok(Query(at)), Ok(JsonBody(reading))).unwrap();
        assert_eq!(a.body["cards"][0]["summary"], "Fast");
        assert_eq!(a.cards_by_rule.get("pulse/fast"), Some(&1));
        assert!(state.devices.windows.get("p1").is_none());
    }

    #[test]
    fn an_unknown_device_is_not_found_before_anything_else() {
        let state = state();
        let e = answer(
            &state,
            &Access::open(),
            "nope",
            Ok(Query(HashMap::new())),
            Err(ApiError::unsupported_media_type()),
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
    }
}
