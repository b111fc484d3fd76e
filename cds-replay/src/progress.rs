//! Progress of a long run on standard error: a bar with rate and ETA on a terminal, a plain line
//! every few seconds otherwise (batch logs), nothing when quiet.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when standard error is a terminal, lines otherwise.
    Auto,
    /// Plain lines.
    Lines,
    /// Nothing.
    Quiet,
}

enum Sink {
    Bar(ProgressBar),
    Lines { last: Mutex<Instant> },
    Quiet,
}

/// One phase's progress (`partitioning` in bytes, `evaluating` in patients).
pub struct Progress {
    sink: Sink,
    what: &'static str,
    unit: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// Starts a phase of `total` units.
    pub fn start(mode: ProgressMode, what: &'static str, unit: &'static str, total: u64) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let sink = match mode {
            ProgressMode::Quiet => Sink::Quiet,
            ProgressMode::Auto if terminal => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                let template = if unit == "bytes" {
                    "{msg:>11} [{bar:40}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}"
                } else {
                    "{msg:>11} [{bar:40}] {human_pos}/{human_len} {unit} {per_sec} ETA {eta}"
                };
                let template = template.replace("{unit}", unit);
                if let Ok(style) = ProgressStyle::with_template(&template) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(what);
                Sink::Bar(bar)
            }
            _ => Sink::Lines {
                last: Mutex::new(Instant::now()),
            },
        };
        Progress {
            sink,
            what,
            unit,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Counts `n` more units done.
    pub fn advance(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        match &self.sink {
            Sink::Bar(bar) => bar.inc(n),
            Sink::Lines { last } => {
                let Ok(mut last) = last.lock() else { return };
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    eprintln!("{}", self.line(done));
                }
            }
            Sink::Quiet => {}
        }
    }

    /// The plain progress line: `evaluating: 1200/5000 patients (24%), 240 patients/s, ETA 16 s`.
    fn line(&self, done: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = done as f64 / secs;
        let (done_s, total_s, rate_s) = if self.unit == "bytes" {
            (
                format!("{:.1}", done as f64 / 1e6),
                format!("{:.1} MB", self.total as f64 / 1e6),
                format!("{:.1} MB/s", rate / 1e6),
            )
        } else {
            (
                done.to_string(),
                format!("{} {}", self.total, self.unit),
                format!("{rate:.0} {}/s", self.unit),
            )
        };
        let pct = if self.total > 0 {
            100.0 * done as f64 / self.total as f64
        } else {
            100.0
        };
        let eta = if rate > 0.0 && self.total > done {
            format!(", ETA {:.0} s", (self.total - done) as f64 / rate)
        } else {
            String::new()
        };
        format!(
            "{}: {done_s}/{total_s} ({pct:.0}%), {rate_s}{eta}",
            self.what
        )
    }

    /// Ends the phase (the bar is cleared; a last line is printed in line mode).
    pub fn finish(&self) {
        match &self.sink {
            Sink::Bar(bar) => bar.finish_and_clear(),
            Sink::Lines { .. } => eprintln!("{}", self.line(self.done.load(Ordering::Relaxed))),
            Sink::Quiet => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_has_rate_and_eta() {
        let p = Progress::start(ProgressMode::Quiet, "evaluating", "patients", 100);
        let line = p.line(50);
        assert!(
            line.starts_with("evaluating: 50/100 patients (50%), "),
            "{line}"
        );
        assert!(line.contains("patients/s"), "{line}");
        assert!(line.contains("ETA"), "{line}");
        let b = Progress::start(ProgressMode::Quiet, "partitioning", "bytes", 2_000_000);
        assert!(b
            .line(1_000_000)
            .starts_with("partitioning: 1.0/2.0 MB (50%)"));
    }
}
