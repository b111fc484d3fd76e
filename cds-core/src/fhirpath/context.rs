//! The evaluation environment: clock, timezone, reference resolver, value sets and variables.

use super::value::{Collection, Item};
use super::valueset::ValueSetRegistry;
use crate::temporal::{Date, DateTime, Time};
use serde_json::Value as Json;

/// Resolves a FHIR reference (`Patient/123`, `urn:uuid:...`, `#contained-id`) to the resource
/// it names, for `resolve()`. The data layer's patient record implements this.
pub trait Resolver: Sync {
    /// The resource a reference names, if known.
    fn resolve(&self, reference: &str) -> Option<&Json>;
}

/// Everything an evaluation may read besides the resource itself.
///
/// Evaluation never reads the system clock: `now()`, `today()` and `timeOfDay()` come from the
/// instant given to [`EvalContext::new`].
///
/// ```
/// use cds_core::fhirpath::{self, Collection, EvalContext};
/// use cds_core::temporal::DateTime;
///
/// let now = DateTime::parse("2024-05-01T12:00:00Z").unwrap();
/// let threshold = serde_json::json!(140);
/// let mut ctx = EvalContext::new(now);
/// ctx.set_variable("limit", Collection::from_json(&threshold));
/// let expr = fhirpath::parse("%limit > 100").unwrap();
/// let patient = serde_json::json!({"resourceType": "Patient"});
/// assert_eq!(expr.evaluate(&patient, &ctx).unwrap().as_bool(), Some(true));
/// ```
pub struct EvalContext<'a> {
    pub(crate) now: DateTime,
    pub(crate) today: Date,
    pub(crate) time_of_day: Option<Time>,
    pub(crate) default_offset_minutes: i32,
    pub(crate) resolver: Option<&'a dyn Resolver>,
    pub(crate) valuesets: Option<&'a ValueSetRegistry>,
    // Items, not `Collection`s, so that the context stays covariant in `'a`.
    pub(crate) vars: Vec<(Box<str>, Vec<Item<'a>>)>,
    pub(crate) strict: bool,
}

impl<'a> EvalContext<'a> {
    /// A context whose clock reads `now` (the evaluation instant).
    pub fn new(now: DateTime) -> EvalContext<'a> {
        let today = now.date();
        let time_of_day = now.time_of_day();
        let default_offset_minutes = now.offset_minutes().unwrap_or(0);
        EvalContext {
            now,
            today,
            time_of_day,
            default_offset_minutes,
            resolver: None,
            valuesets: None,
            vars: Vec::new(),
            strict: false,
        }
    }

    /// The offset (minutes east of UTC) assumed for date-times written without one when they
    /// are compared with date-times that have one. Defaults to the offset of `now`.
    pub fn with_timezone_offset(mut self, minutes: i32) -> Self {
        self.default_offset_minutes = minutes;
        self
    }

    /// Use `resolver` for `resolve()`.
    pub fn with_resolver(mut self, resolver: &'a dyn Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Use `registry` for `memberOf()`.
    pub fn with_valuesets(mut self, registry: &'a ValueSetRegistry) -> Self {
        self.valuesets = Some(registry);
        self
    }

    /// Bind `%name` to `value` (builder form of [`EvalContext::set_variable`]).
    pub fn with_variable(mut self, name: &str, value: Collection<'a>) -> Self {
        self.set_variable(name, value);
        self
    }

    /// Bind `%name` to `value`, replacing an earlier binding of the same name. Lookups scan
    /// the bindings in order, which is fastest for the handful a rule set uses.
    pub fn set_variable(&mut self, name: &str, value: Collection<'a>) {
        let items: Vec<Item<'a>> = value.into_iter().collect();
        if let Some(slot) = self.vars.iter_mut().find(|(n, _)| &**n == name) {
            slot.1 = items;
        } else {
            self.vars.push((name.into(), items));
        }
    }

    /// Remove all variable bindings (keeping the allocation for reuse).
    pub fn clear_variables(&mut self) {
        self.vars.clear();
    }

    /// Strict mode: navigating to an element the FHIR model does not define for the item's
    /// type is an error instead of an empty result.
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The evaluation instant.
    pub fn now(&self) -> &DateTime {
        &self.now
    }

    pub(crate) fn variable(&self, name: &str) -> Option<Collection<'a>> {
        self.vars
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, c)| c.iter().cloned().collect())
    }
}
