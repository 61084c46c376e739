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
    #[error("polars: {}", said_once(.0))]
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

/// A polars error's text, said once: polars wraps some errors in their own context, which
/// repeats the text (`parquet: X: parquet: X`).
fn said_once(e: &polars::prelude::PolarsError) -> String {
    let text = e.to_string();
    let half = text.len().saturating_sub(2) / 2;
    match (
        text.get(..half),
        text.get(half..half + 2),
        text.get(half + 2..),
    ) {
        (Some(a), Some(": "), Some(b)) if a == b => a.to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_polars_error_that_repeats_itself_is_said_once() {
        let e = polars::prelude::PolarsError::ComputeError("parquet: x: parquet: x".into());
        let twice = e.to_string();
        assert!(twice.ends_with("parquet: x: parquet: x"), "{twice}");
        let once = Error::from(polars::prelude::PolarsError::ComputeError("a: b".into()));
        assert_eq!(
            once.to_string(),
            format!(
                "polars: {}",
                polars::prelude::PolarsError::ComputeError("a: b".into())
            )
        );
        let text = "parquet: File out of specification: The file must end with PAR1";
        let repeated = format!("{text}: {text}");
        let e = polars::prelude::PolarsError::ComputeError(repeated.into());
        let shown = Error::from(e).to_string();
        assert_eq!(shown.matches("must end with PAR1").count(), 1, "{shown}");
    }
}
