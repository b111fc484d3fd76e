//! The output folder: `cards.ndjson` and `patients.ndjson` in patient order (then time, then
//! rule), whatever the thread count, bucket count or sharding — written per bucket, then merged.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ReplayError;

/// The cards file.
pub const CARDS: &str = "cards.ndjson";
/// The per-patient file.
pub const PATIENTS: &str = "patients.ndjson";
/// The per-rule summary.
pub const SUMMARY: &str = "summary.csv";
/// The report.
pub const REPORT: &str = "report.html";
/// What the run was (mode, rules, counts): what a merge needs.
pub const MANIFEST: &str = "run.json";

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReplayError + '_ {
    move |e| ReplayError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Writes lines of JSON to a file.
pub(crate) struct LineWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl LineWriter {
    pub(crate) fn create(path: &Path) -> Result<LineWriter, ReplayError> {
        Ok(LineWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, File::create(path).map_err(io(path))?),
        })
    }

    pub(crate) fn write<T: serde::Serialize>(&mut self, value: &T) -> Result<(), ReplayError> {
        serde_json::to_writer(&mut self.out, value).map_err(|e| ReplayError::Io {
            path: self.path.clone(),
            source: e.into(),
        })?;
        self.out.write_all(b"\n").map_err(io(&self.path))
    }

    pub(crate) fn finish(mut self) -> Result<(), ReplayError> {
        self.out.flush().map_err(io(&self.path))
    }
}

#[derive(Deserialize)]
struct PatientField {
    patient: String,
}

/// The `patient` of a line.
fn patient_of(line: &str, path: &Path) -> Result<String, ReplayError> {
    serde_json::from_str::<PatientField>(line)
        .map(|p| p.patient)
        .map_err(|_| ReplayError::Output {
            path: path.to_path_buf(),
            reason: "a line without a `patient`: not written by cds replay".into(),
        })
}

struct Source {
    path: PathBuf,
    lines: std::io::Lines<BufReader<File>>,
    /// The next patient's lines, and its id.
    head: Option<(String, Vec<String>)>,
    pending: Option<String>,
}

impl Source {
    fn open(path: &Path) -> Result<Source, ReplayError> {
        let f = File::open(path).map_err(io(path))?;
        let mut s = Source {
            path: path.to_path_buf(),
            lines: BufReader::with_capacity(1 << 16, f).lines(),
            head: None,
            pending: None,
        };
        s.advance()?;
        Ok(s)
    }

    /// Reads the next patient's block of lines (lines of one patient are contiguous).
    fn advance(&mut self) -> Result<(), ReplayError> {
        let first = match self.pending.take() {
            Some(l) => Some(l),
            None => self.lines.next().transpose().map_err(io(&self.path))?,
        };
        let Some(first) = first else {
            self.head = None;
            return Ok(());
        };
        let id = patient_of(&first, &self.path)?;
        let mut block = vec![first];
        for line in self.lines.by_ref() {
            let line = line.map_err(io(&self.path))?;
            if patient_of(&line, &self.path)? == id {
                block.push(line);
            } else {
                self.pending = Some(line);
                break;
            }
        }
        self.head = Some((id, block));
        Ok(())
    }
}

/// Merges files whose lines are grouped by patient and sorted by patient id into one file so
/// sorted. Two inputs holding the same patient is an error (shards overlap).
pub(crate) fn merge_sorted(inputs: &[PathBuf], out: &Path) -> Result<(), ReplayError> {
    let mut sources = inputs
        .iter()
        .map(|p| Source::open(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut w = BufWriter::with_capacity(1 << 16, File::create(out).map_err(io(out))?);
    let mut last: Option<String> = None;
    loop {
        let next = sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.head.as_ref().map(|(id, _)| (id, i)))
            .min()
            .map(|(_, i)| i);
        let Some(i) = next else { break };
        let Some((id, block)) = sources[i].head.take() else {
            break;
        };
        if last.as_ref().is_some_and(|l| *l >= id) {
            return Err(ReplayError::Merge(format!(
                "{}: a patient appears twice or out of order (were the same shards given twice?)",
                sources[i].path.display()
            )));
        }
        for line in &block {
            w.write_all(line.as_bytes()).map_err(io(out))?;
            w.write_all(b"\n").map_err(io(out))?;
        }
        last = Some(id);
        sources[i].advance()?;
    }
    w.flush().map_err(io(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_blocks_in_patient_order() {
        let dir = std::env::temp_dir().join(format!("cds-replay-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        let b = dir.join("b");
        std::fs::write(&a, "{\"patient\":\"a\",\"n\":1}\n{\"patient\":\"a\",\"n\":2}\n{\"patient\":\"c\",\"n\":1}\n").unwrap();
        std::fs::write(
            &b,
            "{\"patient\":\"b\",\"n\":1}\n{\"patient\":\"d\",\"n\":1}\n",
        )
        .unwrap();
        let out = dir.join("out");
        merge_sorted(&[a.clone(), b.clone()], &out).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let ids: Vec<String> = text.lines().map(|l| patient_of(l, &out).unwrap()).collect();
        assert_eq!(ids, ["a", "a", "b", "c", "d"]);
        assert!(merge_sorted(&[a.clone(), a], &out).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
