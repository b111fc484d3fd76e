//! The CDS engine, as a small facade: load rulesets, build a patient record from FHIR JSON,
//! evaluate at a time, read cards and their evidence.
//!
//! ```
//! use cds::{DateTime, Engine};
//!
//! let engine = Engine::from_source("bp.rules", r#"ruleset bp version 1.0.0
//!   answers patient-view
//!
//! define systolic = latest observation loinc 8480-6 within 90 days
//!
//! rule stage-2
//!   when systolic >= 140 'mm[Hg]'
//!   then warning "Systolic {systolic} is in the stage 2 range"
//! "#)?;
//!
//! let record = cds::record_from_json(serde_json::json!({
//!   "resourceType": "Bundle", "type": "collection", "entry": [
//!     {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}},
//!     {"resource": {"resourceType": "Observation", "id": "o1", "status": "final",
//!       "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
//!       "effectiveDateTime": "2024-02-20",
//!       "valueQuantity": {"value": 152, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}}
//!   ]}))?;
//!
//! let at = DateTime::parse("2024-03-01T10:00:00Z")?;
//! let result = engine.evaluate(&record, &at, Some("patient-view"));
//! let fired = &result.cards()[0];
//! assert_eq!(fired.card.summary, "Systolic 152 mm[Hg] is in the stage 2 range");
//! assert_eq!(fired.evidence.values[0].resources, ["Observation/o1"]);
//! assert_eq!(result.value("bp", "systolic").unwrap().to_string(), "152 mm[Hg]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use cds_core::card::{Card, Evidence, EvidenceValue, Indicator};
pub use cds_core::data::{PatientRecord, RecordError, Resource, Source};
pub use cds_core::graph::{DataNeed, FiredCard, Graph, Issue, Value};
pub use cds_core::temporal::DateTime;
pub use cds_rules::check::CheckDiagnostic;
pub use cds_rules::engine::{
    record_from_json, rules_files, Engine, EngineError, Evaluation, RecordInputError, RulesetFile,
};

/// The ruleset test-case runner (`cds test`).
pub use cds_rules::testing;
