//! The Parquet store on disk: locking, reading tables, and crash-safe commits.
//!
//! Layout: `manifest.json`, `<table>.parquet` per reference table,
//! `events/month=YYYY-MM/part-rNNNNNN-NNNN.parquet` (hive-style), `quarantine/part-rNNNNNN.parquet`.
//!
//! A run writes every new file under `.staging/`, then writes `.staging/COMMIT` (the list of
//! files) with an atomic rename: that is the commit point. It then moves the files into place,
//! `manifest.json` last, and removes `.staging/`. Opening the store finishes a committed run
//! that was interrupted while moving, and discards an uncommitted one, so a run killed at any
//! moment leaves the store as it was or as the completed run would have.

pub mod contract;
pub mod encoded_writer;
pub mod manifest;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_parquet::write::Encoding;

use crate::error::{Error, Result};
use crate::store::encoded_writer::EncodedWriter;
use crate::store::manifest::Manifest;

const STAGING: &str = ".staging";
const COMMIT: &str = "COMMIT";
const MANIFEST: &str = "manifest.json";

/// Environment variable that makes a run stop dead at a named point, to test crash safety.
/// Values: `staged` (files written, not committed) and `committed` (commit point passed,
/// files not yet moved). Only in builds with debug assertions (the tests' builds): a release
/// binary ignores it.
#[cfg(debug_assertions)]
const FAILPOINT_ENV: &str = "WMO_AUDIT_FAILPOINT";

/// An open store, locked for this process until dropped.
pub struct Store {
    root: PathBuf,
    lock: File,
    manifest: Option<Manifest>,
    staged: Vec<String>,
}

impl Store {
    /// Opens (creating the folder if `create`) and locks the store, then recovers from an
    /// interrupted run.
    pub fn open(root: &Path, create: bool) -> Result<Store> {
        if !root.exists() {
            if !create {
                return Err(Error::store(
                    root,
                    "does not exist; create it with 'wmo-audit ingest'",
                ));
            }
            fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        }
        let lock_path = root.join(".lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        lock.try_lock().map_err(|_| {
            Error::store(
                root,
                "is in use by another wmo-audit run; wait for it to finish",
            )
        })?;
        let mut store = Store {
            root: root.into(),
            lock,
            manifest: None,
            staged: Vec::new(),
        };
        store.recover()?;
        store.manifest = store.read_manifest()?;
        Ok(store)
    }

    /// Opens the store for reading: a shared lock, so that audits run side by side while no
    /// ingest writes. An interrupted ingest is recovered first when nobody else has the store.
    pub fn open_read(root: &Path) -> Result<Store> {
        // A first ingest killed after its commit point has left no manifest yet, only its
        // committed staging folder: it is completed below, as any later run's is.
        let staged = root.join(STAGING).exists();
        if !root.join(MANIFEST).exists() && !staged {
            return Err(Error::store(
                root,
                "has no manifest.json; ingest data into it first",
            ));
        }
        let lock_path = root.join(".lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        let mut store = Store {
            root: root.into(),
            lock,
            manifest: None,
            staged: Vec::new(),
        };
        if staged && store.lock.try_lock().is_ok() {
            store.recover()?;
            let _ = store.lock.unlock();
        }
        store.lock.try_lock_shared().map_err(|_| {
            Error::store(
                root,
                "is being written by an ingest run; wait for it to finish",
            )
        })?;
        if !root.join(MANIFEST).exists() {
            return Err(Error::store(
                root,
                "has no manifest.json: its first ingest stopped before it committed; ingest again",
            ));
        }
        store.manifest = store.read_manifest()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    fn read_manifest(&self) -> Result<Option<Manifest>> {
        let path = self.root.join(MANIFEST);
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::store(&self.root, format!("manifest.json is damaged: {e}")))?;
        if m.format != crate::store::manifest::FORMAT
            || m.format_version != crate::store::manifest::FORMAT_VERSION
        {
            return Err(Error::store(
                &self.root,
                format!(
                    "is a '{}' v{} store; this tool reads '{}' v{}",
                    m.format,
                    m.format_version,
                    crate::store::manifest::FORMAT,
                    crate::store::manifest::FORMAT_VERSION
                ),
            ));
        }
        Ok(Some(m))
    }

    fn recover(&self) -> Result<()> {
        let staging = self.root.join(STAGING);
        if !staging.exists() {
            return Ok(());
        }
        let commit = staging.join(COMMIT);
        if commit.exists() {
            let text = fs::read_to_string(&commit).map_err(|e| Error::io(&commit, e))?;
            let files: Vec<String> = serde_json::from_str(&text)
                .map_err(|e| Error::store(&self.root, format!("commit record is damaged: {e}")))?;
            self.move_into_place(&files)?;
        }
        fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))
    }

    fn move_into_place(&self, files: &[String]) -> Result<()> {
        for rel in files {
            let from = self.root.join(STAGING).join(rel);
            let to = self.root.join(rel);
            if !from.exists() {
                continue; // moved before the interruption
            }
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        }
        sync_dir(&self.root);
        Ok(())
    }

    /// Reads a stored file (relative path), optionally only some columns.
    pub fn read(&self, rel: &str, columns: Option<&[&str]>) -> Result<DataFrame> {
        read_file(&self.root.join(rel), columns)
    }

    /// Reads a file this run staged (written, not yet committed).
    pub fn read_staged(&self, rel: &str, columns: Option<&[&str]>) -> Result<DataFrame> {
        read_file(&self.root.join(STAGING).join(rel), columns)
    }

    /// Writes a file into the staging area; it becomes visible at `commit`.
    pub fn stage(&mut self, rel: &str, df: &mut DataFrame) -> Result<()> {
        let path = self.stage_path(rel)?;
        write_file(&path, df)
    }

    /// Where to write a file of the staging area (its folder made); it becomes visible at
    /// `commit` and must be written by then (`write_file`).
    pub fn stage_path(&mut self, rel: &str) -> Result<PathBuf> {
        let path = self.root.join(STAGING).join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        self.staged.push(rel.to_string());
        Ok(path)
    }

    /// Commits the staged files and the new manifest atomically (see the module docs).
    pub fn commit(mut self, manifest: &Manifest) -> Result<()> {
        let staging = self.root.join(STAGING);
        fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        let text =
            serde_json::to_string_pretty(manifest).map_err(|e| Error::Invalid(e.to_string()))?;
        write_synced(&staging.join(MANIFEST), format!("{text}\n").as_bytes())?;
        self.staged.push(MANIFEST.into());
        failpoint("staged");
        let list =
            serde_json::to_string(&self.staged).map_err(|e| Error::Invalid(e.to_string()))?;
        let tmp = staging.join("COMMIT.tmp");
        write_synced(&tmp, list.as_bytes())?;
        fs::rename(&tmp, staging.join(COMMIT)).map_err(|e| Error::io(&staging, e))?;
        sync_dir(&staging);
        failpoint("committed");
        self.move_into_place(&self.staged)?;
        fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        self.manifest = Some(manifest.clone());
        Ok(())
    }
}

