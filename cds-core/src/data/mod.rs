//! FHIR R4 data in: loading resources from JSON, Bundles and NDJSON, and per-patient records.
//!
//! FHIR R4 (4.0.1) JSON comes in as EHRs and Synthea produce it — single resources, Bundles,
//! Bulk Data NDJSON, folders of them ([`load`]) — and becomes [`Resource`]s: each one's JSON
//! object kept as read, with its interned type, Bundle `fullUrl` and [`Source`] position.
//! The indexed types are checked ([`validate`]) as they load.
//!
//! # Why JSON-native, not typed models
//!
//! The hot path keeps resources as `serde_json::Value` rather than converting them to a typed
//! model such as fhir-sdk's: fhir-sdk 0.16 has R4B and R5 models only (real R4 JSON is close to
//! R4B but not identical, so strict typed parsing would reject or misread real R4 data), its typed
//! form is lossy (decimals as floats, timestamps normalised, unknown fields dropped), and a release
//! build that deserializes it takes about nine minutes. FHIRPath walks JSON anyway, and the
//! record's indexes hold only what rules ask for. Embedders who want typed structs can enable the
//! `typed-r4b` feature for a best-effort, one-way R4B view (`typed` module, `Resource::to_r4b`).
//!
//! ```
//! use cds_core::data::load::{read_bytes, FileFormat, LoadOptions};
//! let line = br#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}}"#;
//! let resources: Vec<_> = read_bytes(line, "Observation.ndjson", FileFormat::Ndjson, LoadOptions::default())
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! assert_eq!(resources[0].resource_type(), "Observation");
//! ```

pub mod codes;
mod cohort;
pub mod compartment;
mod error;
pub mod load;
pub mod record;
pub mod reference;
mod resource;
mod resource_types;
pub mod time;
#[cfg(feature = "typed-r4b")]
pub mod typed;
pub mod validate;
pub mod value;

pub use codes::CodeIndex;
pub use cohort::{Cohort, PatientGroup};
pub use error::{LoadError, LoadErrorKind, Problem, ValidationError};
pub use record::{
    ClinicalStatus, ConditionEntry, FactTime, MedicationEntry, ObservationEntry, PatientRecord,
    RecordError, RecordWarning, RecordWarningKind, ScopedResolver, TimeSource, VerificationStatus,
    Window,
};
pub use reference::ResourceIndex;
pub use resource::{Resource, Source};
pub use resource_types::intern_resource_type;
pub use value::{ObservationValue, QuantityValue};
