//! A thin CDS Hooks 2.0 service around the `cds-core` engine.
//!
//! Discovery, service calls, prefetch, feedback and the record, appointment and device
//! adapters arrive with the server issue; this crate holds HTTP concerns only.

pub use cds_core;
