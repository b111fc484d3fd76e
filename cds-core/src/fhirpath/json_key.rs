//! Key lookup in JSON objects, tuned for FHIR's small objects.
//!
//! `serde_json` keeps object keys in insertion order (its `preserve_order` feature), which
//! makes every `get` hash the key with SipHash. FHIR objects rarely have more than a dozen
//! keys, so a linear scan that compares lengths and first bytes before the full text is
//! several times faster; large objects still use the hash index.

use serde_json::{Map, Value as Json};

/// Objects with at most this many keys are scanned instead of hashed.
const SCAN_MAX: usize = 24;

/// Whether the object key `k` is `key` (length and first byte first: most keys differ there).
#[inline]
fn same(k: &str, key: &str) -> bool {
    let (k, key) = (k.as_bytes(), key.as_bytes());
    k.len() == key.len() && k.first() == key.first() && bytes_equal(k, key)
}

/// Byte equality, inline for short texts (object keys), where a call to `memcmp` costs more
/// than the comparison.
#[inline]
fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() <= 32 {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

/// The value under `key` in `obj`.
#[inline]
pub(crate) fn field<'a>(obj: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    if obj.len() > SCAN_MAX {
        return obj.get(key);
    }
    obj.iter().find(|(k, _)| same(k, key)).map(|(_, v)| v)
}

/// The value under `key` when `json` is an object.
#[inline]
pub(crate) fn get<'a>(json: &'a Json, key: &str) -> Option<&'a Json> {
    match json {
        Json::Object(o) => field(o, key),
        _ => None,
    }
}

/// The values under `name` and under `_name` (a primitive's extension sibling), in one pass.
pub(crate) fn field_and_ext<'a>(
    obj: &'a Map<String, Json>,
    name: &str,
) -> (Option<&'a Json>, Option<&'a Json>) {
    if obj.len() > SCAN_MAX {
        return (obj.get(name), underscore_get_hashed(obj, name));
    }
    let (mut value, mut ext) = (None, None);
    let n = name.as_bytes();
    for (k, v) in obj.iter() {
        let kb = k.as_bytes();
        if kb.len() == n.len() {
            if kb.first() == n.first() && bytes_equal(kb, n) {
                value = Some(v);
            }
        } else if kb.len() == n.len() + 1 && kb.first() == Some(&b'_') && kb.get(1..) == Some(n) {
            ext = Some(v);
        }
    }
    (value, ext)
}

/// The `_name` sibling of `name`.
pub(crate) fn ext_field<'a>(obj: &'a Map<String, Json>, name: &str) -> Option<&'a Json> {
    if obj.len() > SCAN_MAX {
        return underscore_get_hashed(obj, name);
    }
    let n = name.as_bytes();
    obj.iter()
        .find(|(k, _)| {
            let kb = k.as_bytes();
            kb.len() == n.len() + 1 && kb.first() == Some(&b'_') && kb.get(1..) == Some(n)
        })
        .map(|(_, v)| v)
}

/// Ask the CPU to start loading the memory an object refers to: its keys' text and its values'
/// own data (nested objects' entries, arrays' items, strings' text). Navigation is bound by the
/// latency of these dependent loads; starting them together lets them overlap.
#[inline]
pub(crate) fn prefetch_object(obj: &Map<String, Json>) {
    if obj.len() > SCAN_MAX {
        return;
    }
    for (k, v) in obj.iter() {
        prefetch(k.as_ptr());
        prefetch_value(v);
    }
}

/// Prefetch the data a value points to (see [`prefetch_object`]).
#[inline]
pub(crate) fn prefetch_value(v: &Json) {
    match v {
        Json::Object(m) => {
            if let Some((k, _)) = m.iter().next() {
                prefetch(k as *const String);
            }
        }
        Json::Array(a) => prefetch(a.as_ptr()),
        Json::String(s) => prefetch(s.as_ptr()),
        _ => {}
    }
}

#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and does not change memory, whatever
    // the address (here always one of a live allocation).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// `obj.get("_" + name)`, without allocating for names of reasonable length.
fn underscore_get_hashed<'a>(obj: &'a Map<String, Json>, name: &str) -> Option<&'a Json> {
    let mut buf = [0u8; 96];
    let len = name.len() + 1;
    if len > buf.len() {
        return obj.get(&format!("_{name}"));
    }
    buf[0] = b'_';
    buf.get_mut(1..len)?.copy_from_slice(name.as_bytes());
    let key = std::str::from_utf8(buf.get(..len)?).ok()?;
    obj.get(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_equality_short_and_long() {
        assert!(bytes_equal(b"code", b"code"));
        assert!(!bytes_equal(b"code", b"coda"));
        assert!(!bytes_equal(b"code", b"codes"));
        let long = "x".repeat(40);
        let other = format!("{}y", "x".repeat(39));
        assert!(bytes_equal(long.as_bytes(), long.as_bytes()));
        assert!(!bytes_equal(long.as_bytes(), other.as_bytes()));
        assert!(same("system", "system") && !same("system", "status"));
    }

    #[test]
    fn finds_keys_and_extension_siblings_in_small_and_large_objects() {
        let small = serde_json::json!({"a": 1, "ab": 2, "_ab": 3, "b": 4});
        let Json::Object(o) = &small else { panic!() };
        assert_eq!(field(o, "ab"), Some(&Json::from(2)));
        assert_eq!(field(o, "b"), Some(&Json::from(4)));
        assert_eq!(field(o, "c"), None);
        assert_eq!(field(o, "ba"), None);
        assert_eq!(
            field_and_ext(o, "ab"),
            (Some(&Json::from(2)), Some(&Json::from(3)))
        );
        assert_eq!(field_and_ext(o, "a"), (Some(&Json::from(1)), None));
        assert_eq!(ext_field(o, "ab"), Some(&Json::from(3)));
        assert_eq!(get(&small, "a"), Some(&Json::from(1)));
        assert_eq!(get(&Json::from(1), "a"), None);

        let mut big = Map::new();
        for i in 0..40 {
            big.insert(format!("k{i}"), Json::from(i));
        }
        big.insert("_k7".into(), Json::from(-7));
        assert_eq!(field(&big, "k39"), Some(&Json::from(39)));
        assert_eq!(field(&big, "k40"), None);
        assert_eq!(
            field_and_ext(&big, "k7"),
            (Some(&Json::from(7)), Some(&Json::from(-7)))
        );
        assert_eq!(ext_field(&big, "k8"), None);
        let long = "x".repeat(200);
        assert_eq!(ext_field(&big, &long), None);
    }
}
