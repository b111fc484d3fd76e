//! FHIR R4 XML → FHIR JSON, for test inputs published only as XML (the FHIRPath conformance
//! suite's `valueset-example-expansion.xml`, `parameters-example-types.xml`...).
//!
//! ```ignore
//! let json: serde_json::Value = support::fhir_xml::to_json(&xml_text)?;
//! ```
//!
//! The FHIR type model ([`cds_core::model`]) decides the JSON shape: repeating elements become
//! arrays, primitive `value` attributes become JSON booleans/numbers/strings by the element's
//! type, a primitive's `id` attribute and `extension` children go to the `_name` sibling
//! (aligned arrays with `null`s for repeating primitives), `Element.id`/`Extension.url`
//! attributes become properties, the XHTML `div` is kept as its source text, the root element
//! gives `resourceType`, and resource-typed elements (`contained`, `Bundle.entry.resource`,
//! `Parameters.parameter.resource`) hold the nested resource. Comments are dropped.
//! Errors name the element path and the kind of problem, never a data value.

use cds_core::model::{self, SystemType, TypeRef};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Number, Value};

/// Converts one FHIR R4 resource in XML to its FHIR JSON form.
pub fn to_json(xml: &str) -> Result<Value, String> {
    let root = parse(xml)?;
    resource(&root, "")
}

/// An XML element: local name, attributes (namespace declarations and prefixed attributes
/// dropped), child elements, and for an XHTML `div` its source text.
struct Node<'a> {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node<'a>>,
    xhtml: Option<&'a str>,
}

fn node<'a>(e: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<(Node<'a>, bool), String> {
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    let mut xhtml_ns = false;
    for a in e.attributes() {
        let a = a.map_err(|err| format!("bad attribute on <{name}>: {err}"))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let raw = reader
            .decoder()
            .decode(&a.value)
            .map_err(|_| format!("<{name}>: attribute `{key}` is not UTF-8"))?;
        // XML attribute-value normalisation: literal tab/newline/CR read as a space (character
        // references such as `&#10;` keep their character).
        let raw = raw.replace(['\t', '\n', '\r'], " ");
        let value = quick_xml::escape::unescape(&raw)
            .map_err(|_| format!("<{name}>: attribute `{key}` has a bad escape"))?;
        if key == "xmlns" {
            xhtml_ns = value == "http://www.w3.org/1999/xhtml";
        } else if !key.contains(':') {
            attrs.push((key, value.into_owned()));
        }
    }
    Ok((
        Node {
            name,
            attrs,
            children: Vec::new(),
            xhtml: None,
        },
        xhtml_ns,
    ))
}

