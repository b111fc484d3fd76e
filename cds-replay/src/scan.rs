//! The first pass's look at a resource: its type, id and the patients it belongs to, read
//! without building its JSON tree (unknown elements are skipped by the tokenizer, only the
//! Patient compartment's elements are kept), so that partitioning costs a fraction of parsing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use cds_core::data::compartment::{compartment_heads, compartment_paths, for_each_reference};
use cds_core::data::intern_resource_type;
use cds_core::data::reference::{parse_reference, Target};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A string borrowed from the input when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// One entry of a Bundle, its resource left as text.
#[derive(Debug, Deserialize)]
pub(crate) struct LightEntry<'a> {
    #[serde(rename = "fullUrl", borrow, default)]
    pub full_url: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub resource: Option<&'a RawValue>,
    #[serde(default)]
    pub search: Option<LightSearch<'a>>,
}

/// A Bundle entry's `search`.
#[derive(Debug, Deserialize)]
pub(crate) struct LightSearch<'a> {
    #[serde(borrow, default)]
    pub mode: Option<Text<'a>>,
}

/// What the first pass keeps of a resource.
#[derive(Debug)]
pub(crate) struct Light<'a> {
    pub resource_type: Option<Text<'a>>,
    pub id: Option<Text<'a>>,
    /// The Patient compartment's top-level elements present, as a JSON object.
    pub heads: Value,
    /// `entry`, when it is an array of objects (Bundles; also List, whose entries are ignored).
    pub entry: Option<Vec<LightEntry<'a>>>,
}

/// True when `key` starts a Patient compartment path: the heads are looked up by length first,
/// so that most keys of a resource are rejected without comparing text.
fn is_head(key: &str) -> bool {
    static HEADS: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
    let by_len = HEADS.get_or_init(|| {
        let mut by_len: Vec<Vec<&'static str>> = Vec::new();
        for h in compartment_heads() {
            if by_len.len() <= h.len() {
                by_len.resize(h.len() + 1, Vec::new());
            }
            by_len[h.len()].push(h);
        }
        by_len
    });
    by_len.get(key.len()).is_some_and(|hs| {
        hs.iter()
            .any(|h| h.as_bytes()[0] == key.as_bytes()[0] && *h == key)
    })
}

impl Default for Light<'_> {
    fn default() -> Self {
        Light {
            resource_type: None,
            id: None,
            heads: Value::Object(Map::new()),
            entry: None,
        }
    }
}

impl<'de> Deserialize<'de> for Light<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Light<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object (a FHIR resource)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut light = Light::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.0.as_ref() {
                        "resourceType" => light.resource_type = Some(map.next_value()?),
                        "id" => light.id = map.next_value::<Option<Text<'de>>>()?,
                        "entry" => {
                            // A List's entries are objects too; anything else is not a Bundle
                            // entry list and is left for validation to report.
                            if let EntryList(Some(e)) = map.next_value::<EntryList<'de>>()? {
                                light.entry = Some(e);
                            }
                        }
                        k if is_head(k) => {
                            let v: Value = map.next_value()?;
                            if let Value::Object(heads) = &mut light.heads {
                                heads.insert(k.to_string(), v);
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(light)
            }
        }
        d.deserialize_map(V)
    }
}

/// `entry` read as Bundle entries when it is an array of objects, skipped otherwise.
struct EntryList<'a>(Option<Vec<LightEntry<'a>>>);

impl<'de> Deserialize<'de> for EntryList<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: &'de RawValue = Deserialize::deserialize(d)?;
        Ok(EntryList(serde_json::from_str(raw.get()).ok()))
    }
}

/// Where a resource goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Home {
    /// The patients (keys: the Patient's id, or its `fullUrl` when it has none) it belongs to.
    Patients(Vec<String>),
    /// A resource of a type outside the Patient compartment: shared context.
    Context,
    /// A compartment resource that names no patient that could be recognised.
    Unlinked,
}

/// Patient keys of a Bundle's Patients, by `fullUrl`.
pub(crate) type PatientUrls = HashMap<String, String>;

/// The key of a Patient: its id, or its `fullUrl`.
pub(crate) fn patient_key(id: Option<&str>, full_url: Option<&str>) -> Option<String> {
    id.or(full_url).map(str::to_string)
}

