//! Reading FHIR R4 JSON as EHRs and Synthea produce it: single-resource `.json` files, Bundles
//! (collection, searchset, transaction, batch, document, ...), FHIR Bulk Data NDJSON files, and
//! folders of them.
//!
//! * A `.json` file holds one resource or one Bundle. Bundle entries become resources carrying
//!   their `fullUrl`; searchset entries with `search.mode = outcome` are skipped and counted.
//! * An `.ndjson` file holds one resource per line (blank lines are ignored). A file named after a
//!   resource type (`Observation.000.ndjson`, `Observation.ndjson`) must hold only that type. It is
//!   streamed in bounded chunks (see [`LoadOptions`]) whose lines are parsed in parallel; results
//!   keep file order.
//! * A folder is walked recursively in sorted (byte-wise) order, taking `.json` and `.ndjson`
//!   files and skipping hidden entries (names starting with `.`).
//!
//! Loading goes on after a bad line or entry: each resource comes as a
//! `Result<Resource, LoadError>`, so a caller can count rejections and continue.
//!
//! ```
//! use cds_core::data::load::{read_bytes, FileFormat, LoadOptions};
//! let text = b"{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n\n{\"resourceType\":\"Patient\"";
//! let results: Vec<_> = read_bytes(text, "Patient.ndjson", FileFormat::Ndjson, LoadOptions::default()).collect();
//! assert_eq!(results[0].as_ref().unwrap().id(), Some("p1"));
//! let err = results[1].as_ref().unwrap_err();
//! assert_eq!(err.to_string(), "Patient.ndjson:3:25: truncated JSON: the input ends inside a value");
//! ```

mod expand;
mod json;
mod ndjson;
mod positions;
mod syntax;
mod walk;

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

pub use expand::FileCounts;
pub use walk::files_in;

use super::error::{LoadError, LoadErrorKind};
use super::resource_types::intern_resource_type;
use super::{Resource, Source};
use ndjson::NdjsonReader;

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Validate the indexed resource types (see [`crate::data::validate`]); on by default.
    pub validate: bool,
    /// At most this many NDJSON lines are read and parsed together.
    pub chunk_lines: usize,
    /// A chunk stops growing once it holds this many bytes of NDJSON.
    pub chunk_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            validate: true,
            chunk_lines: 4096,
            chunk_bytes: 16 << 20,
        }
    }
}

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// One resource or Bundle per file.
    Json,
    /// One resource per line.
    Ndjson,
}

impl FileFormat {
    /// The format a file name implies: `.ndjson` (and `.jsonl`) are NDJSON, anything else JSON.
    pub fn of(path: &Path) -> FileFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("ndjson") || e.eq_ignore_ascii_case("jsonl") => {
                FileFormat::Ndjson
            }
            _ => FileFormat::Json,
        }
    }
}

/// The resource type an NDJSON file name promises (`Observation.000.ndjson` → `Observation`).
pub fn expected_type(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    let (stem, _) = name.split_once('.')?;
    intern_resource_type(stem)
}

/// The resources of one file, in file order, as they are read.
pub struct FileReader {
    inner: Inner,
    counts: FileCounts,
}

enum Inner {
    Ready(std::vec::IntoIter<Result<Resource, LoadError>>),
    Ndjson(Box<NdjsonReader<Box<dyn BufRead + Send>>>),
}

impl FileReader {
    /// Counts so far (all of them once the iterator is exhausted).
    pub fn counts(&self) -> FileCounts {
        match &self.inner {
            Inner::Ready(_) => self.counts,
            Inner::Ndjson(r) => r.counts,
        }
    }

    fn failed(error: LoadError) -> Self {
        FileReader {
            inner: Inner::Ready(vec![Err(error)].into_iter()),
            counts: FileCounts::default(),
        }
    }
}

impl Iterator for FileReader {
    type Item = Result<Resource, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Ready(it) => it.next(),
            Inner::Ndjson(r) => r.next(),
        }
    }
}

/// Reads one file (format from its name, see [`FileFormat::of`]). An I/O error is the only item.
pub fn read_file(path: &Path, opts: LoadOptions) -> FileReader {
    let file: Arc<Path> = Arc::from(path);
    match FileFormat::of(path) {
        FileFormat::Json => match std::fs::read(path) {
            Ok(bytes) => ready(json::read_json(&bytes, &file, &opts)),
            Err(e) => FileReader::failed(LoadError::new(file, LoadErrorKind::Io(e))),
        },
        FileFormat::Ndjson => match File::open(path) {
            Ok(f) => {
                let reader: Box<dyn BufRead + Send> =
                    Box::new(BufReader::with_capacity(1 << 20, f));
                ndjson_reader(reader, file, opts)
            }
            Err(e) => FileReader::failed(LoadError::new(file, LoadErrorKind::Io(e))),
        },
    }
}

