//! Types of items and type specifiers (`is`, `as`, `ofType`), over [`crate::model`].

use super::value::Item;
use crate::model::{self, SystemType, TypeRef};
use serde_json::Value as Json;

/// The FHIR type of a node, when the model knows it.
pub type FhirType = Option<TypeRef>;

/// A type specifier from the expression (`Quantity`, `FHIR.Patient`, `System.String`),
/// resolved while parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeSpec {
    /// The text as written (for messages).
    pub text: Box<str>,
    /// The type it names; `None` for a qualified name the model does not know
    /// (`System.Patient`), which no item is an instance of.
    pub resolved: Option<TypeRef>,
    /// The name had no namespace.
    pub unqualified: bool,
}

impl TypeSpec {
    /// Resolve a type name; `Err` for an unqualified name that names no type.
    pub(crate) fn resolve(text: &str) -> Result<TypeSpec, ()> {
        let qualified = text.starts_with("System.") || text.starts_with("FHIR.");
        let resolved = model::type_named(text);
        if resolved.is_none() && !qualified {
            return Err(());
        }
        Ok(TypeSpec {
            text: text.into(),
            resolved,
            unqualified: !qualified,
        })
    }

    /// `is`: the item is of this type or a subtype.
    pub(crate) fn matches(&self, item: &Item<'_>) -> bool {
        let Some(target) = self.resolved else {
            return false;
        };
        match item_type(item) {
            Some(t) => model::is_subtype_of(t, target),
            None => false,
        }
    }

    /// `as` and `ofType`: like `is`, but a primitive must have exactly this type
    /// (`code` is not taken as a `string`), as the FHIRPath test suite expects.
    pub(crate) fn matches_exact_primitive(&self, item: &Item<'_>) -> bool {
        let Some(target) = self.resolved else {
            return false;
        };
        match item_type(item) {
            Some(t) if t.is_primitive() => t == target,
            Some(t) => model::is_subtype_of(t, target),
            None => false,
        }
    }
}

/// The System type of a System value.
pub(crate) fn system_type(item: &Item<'_>) -> Option<SystemType> {
    Some(match item {
        Item::Boolean(_) => SystemType::Boolean,
        Item::Integer(_) => SystemType::Integer,
        Item::Decimal(_) => SystemType::Decimal,
        Item::String(_) => SystemType::String,
        Item::Date(_) => SystemType::Date,
        Item::DateTime(_) => SystemType::DateTime,
        Item::Time(_) => SystemType::Time,
        Item::Quantity(_) => SystemType::Quantity,
        Item::Node(_) | Item::Type(_) => return None,
    })
}

/// The type of an item: a FHIR node's model type or a System value's System type.
pub(crate) fn item_type(item: &Item<'_>) -> Option<TypeRef> {
    match item {
        Item::Node(n) => n.ty,
        other => system_type(other).map(SystemType::type_ref),
    }
}

/// The type of a resource's JSON, from its `resourceType`.
pub(crate) fn type_of_resource(json: &Json) -> FhirType {
    thread_local! {
        /// The type found by the previous call: evaluations mostly see one resource type.
        static LAST: std::cell::Cell<FhirType> = const { std::cell::Cell::new(None) };
    }
    let rt = super::json_key::get(json, "resourceType").and_then(Json::as_str)?;
    if let Some(t) = LAST.with(std::cell::Cell::get) {
        if t.name() == rt {
            return Some(t);
        }
    }
    let t = model::type_named(rt).filter(|t| t.is_resource());
    if t.is_some() {
        LAST.with(|c| c.set(t));
    }
    t
}

/// The name of a FHIR type, for messages.
pub(crate) fn type_name(t: FhirType) -> Option<&'static str> {
    t.map(TypeRef::name)
}

/// The FHIR type named by a choice key's suffix (`Quantity`, `DateTime` → `dateTime`).
pub(crate) fn type_of_suffix(suffix: &str) -> FhirType {
    let mut chars = suffix.chars();
    let first = chars.next()?;
    if !first.is_ascii_uppercase() {
        return None;
    }
    if let Some(t) = model::type_named(suffix).filter(|t| !t.is_system()) {
        return Some(t);
    }
    let mut lower = String::with_capacity(suffix.len());
    lower.push(first.to_ascii_lowercase());
    lower.push_str(chars.as_str());
    model::type_named(&lower).filter(|t| t.is_primitive())
}

/// Whether `suffix` names `ty` in a choice key (`DateTime` for `dateTime`).
pub(crate) fn is_choice_suffix(suffix: &str, ty: TypeRef) -> bool {
    let name = ty.name();
    let (mut s, mut t) = (suffix.bytes(), name.bytes());
    match (s.next(), t.next()) {
        (Some(a), Some(b)) => a.is_ascii_uppercase() && a == b.to_ascii_uppercase() && s.eq(t),
        _ => false,
    }
}