/// Reads a Parquet file, optionally only some columns.
fn read_file(path: &Path, columns: Option<&[&str]>) -> Result<DataFrame> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = ParquetReader::new(file);
    if let Some(cols) = columns {
        reader = reader.with_columns(Some(cols.iter().map(|c| c.to_string()).collect()));
    }
    Ok(reader.finish()?)
}

/// Writes a frame as a Parquet file at `path` (`write_parquet`), synced to disk.
pub fn write_file(path: &Path, df: &mut DataFrame) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    write_parquet(&file, df)?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Writes a frame as Parquet with an encoding per column (`EncodedWriter`), by the column's
/// name and type.
pub fn write_encoded_file(
    path: &Path,
    df: &DataFrame,
    encoding: impl Fn(&str, &DataType) -> Encoding,
) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let fields = df
        .columns()
        .iter()
        .map(|c| {
            let encoding = encoding(c.name(), c.dtype());
            (Field::new(c.name().clone(), c.dtype().clone()), encoding)
        })
        .collect();
    let mut writer = EncodedWriter::new(&file, fields)?;
    writer.write_frame(df)?;
    writer.finish()?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Writes a frame as Parquet the way every file of the tool is written: zstd at level 1 (on the
/// store's data both faster and smaller than the default level 3), full statistics (so that
/// readers can skip row groups).
pub fn write_parquet(file: &File, df: &mut DataFrame) -> Result<()> {
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(Some(
            polars_parquet::write::ZstdLevel::try_new(1)?,
        )))
        // Min, max and null counts (what readers prune row groups by), not distinct counts,
        // which cost a hash of every value.
        .with_statistics(StatisticsOptions::default())
        .finish(df)?;
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

fn sync_dir(path: &Path) {
    // Best effort: not every platform can open a directory for syncing.
    if let Ok(d) = File::open(path) {
        let _ = d.sync_all();
    }
}

fn failpoint(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var(FAILPOINT_ENV).as_deref() == Ok(name) {
        eprintln!("wmo-audit: stopping at failpoint '{name}'");
        std::process::exit(86);
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// All files of the events table, per month, from the manifest.
pub fn event_parts(manifest: &Manifest, month: &str) -> Vec<String> {
    let prefix = format!("events/month={month}/");
    manifest
        .tables
        .get("events")
        .map(|t| {
            t.files
                .iter()
                .filter(|f| f.starts_with(&prefix))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}
