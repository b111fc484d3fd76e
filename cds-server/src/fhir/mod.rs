//! The FHIR-native door, for systems that speak plain FHIR R4 rather than CDS Hooks:
//!
//! * `GET /fhir/metadata`: the [CapabilityStatement](capability::capability_statement);
//! * `GET /fhir/OperationDefinition/cds-evaluate`: the
//!   [OperationDefinition](capability::operation_definition) of the operation below;
//! * `POST /fhir/$cds-evaluate`: a Parameters resource in (the patient's record as a Bundle,
//!   optional `ruleset`, `evaluationTime`, `hook`), a Bundle of one GuidanceResponse per
//!   ruleset out ([`evaluate`]; the mapping of cards to FHIR in [`guidance`], what the record
//!   lacks in [`needs`]).
//!
//! Errors are OperationOutcomes naming the FHIRPath of the offending element
//! (`Parameters.parameter[0].resource.entry[3].resource.valueQuantity.value`), with the same
//! statuses as the CDS Hooks door (400, 413, 415). `docs/server-fhir.md` shows a call.

pub mod capability;
pub mod evaluate;
pub mod guidance;
pub mod needs;
pub mod params;

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::state::AppState;

/// The base of this server's canonical URLs (OperationDefinition, extensions). The reserved
/// `.invalid` domain: these name things, nothing is fetched from them.
pub const CANONICAL_BASE: &str = "https://cds.invalid/fhir";

/// The canonical URL of the `$cds-evaluate` OperationDefinition.
pub const OPERATION_URL: &str = "https://cds.invalid/fhir/OperationDefinition/cds-evaluate";

/// The routes of the FHIR door, merged into the server's router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/fhir/metadata", get(capability::metadata))
        .route(
            "/fhir/OperationDefinition/cds-evaluate",
            get(capability::operation),
        )
        .route("/fhir/$cds-evaluate", post(evaluate::evaluate))
}

/// A FHIR JSON answer (`application/fhir+json`).
pub(crate) fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut res = (status, bytes).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    res
}
