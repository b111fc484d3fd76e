//! FHIRPath (normative R4 release, <http://hl7.org/fhirpath/N1/>): parse once, evaluate many
//! times over raw FHIR JSON.
//!
//! * [`parse`] turns expression text into an [`Expr`] (or a [`ParseError`] with line, column
//!   and a [`miette`] diagnostic). Function names, literals and type names are resolved then.
//! * [`Expr::evaluate`] evaluates it against a resource (`serde_json::Value`) in an
//!   [`EvalContext`] that supplies the clock, variables, a [`Resolver`] for `resolve()` and a
//!   [`ValueSetRegistry`] for `memberOf()`. The result is a [`Collection`] of [`Item`]s that
//!   borrow from the resource.
//!
//! ```
//! use cds_core::fhirpath::{self, EvalContext};
//! use cds_core::temporal::DateTime;
//!
//! let obs = serde_json::json!({
//!     "resourceType": "Observation",
//!     "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
//!     "valueQuantity": {"value": 150, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
//! });
//! let expr = fhirpath::parse(
//!     "Observation.where(code.coding.where(system = 'http://loinc.org' and code = '8480-6').exists()).value > 140 'mm[Hg]'",
//! )?;
//! let ctx = EvalContext::new(DateTime::parse("2024-05-01T12:00:00Z")?);
//! assert_eq!(expr.evaluate(&obs, &ctx)?.as_bool(), Some(true));
//!
//! // Errors carry positions.
//! let err = fhirpath::parse("Observation.value >").unwrap_err();
//! assert_eq!((err.line, err.column), (1, 20));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ast;
mod context;
mod convert;
mod error;
mod eval;
mod functions;
mod json_key;
mod parse;
mod quantity;
mod types;
mod ucum_bridge;
mod value;
mod valueset;

#[cfg(test)]
mod tests;

pub use context::{EvalContext, Resolver};
pub use error::{EvalError, EvalErrorKind, ParseError, ParseErrorKind, Span};
pub use quantity::Quantity;
pub use types::FhirType;
pub use value::{Collection, FhirNode, Item, Str, TypeInfo};
pub use valueset::{ValueSet, ValueSetError, ValueSetRegistry};

use serde_json::Value as Json;

/// A parsed FHIRPath expression, ready to evaluate any number of times (and from several
/// threads at once: it is `Send + Sync`).
#[derive(Debug, Clone)]
pub struct Expr {
    root: ast::Node,
    source: Box<str>,
}

/// Parse a FHIRPath expression.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let root = parse::parse_node(source)?;
    Ok(Expr {
        root,
        source: source.into(),
    })
}

impl Expr {
    /// The expression text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluate with `resource` as the context (`%context`, `%resource` and the initial focus).
    pub fn evaluate<'a>(
        &'a self,
        resource: &'a Json,
        ctx: &EvalContext<'a>,
    ) -> Result<Collection<'a>, EvalError> {
        let root = Collection::from_json(resource);
        self.evaluate_on(&root, ctx)
    }

    /// Evaluate with an arbitrary collection as the context (for example a resource's element,
    /// or an empty collection).
    pub fn evaluate_on<'a>(
        &'a self,
        input: &Collection<'a>,
        ctx: &EvalContext<'a>,
    ) -> Result<Collection<'a>, EvalError> {
        let frame = eval::Frame {
            ctx,
            root: input,
            resource: input,
            index: None,
            total: None,
        };
        eval::eval(&self.root, input, &frame)
    }
}
