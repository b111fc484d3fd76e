//! A thin CDS Hooks 2.0.1 service around the engine: HTTP, validation, prefetch and adapters
//! here; clinical logic in the rulesets.
//!
//! * [`services`]: one service per ruleset and hook, prefetch templates from what rules read;
//! * [`hooks`]: discovery and service calls; [`feedback`]: card outcomes, counted per rule;
//! * [`adapters`]: each hook's context mapped into an evaluation;
//! * [`devices`]: device onboarding and readings kept in a bounded, expiring window per patient;
//! * [`prefetch`] and [`fetch`]: the data a call brings, and what is fetched from `fhirServer`;
//! * [`fhir`]: the FHIR-native door (`/fhir/metadata`, `$cds-evaluate` → GuidanceResponses);
//! * [`openapi`]: the OpenAPI document of the whole HTTP surface;
//! * [`record`]: from request JSON to one patient's record, refusing other patients' data;
//! * [`outcome`]: errors as HTTP statuses with OperationOutcome bodies;
//! * [`auth`]: CDS Hooks client JWTs; [`access`]: who calls and what they see; [`tenants`];
//! * [`admin`]: the admin API; [`audit`]: audit records and feedback counts in a durable store;
//! * [`limits`]: the evaluation time limit; [`listen`]: TLS, mutual TLS and the accept loop;
//! * [`app`], [`serve`], [`config`], [`state`], [`metrics`], [`observe`]: the server around them.
//!
//! ```no_run
//! # async fn run() -> Result<(), cds_server::serve::ServeError> {
//! let config = cds_server::config::Config::default(); // 127.0.0.1:8080, ./rulesets
//! cds_server::serve::serve(config, |addr| println!("listening on {addr}")).await
//! # }
//! ```

pub mod access;
pub mod adapters;
pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod body;
pub mod config;
pub mod devices;
pub mod feedback;
pub mod fetch;
pub mod fhir;
pub mod hooks;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod outcome;
pub mod prefetch;
pub mod record;
pub mod serve;
pub mod services;
pub mod state;
pub mod studio;
pub mod tenants;
pub mod validate;
