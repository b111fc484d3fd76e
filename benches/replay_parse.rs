//! The parse-only baseline of `benches/replay.sh` (see benches/replay.md): reads every
//! `*.ndjson` file under the given folders and parses each non-blank line into a
//! `serde_json::Value`, in parallel on all cores with rayon, then drops it. Nothing else: no
//! partitioning, no evaluation. `cds replay` has to do at least this much work over the same
//! data, so its speed here is the floor replay cannot beat.
//!
//!     cargo bench --bench replay_parse -- DIR...
//!
//! It runs `REPLAY_PARSE_RUNS` times (default 3; the first also warms the page cache) and prints
//! the best run as one line on stdout:
//!
//!     parse-only files=F lines=L patients=P bytes=B seconds=S mb_per_s=X lines_per_s=Y patients_per_s=Z threads=T runs=R
//!
//! `patients` counts the lines of the files named `Patient*.ndjson`; MB are 10^6 bytes of
//! NDJSON as stored (newlines included). Each run's time goes to stderr.
//!
//! Same `serde_json` build as the workspace (features unified: `preserve_order`, so objects
//! are `IndexMap`s as in `cds`), same allocator as the `cds` binary (mimalloc), threads as rayon
//! decides (`RAYON_NUM_THREADS` to change). Files are read in blocks of about 16 MiB that end at
//! a line end, the next block read while the current one is parsed, so memory stays at two
//! blocks plus the values being parsed, whatever the size of the files.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;

/// The allocator of the shipped `cds` binary (see src/main.rs): parsing builds many small
/// values, whose cost the allocator decides.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bytes read from a file at a time (a block is cut back to its last line end).
const BLOCK: usize = 16 << 20;

fn main() -> ExitCode {
    // `cargo bench` appends `--bench`; keep only positional arguments.
    let dirs: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        eprintln!("usage: cargo bench --bench replay_parse -- DIR...");
        return ExitCode::from(2);
    }
    let runs: usize = match std::env::var("REPLAY_PARSE_RUNS") {
        Ok(s) => match s.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("replay_parse: REPLAY_PARSE_RUNS must be a positive number");
                return ExitCode::from(2);
            }
        },
        Err(_) => 3,
    };

    let mut files = Vec::new();
    for dir in &dirs {
        if let Err(e) = find_ndjson(dir, &mut files) {
            eprintln!("replay_parse: cannot list {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    files.sort();
    if files.is_empty() {
        eprintln!("replay_parse: no *.ndjson file found");
        return ExitCode::FAILURE;
    }

    let mut best: Option<(f64, Totals)> = None;
    for run in 1..=runs {
        let start = Instant::now();
        let totals = match parse_all(&files) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("replay_parse: {e}");
                return ExitCode::FAILURE;
            }
        };
        let seconds = start.elapsed().as_secs_f64();
        eprintln!(
            "replay_parse: run {run}/{runs}: {} lines, {} bytes in {seconds:.3} s",
            totals.lines, totals.bytes
        );
        if totals.invalid > 0 {
            eprintln!("replay_parse: {} lines are not valid JSON", totals.invalid);
            return ExitCode::FAILURE;
        }
        if best.as_ref().is_none_or(|(s, _)| seconds < *s) {
            best = Some((seconds, totals));
        }
    }

    let (seconds, t) = best.expect("at least one run");
    println!(
        "parse-only files={} lines={} patients={} bytes={} seconds={seconds:.4} mb_per_s={:.2} \
         lines_per_s={:.0} patients_per_s={:.1} threads={} runs={runs}",
        files.len(),
        t.lines,
        t.patients,
        t.bytes,
        t.bytes as f64 / 1e6 / seconds,
        t.lines as f64 / seconds,
        t.patients as f64 / seconds,
        rayon::current_num_threads(),
    );
    ExitCode::SUCCESS
}

/// Counts of one run over all files.
#[derive(Default)]
struct Totals {
    /// Non-blank lines parsed.
    lines: u64,
    /// Lines of the files named `Patient*.ndjson`.
    patients: u64,
    /// Bytes of the files, as stored.
    bytes: u64,
    /// Lines that did not parse.
    invalid: u64,
}

/// Adds the `*.ndjson` files under `dir` (recursively) to `out`.
fn find_ndjson(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            find_ndjson(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "ndjson") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses every file once; the error names the file that could not be read.
fn parse_all(files: &[PathBuf]) -> Result<Totals, String> {
    let mut totals = Totals::default();
    for path in files {
        let is_patient = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("Patient"));
        let (lines, invalid, bytes) =
            parse_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        totals.lines += lines;
        totals.invalid += invalid;
        totals.bytes += bytes;
        if is_patient {
            totals.patients += lines;
        }
    }
    Ok(totals)
}

/// Parses one file block by block, reading the next block while the current one is parsed.
/// Returns (lines, invalid lines, bytes).
fn parse_file(path: &Path) -> io::Result<(u64, u64, u64)> {
    let mut blocks = Blocks {
        file: File::open(path)?,
        carry: Vec::new(),
        eof: false,
    };
    let (mut lines, mut invalid, mut bytes) = (0, 0, 0);
    let mut current = blocks.next_block()?;
    while let Some(block) = current {
        let ((l, i), next) = rayon::join(|| parse_block(&block), || blocks.next_block());
        lines += l;
        invalid += i;
        bytes += block.len() as u64;
        current = next?;
    }
    Ok((lines, invalid, bytes))
}

/// Parses the non-blank lines of a block in parallel and drops the values.
/// Returns (lines, invalid lines).
fn parse_block(block: &[u8]) -> (u64, u64) {
    block
        .par_split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(
            |line| match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(value) => {
                    drop(value);
                    (1, 0)
                }
                Err(_) => (1, 1),
            },
        )
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// A file cut into blocks of about [`BLOCK`] bytes that end at a line end (the last one at the
/// end of the file); a line longer than a block makes its block longer.
struct Blocks {
    file: File,
    /// The start of a line read with the previous block.
    carry: Vec<u8>,
    eof: bool,
}

impl Blocks {
    fn next_block(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = std::mem::take(&mut self.carry);
        if self.eof {
            return Ok((!buf.is_empty()).then_some(buf));
        }
        loop {
            // Up to a block's worth, or a block more when the block has no line end yet.
            let want = if buf.len() < BLOCK {
                BLOCK - buf.len()
            } else {
                BLOCK
            };
            buf.reserve(want);
            let read = (&mut self.file).take(want as u64).read_to_end(&mut buf)?;
            if read < want {
                self.eof = true;
                return Ok((!buf.is_empty()).then_some(buf));
            }
            if let Some(end) = buf.iter().rposition(|b| *b == b'\n') {
                self.carry = buf[end + 1..].to_vec();
                buf.truncate(end + 1);
                return Ok(Some(buf));
            }
        }
    }
}
