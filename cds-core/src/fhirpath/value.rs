//! Values that flow through an evaluation: [`Item`]s in a [`Collection`].
//!
//! An item is either a FHIR node (a borrowed piece of the resource's JSON with its FHIR type)
//! or a System value (`Boolean`, `Integer`, `Decimal`, `String`, `Date`, `DateTime`, `Time`,
//! `Quantity`). FHIR primitives are read as System values only when an operator or function
//! needs them, according to their FHIR type.

use super::quantity::Quantity;
use super::types::FhirType;
use crate::temporal::{Date, DateTime, Time};
use rust_decimal::Decimal;
use serde_json::Value as Json;
use smallvec::SmallVec;
use std::fmt;
use std::sync::Arc;

/// A string that is either borrowed (from the resource or the expression) or shared.
#[derive(Clone, Debug)]
pub enum Str<'a> {
    /// Borrowed from the resource or the expression.
    Borrowed(&'a str),
    /// Built during evaluation.
    Shared(Arc<str>),
}

impl<'a> Str<'a> {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Shared(s) => s,
        }
    }
}

impl From<String> for Str<'_> {
    fn from(s: String) -> Self {
        Str::Shared(Arc::from(s))
    }
}

impl PartialEq for Str<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A node of the FHIR resource being evaluated: its JSON, its FHIR type if known, and for
/// primitives the `_name` sibling that holds the primitive's `id` and `extension`.
#[derive(Clone, Copy, Debug)]
pub struct FhirNode<'a> {
    /// The JSON of the value (`Null` for a primitive that has only extensions).
    pub json: &'a Json,
    /// The `_name` sibling of a primitive, if any.
    pub ext: Option<&'a Json>,
    /// The FHIR type, when the model knows it.
    pub ty: FhirType,
}

/// A type as returned by `type()`: a namespace (`System` or `FHIR`) and a name.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeInfo {
    /// `System` or `FHIR`.
    pub namespace: &'static str,
    /// The type's name.
    pub name: Arc<str>,
}

/// One item of a [`Collection`].
#[derive(Clone, Debug)]
pub enum Item<'a> {
    /// A node of the resource.
    Node(FhirNode<'a>),
    /// `System.Boolean`.
    Boolean(bool),
    /// `System.Integer`.
    Integer(i64),
    /// `System.Decimal`.
    Decimal(Decimal),
    /// `System.String`.
    String(Str<'a>),
    /// `System.Date`.
    Date(Date),
    /// `System.DateTime`.
    DateTime(DateTime),
    /// `System.Time`.
    Time(Time),
    /// `System.Quantity`.
    Quantity(Arc<Quantity>),
    /// The result of `type()`.
    Type(Arc<TypeInfo>),
}

/// A literal in the expression tree, converted while parsing.
#[derive(Clone, Debug)]
pub(crate) enum Lit {
    Boolean(bool),
    Integer(i64),
    Decimal(Decimal),
    String(Box<str>),
    Date(Date),
    DateTime(DateTime),
    Time(Time),
    Quantity(Arc<Quantity>),
}

impl Lit {
    /// The literal holding a System value (`None` for FHIR nodes and types).
    pub(crate) fn from_item(item: &Item<'_>) -> Option<Lit> {
        Some(match item {
            Item::Boolean(b) => Lit::Boolean(*b),
            Item::Integer(i) => Lit::Integer(*i),
            Item::Decimal(d) => Lit::Decimal(*d),
            Item::String(s) => Lit::String(s.as_str().into()),
            Item::Date(d) => Lit::Date(*d),
            Item::DateTime(d) => Lit::DateTime(*d),
            Item::Time(t) => Lit::Time(*t),
            Item::Quantity(q) => Lit::Quantity(q.clone()),
            Item::Node(_) | Item::Type(_) => return None,
        })
    }

    pub(crate) fn item(&self) -> Item<'_> {
        match self {
            Lit::Boolean(b) => Item::Boolean(*b),
            Lit::Integer(i) => Item::Integer(*i),
            Lit::Decimal(d) => Item::Decimal(*d),
            Lit::String(s) => Item::String(Str::Borrowed(s)),
            Lit::Date(d) => Item::Date(*d),
            Lit::DateTime(d) => Item::DateTime(*d),
            Lit::Time(t) => Item::Time(*t),
            Lit::Quantity(q) => Item::Quantity(q.clone()),
        }
    }
}

/// The result of evaluating an expression: an ordered collection of items.
///
/// Most results hold zero or one item; those are stored without a heap allocation.
#[derive(Clone, Debug, Default)]
pub struct Collection<'a>(pub(crate) SmallVec<[Item<'a>; 2]>);

impl<'a> Collection<'a> {
    /// An empty collection.
    pub fn empty() -> Self {
        Collection(SmallVec::new())
    }

