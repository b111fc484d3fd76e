//! Parsing of the generated type table (`r4.model`) into lookup structures.
//!
//! The line format is described in the [module documentation](super) and at the top of
//! `tools/fhir-model/gen.py`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::{SystemType, TypeKind, TypeRef};

/// A small, fast, non-cryptographic hasher for the model's name maps (the keys are schema
/// names fixed at build time, so hash flooding is not a concern).
#[derive(Default)]
pub(super) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by type names, with [`NameHasher`].
pub(super) type NameMap<V> = HashMap<&'static str, V, BuildHasherDefault<NameHasher>>;

/// A problem in the type table: which line, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A line does not have the fields its record kind needs.
    #[error("type table line {line}: {what}")]
    Malformed {
        /// 1-based line number in the table.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A line names a type that the table does not declare.
    #[error("type table line {line}: unknown type `{name}`")]
    UnknownType {
        /// 1-based line number in the table.
        line: usize,
        /// The type name (a schema name, never patient data).
        name: String,
    },
}

/// One element a type declares itself.
#[derive(Debug)]
pub(super) struct ElementDef {
    /// Element name without any `[x]` suffix.
    pub(super) name: &'static str,
    /// Allowed types (one unless `choice`).
    pub(super) types: Vec<TypeRef>,
    /// Maximum cardinality is `*`.
    pub(super) many: bool,
    /// A choice element (`value[x]`).
    pub(super) choice: bool,
}

/// One type: a FHIR type, a backbone element path or a FHIRPath System type.
#[derive(Debug)]
pub(super) struct TypeInfo {
    pub(super) name: &'static str,
    pub(super) kind: TypeKind,
    pub(super) base: Option<TypeRef>,
    pub(super) is_abstract: bool,
    /// The System type of the value a primitive (or System type) holds; `None` otherwise.
    pub(super) system: Option<SystemType>,
    /// Own elements in declaration order.
    pub(super) elements: Vec<ElementDef>,
    /// Indexes into `elements`, sorted by element name (binary search).
    pub(super) by_name: Vec<u16>,
    /// Indexes into `elements` of the choice elements.
    pub(super) choices: Vec<u16>,
}

/// The whole parsed model.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) types: Vec<TypeInfo>,
    /// FHIR type names and backbone paths.
    pub(super) fhir: NameMap<TypeRef>,
    /// Concrete (non-abstract) resource type names, sorted.
    pub(super) resources: Vec<&'static str>,
}

