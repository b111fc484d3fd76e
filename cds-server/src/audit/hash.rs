//! The keyed hash that replaces patient and user identifiers (HMAC-SHA256, lowercase hex), and
//! its key file: read when present, created with 32 random bytes (mode 0600) when absent.

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::AuditError;

/// The shortest key accepted, in bytes.
pub(crate) const MIN_KEY_BYTES: usize = 32;

/// HMAC-SHA256 with one key; `Debug` never shows the key.
#[derive(Clone)]
pub(crate) struct Hasher {
    mac: Hmac<Sha256>,
}

impl Hasher {
    /// A hasher with `key` (any length; the key file's minimum is checked where it is read).
    pub(crate) fn new(key: &[u8]) -> Result<Hasher, AuditError> {
        let mac = Hmac::<Sha256>::new_from_slice(key)
            .map_err(|_| AuditError::Config("the hash key cannot be used for HMAC".into()))?;
        Ok(Hasher { mac })
    }

    /// A hasher with a fresh random key (for stores that are not durable).
    pub(crate) fn random() -> Result<Hasher, AuditError> {
        Hasher::new(&random_bytes::<32>().map_err(|what| AuditError::Config(what.to_string()))?)
    }

    /// HMAC-SHA256(key, id) in lowercase hex (64 characters).
    pub(crate) fn hash(&self, id: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher(HMAC-SHA256, key hidden)")
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], &'static str> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| "the system's random source failed")?;
    Ok(buf)
}

fn key_error(path: &Path, what: impl Into<String>) -> AuditError {
    AuditError::Key {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Reads the key at `path`, or creates it (32 random bytes, mode 0600) when it does not exist.
/// Creation is atomic (a temporary file linked into place), so servers starting together agree
/// on one key.
pub(crate) fn load_or_create_key(path: &Path) -> Result<Vec<u8>, AuditError> {
    match read_key(path) {
        Err(KeyRead::Missing) => {}
        Err(KeyRead::Failed(e)) => return Err(e),
        Ok(key) => return Ok(key),
    }
    let key = random_bytes::<32>().map_err(|what| key_error(path, what))?;
    let suffix = random_bytes::<8>().map_err(|what| key_error(path, what))?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(
        ".tmp-{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let tmp = PathBuf::from(tmp_name);
    write_private(&tmp, &key).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        key_error(path, format!("cannot be created: {e}"))
    })?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key.to_vec()),
        // Another server created it first: use theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => match read_key(path) {
            Ok(k) => Ok(k),
            Err(KeyRead::Failed(e)) => Err(e),
            Err(KeyRead::Missing) => Err(key_error(path, "vanished while being created")),
        },
        // No hard links here (some file systems): create it in place.
        Err(_) => match write_private(path, &key) {
            Ok(()) => Ok(key.to_vec()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => read_key(path).map_err(|r| match r {
                KeyRead::Failed(e) => e,
                KeyRead::Missing => key_error(path, "vanished while being created"),
            }),
            Err(e) => Err(key_error(path, format!("cannot be created: {e}"))),
        },
    }
}

enum KeyRead {
    Missing,
    Failed(AuditError),
}

fn read_key(path: &Path) -> Result<Vec<u8>, KeyRead> {
    let key = match fs::read(path) {
        Ok(k) => k,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(KeyRead::Missing),
        Err(e) => {
            return Err(KeyRead::Failed(key_error(
                path,
                format!("cannot be read: {e}"),
            )))
        }
    };
    if key.len() < MIN_KEY_BYTES {
        return Err(KeyRead::Failed(key_error(
            path,
            format!(
                "holds {} bytes; the key must be at least {MIN_KEY_BYTES}",
                key.len()
            ),
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    key_file = %path.display(),
                    "the audit hash key file is readable by group or others; chmod 600 it"
                );
            }
        }
    }
    Ok(key)
}

/// Writes a new file (refusing to replace one) readable and writable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        let h = Hasher::new(b"Jefe").expect("hasher");
        assert_eq!(
            h.hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn same_key_same_hash_other_key_other_hash() {
        let a = Hasher::new(&[1u8; 32]).expect("hasher");
        let a2 = Hasher::new(&[1u8; 32]).expect("hasher");
        let b = Hasher::new(&[2u8; 32]).expect("hasher");
        let h = a.hash("Patient/123");
        assert_eq!(h, a2.hash("Patient/123"));
        assert_ne!(h, b.hash("Patient/123"));
        assert_ne!(h, a.hash("Patient/124"));
        assert_eq!(h.len(), 64);
        assert!(h
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(!format!("{a:?}").contains("1, 1"));
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let n: [u8; 8] = random_bytes().expect("random");
        let dir = std::env::temp_dir().join(format!(
            "cds-audit-key-{tag}-{}-{}",
            std::process::id(),
            u64::from_le_bytes(n)
        ));
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = temp_dir("create");
        let path = dir.join("audit.key");
        let k1 = load_or_create_key(&path).expect("created");
        assert_eq!(k1.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let k2 = load_or_create_key(&path).expect("read");
        assert_eq!(k1, k2);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&dir).expect("dir").count(), 1);
        fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn short_keys_and_missing_folders_are_refused_by_name() {
        let dir = temp_dir("short");
        let path = dir.join("short.key");
        fs::write(&path, [0u8; 16]).expect("write");
        let e = load_or_create_key(&path).expect_err("too short");
        assert!(e.to_string().contains("short.key") && e.to_string().contains("16 bytes"));
        let missing = dir.join("no-such-folder").join("a.key");
        let e = load_or_create_key(&missing).expect_err("no folder");
        assert!(e.to_string().contains("cannot be created"), "{e}");
        fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn servers_creating_the_key_together_agree() {
        let dir = temp_dir("race");
        let path = dir.join("shared.key");
        let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create_key(&path).expect("key")))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