/// Reads in-memory text as if it were the file `name` (its name gives the NDJSON type, if any).
pub fn read_bytes(
    bytes: &[u8],
    name: impl AsRef<Path>,
    format: FileFormat,
    opts: LoadOptions,
) -> FileReader {
    let file: Arc<Path> = Arc::from(name.as_ref());
    match format {
        FileFormat::Json => ready(json::read_json(bytes, &file, &opts)),
        FileFormat::Ndjson => {
            let reader: Box<dyn BufRead + Send> = Box::new(Cursor::new(bytes.to_vec()));
            ndjson_reader(reader, file, opts)
        }
    }
}

/// Reads NDJSON from any buffered reader, as the file `name`.
pub fn read_ndjson(
    reader: impl BufRead + Send + 'static,
    name: impl AsRef<Path>,
    opts: LoadOptions,
) -> FileReader {
    ndjson_reader(Box::new(reader), Arc::from(name.as_ref()), opts)
}

fn ndjson_reader(
    reader: Box<dyn BufRead + Send>,
    file: Arc<Path>,
    opts: LoadOptions,
) -> FileReader {
    let expected = expected_type(&file);
    FileReader {
        inner: Inner::Ndjson(Box::new(NdjsonReader::new(reader, file, expected, opts))),
        counts: FileCounts::default(),
    }
}

fn ready((results, counts): (Vec<Result<Resource, LoadError>>, FileCounts)) -> FileReader {
    FileReader {
        inner: Inner::Ready(results.into_iter()),
        counts,
    }
}

/// Parses the JSON text of one resource that was found at `source` (an NDJSON line or a Bundle
/// entry read earlier, e.g. from a partition file): parsed, checked against the `expected` type,
/// validated as [`LoadOptions::validate`] says, and wrapped with its `fullUrl`. Syntax errors
/// are positioned relative to `source`; other errors at it.
///
/// ```
/// use cds_core::data::load::{parse_resource, LoadOptions};
/// use cds_core::data::Source;
/// let raw = br#"{"resourceType":"Patient","id":"p1"}"#;
/// let r = parse_resource(raw, Source::memory(), None, Some("Patient"), &LoadOptions::default()).unwrap();
/// assert_eq!(r.id(), Some("p1"));
/// let err = parse_resource(raw, Source::memory(), None, Some("Observation"), &LoadOptions::default());
/// assert!(err.is_err());
/// ```
pub fn parse_resource(
    raw: &[u8],
    source: Source,
    full_url: Option<Arc<str>>,
    expected: Option<&'static str>,
    opts: &LoadOptions,
) -> Result<Resource, LoadError> {
    let value = syntax::parse(raw, &source.file, source.line, source.column)?;
    let resource_type =
        super::resource::resource_type_of(&value).map_err(|kind| source.error(kind))?;
    expand::check(value, resource_type, source, full_url, expected, opts)
}

/// Everything loaded from a path.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The resources, in file order (files in [`files_in`] order).
    pub resources: Vec<Arc<Resource>>,
    /// What could not be loaded, in the same order.
    pub rejected: Vec<LoadError>,
    /// The files read.
    pub files: Vec<PathBuf>,
    /// Bundles unpacked and entries skipped.
    pub counts: FileCounts,
}

