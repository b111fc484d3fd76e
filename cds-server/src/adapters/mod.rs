//! Adapters: each maps its hook's context into an evaluation — whose record, which resources
//! the context brings, and the time to evaluate at.
//!
//! * [`records`]: `patient-view`, `order-select`, `order-sign` (draft orders join the record);
//! * [`appointments`]: `appointment-book` (evaluated as of the appointment's start);
//! * [`devices`]: `device-observation` (the call's readings join the record);
//! * other hooks: the patient in `context.patientId`, evaluated now.

pub mod appointments;
pub mod devices;
pub mod records;

use cds_core::temporal::DateTime;
use serde_json::{Map, Value};

use crate::outcome::ApiError;
use crate::record::Located;

/// What a hook's context contributes to an evaluation.
#[derive(Debug)]
pub struct HookInput {
    /// Whose record (`context.patientId`).
    pub patient_id: String,
    /// When to evaluate.
    pub at: DateTime,
    /// Resources the context carries (draft orders, appointments, readings).
    pub resources: Vec<Located>,
}

/// Maps a hook's context. `now` is the time of the call.
pub fn prepare(
    hook: &str,
    context: &Map<String, Value>,
    now: DateTime,
) -> Result<HookInput, ApiError> {
    match hook {
        "patient-view" => records::patient_view(context, now),
        "order-select" | "order-sign" => records::orders(context, now),
        "appointment-book" => appointments::appointment_book(context, now),
        "device-observation" => devices::device_observation(context, now),
        _ => Ok(HookInput {
            patient_id: patient_id(context)?,
            at: now,
            resources: Vec::new(),
        }),
    }
}

/// `context.patientId`, required and a non-empty string.
pub fn patient_id(context: &Map<String, Value>) -> Result<String, ApiError> {
    match context.get("patientId") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ApiError::invalid_at(
            "context.patientId",
            "must not be empty",
        )),
        Some(_) => Err(ApiError::invalid_at(
            "context.patientId",
            "must be a string",
        )),
        None => Err(ApiError::invalid_at("context.patientId", "is required")),
    }
}
