//! Readable JSON paths (`context.draftOrders.entry[2].resource`) for the locations that
//! jsonschema reports as JSON Pointers.

use std::fmt::Write as _;

use serde_json::Value;

/// Object keys longer than this are cut in rendered paths, so an odd client cannot make a
/// problem list arbitrarily large through its keys.
const MAX_KEY_CHARS: usize = 64;

/// One step of a path: an object member or an array index.
///
/// Ordered so that paths sort naturally (`entry[2]` before `entry[10]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// Splits a JSON Pointer into segments, deciding index or key by walking `instance`, so that an
/// object member named `"0"` stays a key.
pub(crate) fn segments(pointer: &str, instance: &Value) -> Vec<Segment> {
    let mut out = Vec::new();
    if pointer.is_empty() {
        return out;
    }
    let mut current = Some(instance);
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        match current {
            Some(Value::Array(items)) => match token.parse::<usize>() {
                Ok(index) => {
                    current = items.get(index);
                    out.push(Segment::Index(index));
                }
                Err(_) => {
                    current = None;
                    out.push(Segment::Key(token));
                }
            },
            Some(Value::Object(members)) => {
                current = members.get(&token);
                out.push(Segment::Key(token));
            }
            _ => {
                current = None;
                out.push(match token.parse::<usize>() {
                    Ok(index) => Segment::Index(index),
                    Err(_) => Segment::Key(token),
                });
            }
        }
    }
    out
}

/// Renders segments as `a.b[2].c`; keys that are not plain names are quoted: `extension["com.x"]`.
/// The root renders as the empty string.
pub(crate) fn render(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
            Segment::Key(key) if is_plain(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Key(key) => {
                let shown: String = if key.chars().count() > MAX_KEY_CHARS {
                    key.chars().take(MAX_KEY_CHARS).chain(['…']).collect()
                } else {
                    key.clone()
                };
                let quoted = serde_json::Value::String(shown).to_string();
                let _ = write!(out, "[{quoted}]");
            }
        }
    }
    out
}

fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn root_is_empty() {
        assert_eq!(render(&segments("", &json!({}))), "");
    }

    #[test]
    fn members_and_indexes() {
        let doc = json!({"context": {"draftOrders": {"entry": [{}, {}, {"resource": {}}]}}});
        let path = segments("/context/draftOrders/entry/2/resource/resourceType", &doc);
        assert_eq!(
            render(&path),
            "context.draftOrders.entry[2].resource.resourceType"
        );
    }

    #[test]
    fn numeric_member_name_stays_a_key() {
        let doc = json!({"prefetch": {"0": {}}});
        let path = segments("/prefetch/0", &doc);
        assert_eq!(path[1], Segment::Key("0".into()));
        assert_eq!(render(&path), "prefetch[\"0\"]");
    }

    #[test]
    fn escaped_pointer_tokens_and_quoted_keys() {
        let doc = json!({"extension": {"com.example/a~b": 1}});
        let path = segments("/extension/com.example~1a~0b", &doc);
        assert_eq!(render(&path), "extension[\"com.example/a~b\"]");
    }

    #[test]
    fn long_keys_are_cut() {
        let key = "k".repeat(100);
        let doc = json!({ key.clone(): 1 });
        let rendered = render(&segments(&format!("/{key}"), &doc));
        assert!(rendered.chars().count() < 80, "{rendered}");
        assert!(rendered.ends_with("…\"]"));
    }

    #[test]
    fn natural_order_of_indexes() {
        let mut paths = [
            vec![Segment::Key("entry".into()), Segment::Index(10)],
            vec![Segment::Key("entry".into()), Segment::Index(2)],
        ];
        paths.sort();
        assert_eq!(render(&paths[0]), "entry[2]");
    }
}
