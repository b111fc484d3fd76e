//! A `.json` file: one resource or one Bundle, parsed whole.

use std::path::Path;
use std::sync::Arc;

use super::expand::{expand, FileCounts, Origin};
use super::syntax::parse;
use super::LoadOptions;
use crate::data::error::LoadError;
use crate::data::Resource;

/// Parses the text of a `.json` file into its resources (in entry order) and errors.
pub(crate) fn read_json(
    bytes: &[u8],
    file: &Arc<Path>,
    opts: &LoadOptions,
) -> (Vec<Result<Resource, LoadError>>, FileCounts) {
    let (raw, first_column) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (rest, 4),
        None => (bytes, 1),
    };
    let mut out = Vec::new();
    let mut counts = FileCounts::default();
    match parse(raw, file, 1, first_column) {
        Ok(value) => {
            let origin = Origin {
                file,
                raw,
                first_line: 1,
                first_column,
                expected: None,
            };
            expand(value, &origin, opts, &mut out, &mut counts);
        }
        Err(e) => out.push(Err(e)),
    }
    (out, counts)
}
