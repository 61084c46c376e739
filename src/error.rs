//! The library's typed errors: every message is lower case and quotes the offending value.

use std::path::PathBuf;

/// Everything that can stop a command. Row-level problems are not errors: they go to the
/// quarantine with a reason (see `ingest`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The IO error is part of the message (not a `source`), so that it is printed once.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("contract file '{file}': {message}")]
    Contract { file: String, message: String },
    #[error("profile '{path}': {message}")]
    Profile { path: PathBuf, message: String },
    #[error("key file '{path}': {message}")]
    Key { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("store '{path}': {message}")]
    Store { path: PathBuf, message: String },
    #[error("{}:{line}: {message}", path.display())]
    Policy {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Wraps an IO error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn store(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Store {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
