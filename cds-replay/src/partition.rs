//! The first pass: every input file read once, each resource's patients found by [`crate::scan`],
//! and the resource's text appended, unparsed, to the partition file of its patient's bucket
//! (`hash(patient) mod buckets`), or to the context file for resources outside the Patient
//! compartment. The second pass then holds one bucket in memory at a time.
//!
//! A partition file is a sequence of records: `u32` little-endian lengths before each string.
//!
//! | field | |
//! | --- | --- |
//! | patient key | the Patient's id (empty in the context file) |
//! | resource type | as interned |
//! | file, line, column, entry+1 | where it was read (`u32` each; entry 0: not a Bundle entry) |
//! | fullUrl | empty when none |
//! | JSON | the resource's text as read |

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use cds_core::data::load::{expected_type, FileFormat};
use rayon::prelude::*;

use crate::error::ReplayError;
use crate::output::io;
use crate::progress::Progress;
use crate::scan::{home, resource_type, Home, Light, PatientUrls};
use crate::shard::{bucket_of, Shard};
use crate::summary::Skipped;

/// One record of a partition file, borrowed from the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub key: &'a str,
    pub resource_type: &'a str,
    pub file: u32,
    pub line: u32,
    pub column: u32,
    pub entry: Option<u32>,
    pub full_url: Option<&'a str>,
    pub json: &'a [u8],
}

fn put(w: &mut Vec<u8>, bytes: &[u8]) {
    w.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    w.extend_from_slice(bytes);
}

fn put_u32(w: &mut Vec<u8>, n: u32) {
    w.extend_from_slice(&n.to_le_bytes());
}

impl Record<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        put(out, self.key.as_bytes());
        put(out, self.resource_type.as_bytes());
        put_u32(out, self.file);
        put_u32(out, self.line);
        put_u32(out, self.column);
        put_u32(out, self.entry.map_or(0, |e| e + 1));
        put(out, self.full_url.unwrap_or("").as_bytes());
        put(out, self.json);
    }
}

fn text(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|_| "partition file is not UTF-8".to_string())
}

/// Reads the records of a partition file's bytes, in order.
pub(crate) fn records(bytes: &[u8]) -> Result<Vec<Record<'_>>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let u32_at = |at: &mut usize| -> Result<u32, String> {
        let b = bytes
            .get(*at..*at + 4)
            .ok_or_else(|| format!("partition file truncated at byte {at}"))?;
        *at += 4;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let slice_at = |at: &mut usize| -> Result<&[u8], String> {
        let n = u32_at(at)? as usize;
        let s = bytes
            .get(*at..*at + n)
            .ok_or_else(|| format!("partition file truncated at byte {at}"))?;
        *at += n;
        Ok(s)
    };
    while at < bytes.len() {
        let key = text(slice_at(&mut at)?)?;
        let resource_type = text(slice_at(&mut at)?)?;
        let file = u32_at(&mut at)?;
        let line = u32_at(&mut at)?;
        let column = u32_at(&mut at)?;
        let entry = u32_at(&mut at)?.checked_sub(1);
        let url = text(slice_at(&mut at)?)?;
        let json = slice_at(&mut at)?;
        out.push(Record {
            key,
            resource_type,
            file,
            line,
            column,
            entry,
            full_url: (!url.is_empty()).then_some(url),
            json,
        });
    }
    Ok(out)
}

/// What the first pass found.
#[derive(Debug, Default)]
pub(crate) struct Partitioned {
    /// Bucket files, by bucket.
    pub buckets: Vec<PathBuf>,
    /// The context file.
    pub context: PathBuf,
    /// Patient resources written, per bucket (for progress).
    pub patients: Vec<u64>,
    /// Lines and entries skipped because they are not JSON or not a resource.
    pub skipped: Vec<Skipped>,
    /// How many were skipped (all of them, `skipped` may be capped by the caller).
    pub skipped_count: u64,
    /// Compartment resources naming no patient.
    pub unlinked: u64,
    /// Resources written for this shard's patients.
    pub resources: u64,
    /// Context resources written.
    pub context_resources: u64,
    /// Resource types in the input that no rule reads, left unread (NDJSON files of those
    /// types are not opened).
    pub types_not_read: std::collections::BTreeSet<&'static str>,
}

/// One resource found in a piece of input.
enum Found {
    Keep {
        home: Home,
        resource_type: &'static str,
        line: u32,
        column: u32,
        entry: Option<u32>,
        full_url: Option<String>,
        range: Range<usize>,
    },
    Skip(Skipped),
}

