//! Path navigation over FHIR JSON: element lookup with the model's types, choice elements
//! (`value` finds `valueQuantity`), primitive extensions (`_birthDate`), arrays flattened.

use super::Frame;
use crate::fhirpath::ast::Member;
use crate::fhirpath::error::{EvalError, EvalErrorKind};
use crate::fhirpath::json_key;
use crate::fhirpath::types::{self, FhirType};
use crate::fhirpath::value::{Collection, FhirNode, Item, Str};
use crate::model::{self, TypeRef};
use serde_json::{Map, Value as Json};

static NULL: Json = Json::Null;

/// Whether `name` at the start of a path names the type of this resource item
/// (`Patient.name` evaluated on a Patient).
pub(crate) fn is_type_prefix(item: &Item<'_>, name: &str) -> bool {
    let Item::Node(n) = item else { return false };
    let Some(t) = n.ty else {
        return json_key::get(n.json, "resourceType").and_then(Json::as_str) == Some(name);
    };
    if !t.is_resource() {
        return false;
    }
    t.name() == name
        || model::type_named(name).is_some_and(|target| model::is_subtype_of(t, target))
}

/// Append the children named `m` of `item` to `out`.
pub(crate) fn member_of<'a>(
    item: &Item<'a>,
    m: &Member,
    f: &Frame<'a, '_>,
    out: &mut Collection<'a>,
) -> Result<(), EvalError> {
    match item {
        Item::Node(n) => navigate(n, m, f, out),
        Item::Type(t) => {
            match &*m.name {
                "name" => out.push(Item::String(Str::Shared(t.name.clone()))),
                "namespace" => out.push(Item::String(Str::Borrowed(t.namespace))),
                _ => {}
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn navigate<'a>(
    n: &FhirNode<'a>,
    m: &Member,
    f: &Frame<'a, '_>,
    out: &mut Collection<'a>,
) -> Result<(), EvalError> {
    let name: &str = &m.name;
    let obj = match n.json {
        Json::Object(o) => o,
        _ => {
            // A primitive: its `id` and `extension` live in the `_name` sibling.
            if let Some(Json::Object(e)) = n.ext {
                let ty = element_type()
                    .and_then(|el| model::child(el, name))
                    .and_then(|c| c.ty);
                push_values(json_key::field(e, name), None, ty, out);
            }
            return Ok(());
        }
    };
    json_key::prefetch_object(obj);
    let Some(t) = n.ty else {
        return navigate_untyped(obj, name, out);
    };
    // The model finds an element under its own name, under `_name`, or under a choice form
    // (`valueQuantity`); its name is then `name` itself exactly when the lengths agree, which
    // spares comparing the texts.
    match m.cache.child(t, name) {
        Some(c) if c.name.len() == name.len() && !c.choice => {
            // `Resource.id` is typed `id` in the R4 spec (the model reads its System.String as
            // `string`).
            let ty = match c.ty {
                Some(_) if name == "id" && t.is_resource() => id_type().or(c.ty),
                other => other,
            };
            match ty {
                Some(ct) if ct.is_primitive() => {
                    let (value, ext) = json_key::field_and_ext(obj, name);
                    push_values(value, ext, ty, out);
                }
                _ => push_values(json_key::field(obj, name), None, ty, out),
            }
            Ok(())
        }
        Some(c) if c.name.len() == name.len() => {
            // The lengths a key `name` + `Type` can have: keys of other lengths are skipped
            // without reading their text.
            let mut lengths = 0u64;
            for t in c.types {
                lengths |= 1 << (name.len() + t.name().len()).min(63);
            }
            for (key, value) in obj.iter() {
                if lengths & (1 << key.len().min(63)) == 0 {
                    continue;
                }
                let Some(suffix) = key.strip_prefix(name) else {
                    continue;
                };
                if let Some(&ty) = c.types.iter().find(|&&ty| types::is_choice_suffix(suffix, ty)) {
                    let ext = if ty.is_primitive() {
                        json_key::ext_field(obj, key)
                    } else {
                        None
                    };
                    push_values(Some(value), ext, Some(ty), out);
                }
            }
            Ok(())
        }
        Some(c) => Err(EvalError::new(
            EvalErrorKind::Model,
            m.span,
            format!(
                "`{name}` is a type-specific name of the choice element `{}`; use `{}` (with `.ofType(..)` to pick a type)",
                c.name, c.name
            ),
        )),
        None => {
            if f.ctx.strict {
                return Err(EvalError::new(
                    EvalErrorKind::Model,
                    m.span,
                    format!("`{}` has no element `{name}`", t.name()),
                ));
            }
            navigate_untyped(obj, name, out)
        }
    }
}

/// Navigation without type information: the plain key, else a choice key `name` + `Type`.
fn navigate_untyped<'a>(
    obj: &'a Map<String, Json>,
    name: &str,
    out: &mut Collection<'a>,
) -> Result<(), EvalError> {
    if let (Some(v), ext) = json_key::field_and_ext(obj, name) {
        push_values(Some(v), ext, None, out);
        return Ok(());
    }
    for (key, value) in obj.iter() {
        let Some(suffix) = key.strip_prefix(name) else {
            continue;
        };
        if suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
            let ty = types::type_of_suffix(suffix);
            push_values(Some(value), json_key::ext_field(obj, key), ty, out);
        }
    }
    Ok(())
}

/// Push the value(s) of an element: arrays are flattened, with the matching entries of the
/// `_name` array as extensions. A primitive with only an extension gives a node whose JSON is
/// `null`.
fn push_values<'a>(
    value: Option<&'a Json>,
    ext: Option<&'a Json>,
    ty: FhirType,
    out: &mut Collection<'a>,
) {
    let node = |json: &'a Json, ext: Option<&'a Json>| {
        let ty = match ty {
            Some(t) if t.is_resource() => types::type_of_resource(json).or(Some(t)),
            None => types::type_of_resource(json),
            other => other,
        };
        Item::Node(FhirNode {
            json,
            ext: ext.filter(|e| !e.is_null()),
            ty,
        })
    };
    match (value, ext) {
        (Some(Json::Array(values)), ext) => {
            let exts = ext.and_then(Json::as_array);
            let n = values.len().max(exts.map_or(0, Vec::len));
            for i in 0..n {
                let v = values.get(i).unwrap_or(&NULL);
                let e = exts.and_then(|x| x.get(i));
                if v.is_null() && e.is_none_or_null() {
                    continue;
                }
                out.push(node(v, e));
            }
        }
        (Some(Json::Null), None) => {}
        (Some(v), ext) => out.push(node(v, ext)),
        (None, Some(Json::Array(exts))) => {
            for e in exts.iter().filter(|e| !e.is_null()) {
                out.push(node(&NULL, Some(e)));
            }
        }
        (None, Some(e)) => out.push(node(&NULL, Some(e))),
        (None, None) => {}
    }
}

