//! Devices: wearables and home monitors registered with the server, whose readings are kept
//! in a bounded, expiring in-memory window per patient and evaluated by the rulesets that
//! answer `device-observation`.
//!
//! | route | |
//! | --- | --- |
//! | `POST /devices` | register a FHIR Device (`fhir-profiles/device/`); 201 with the [summary](summary) (200 when the id was registered already: replaced) |
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
use axum::{Json, Router};
use cds_core::temporal::DateTime;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::metrics::CardLabels;
use crate::outcome::ApiError;
use crate::record::{self, Located};
use crate::state::{AppState, CardRef};
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
    body: Result<JsonBody, ApiError>,
) -> Response {
    match registered(&state, body) {
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
    body: Result<JsonBody, ApiError>,
) -> Result<(StatusCode, RegisteredDevice), ApiError> {
    let JsonBody(body) = body?;
    state.schemas.device(&body).map_err(ApiError::invalid)?;
    let device = RegisteredDevice::from_device(&body)?;
    let status = match state.devices.registry.register(device.clone()) {
        None => StatusCode::CREATED,
        Some(previous) => {
            if previous.patient_id != device.patient_id {
                // Readings it sent about its former patient are no longer its own.
                state
                    .devices
                    .windows
                    .forget_device(&previous.patient_id, &previous.id);
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
async fn show(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match state.devices.registry.get(&id) {
        Some(device) => Json(device_summary(&state, &device)).into_response(),
        None => unknown_device().into_response(),
    }
}

/// `DELETE /devices/{id}`.
async fn forget(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(device) = state.devices.registry.remove(&id) else {
        return unknown_device().into_response();
    };
    state
        .devices
        .windows
        .forget_device(&device.patient_id, &device.id);
    update_gauge(&state);
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /devices/{id}/observations`.
async fn observations(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Result<JsonBody, ApiError>,
) -> Response {
    match answer(&state, &id, query, body) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
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
    id: &str,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Result<JsonBody, ApiError>,
) -> Result<Value, ApiError> {
    let device = state.devices.registry.get(id).ok_or_else(unknown_device)?;
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
    let (window, _) = state.devices.windows.add(&device.patient_id, arrived);
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
    let record = record::build(&device.patient_id, located, usize::MAX)
        .map_err(|_| ApiError::internal("the window of readings could not be read"))?;
    let rules = state.rules.load();
    let evaluation = rules.engine.evaluate(&record, &at, Some(HOOK));
    let mut cards = Vec::new();
    for fired in evaluation.cards() {
        let service = format!("{}-{HOOK}", fired.ruleset);
        state
            .metrics
            .cards
            .get_or_create(&CardLabels {
                service: service.clone(),
                ruleset: fired.ruleset.clone(),
                rule: fired.rule.clone(),
                indicator: fired.card.indicator.as_str().to_string(),
            })
            .inc();
        state.cards.insert(
            fired.card.uuid.clone(),
            Arc::new(CardRef {
                service,
                ruleset: fired.ruleset.clone(),
                rule: fired.rule.clone(),
                reasons: fired
                    .card
                    .override_reasons
                    .iter()
                    .map(|c| c.code.clone())
                    .collect(),
            }),
        );
        cards.push(serde_json::to_value(&fired.card).map_err(|_| ApiError::internal("card"))?);
    }
    let mut out = json!({ "cards": cards });
    let actions = evaluation.system_actions();
    if !actions.is_empty() {
        out["systemActions"] =
            serde_json::to_value(actions).map_err(|_| ApiError::internal("systemActions"))?;
    }
    Ok(out)
}

fn update_gauge(state: &AppState) {
    let n = state.devices.windows.patients();
    state
        .metrics
        .device_windows
        .set(i64::try_from(n).unwrap_or(i64::MAX));
}