/// A piece of one file: a whole `.json` file, or whole lines of an NDJSON file.
struct Piece {
    file: u32,
    format: FileFormat,
    first_line: u32,
    bytes: Vec<u8>,
}

/// Finds the line and column (1-based) of a byte offset in a piece.
enum Locator {
    /// The text is one line (an NDJSON line) starting at byte `start`.
    OneLine { line: u32, start: usize },
    /// Offsets of line starts (a whole `.json` file), the first being line `first_line`.
    Index { starts: Vec<usize>, first_line: u32 },
}

impl Locator {
    fn index(bytes: &[u8], first_line: u32) -> Locator {
        let mut starts = vec![0];
        starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Locator::Index { starts, first_line }
    }

    fn position(&self, offset: usize) -> (u32, u32) {
        match self {
            Locator::OneLine { line, start } => (*line, (offset - start) as u32 + 1),
            Locator::Index { starts, first_line } => {
                let i = starts.partition_point(|&s| s <= offset).saturating_sub(1);
                (first_line + i as u32, (offset - starts[i]) as u32 + 1)
            }
        }
    }
}

fn skip(name: &str, line: u32, column: Option<u32>, reason: impl Into<String>) -> Found {
    Found::Skip(Skipped {
        file: name.to_string(),
        line: line.into(),
        column: column.map(Into::into),
        reason: reason.into(),
    })
}

/// serde_json's message without its position suffix and without any input text.
fn syntax_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "truncated JSON: the input ends inside a value".to_string(),
        Category::Syntax => {
            let text = e.to_string();
            let text = text.rfind(" at line ").map_or(&text[..], |i| &text[..i]);
            format!("not JSON: {text}")
        }
        Category::Data => "not a JSON object".to_string(),
        Category::Io => "could not be read".to_string(),
    }
}

/// Scans one JSON text (an NDJSON line or a `.json` file) at `range` of `bytes`.
fn scan_value(
    bytes: &[u8],
    range: Range<usize>,
    locator: &Locator,
    name: &str,
    expected: Option<&'static str>,
    out: &mut Vec<Found>,
) {
    let text = &bytes[range.clone()];
    let light: Light<'_> = match serde_json::from_slice(text) {
        Ok(l) => l,
        Err(e) => {
            let (line, column) = if e.line() == 0 {
                locator.position(range.start)
            } else {
                let (l0, c0) = locator.position(range.start);
                let line = l0 + e.line() as u32 - 1;
                let column = if e.line() == 1 {
                    c0 + e.column() as u32 - 1
                } else {
                    e.column() as u32
                };
                (line, column)
            };
            out.push(skip(name, line, Some(column), syntax_reason(&e)));
            return;
        }
    };
    let (line, column) = locator.position(range.start);
    let rtype = match resource_type(&light) {
        Ok(t) => t,
        Err(reason) => {
            out.push(skip(name, line, Some(column), reason));
            return;
        }
    };
    if rtype == "Bundle" && expected.is_none() {
        let entries = light.entry.unwrap_or_default();
        let mut urls = PatientUrls::new();
        let mut found: Vec<(u32, &serde_json::value::RawValue, Option<&str>, Light<'_>)> =
            Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if entry
                .search
                .as_ref()
                .and_then(|s| s.mode.as_ref())
                .is_some_and(|m| m.0 == "outcome")
            {
                continue;
            }
            let Some(raw) = entry.resource else { continue };
            let url = entry.full_url.as_ref().map(|u| u.0.as_ref());
            let inner: Light<'_> = match serde_json::from_str(raw.get()) {
                Ok(l) => l,
                Err(e) => {
                    let (l, c) = locator.position(offset_of(bytes, raw.get()));
                    out.push(skip(name, l, Some(c), syntax_reason(&e)));
                    continue;
                }
            };
            if inner
                .resource_type
                .as_ref()
                .is_some_and(|t| t.0 == "Patient")
            {
                if let (Some(u), Some(k)) = (
                    url,
                    crate::scan::patient_key(inner.id.as_ref().map(|t| t.0.as_ref()), url),
                ) {
                    urls.insert(u.to_string(), k);
                }
            }
            found.push((i as u32, raw, url, inner));
        }
        for (i, raw, url, inner) in found {
            let start = offset_of(bytes, raw.get());
            let (l, c) = locator.position(start);
            match resource_type(&inner) {
                Ok(t) => out.push(Found::Keep {
                    home: home(t, &inner, url, &urls),
                    resource_type: t,
                    line: l,
                    column: c,
                    entry: Some(i),
                    full_url: url.map(str::to_string),
                    range: start..start + raw.get().len(),
                }),
                Err(reason) => out.push(skip(name, l, Some(c), reason)),
            }
        }
        return;
    }
    if let Some(expected) = expected {
        if expected != rtype {
            out.push(skip(
                name,
                line,
                Some(column),
                format!("a {rtype} in a file of {expected} resources"),
            ));
            return;
        }
    }
    out.push(Found::Keep {
        home: home(rtype, &light, None, &PatientUrls::new()),
        resource_type: rtype,
        line,
        column,
        entry: None,
        full_url: None,
        range,
    });
}