trait Nullish {
    fn is_none_or_null(&self) -> bool;
}

impl Nullish for Option<&Json> {
    fn is_none_or_null(&self) -> bool {
        self.is_none_or(|j| j.is_null())
    }
}

fn id_type() -> Option<TypeRef> {
    static ID: std::sync::OnceLock<Option<TypeRef>> = std::sync::OnceLock::new();
    *ID.get_or_init(|| model::type_named("FHIR.id"))
}

fn element_type() -> Option<TypeRef> {
    static EL: std::sync::OnceLock<Option<TypeRef>> = std::sync::OnceLock::new();
    *EL.get_or_init(|| model::type_named("FHIR.Element"))
}

/// Append the direct children of `item` (`children()`), in JSON order.
pub(crate) fn children_of<'a>(item: &Item<'a>, out: &mut Collection<'a>) {
    let Item::Node(n) = item else { return };
    let Json::Object(obj) = n.json else {
        if let Some(Json::Object(e)) = n.ext {
            for (key, value) in e.iter() {
                let ty = element_type()
                    .and_then(|el| model::child(el, key))
                    .and_then(|c| c.ty);
                push_values(Some(value), None, ty, out);
            }
        }
        return;
    };
    for (key, value) in obj.iter() {
        if key == "resourceType" {
            continue;
        }
        if let Some(plain) = key.strip_prefix('_') {
            if json_key::field(obj, plain).is_some() {
                continue;
            }
        }
        let child = n.ty.and_then(|t| model::child(t, key));
        let ty = match child {
            Some(c) => c.ty,
            None => None,
        };
        if key.starts_with('_') {
            push_values(None, Some(value), ty, out);
            continue;
        }
        let ext = match ty {
            Some(t) if t.is_primitive() => json_key::ext_field(obj, key),
            _ => None,
        };
        push_values(Some(value), ext, ty, out);
    }
}
