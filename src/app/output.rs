//! Writing one file of an output folder through a buffer, with the path in every error.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes `path` with `body` through a buffer, flushing it before returning.
pub(crate) fn write_file(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    body(&mut w)?;
    w.flush().map_err(|e| Error::io(path, e))
}
