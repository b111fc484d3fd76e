//! FHIRPath `resolve()` over a patient record.

use serde_json::Value;

use super::PatientRecord;
use crate::data::reference::{contained, parse_reference, Target};
use crate::data::Resource;
use crate::fhirpath::Resolver;

/// Resolves `Type/id`, `urn:uuid:...`, absolute URLs and `_history` references among the
/// record's resources and its shared context. Contained references (`#id`) need the resource
/// being evaluated: use [`PatientRecord::resolver_for`].
impl Resolver for PatientRecord {
    fn resolve(&self, reference: &str) -> Option<&Value> {
        PatientRecord::resolve(self, reference).map(|r| r.json())
    }
}

/// A resolver for evaluating expressions over one resource of a record: contained references
/// (`#id`) resolve inside that resource, everything else as for [`PatientRecord`].
#[derive(Debug, Clone, Copy)]
pub struct ScopedResolver<'a> {
    record: &'a PatientRecord,
    from: &'a Resource,
}

impl Resolver for ScopedResolver<'_> {
    fn resolve(&self, reference: &str) -> Option<&Value> {
        match parse_reference(reference)? {
            Target::Contained(id) => contained(self.from.json(), id),
            _ => PatientRecord::resolve(self.record, reference).map(|r| r.json()),
        }
    }
}

impl PatientRecord {
    /// A [`Resolver`] for FHIRPath over `from` (a resource of this record), which also resolves
    /// `from`'s contained resources.
    pub fn resolver_for<'a>(&'a self, from: &'a Resource) -> ScopedResolver<'a> {
        ScopedResolver { record: self, from }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::data::{PatientRecord, Resource, Source};
    use crate::fhirpath::{self, EvalContext};
    use crate::temporal::DateTime;

    #[test]
    fn fhirpath_resolve_through_the_record() {
        let r = |v| Arc::new(Resource::from_json(v, Source::memory(), None).unwrap());
        let record = PatientRecord::build(vec![
            r(json!({"resourceType": "Patient", "id": "p", "gender": "female"})),
            r(
                json!({"resourceType": "MedicationRequest", "id": "mr", "status": "active",
                "intent": "order", "subject": {"reference": "Patient/p"},
                "contained": [{"resourceType": "Medication", "id": "m",
                    "code": {"coding": [{"system": "s", "code": "c"}]}}],
                "medicationReference": {"reference": "#m"}}),
            ),
        ])
        .unwrap();
        let mr = record.get("MedicationRequest", "mr").unwrap().clone();
        let now = DateTime::parse("2024-01-01T00:00:00Z").unwrap();

        let scoped = record.resolver_for(&mr);
        let ctx = EvalContext::new(now).with_resolver(&scoped);
        let eval = |expr: &str, ctx: &EvalContext| {
            fhirpath::parse(expr)
                .unwrap()
                .evaluate(mr.json(), ctx)
                .unwrap()
                .as_bool()
        };
        assert_eq!(
            eval("subject.resolve().gender = 'female'", &ctx),
            Some(true)
        );
        assert_eq!(
            eval("medication.resolve().code.coding.code = 'c'", &ctx),
            Some(true)
        );

        let plain = EvalContext::new(now).with_resolver(&record);
        assert_eq!(
            eval("subject.resolve().gender = 'female'", &plain),
            Some(true)
        );
        let none = EvalContext::new(now);
        assert_eq!(eval("subject.resolve().exists()", &none), Some(false));
    }
}
