//! What the FHIR door declares: its CapabilityStatement (`GET /fhir/metadata`) and the
//! OperationDefinition of `$cds-evaluate` (`GET /fhir/OperationDefinition/cds-evaluate`).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{fhir_json, OPERATION_URL};

/// When the content of these two resources last changed (CapabilityStatement.date is
/// required). Change it with their content.
pub const STATEMENT_DATE: &str = "2026-11-23";

/// `GET /fhir/metadata`.
pub async fn metadata() -> Response {
    fhir_json(StatusCode::OK, &capability_statement())
}

/// `GET /fhir/OperationDefinition/cds-evaluate`.
pub async fn operation() -> Response {
    fhir_json(StatusCode::OK, &operation_definition())
}

/// The CapabilityStatement: an instance (this server), FHIR 4.0.1 in JSON, one system-level
/// operation and the read of its definition.
pub fn capability_statement() -> Value {
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": "cds",
        "kind": "instance",
        "software": {
            "name": "cds",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "implementation": {
            "description": "Clinical decision support rules evaluated for one patient's record: \
                            POST /fhir/$cds-evaluate answers a GuidanceResponse per ruleset. \
                            The CDS Hooks 2.0.1 service of the same rules is at /cds-services.",
        },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "documentation": "No FHIR data is stored or served: the record travels in the \
                              request. Errors are OperationOutcomes whose issue.expression \
                              names the element at fault.",
            "resource": [{
                "type": "OperationDefinition",
                "interaction": [{"code": "read"}],
            }],
            "operation": [{
                "name": "cds-evaluate",
                "definition": OPERATION_URL,
                "documentation": "Evaluates the loaded rulesets (or those named) for the \
                                  patient of a Bundle at a time: a Bundle of GuidanceResponses.",
            }],
        }],
    })
}

/// The OperationDefinition of `$cds-evaluate`.
pub fn operation_definition() -> Value {
    json!({
        "resourceType": "OperationDefinition",
        "id": "cds-evaluate",
        "url": OPERATION_URL,
        "version": env!("CARGO_PKG_VERSION"),
        "name": "CdsEvaluate",
        "title": "Evaluate clinical decision support rulesets for one patient",
        "status": "active",
        "kind": "operation",
        "date": STATEMENT_DATE,
        "publisher": "cds",
        "description": "Evaluates rulesets for the patient whose record is the `patient` Bundle, \
                        at `evaluationTime`. The answer is a Bundle (type collection) holding one \
                        GuidanceResponse per ruleset, in the order asked for (or the order the \
                        rulesets were loaded in). A GuidanceResponse whose rules raised cards has \
                        a `result`: a contained RequestGroup whose actions are the cards, each \
                        pointing at a contained DetectedIssue that carries the rule and its \
                        evidence. Status `success` (with `evaluationMessage` when some value could \
                        not be computed or some rule could not be decided), `failure` (no card raised and some value \
                        could not be computed), or `data-required` (no card raised and some rule \
                        could not be decided for want of data: what the record lacks in \
                        `dataRequirement`, the rules in `evaluationMessage`).",
        "affectsState": false,
        "code": "cds-evaluate",
        "system": true,
        "type": false,
        "instance": false,
        "parameter": [
            {
                "name": "patient",
                "use": "in",
                "min": 1,
                "max": "1",
                "type": "Bundle",
                "documentation": "The patient's record: a Bundle (any type) holding exactly one \
                                  Patient, with an id, and resources about that patient only.",
            },
            {
                "name": "ruleset",
                "use": "in",
                "min": 0,
                "max": "*",
                "type": "string",
                "documentation": "The name of a loaded ruleset (GET /cds-services lists them as \
                                  services `{ruleset}-{hook}`). Default: every ruleset (every \
                                  ruleset answering `hook`, when given).",
            },
            {
                "name": "evaluationTime",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "dateTime",
                "documentation": "The time the record is evaluated at. Default: now.",
            },
            {
                "name": "hook",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "string",
                "documentation": "Only the rules answering this CDS Hooks hook (`patient-view`, \
                                  `order-sign`, ...). Default: every rule of each ruleset.",
            },
            {
                "name": "return",
                "use": "out",
                "min": 1,
                "max": "1",
                "type": "Bundle",
                "documentation": "A Bundle of type collection with one GuidanceResponse per \
                                  ruleset.",
            },
        ],
    })
}
