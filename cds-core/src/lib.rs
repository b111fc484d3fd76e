//! The CDS engine core.
//!
//! Data flows one way through this crate:
//!
//! * [`data`] reads FHIR R4 JSON (single resources, Bundles, Bulk Data NDJSON) into
//!   [`data::Resource`]s and builds one indexed [`data::PatientRecord`] per patient;
//! * [`fhirpath`] parses FHIRPath expressions once and evaluates them many times over those
//!   resources, with [`temporal`] dates and times of partial precision and [`ucum`] quantities;
//! * [`graph`] is the evaluation graph rules compile into (a petgraph DAG of queries, derived
//!   values, predicates and cards, identical nodes shared), evaluated for one record at one
//!   time into [`card`]s in the CDS Hooks 2.0 shape, with their evidence.
//!
//! Evaluation never reads the system clock: the caller passes the evaluation time, so a replay of
//! the same data and rules at the same time gives the same answer.

pub mod card;
pub mod data;
pub mod fhirpath;
pub mod graph;
pub mod markup;
pub mod model;
pub mod temporal;
pub mod ucum;