    /// A collection of one item.
    pub fn single(item: Item<'a>) -> Self {
        let mut v = SmallVec::new();
        v.push(item);
        Collection(v)
    }

    /// A collection holding one JSON node of a resource, with its FHIR type looked up from
    /// `resourceType` when it is a resource (e.g. to bind `%patient`).
    pub fn from_json(json: &'a Json) -> Self {
        Collection::single(Item::Node(FhirNode {
            json,
            ext: None,
            ty: super::types::type_of_resource(json),
        }))
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the collection is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The items.
    pub fn iter(&self) -> std::slice::Iter<'_, Item<'a>> {
        self.0.iter()
    }

    /// Append an item.
    pub fn push(&mut self, item: Item<'a>) {
        self.0.push(item)
    }

    /// The collection as a predicate, following FHIRPath's singleton evaluation: empty is
    /// `None`, a single Boolean is its value, any other single item is `Some(true)`, and more
    /// than one item is `None`.
    pub fn as_bool(&self) -> Option<bool> {
        match self.0.as_slice() {
            [] => None,
            [item] => match item.to_system() {
                Some(Item::Boolean(b)) => Some(b),
                _ => Some(true),
            },
            _ => None,
        }
    }

    /// The collection as JSON: an array with one entry per item. FHIR nodes are copied as
    /// they are; System values become JSON booleans, numbers or strings (dates, times and
    /// quantities in their FHIRPath text form); a Quantity becomes `{"value", "unit"}`.
    pub fn to_json(&self) -> Json {
        Json::Array(self.0.iter().map(Item::to_json).collect())
    }
}

impl<'a> IntoIterator for Collection<'a> {
    type Item = Item<'a>;
    type IntoIter = smallvec::IntoIter<[Item<'a>; 2]>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, 'c> IntoIterator for &'c Collection<'a> {
    type Item = &'c Item<'a>;
    type IntoIter = std::slice::Iter<'c, Item<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a> FromIterator<Item<'a>> for Collection<'a> {
    fn from_iter<I: IntoIterator<Item = Item<'a>>>(iter: I) -> Self {
        Collection(iter.into_iter().collect())
    }
}

impl<'a> Item<'a> {
    /// This item as a System value: FHIR primitives are converted by their type, FHIR
    /// `Quantity` nodes become System quantities; other FHIR nodes give `None`.
    pub fn to_system(&self) -> Option<Item<'a>> {
        match self {
            Item::Node(n) => super::convert::node_to_system(n),
            other => Some(other.clone()),
        }
    }

    /// The item as JSON (see [`Collection::to_json`]).
    pub fn to_json(&self) -> Json {
        match self {
            Item::Node(n) => n.json.clone(),
            Item::Boolean(b) => Json::Bool(*b),
            Item::Integer(i) => Json::from(*i),
            Item::Decimal(d) => {
                let text = d.to_string();
                serde_json::from_str::<Json>(&text).unwrap_or(Json::String(text))
            }
            Item::String(s) => Json::String(s.as_str().to_string()),
            Item::Date(d) => Json::String(d.to_string()),
            Item::DateTime(d) => Json::String(d.to_string()),
            Item::Time(t) => Json::String(t.to_string()),
            Item::Quantity(q) => q.to_json(),
            Item::Type(t) => serde_json::json!({"namespace": t.namespace, "name": &*t.name}),
        }
    }

    /// A short name of the item's kind, for error messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Item::Node(n) => super::types::type_name(n.ty).unwrap_or("FHIR element"),
            Item::Boolean(_) => "Boolean",
            Item::Integer(_) => "Integer",
            Item::Decimal(_) => "Decimal",
            Item::String(_) => "String",
            Item::Date(_) => "Date",
            Item::DateTime(_) => "DateTime",
            Item::Time(_) => "Time",
            Item::Quantity(_) => "Quantity",
            Item::Type(_) => "TypeInfo",
        }
    }
}

impl fmt::Display for Item<'_> {
    /// The FHIRPath text form of a System value (`toString()`); FHIR nodes show their JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Node(n) => match super::convert::node_to_system(n) {
                Some(v) => v.fmt(f),
                None => write!(f, "{}", n.json),
            },
            Item::Boolean(b) => write!(f, "{b}"),
            Item::Integer(i) => write!(f, "{i}"),
            Item::Decimal(d) => write!(f, "{d}"),
            Item::String(s) => f.write_str(s.as_str()),
            Item::Date(d) => write!(f, "{d}"),
            Item::DateTime(d) => write!(f, "{d}"),
            Item::Time(t) => write!(f, "{t}"),
            Item::Quantity(q) => write!(f, "{q}"),
            Item::Type(t) => write!(f, "{}.{}", t.namespace, t.name),
        }
    }
}
