//! Interning resource type names: the `resourceType` of every loaded resource is checked against
//! the FHIR R4 model ([`crate::model::resource_types`]) and kept as a `&'static str`.

use std::sync::OnceLock;

fn types() -> &'static [&'static str] {
    static TYPES: OnceLock<Vec<&'static str>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut v: Vec<&'static str> = crate::model::resource_types().collect();
        v.sort_unstable();
        v
    })
}

/// The interned name of a concrete R4 resource type, or `None` when `name` is not one.
///
/// ```
/// use cds_core::data::intern_resource_type;
/// assert_eq!(intern_resource_type("Observation"), Some("Observation"));
/// assert_eq!(intern_resource_type("observation"), None);
/// assert_eq!(intern_resource_type("DomainResource"), None);
/// ```
pub fn intern_resource_type(name: &str) -> Option<&'static str> {
    let types = types();
    types
        .binary_search(&name)
        .ok()
        .and_then(|i| types.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_model() {
        for t in crate::model::resource_types() {
            assert_eq!(intern_resource_type(t), Some(t));
        }
        assert!(types().len() >= 146);
    }

    #[test]
    fn r4b_only_types_are_not_r4_resources() {
        assert_eq!(intern_resource_type("SubscriptionStatus"), None);
    }

    #[test]
    fn abstract_and_non_resource_types_are_not_resources() {
        for name in ["Resource", "DomainResource", "Quantity", "", "Patient "] {
            assert_eq!(intern_resource_type(name), None, "{name}");
        }
        assert_eq!(intern_resource_type("Patient"), Some("Patient"));
    }
}
