//! Tree and utility functions: `children`, `descendants`, `extension`, `hasValue`,
//! `getValue`, `resolve`, `type`, `trace`, the clock (`now`, `today`, `timeOfDay`),
//! `memberOf` and `conformsTo`.

use super::{arg_string, boolean, input_single, type_error};
use crate::fhirpath::ast::{Call, Func};
use crate::fhirpath::convert::node_to_system;
use crate::fhirpath::error::{EvalError, EvalErrorKind};
use crate::fhirpath::eval::{children_of, Frame, Res};
use crate::fhirpath::types::{self, system_type};
use crate::fhirpath::value::{Collection, FhirNode, Item, TypeInfo};
use crate::model;
use serde_json::Value as Json;
use std::sync::Arc;

pub(super) fn call<'a>(
    call: &'a Call,
    input: Collection<'a>,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    match call.func {
        Func::Children => {
            let mut out = Collection::empty();
            for item in input.iter() {
                children_of(item, &mut out);
            }
            Ok(out)
        }
        Func::Descendants => {
            let mut out = Collection::empty();
            let mut frontier: Vec<Item<'a>> = input.into_iter().collect();
            while !frontier.is_empty() {
                let mut next = Collection::empty();
                for item in &frontier {
                    children_of(item, &mut next);
                }
                out.0.extend(next.iter().cloned());
                frontier = next.into_iter().collect();
            }
            Ok(out)
        }
        Func::Trace => Ok(input),
        Func::Now => Ok(Collection::single(Item::DateTime(f.ctx.now))),
        Func::Today => Ok(Collection::single(Item::Date(f.ctx.today))),
        Func::TimeOfDay => Ok(f
            .ctx
            .time_of_day
            .map(|t| Collection::single(Item::Time(t)))
            .unwrap_or_default()),
        Func::TypeFn => Ok(input.iter().filter_map(type_of).collect()),
        Func::Extension => {
            let Some(url) = arg_string(call, 0, focus, f)? else {
                return Ok(Collection::empty());
            };
            let ext_type = model::type_named("FHIR.Extension");
            let mut out = Collection::empty();
            for item in input.iter() {
                let Item::Node(n) = item else { continue };
                let holder = if n.json.is_object() {
                    Some(n.json)
                } else {
                    n.ext
                };
                let Some(Json::Array(exts)) = holder.and_then(|h| h.get("extension")) else {
                    continue;
                };
                for e in exts {
                    if e.get("url").and_then(Json::as_str) == Some(url.as_str()) {
                        out.push(Item::Node(FhirNode {
                            json: e,
                            ext: None,
                            ty: ext_type,
                        }));
                    }
                }
            }
            Ok(out)
        }
        Func::HasValue => boolean(match input.0.as_slice() {
            [Item::Node(n)] => {
                n.ty.is_none_or_primitive() && !n.json.is_null() && !n.json.is_object()
            }
            [other] => system_type(other).is_some(),
            _ => false,
        }),
        Func::GetValue => match input.0.as_slice() {
            [Item::Node(n)] => Ok(node_to_system(n)
                .filter(|_| !n.json.is_object())
                .map(Collection::single)
                .unwrap_or_default()),
            _ => Ok(Collection::empty()),
        },
        Func::Resolve => {
            let mut out = Collection::empty();
            for item in input.iter() {
                let reference = match item {
                    Item::Node(n) => match n.json {
                        Json::Object(o) => o.get("reference").and_then(Json::as_str),
                        Json::String(s) => Some(s.as_str()),
                        _ => None,
                    },
                    Item::String(s) => Some(s.as_str()),
                    _ => None,
                };
                let Some(reference) = reference else { continue };
                if let Some(found) = resolve(reference, f) {
                    out.push(Item::Node(FhirNode {
                        json: found,
                        ext: None,
                        ty: types::type_of_resource(found),
                    }));
                }
            }
            Ok(out)
        }
        Func::MemberOf => {
            let Some(url) = arg_string(call, 0, focus, f)? else {
                return Ok(Collection::empty());
            };
            let Some(item) = input_single(call, &input)? else {
                return Ok(Collection::empty());
            };
            let registry = f
                .ctx
                .valuesets
                .ok_or_else(|| unknown_vs(call, url.as_str()))?;
            let vs = registry
                .get(url.as_str())
                .ok_or_else(|| unknown_vs(call, url.as_str()))?;
            let node = match &input.0.first() {
                Some(Item::Node(n)) => Some(*n),
                _ => None,
            };
            match vs.contains_item(&item, node) {
                Some(b) => boolean(b),
                None => Ok(Collection::empty()),
            }
        }
        _ => {
            // conformsTo: only the base resource profiles are known.
            let Some(url) = arg_string(call, 0, focus, f)? else {
                return Ok(Collection::empty());
            };
            let Some(name) = url
                .as_str()
                .strip_prefix("http://hl7.org/fhir/StructureDefinition/")
                .filter(|n| model::type_named(n).is_some())
            else {
                return Err(EvalError::new(
                    EvalErrorKind::Argument,
                    call.span,
                    "`conformsTo` only knows the base FHIR StructureDefinitions",
                ));
            };
            let Some(item) = input_single(call, &input)? else {
                return Ok(Collection::empty());
            };
            match (&item, &input.0.first()) {
                (_, Some(Item::Node(n))) => boolean(n.ty.is_some_and(|t| {
                    model::type_named(name).is_some_and(|target| model::is_subtype_of(t, target))
                })),
                _ => Err(type_error(call, "a FHIR element", &item)),
            }
        }
    }
}

trait PrimitiveOrUnknown {
    fn is_none_or_primitive(&self) -> bool;
}

impl PrimitiveOrUnknown for Option<model::TypeRef> {
    fn is_none_or_primitive(&self) -> bool {
        self.is_none_or(|t| t.is_primitive())
    }
}

fn unknown_vs(call: &Call, url: &str) -> EvalError {
    EvalError::new(
        EvalErrorKind::UnknownValueSet,
        call.span,
        format!("value set '{url}' is not loaded"),
    )
}

fn type_of<'a>(item: &Item<'a>) -> Option<Item<'a>> {
    let info = match item {
        Item::Node(n) => {
            let t = n.ty?;
            TypeInfo {
                namespace: t.namespace(),
                name: Arc::from(t.fhirpath_type_name()),
            }
        }
        other => TypeInfo {
            namespace: "System",
            name: Arc::from(system_type(other)?.name()),
        },
    };
    Some(Item::Type(Arc::new(info)))
}

/// Resolve a reference: contained resources (`#id`) from `%resource`, else the caller's
/// resolver.
fn resolve<'a>(reference: &str, f: &Frame<'a, '_>) -> Option<&'a Json> {
    if let Some(id) = reference.strip_prefix('#') {
        for item in f.resource.iter() {
            let Item::Node(n) = item else { continue };
            if let Some(Json::Array(contained)) = n.json.get("contained") {
                if let Some(found) = contained
                    .iter()
                    .find(|c| c.get("id").and_then(Json::as_str) == Some(id))
                {
                    return Some(found);
                }
            }
        }
        return None;
    }
    f.ctx.resolver?.resolve(reference)
}