impl Model {
    /// Parses the table text. Types must be declared (`T` lines) before elements use them
    /// as owners; element types may refer to any declared type.
    pub(super) fn parse(text: &'static str) -> Result<Model, TableError> {
        let mut model = Model::default();
        // System types first, at fixed positions (see `SystemType::type_ref`).
        for st in SystemType::ALL {
            model.push_type(st.name(), TypeKind::System, false);
        }
        let mut bases: Vec<(usize, TypeRef, &'static str)> = Vec::new();
        let mut elements: Vec<(usize, &'static str, &'static str, &'static str, bool)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&'static str> = line.split('|').collect();
            match fields.as_slice() {
                ["T", name, kind, base, abs] => {
                    let kind = match *kind {
                        "primitive" => TypeKind::Primitive,
                        "complex" => TypeKind::Complex,
                        "resource" => TypeKind::Resource,
                        "backbone" => TypeKind::Backbone,
                        _ => {
                            return Err(TableError::Malformed {
                                line: line_no,
                                what: "unknown type kind",
                            })
                        }
                    };
                    let r = model.push_type(name, kind, *abs == "1");
                    model.fhir.insert(name, r);
                    if !base.is_empty() {
                        bases.push((line_no, r, base));
                    }
                    if kind == TypeKind::Resource && *abs != "1" {
                        model.resources.push(name);
                    }
                }
                ["E", owner, name, types, max] => {
                    elements.push((line_no, owner, name, types, *max == "*"));
                }
                _ => {
                    return Err(TableError::Malformed {
                        line: line_no,
                        what: "expected `T|name|kind|base|abstract` or `E|owner|name|types|max`",
                    })
                }
            }
        }
        for (line, r, base) in bases {
            let b = model.lookup(base, line)?;
            if let Some(info) = model.types.get_mut(usize::from(r.0)) {
                info.base = Some(b);
            }
        }
        for (line, owner, name, types, many) in elements {
            let owner = model.lookup(owner, line)?;
            let mut refs = Vec::new();
            for t in types.split(',') {
                refs.push(model.lookup(t, line)?);
            }
            let (name, choice) = match name.strip_suffix("[x]") {
                Some(n) => (n, true),
                None => (name, false),
            };
            if let Some(info) = model.types.get_mut(usize::from(owner.0)) {
                info.elements.push(ElementDef {
                    name,
                    types: refs,
                    many,
                    choice,
                });
            }
        }
        for info in &mut model.types {
            let n = u16::try_from(info.elements.len()).map_err(|_| TableError::Malformed {
                line: 0,
                what: "too many elements on one type",
            })?;
            let mut idx: Vec<u16> = (0..n).collect();
            idx.sort_by_key(|&i| info.elements.get(usize::from(i)).map(|e| e.name));
            info.by_name = idx;
            info.choices = (0..n)
                .filter(|&i| info.elements.get(usize::from(i)).is_some_and(|e| e.choice))
                .collect();
        }
        model.resources.sort_unstable();
        Ok(model)
    }

    fn push_type(&mut self, name: &'static str, kind: TypeKind, is_abstract: bool) -> TypeRef {
        // The table has well under 65 536 types; saturate rather than wrap if it ever grows.
        let r = TypeRef(u16::try_from(self.types.len()).unwrap_or(u16::MAX));
        self.types.push(TypeInfo {
            name,
            kind,
            base: None,
            is_abstract,
            system: match kind {
                TypeKind::System => SystemType::from_name(name),
                TypeKind::Primitive => Some(primitive_system_type(name)),
                _ => None,
            },
            elements: Vec::new(),
            by_name: Vec::new(),
            choices: Vec::new(),
        });
        r
    }

    fn lookup(&self, name: &str, line: usize) -> Result<TypeRef, TableError> {
        let found = match name.strip_prefix("System.") {
            Some(sys) => SystemType::from_name(sys).map(SystemType::type_ref),
            None => self.fhir.get(name).copied(),
        };
        found.ok_or_else(|| TableError::UnknownType {
            line,
            name: name.to_owned(),
        })
    }

    /// The info of a type; `None` only for a handle from another model (cannot happen for
    /// handles obtained from this module).
    pub(super) fn info(&self, t: TypeRef) -> Option<&TypeInfo> {
        self.types.get(usize::from(t.0))
    }
}

/// The System type of a FHIR primitive's value, by the primitive's name.
fn primitive_system_type(name: &str) -> SystemType {
    match name {
        "boolean" => SystemType::Boolean,
        "integer" | "unsignedInt" | "positiveInt" => SystemType::Integer,
        "decimal" => SystemType::Decimal,
        "date" => SystemType::Date,
        "dateTime" | "instant" => SystemType::DateTime,
        "time" => SystemType::Time,
        _ => SystemType::String,
    }
}

impl TypeInfo {
    /// The own element with exactly this name.
    #[cfg(test)]
    pub(super) fn element(&self, name: &str) -> Option<&ElementDef> {
        self.elements.get(usize::from(self.element_index(name)?))
    }

    /// The index in `elements` of the own element with exactly this name.
    pub(super) fn element_index(&self, name: &str) -> Option<u16> {
        let pos = self
            .by_name
            .binary_search_by(|&i| {
                self.elements
                    .get(usize::from(i))
                    .map_or("", |e| e.name)
                    .cmp(name)
            })
            .ok()?;
        self.by_name.get(pos).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_lines_with_their_number() {
        let err = Model::parse("# c\nT|A|complex||0\nX|y\n").unwrap_err();
        assert!(matches!(err, TableError::Malformed { line: 3, .. }));
        let err = Model::parse("T|A|weird||0\n").unwrap_err();
        assert!(matches!(err, TableError::Malformed { line: 1, .. }));
        let err = Model::parse("T|A|complex||0\nE|A|b|Nope|1\n").unwrap_err();
        assert_eq!(
            err,
            TableError::UnknownType {
                line: 2,
                name: "Nope".into()
            }
        );
        let err = Model::parse("T|A|complex|Missing|0\n").unwrap_err();
        assert!(matches!(err, TableError::UnknownType { line: 1, .. }));
    }

    #[test]
    fn parses_a_small_table() {
        let m =
            Model::parse("T|A|complex||0\nT|B|complex|A|1\nE|B|v[x]|A,System.String|*\n").unwrap();
        let b = m.fhir["B"];
        let info = m.info(b).unwrap();
        assert!(info.is_abstract);
        assert_eq!(info.base, Some(m.fhir["A"]));
        let e = info.element("v").unwrap();
        assert!(e.choice && e.many);
        assert_eq!(e.types.len(), 2);
        assert_eq!(info.choices, vec![0]);
    }
}
