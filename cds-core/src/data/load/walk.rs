//! Listing the files of a path: a file as itself, a folder walked recursively in sorted order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::data::error::{LoadError, LoadErrorKind};

/// Folders nested deeper than this are not entered (guards against symlink loops).
const MAX_DEPTH: usize = 32;

/// The files to load under `path`: `path` itself when it is a file (whatever its extension);
/// for a folder, its `.json` and `.ndjson` files, recursively, sorted byte-wise by path within each
/// folder (files and sub-folders interleaved by name), hidden entries (`.name`) skipped.
pub fn files_in(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |e| LoadError::new(Arc::from(path), LoadErrorKind::Io(e));
    let meta = std::fs::metadata(path).map_err(io)?;
    let mut out = Vec::new();
    if meta.is_dir() {
        walk(path, 0, &mut out)?;
    } else {
        out.push(path.to_path_buf());
    }
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let io = |e| LoadError::new(Arc::from(dir), LoadErrorKind::Io(e));
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for entry in entries {
        let hidden = entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        let meta = std::fs::metadata(&entry)
            .map_err(|e| LoadError::new(Arc::from(entry.as_path()), LoadErrorKind::Io(e)))?;
        if meta.is_dir() {
            walk(&entry, depth + 1, out)?;
        } else if is_data_file(&entry) {
            out.push(entry);
        }
    }
    Ok(())
}

fn is_data_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("ndjson"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_shared_data_sorted() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/smart-bulk-10");
        if !root.exists() {
            return;
        }
        let files = files_in(&root).unwrap();
        assert_eq!(files.len(), 13);
        assert!(files.windows(2).all(|w| w[0] < w[1]));
        assert!(files[0].ends_with("AllergyIntolerance.000.ndjson"));
    }

    #[test]
    fn missing_path_is_an_error() {
        let err = files_in(Path::new("/no/such/dir")).unwrap_err();
        assert_eq!(err.kind.code(), "io");
        assert!(err.to_string().starts_with("/no/such/dir: "));
    }
}
