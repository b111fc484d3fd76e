//! Why a replay or a merge could not run. Problems inside the data (malformed lines, invalid
//! resources) are not errors: they are counted and reported, and the run goes on.

use std::path::PathBuf;

/// Why a replay or a merge could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The input holds no `.json` or `.ndjson` files.
    #[error("{0}: no .json or .ndjson files found")]
    NoInput(PathBuf),
    /// The rulesets could not be loaded.
    #[error(transparent)]
    Rules(#[from] cds_rules::engine::EngineError),
    /// An option is wrong (the message says which and how to fix it).
    #[error("{0}")]
    Usage(String),
    /// The pseudonymisation key file is unusable.
    #[error("{path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Shard outputs that cannot be merged (the message says why).
    #[error("cannot merge: {0}")]
    Merge(String),
    /// An output folder's file is not what a replay writes.
    #[error("{path}: {reason}")]
    Output {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