/// The byte offset of `inner` (a slice of `bytes`) in `bytes`.
fn offset_of(bytes: &[u8], inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize)
}

/// Scans a piece into what it holds, in order.
fn scan_piece(piece: &Piece, name: &str, expected: Option<&'static str>) -> Vec<Found> {
    let bytes = &piece.bytes;
    match piece.format {
        FileFormat::Json => {
            let mut out = Vec::new();
            let start = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
                3
            } else {
                0
            };
            let locator = Locator::index(bytes, piece.first_line);
            scan_value(bytes, start..bytes.len(), &locator, name, None, &mut out);
            out
        }
        FileFormat::Ndjson => {
            let mut lines: Vec<(u32, Range<usize>)> = Vec::new();
            let mut start = 0usize;
            let mut line = piece.first_line;
            while start < bytes.len() {
                let end = bytes[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |i| start + i);
                let mut s = start;
                if line == 1 && bytes[s..end].starts_with(&[0xEF, 0xBB, 0xBF]) {
                    s += 3;
                }
                let blank = bytes[s..end].iter().all(u8::is_ascii_whitespace);
                if !blank {
                    lines.push((line, s..end));
                }
                start = end + 1;
                line += 1;
            }
            lines
                .par_iter()
                .flat_map_iter(|(line, range)| {
                    let mut out = Vec::with_capacity(1);
                    let start = if *line == 1 { 0 } else { range.start };
                    let locator = Locator::OneLine { line: *line, start };
                    scan_value(bytes, range.clone(), &locator, name, expected, &mut out);
                    out
                })
                .collect()
        }
    }
}

/// Reads the input files as pieces of at most about `piece_bytes` (whole lines of NDJSON).
struct Pieces<'a> {
    files: &'a [PathBuf],
    keep: Option<&'a BTreeSet<&'static str>>,
    not_read: BTreeSet<&'static str>,
    next_file: usize,
    current: Option<(u32, BufReader<File>, u32)>,
    piece_bytes: usize,
}

impl Iterator for Pieces<'_> {
    type Item = Result<Piece, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((file, reader, line)) = &mut self.current {
                let mut bytes = Vec::with_capacity(self.piece_bytes + 4096);
                let first_line = *line;
                while bytes.len() < self.piece_bytes {
                    match reader.read_until(b'\n', &mut bytes) {
                        Ok(0) => break,
                        Ok(_) => *line += 1,
                        Err(e) => {
                            let path = self.files[*file as usize].clone();
                            self.current = None;
                            return Some(Err(ReplayError::Io { path, source: e }));
                        }
                    }
                }
                if bytes.is_empty() {
                    self.current = None;
                    continue;
                }
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                }
                return Some(Ok(Piece {
                    file: *file,
                    format: FileFormat::Ndjson,
                    first_line,
                    bytes,
                }));
            }
            let i = self.next_file;
            let path = self.files.get(i)?;
            self.next_file += 1;
            if let (Some(keep), FileFormat::Ndjson, Some(t)) =
                (self.keep, FileFormat::of(path), expected_type(path))
            {
                if !keep.contains(t) {
                    self.not_read.insert(t);
                    continue;
                }
            }
            let io = |e| ReplayError::Io {
                path: path.clone(),
                source: e,
            };
            match FileFormat::of(path) {
                FileFormat::Json => {
                    let mut bytes = Vec::new();
                    if let Err(e) = File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)) {
                        return Some(Err(io(e)));
                    }
                    return Some(Ok(Piece {
                        file: i as u32,
                        format: FileFormat::Json,
                        first_line: 1,
                        bytes,
                    }));
                }
                FileFormat::Ndjson => match File::open(path) {
                    Ok(f) => {
                        self.current = Some((i as u32, BufReader::with_capacity(1 << 20, f), 1))
                    }
                    Err(e) => return Some(Err(io(e))),
                },
            }
        }
    }
}