/// Where a resource of `resource_type` goes, from its compartment elements.
pub(crate) fn home(
    resource_type: &'static str,
    light: &Light<'_>,
    full_url: Option<&str>,
    urls: &PatientUrls,
) -> Home {
    if resource_type == "Patient" {
        return match patient_key(light.id.as_ref().map(|t| t.0.as_ref()), full_url) {
            Some(k) => Home::Patients(vec![k]),
            None => Home::Unlinked,
        };
    }
    let Some(paths) = compartment_paths(resource_type) else {
        return Home::Context;
    };
    let object = &light.heads;
    let mut keys: Vec<String> = Vec::new();
    for path in paths {
        for_each_reference(object, path, &mut |reference| {
            let key = match parse_reference(reference) {
                Some(Target::Typed {
                    resource_type: "Patient",
                    id,
                    url,
                }) => url
                    .and_then(|u| urls.get(u).cloned())
                    .or_else(|| Some(id.to_string())),
                Some(Target::Url(url)) => urls.get(url).cloned(),
                _ => None,
            };
            if let Some(k) = key {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        });
    }
    if keys.is_empty() {
        Home::Unlinked
    } else {
        Home::Patients(keys)
    }
}

/// The interned resource type of a light resource, or why it has none.
pub(crate) fn resource_type(light: &Light<'_>) -> Result<&'static str, String> {
    match &light.resource_type {
        None => Err("no resourceType".to_string()),
        Some(t) => intern_resource_type(&t.0)
            .ok_or_else(|| "resourceType is not a FHIR R4 resource type".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn light(text: &str) -> Light<'_> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn keeps_type_id_and_compartment_elements_only() {
        let l = light(
            r#"{"code":{"text":"x"},"subject":{"reference":"Patient/p1"},"id":"o1","resourceType":"Observation","valueQuantity":{"value":1}}"#,
        );
        assert_eq!(resource_type(&l), Ok("Observation"));
        assert_eq!(l.id.as_ref().unwrap().0, "o1");
        assert_eq!(l.heads.as_object().map(|h| h.len()), Some(1));
        assert_eq!(
            home("Observation", &l, None, &PatientUrls::new()),
            Home::Patients(vec!["p1".into()])
        );
    }

    #[test]
    fn homes() {
        let urls: PatientUrls = [("urn:uuid:a".to_string(), "pa".to_string())].into();
        let l = light(r#"{"resourceType":"Condition","subject":{"reference":"urn:uuid:a"}}"#);
        assert_eq!(
            home("Condition", &l, None, &urls),
            Home::Patients(vec!["pa".into()])
        );
        let l = light(r#"{"resourceType":"Practitioner","id":"d"}"#);
        assert_eq!(home("Practitioner", &l, None, &urls), Home::Context);
        let l = light(r#"{"resourceType":"Observation","subject":{"reference":"Group/g"}}"#);
        assert_eq!(home("Observation", &l, None, &urls), Home::Unlinked);
        let l = light(
            r#"{"resourceType":"Appointment","participant":[{"actor":{"reference":"Practitioner/x"}},{"actor":{"reference":"http://s/fhir/Patient/b"}}]}"#,
        );
        assert_eq!(
            home("Appointment", &l, None, &urls),
            Home::Patients(vec!["b".into()])
        );
        let l = light(r#"{"resourceType":"Patient"}"#);
        assert_eq!(
            home("Patient", &l, Some("urn:uuid:z"), &urls),
            Home::Patients(vec!["urn:uuid:z".into()])
        );
    }

    #[test]
    fn bundles_keep_entries_as_text() {
        let text = r#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:a","resource":{"resourceType":"Patient","id":"pa"}},{"request":{"method":"DELETE","url":"Patient/x"}}]}"#;
        let l = light(text);
        let entries = l.entry.unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].resource.unwrap().get(),
            r#"{"resourceType":"Patient","id":"pa"}"#
        );
        assert!(entries[1].resource.is_none());
        let list = light(
            r#"{"resourceType":"List","entry":[{"item":{"reference":"Observation/o"}}],"subject":{"reference":"Patient/p"}}"#,
        );
        assert_eq!(
            home("List", &list, None, &PatientUrls::new()),
            Home::Patients(vec!["p".into()])
        );
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(serde_json::from_str::<Light<'_>>(r#"{"resourceType":"Patient""#).is_err());
        assert!(serde_json::from_str::<Light<'_>>("[1]").is_err());
        let l = light(r#"{"resourceType":"Nope"}"#);
        assert!(resource_type(&l).is_err());
    }
}
