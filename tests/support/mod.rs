//! Helpers shared by the integration tests. Each test crate that declares `mod support;`
//! uses only part of this, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod fhir_xml;
pub mod server;
