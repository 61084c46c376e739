//! Writing one file of an output folder through a buffer, with the path in every error.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Creates `path`, which must not exist yet: the output folder was emptied by
/// `evidence::prepare_folder`, and a new file never follows a link someone left in its place.
pub(crate) fn create_new(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Writes `path` with `body` through a buffer, flushing it before returning.
pub(crate) fn write_file(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let file = create_new(path)?;
    let mut w = std::io::BufWriter::new(file);
    body(&mut w)?;
    w.flush().map_err(|e| Error::io(path, e))
}
