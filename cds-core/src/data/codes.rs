//! An index by code: system → code → entries, looked up with borrowed strings (no allocation).

use std::collections::HashMap;

use serde_json::Value;

/// Entries keyed by (code system, code). A coding without a system is keyed under `""`.
#[derive(Debug, Clone)]
pub struct CodeIndex<T> {
    map: HashMap<Box<str>, HashMap<Box<str>, Vec<T>>>,
}

impl<T> Default for CodeIndex<T> {
    fn default() -> Self {
        CodeIndex {
            map: HashMap::new(),
        }
    }
}

impl<T> CodeIndex<T> {
    /// The entries for `system` and `code` (empty when none).
    pub fn get(&self, system: &str, code: &str) -> &[T] {
        self.map
            .get(system)
            .and_then(|codes| codes.get(code))
            .map_or(&[], Vec::as_slice)
    }

    pub(crate) fn push(&mut self, system: &str, code: &str, entry: T) {
        let codes = match self.map.get_mut(system) {
            Some(codes) => codes,
            None => self.map.entry(system.into()).or_default(),
        };
        match codes.get_mut(code) {
            Some(v) => v.push(entry),
            None => {
                codes.insert(code.into(), vec![entry]);
            }
        }
    }

    /// Every (system, code, entries), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &[T])> {
        self.map.iter().flat_map(|(system, codes)| {
            codes
                .iter()
                .map(move |(code, v)| (&**system, &**code, v.as_slice()))
        })
    }

    /// The number of distinct (system, code) keys.
    pub fn len(&self) -> usize {
        self.map.values().map(HashMap::len).sum()
    }

    /// True when no code is indexed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn for_each_list(&mut self, mut f: impl FnMut(&mut Vec<T>)) {
        for codes in self.map.values_mut() {
            for v in codes.values_mut() {
                f(v);
            }
        }
    }
}

/// The distinct (system, code) pairs of a CodeableConcept's codings.
pub(crate) fn codings(concept: Option<&Value>) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    let Some(list) = concept
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
    else {
        return out;
    };
    for coding in list {
        let Some(code) = coding.get("code").and_then(Value::as_str) else {
            continue;
        };
        let system = coding.get("system").and_then(Value::as_str).unwrap_or("");
        if !out.contains(&(system, code)) {
            out.push((system, code));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn two_level_lookup() {
        let mut index = CodeIndex::default();
        index.push("http://loinc.org", "8480-6", 1);
        index.push("http://loinc.org", "8480-6", 2);
        index.push("", "x", 3);
        assert_eq!(index.get("http://loinc.org", "8480-6"), &[1, 2]);
        assert_eq!(index.get("", "x"), &[3]);
        assert!(index.get("http://loinc.org", "x").is_empty());
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn distinct_codings() {
        let cc = json!({"coding": [
            {"system": "s", "code": "a"}, {"system": "s", "code": "a"}, {"code": "b"}, {"system": "s"}, 5
        ]});
        assert_eq!(codings(Some(&cc)), [("s", "a"), ("", "b")]);
        assert!(codings(Some(&json!("x"))).is_empty());
    }
}
