//! Pseudonymised ids: HMAC-SHA256 under a key only the data owner holds, so that outputs can be
//! shared without patient ids, the same patient has the same pseudonym in every run and shard
//! with the same key, and nobody without the key can recompute or reverse it.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ReplayError;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// How ids are written in outputs.
#[derive(Clone)]
pub enum Ids {
    /// As they are in the data.
    Plain,
    /// Keyed hashes.
    Keyed(Hmac<Sha256>),
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ids::Plain => "Ids::Plain",
            Ids::Keyed(_) => "Ids::Keyed(..)",
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Ids {
    /// Reads a key file (its bytes, surrounding whitespace trimmed; at least 16 bytes).
    pub fn from_key_file(path: &Path) -> Result<Ids, ReplayError> {
        let bytes = std::fs::read(path).map_err(|e| ReplayError::Key {
            path: path.to_path_buf(),
            reason: format!("cannot read the key file: {e}"),
        })?;
        Ids::from_key(&bytes).map_err(|reason| ReplayError::Key {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// A key from bytes (surrounding ASCII whitespace trimmed).
    pub fn from_key(bytes: &[u8]) -> Result<Ids, String> {
        let key = bytes.trim_ascii();
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key has {} bytes; use at least {MIN_KEY_BYTES} random bytes (e.g. `openssl rand -hex 32 > key`)",
                key.len()
            ));
        }
        Hmac::<Sha256>::new_from_slice(key)
            .map(Ids::Keyed)
            .map_err(|_| "the key cannot be used".to_string())
    }

    fn keyed(mac: &Hmac<Sha256>, domain: &str, text: &str) -> String {
        let mut mac = mac.clone();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(text.as_bytes());
        hex(&mac.finalize().into_bytes()[..16])
    }

    /// True when ids are replaced.
    pub fn is_keyed(&self) -> bool {
        matches!(self, Ids::Keyed(_))
    }

    /// The patient id to write.
    pub fn patient(&self, key: &str) -> String {
        match self {
            Ids::Plain => key.to_string(),
            Ids::Keyed(mac) => Ids::keyed(mac, "patient", key),
        }
    }

    /// A resource reference (`Type/id`) to write: the type kept, the id hashed.
    pub fn reference(&self, reference: &str) -> String {
        match self {
            Ids::Plain => reference.to_string(),
            Ids::Keyed(mac) => match reference.split_once('/') {
                Some((t, _)) => format!("{t}/{}", Ids::keyed(mac, "reference", reference)),
                None => Ids::keyed(mac, "reference", reference),
            },
        }
    }

    /// A fingerprint of the key (not the key), so that a merge can check that every shard used
    /// the same one.
    pub fn fingerprint(&self) -> Option<String> {
        match self {
            Ids::Plain => None,
            Ids::Keyed(mac) => Some(Ids::keyed(mac, "fingerprint", "")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_ids_are_stable_distinct_and_hide_the_id() {
        let a = Ids::from_key(b"0123456789abcdef0123\n").unwrap();
        let b = Ids::from_key(b"another key of 16+ bytes").unwrap();
        let p = a.patient("85c63cf3-278e-454c-b5ba-df5889815eb7");
        assert_eq!(p.len(), 32);
        assert_eq!(p, a.patient("85c63cf3-278e-454c-b5ba-df5889815eb7"));
        assert_ne!(p, b.patient("85c63cf3-278e-454c-b5ba-df5889815eb7"));
        assert!(!p.contains("85c63cf3"));
        let r = a.reference("Observation/o1");
        assert!(r.starts_with("Observation/") && !r.ends_with("/o1"));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(Ids::Plain.patient("p1"), "p1");
        assert!(Ids::from_key(b"short").is_err());
    }
}