fn parse(xml: &str) -> Result<Node<'_>, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node<'_>> = Vec::new();
    let mut root: Option<Node<'_>> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader
            .read_event()
            .map_err(|e| format!("XML error near byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => {
                let (mut n, xhtml_ns) = node(&e, &reader)?;
                let in_text = stack.last().is_some_and(|p| p.name == "text");
                if n.name == "div" && (xhtml_ns || in_text) {
                    let start = xml
                        .get(before..)
                        .and_then(|rest| rest.find('<'))
                        .map(|off| before + off)
                        .ok_or("cannot locate the start of <div>")?;
                    reader
                        .read_to_end(e.name())
                        .map_err(|err| format!("XML error in <div>: {err}"))?;
                    let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                    n.xhtml = Some(xml.get(start..end).ok_or("bad <div> span")?);
                    attach(&mut stack, &mut root, n)?;
                } else {
                    stack.push(n);
                }
            }
            Event::Empty(e) => {
                let (mut n, xhtml_ns) = node(&e, &reader)?;
                if n.name == "div" && xhtml_ns {
                    let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                    let start = xml
                        .get(before..end)
                        .and_then(|s| s.find('<'))
                        .map(|off| before + off)
                        .ok_or("cannot locate the start of <div>")?;
                    n.xhtml = Some(xml.get(start..end).ok_or("bad <div> span")?);
                }
                attach(&mut stack, &mut root, n)?;
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("unbalanced end tag")?;
                attach(&mut stack, &mut root, n)?;
            }
            Event::Text(t) => {
                if !t.iter().all(u8::is_ascii_whitespace) {
                    let at = stack.last().map_or("", |n| n.name.as_str());
                    return Err(format!("unexpected text content in <{at}>"));
                }
            }
            Event::CData(_) | Event::GeneralRef(_) => {
                let at = stack.last().map_or("", |n| n.name.as_str());
                return Err(format!("unexpected text content in <{at}>"));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("document ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

/// Adds a finished element to its parent, or makes it the root.
fn attach<'a>(
    stack: &mut [Node<'a>],
    root: &mut Option<Node<'a>>,
    n: Node<'a>,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(n),
        None if root.is_none() => *root = Some(n),
        None => return Err("more than one root element".into()),
    }
    Ok(())
}

/// A resource element: `<Patient>...</Patient>`.
fn resource(n: &Node<'_>, parent_path: &str) -> Result<Value, String> {
    let path = if parent_path.is_empty() {
        n.name.clone()
    } else {
        format!("{parent_path}.{}", n.name)
    };
    let ty = model::type_named(&n.name)
        .filter(|t| t.is_resource() && !t.is_abstract())
        .ok_or_else(|| format!("{path}: <{}> is not a resource type", n.name))?;
    let mut map = Map::new();
    map.insert("resourceType".into(), Value::String(n.name.clone()));
    fill(&mut map, n, ty, &path)?;
    Ok(Value::Object(map))
}

/// The values gathered for one JSON property before they are written out.
struct Slot {
    key: String,
    many: bool,
    primitive: bool,
    /// (value, `_` sibling) per occurrence; complex values have no sibling.
    items: Vec<(Option<Value>, Option<Value>)>,
}

/// Fills `map` with the properties of the complex element `n` of type `ty`.
fn fill(map: &mut Map<String, Value>, n: &Node<'_>, ty: TypeRef, path: &str) -> Result<(), String> {
    for (key, text) in &n.attrs {
        let c =
            model::child(ty, key).ok_or_else(|| format!("{path}: unexpected attribute `{key}`"))?;
        let cty =
            c.ty.filter(|t| t.is_primitive())
                .ok_or_else(|| format!("{path}: attribute `{key}` is not a primitive element"))?;
        map.insert(key.clone(), typed(text, cty, &format!("{path}@{key}"))?);
    }
    let mut slots: Vec<Slot> = Vec::new();
    for ch in &n.children {
        let cpath = format!("{path}.{}", ch.name);
        let c = model::child(ty, &ch.name)
            .ok_or_else(|| format!("{cpath}: unknown element for type {}", ty.name()))?;
        let cty =
            c.ty.ok_or_else(|| format!("{cpath}: choice element without a type suffix"))?;
        let item = if cty.is_primitive() {
            primitive(ch, cty, &cpath)?
        } else if cty.is_resource() {
            let mut inner = ch.children.iter();
            let (Some(r), None) = (inner.next(), inner.next()) else {
                return Err(format!("{cpath}: expected exactly one resource element"));
            };
            if !ch.attrs.is_empty() {
                return Err(format!("{cpath}: unexpected attribute"));
            }
            (Some(resource(r, &cpath)?), None)
        } else {
            let mut m = Map::new();
            fill(&mut m, ch, cty, &cpath)?;
            (Some(Value::Object(m)), None)
        };
        match slots.iter_mut().find(|s| s.key == ch.name) {
            Some(slot) if slot.many => slot.items.push(item),
            Some(_) => return Err(format!("{cpath}: element repeats but its maximum is 1")),
            None => slots.push(Slot {
                key: ch.name.clone(),
                many: c.many,
                primitive: cty.is_primitive(),
                items: vec![item],
            }),
        }
    }
    for slot in slots {
        if map.contains_key(&slot.key) {
            return Err(format!(
                "{path}.{}: given both as attribute and element",
                slot.key
            ));
        }
        let (values, exts): (Vec<_>, Vec<_>) = slot.items.into_iter().unzip();
        let emit = |vals: Vec<Option<Value>>| -> Option<Value> {
            if vals.iter().all(Option::is_none) {
                None
            } else if slot.many {
                Some(Value::Array(
                    vals.into_iter().map(|v| v.unwrap_or(Value::Null)).collect(),
                ))
            } else {
                vals.into_iter().next().flatten()
            }
        };
        if let Some(v) = emit(values) {
            map.insert(slot.key.clone(), v);
        }
        if slot.primitive {
            if let Some(e) = emit(exts) {
                map.insert(format!("_{}", slot.key), e);
            }
        }
    }
    Ok(())
}

/// A primitive element: its JSON value and its `_` sibling (`id`, `extension`), if any.
fn primitive(
    n: &Node<'_>,
    ty: TypeRef,
    path: &str,
) -> Result<(Option<Value>, Option<Value>), String> {
    let mut value = None;
    let mut ext = Map::new();
    if let Some(raw) = n.xhtml {
        value = Some(Value::String(raw.to_string()));
    }
    for (key, text) in &n.attrs {
        match key.as_str() {
            "value" => value = Some(typed(text, ty, path)?),
            "id" => {
                ext.insert("id".into(), Value::String(text.clone()));
            }
            _ => return Err(format!("{path}: unexpected attribute `{key}`")),
        }
    }
    if n.xhtml.is_none() {
        let extension = model::type_named("Extension").ok_or("no Extension type")?;
        let mut exts = Vec::new();
        for ch in &n.children {
            if ch.name != "extension" {
                return Err(format!(
                    "{path}.{}: unexpected element in a primitive",
                    ch.name
                ));
            }
            let mut m = Map::new();
            fill(&mut m, ch, extension, &format!("{path}.extension"))?;
            exts.push(Value::Object(m));
        }
        if !exts.is_empty() {
            ext.insert("extension".into(), Value::Array(exts));
        }
    }
    let ext = (!ext.is_empty()).then_some(Value::Object(ext));
    Ok((value, ext))
}

/// A primitive `value` attribute as JSON, by the FHIR type's System type.
fn typed(text: &str, ty: TypeRef, path: &str) -> Result<Value, String> {
    match model::system_type_of_primitive(ty) {
        Some(SystemType::Boolean) => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{path}: value is not a valid boolean")),
        },
        Some(SystemType::Integer) => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{path}: value is not a valid integer")),
        Some(SystemType::Decimal) => text
            .parse::<Number>()
            .map(Value::Number)
            .map_err(|_| format!("{path}: value is not a valid decimal")),
        _ => Ok(Value::String(text.to_string())),
    }
}