/// Loads a file or a folder (files in parallel, results in deterministic order). Only listing the
/// folder can fail as a whole; problems inside files are in [`Loaded::rejected`].
///
/// ```no_run
/// let loaded = cds_core::data::load::load_path("../shared/data/smart-bulk-10", Default::default())?;
/// println!("{} resources, {} rejected", loaded.resources.len(), loaded.rejected.len());
/// # Ok::<(), cds_core::data::LoadError>(())
/// ```
pub fn load_path(path: impl AsRef<Path>, opts: LoadOptions) -> Result<Loaded, LoadError> {
    let files = files_in(path.as_ref())?;
    let per_file: Vec<(Vec<Result<Resource, LoadError>>, FileCounts)> = files
        .par_iter()
        .map(|f| {
            let mut reader = read_file(f, opts.clone());
            let results: Vec<_> = reader.by_ref().collect();
            (results, reader.counts())
        })
        .collect();
    let mut loaded = Loaded {
        files,
        ..Loaded::default()
    };
    for (results, counts) in per_file {
        loaded.counts.add(counts);
        for r in results {
            match r {
                Ok(resource) => loaded.resources.push(Arc::new(resource)),
                Err(e) => loaded.rejected.push(e),
            }
        }
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ndjson(text: &str, name: &str) -> Vec<Result<Resource, LoadError>> {
        read_bytes(
            text.as_bytes(),
            name,
            FileFormat::Ndjson,
            LoadOptions::default(),
        )
        .collect()
    }

    fn errors(results: &[Result<Resource, LoadError>]) -> Vec<String> {
        results
            .iter()
            .filter_map(|r| r.as_ref().err().map(ToString::to_string))
            .collect()
    }

    #[test]
    fn ndjson_lines_and_errors_in_order() {
        let text = "{\"resourceType\":\"Patient\",\"id\":\"a\"}\r\n\
                    \n\
                    [1,2]\n\
                    {\"resourceType\":\"Observation\"}\n\
                    {\"resourceType\":\"Patient\",\"id\":\"b\"}";
        let results = ndjson(text, "Patient.000.ndjson");
        assert_eq!(results.len(), 4);
        assert_eq!(
            errors(&results),
            [
                "Patient.000.ndjson:3:1: expected a JSON object (a FHIR resource), found an array",
                "Patient.000.ndjson:4:1: expected resource type Patient (from the file name), found Observation",
            ]
        );
        assert_eq!(results[3].as_ref().unwrap().id(), Some("b"));
        assert_eq!(results[3].as_ref().unwrap().source().line, 5);
    }

    #[test]
    fn small_chunks_keep_order() {
        let text: String = (0..100)
            .map(|i| format!("{{\"resourceType\":\"Patient\",\"id\":\"{i}\"}}\n"))
            .collect();
        let opts = LoadOptions {
            chunk_lines: 7,
            ..LoadOptions::default()
        };
        let ids: Vec<String> = read_bytes(text.as_bytes(), "x.ndjson", FileFormat::Ndjson, opts)
            .map(|r| r.unwrap().id().unwrap().to_string())
            .collect();
        let expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn bundle_entries_with_positions_and_outcomes() {
        let text = r#"{"resourceType": "Bundle", "type": "searchset",
 "entry": [
  {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p"}},
  {"search": {"mode": "outcome"}, "resource": {"resourceType": "OperationOutcome"}},
  {"resource": {"resourceType": "Observation", "status": "final"}},
  {"resource": "Patient/1"},
  {"request": {"method": "DELETE", "url": "Patient/2"}}
 ]}"#;
        let mut reader = read_bytes(
            text.as_bytes(),
            "b.json",
            FileFormat::Json,
            LoadOptions::default(),
        );
        let results: Vec<_> = reader.by_ref().collect();
        assert_eq!(results.len(), 3);
        let p = results[0].as_ref().unwrap();
        assert_eq!(p.full_url(), Some("urn:uuid:1"));
        assert_eq!(
            (p.source().line, p.source().column, p.source().entry),
            (3, 3, Some(0))
        );
        assert_eq!(
            errors(&results),
            [
                "b.json:5:3: Bundle entry[2]: Observation.code: required element missing",
                "b.json:6:3: Bundle entry[3]: expected a JSON object (a FHIR resource), found a string",
            ]
        );
        let counts = reader.counts();
        assert_eq!(counts.bundles, 1);
        assert_eq!(counts.outcomes_skipped, 1);
        assert_eq!(counts.entries_without_resource, 1);
    }

    #[test]
    fn bundle_in_typed_ndjson_is_unexpected() {
        let results = ndjson(
            r#"{"resourceType":"Bundle","type":"collection"}"#,
            "Observation.ndjson",
        );
        assert_eq!(
            errors(&results),
            ["Observation.ndjson:1:1: expected resource type Observation (from the file name), found Bundle"]
        );
    }

    #[test]
    fn expected_types_from_names() {
        assert_eq!(
            expected_type(Path::new("a/Observation.000.ndjson")),
            Some("Observation")
        );
        assert_eq!(expected_type(Path::new("Patient.ndjson")), Some("Patient"));
        assert_eq!(expected_type(Path::new("data.ndjson")), None);
        assert_eq!(FileFormat::of(Path::new("x.NDJSON")), FileFormat::Ndjson);
        assert_eq!(FileFormat::of(Path::new("x.json")), FileFormat::Json);
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let results: Vec<_> =
            read_file(Path::new("/nonexistent/x.json"), LoadOptions::default()).collect();
        let err = results[0].as_ref().unwrap_err();
        assert_eq!(err.kind.code(), "io");
        assert!(err
            .to_string()
            .starts_with("/nonexistent/x.json: cannot read"));
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn drain(bytes: &[u8], name: &str, format: FileFormat) -> usize {
            let opts = LoadOptions {
                chunk_lines: 3,
                ..LoadOptions::default()
            };
            read_bytes(bytes, name, format, opts).count()
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                drain(&bytes, "Observation.000.ndjson", FileFormat::Ndjson);
                drain(&bytes, "x.json", FileFormat::Json);
            }

            #[test]
            fn json_like_text_never_panics(text in r#"[{}\[\]",:\n a-zA-Z0-9.\\-]{0,300}"#) {
                drain(text.as_bytes(), "x.ndjson", FileFormat::Ndjson);
                drain(text.as_bytes(), "x.json", FileFormat::Json);
                let bundle = format!(r#"{{"resourceType":"Bundle","type":"collection","entry":[{text}]}}"#);
                drain(bundle.as_bytes(), "b.json", FileFormat::Json);
            }
        }
    }
}