/// What to partition, and how.
pub(crate) struct Plan<'a> {
    /// The input files, and their names in reports.
    pub files: &'a [PathBuf],
    pub names: &'a [String],
    /// Where bucket files go.
    pub dir: &'a Path,
    pub buckets: usize,
    /// Only these patients.
    pub shard: Shard,
    /// Only these resource types (`None`: all).
    pub keep: Option<&'a BTreeSet<&'static str>>,
}

/// Partitions the files into bucket files (and a context file), keeping only the patients of
/// the shard and the resource types asked for.
pub(crate) fn partition(plan: &Plan<'_>, progress: &Progress) -> Result<Partitioned, ReplayError> {
    let Plan {
        files,
        names,
        dir,
        buckets,
        shard,
        keep,
    } = *plan;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let result = Partitioned {
        buckets: (0..buckets)
            .map(|b| dir.join(format!("bucket-{b:05}.part")))
            .collect(),
        context: dir.join("context.part"),
        patients: vec![0; buckets],
        ..Partitioned::default()
    };
    let mut writers: Vec<BufWriter<File>> = Vec::with_capacity(buckets);
    for path in &result.buckets {
        writers.push(BufWriter::with_capacity(
            64 << 10,
            File::create(path).map_err(io(path))?,
        ));
    }
    let context = BufWriter::new(File::create(&result.context).map_err(io(&result.context))?);
    let mut pieces = Pieces {
        files,
        keep,
        not_read: BTreeSet::new(),
        next_file: 0,
        current: None,
        piece_bytes: 8 << 20,
    };
    let mut out = Writers {
        result,
        buckets: writers,
        context,
        keep,
        shard,
        buf: Vec::with_capacity(1 << 16),
    };
    // A pipeline: each batch of pieces is scanned on all cores while the previous batch's
    // resources are written, in input order.
    let mut previous: Option<(Vec<Piece>, Vec<Vec<Found>>)> = None;
    loop {
        let mut batch: Vec<Piece> = Vec::new();
        let mut batch_bytes = 0usize;
        let mut done = false;
        while batch_bytes < 32 << 20 && batch.len() < 64 {
            match pieces.next() {
                Some(p) => {
                    let p = p?;
                    batch_bytes += p.bytes.len();
                    batch.push(p);
                }
                None => {
                    done = true;
                    break;
                }
            }
        }
        let (scanned, written) = rayon::join(
            || {
                batch
                    .par_iter()
                    .map(|p| {
                        let path = &files[p.file as usize];
                        let expected = match p.format {
                            FileFormat::Ndjson => expected_type(path),
                            FileFormat::Json => None,
                        };
                        scan_piece(p, &names[p.file as usize], expected)
                    })
                    .collect::<Vec<_>>()
            },
            || match previous.take() {
                Some((pieces, found)) => out.write(&pieces, found, progress),
                None => Ok(()),
            },
        );
        written?;
        previous = Some((batch, scanned));
        if done {
            if let Some((pieces, found)) = previous.take() {
                out.write(&pieces, found, progress)?;
            }
            break;
        }
    }
    let mut result = out.finish()?;
    result.types_not_read.extend(pieces.not_read);
    Ok(result)
}

/// The partition files being written.
struct Writers<'a> {
    result: Partitioned,
    buckets: Vec<BufWriter<File>>,
    context: BufWriter<File>,
    keep: Option<&'a BTreeSet<&'static str>>,
    shard: Shard,
    buf: Vec<u8>,
}

