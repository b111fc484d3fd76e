//! FHIR Bulk Data NDJSON: one resource per line, read line by line in bounded chunks whose lines
//! are parsed in parallel; results come out in file order.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use super::expand::{expand, FileCounts, Origin};
use super::syntax::parse;
use super::LoadOptions;
use crate::data::error::{LoadError, LoadErrorKind};
use crate::data::Resource;

/// Streams the resources of one NDJSON source.
pub(crate) struct NdjsonReader<R> {
    reader: R,
    file: Arc<Path>,
    expected: Option<&'static str>,
    opts: LoadOptions,
    line_no: usize,
    done: bool,
    pending: VecDeque<Result<Resource, LoadError>>,
    pub(crate) counts: FileCounts,
}

impl<R: BufRead> NdjsonReader<R> {
    pub(crate) fn new(
        reader: R,
        file: Arc<Path>,
        expected: Option<&'static str>,
        opts: LoadOptions,
    ) -> Self {
        NdjsonReader {
            reader,
            file,
            expected,
            opts,
            line_no: 0,
            done: false,
            pending: VecDeque::new(),
            counts: FileCounts::default(),
        }
    }

    /// Reads the next chunk of lines and parses it into `pending`.
    fn fill(&mut self) {
        let mut lines: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        while lines.len() < self.opts.chunk_lines.max(1) && bytes < self.opts.chunk_bytes {
            let mut buf = Vec::new();
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => {
                    self.line_no += 1;
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    bytes += buf.len();
                    lines.push((self.line_no, buf));
                }
                Err(e) => {
                    self.done = true;
                    let err = LoadError::new(self.file.clone(), LoadErrorKind::Io(e))
                        .at(self.line_no + 1, 1);
                    self.flush(lines);
                    self.pending.push_back(Err(err));
                    return;
                }
            }
        }
        self.flush(lines);
    }

    fn flush(&mut self, lines: Vec<(usize, Vec<u8>)>) {
        let file = &self.file;
        let expected = self.expected;
        let opts = &self.opts;
        let parsed: Vec<(Vec<Result<Resource, LoadError>>, FileCounts)> = lines
            .par_iter()
            .with_min_len(64)
            .map(|(line_no, raw)| parse_line(raw, *line_no, file, expected, opts))
            .collect();
        for (results, counts) in parsed {
            self.counts.add(counts);
            self.pending.extend(results);
        }
    }
}

fn parse_line(
    raw: &[u8],
    line_no: usize,
    file: &Arc<Path>,
    expected: Option<&'static str>,
    opts: &LoadOptions,
) -> (Vec<Result<Resource, LoadError>>, FileCounts) {
    let (raw, first_column) = match raw.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) if line_no == 1 => (rest, 4),
        _ => (raw, 1),
    };
    let mut out = Vec::with_capacity(1);
    let mut counts = FileCounts::default();
    match parse(raw, file, line_no, first_column) {
        Ok(value) => {
            let origin = Origin {
                file,
                raw,
                first_line: line_no,
                first_column,
                expected,
            };
            expand(value, &origin, opts, &mut out, &mut counts);
        }
        Err(e) => out.push(Err(e)),
    }
    (out, counts)
}

impl<R: BufRead> Iterator for NdjsonReader<R> {
    type Item = Result<Resource, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            self.fill();
        }
    }
}
