//! The sha256 of the input files, which the manifest records and by which a file ingested
//! before is known (`Run::new_record`): when each file is hashed.

use crate::error::Result;
use crate::evidence::background_hashes::BackgroundHashes;
use crate::evidence::hash_file;
use crate::ingest::inputs::{IngestConfig, InputFile, InputFormat};
use crate::store::contract::{Contract, TableSpec};

/// The input files' hashes, made as the run needs them.
///
/// The reference files are hashed first (`start`); the event files, by far the largest, on a
/// thread of their own while the reference tables are read (which leave a core mostly idle).
/// Their hashes are waited for before the events, which need them (`wait_for_events`).
/// Into a new store, where no file can have been ingested before, event files in CSV are
/// hashed as they are read (`Run::read_file`), so that they are read once: their hash here
/// stays empty.
pub(super) struct InputHashes<'c> {
    files: &'c [InputFile],
    /// Each file's hash, in the order of `files`; empty until it is made.
    hashes: Vec<String>,
    /// Whether each file is hashed in the background.
    in_background: Vec<bool>,
    /// The background hashing, until it is waited for.
    background: Option<BackgroundHashes>,
}

impl<'c> InputHashes<'c> {
    /// Hashes the reference files and starts hashing the event files in the background.
    /// `new_store`: the store has no runs yet.
    pub(super) fn start(
        config: &'c IngestConfig,
        contract: &Contract,
        new_store: bool,
    ) -> Result<InputHashes<'c>> {
        let is_events = |f: &InputFile| contract.table(&f.table).is_some_and(TableSpec::is_events);
        let when_read = |f: &InputFile| {
            new_store && matches!(f.format, InputFormat::Csv | InputFormat::CsvProfile)
        };
        let files = &config.files[..];
        let in_background: Vec<bool> = files
            .iter()
            .map(|f| is_events(f) && !when_read(f))
            .collect();
        let mut hashes = Vec::with_capacity(files.len());
        for f in files {
            hashes.push(if is_events(f) {
                String::new()
            } else {
                hash_file(&f.path, "")?.sha256
            });
        }
        let background = BackgroundHashes::start(
            files
                .iter()
                .zip(&in_background)
                .filter(|(_, &b)| b)
                .map(|(f, _)| (f.path.clone(), String::new()))
                .collect(),
        );
        Ok(InputHashes {
            files,
            hashes,
            in_background,
            background: Some(background),
        })
    }

    /// Waits for the hashes made in the background, the first time it is called; whether it
    /// waited.
    pub(super) fn wait_for_events(&mut self) -> Result<bool> {
        let Some(background) = self.background.take() else {
            return Ok(false);
        };
        let mut done = background.wait()?.into_iter();
        for (h, _) in self
            .hashes
            .iter_mut()
            .zip(&self.in_background)
            .filter(|(_, &b)| b)
        {
            *h = done
                .next()
                .expect("BackgroundHashes gives a hash for each file it was given")
                .sha256;
        }
        Ok(true)
    }

    /// The files of `table`, each with its hash (empty: hashed as it is read).
    pub(super) fn inputs_of(&self, table: &str) -> Vec<(&'c InputFile, &String)> {
        self.files
            .iter()
            .zip(&self.hashes)
            .filter(|(f, _)| f.table == table)
            .collect()
    }
}