impl Writers<'_> {
    /// Writes what was found in a batch of pieces, in order.
    fn write(
        &mut self,
        pieces: &[Piece],
        found: Vec<Vec<Found>>,
        progress: &Progress,
    ) -> Result<(), ReplayError> {
        let result = &mut self.result;
        for (piece, found) in pieces.iter().zip(found) {
            for f in found {
                let (home, resource_type, line, column, entry, full_url, range) = match f {
                    Found::Skip(s) => {
                        result.skipped_count += 1;
                        // All are counted; the first are kept to be listed.
                        if result.skipped.len() < crate::manifest::MAX_SKIPPED_KEPT {
                            result.skipped.push(s);
                        }
                        continue;
                    }
                    Found::Keep {
                        home,
                        resource_type,
                        line,
                        column,
                        entry,
                        full_url,
                        range,
                    } => (home, resource_type, line, column, entry, full_url, range),
                };
                if self.keep.is_some_and(|k| !k.contains(resource_type)) {
                    result.types_not_read.insert(resource_type);
                    continue;
                }
                let mut record = Record {
                    key: "",
                    resource_type,
                    file: piece.file,
                    line,
                    column,
                    entry,
                    full_url: full_url.as_deref(),
                    json: &piece.bytes[range],
                };
                match home {
                    Home::Context => {
                        self.buf.clear();
                        record.encode(&mut self.buf);
                        self.context
                            .write_all(&self.buf)
                            .map_err(io(&result.context))?;
                        result.context_resources += 1;
                    }
                    Home::Unlinked => result.unlinked += 1,
                    Home::Patients(keys) => {
                        for key in &keys {
                            if !self.shard.holds(key) {
                                continue;
                            }
                            let b = bucket_of(key, self.buckets.len());
                            record.key = key;
                            self.buf.clear();
                            record.encode(&mut self.buf);
                            self.buckets[b]
                                .write_all(&self.buf)
                                .map_err(io(&result.buckets[b]))?;
                            result.resources += 1;
                            if resource_type == "Patient" {
                                result.patients[b] += 1;
                            }
                        }
                    }
                }
            }
            progress.advance(piece.bytes.len() as u64);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Partitioned, ReplayError> {
        for (w, path) in self.buckets.iter_mut().zip(&self.result.buckets) {
            w.flush().map_err(io(path))?;
        }
        self.context.flush().map_err(io(&self.result.context))?;
        Ok(self.result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, format: FileFormat, name: &str) -> Vec<Found> {
        let piece = Piece {
            file: 0,
            format,
            first_line: 1,
            bytes: text.as_bytes().to_vec(),
        };
        scan_piece(&piece, name, expected_type(Path::new(name)))
    }

    fn skipped(found: &[Found]) -> Vec<String> {
        found
            .iter()
            .filter_map(|f| match f {
                Found::Skip(s) => Some(format!(
                    "{}:{}:{} {}",
                    s.file,
                    s.line,
                    s.column.unwrap_or(0),
                    s.reason
                )),
                Found::Keep { .. } => None,
            })
            .collect()
    }

    #[test]
    fn ndjson_lines_are_positioned_and_malformed_ones_skipped() {
        let text = "{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/p\"}}\n\n{\"resourceType\":\"Observation\",\n{not json}\n{\"resourceType\":\"Patient\",\"id\":\"p\"}\n{\"id\":\"x\"}\n";
        let found = scan(text, FileFormat::Ndjson, "Observation.000.ndjson");
        assert_eq!(
            skipped(&found),
            [
                "Observation.000.ndjson:3:30 truncated JSON: the input ends inside a value",
                "Observation.000.ndjson:4:2 not JSON: key must be a string",
                "Observation.000.ndjson:5:1 a Patient in a file of Observation resources",
                "Observation.000.ndjson:6:1 no resourceType",
            ]
        );
        assert_eq!(found.len(), 5);
    }

    #[test]
    fn bundle_entries_keep_positions_and_urls() {
        let text = "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[\n {\"fullUrl\":\"urn:uuid:a\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"pa\"}},\n {\"resource\":{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"urn:uuid:a\"}}},\n {\"resource\":{\"resourceType\":\"Organization\"}},\n {\"resource\":{\"resourceType\":\"Nope\"}}]}";
        let found = scan(text, FileFormat::Json, "b.json");
        assert_eq!(
            skipped(&found),
            ["b.json:5:14 resourceType is not a FHIR R4 resource type"]
        );
        let homes: Vec<(Home, u32, u32)> = found
            .iter()
            .filter_map(|f| match f {
                Found::Keep {
                    home, line, column, ..
                } => Some((home.clone(), *line, *column)),
                Found::Skip(_) => None,
            })
            .collect();
        assert_eq!(
            homes,
            [
                (Home::Patients(vec!["pa".into()]), 2, 37),
                (Home::Patients(vec!["pa".into()]), 3, 14),
                (Home::Context, 4, 14),
            ]
        );
    }

    #[test]
    fn records_round_trip() {
        let r = Record {
            key: "p1",
            resource_type: "Observation",
            file: 3,
            line: 10,
            column: 2,
            entry: Some(0),
            full_url: Some("urn:uuid:x"),
            json: b"{}",
        };
        let mut bytes = Vec::new();
        r.encode(&mut bytes);
        let mut r2 = r.clone();
        r2.entry = None;
        r2.full_url = None;
        r2.encode(&mut bytes);
        assert_eq!(records(&bytes).unwrap(), [r, r2]);
        assert!(records(&bytes[..bytes.len() - 1]).is_err());
    }
}
