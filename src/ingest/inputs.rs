//! What an ingest is asked to do (`IngestConfig`), and the plan of its input files: which
//! table each holds, how it is read, and in which order (`IngestConfig::plan_inputs`).

use std::path::{Path, PathBuf};

use chrono_tz::Tz;

use crate::error::{Error, Result};
use crate::ingest::read::source_profile::{ClientIds, SourceProfile};
use crate::privacy::key::Key;
use crate::store::contract::Contract;

/// Rows per events part file by default (`IngestConfig::part_rows`).
pub const PART_ROWS: usize = 2_000_000;

/// How an input file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Canonical contract CSV.
    Csv,
    /// CSV read through the source profile.
    CsvProfile,
    FhirNdjson,
    FhirJson,
}

impl InputFormat {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            InputFormat::Csv => "csv",
            InputFormat::CsvProfile => "csv+profile",
            InputFormat::FhirNdjson => "fhir-ndjson",
            InputFormat::FhirJson => "fhir-json",
        }
    }
}

#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub table: String,
    pub format: InputFormat,
}

/// A checked ingest: everything needed, validated before any work starts.
pub struct IngestConfig {
    pub store: PathBuf,
    /// The input files, as `IngestConfig::plan_inputs` plans them with `profile`.
    pub files: Vec<InputFile>,
    pub key: Key,
    pub profile: Option<SourceProfile>,
    /// Zone for a new store (an existing store keeps its own; a different one is refused).
    pub time_zone: Tz,
    pub client_ids: ClientIds,
    pub progress: bool,
    /// Events held in memory before the fullest month goes to disk; a month unseen for this
    /// many stored events lets go of its de-duplication keys.
    pub part_rows: usize,
}

impl IngestConfig {
    /// Expands folders and decides which table each file holds: by the profile's file
    /// prefixes, else `<table>*.csv`, else FHIR for `.ndjson` / `.json`.
    pub fn plan_inputs(
        inputs: &[PathBuf],
        profile: Option<&SourceProfile>,
        contract: &Contract,
    ) -> Result<Vec<InputFile>> {
        let mut paths = Vec::new();
        for input in inputs {
            if input.is_dir() {
                paths.extend(folder_files(input)?);
            } else if input.is_file() {
                paths.push(input.clone());
            } else {
                return Err(Error::input(input, "does not exist"));
            }
        }
        let mut files = Vec::new();
        for path in paths {
            let name = path
                .file_name()
                .expect("only files are planned, and a file's path ends in its name")
                .to_string_lossy()
                .to_string();
            let lower = name.to_lowercase();
            let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
            let (table, format) = if let Some(t) = profile.and_then(|p| p.table_for(&name)) {
                (t.to_string(), InputFormat::CsvProfile)
            } else if ext.as_deref() == Some("ndjson") {
                (contract.events().name.clone(), InputFormat::FhirNdjson)
            } else if ext.as_deref() == Some("json") {
                (contract.events().name.clone(), InputFormat::FhirJson)
            } else if let Some(t) = contract
                .tables
                .iter()
                .filter(|t| lower.starts_with(&t.name))
                .max_by_key(|t| t.name.len())
            {
                (t.name.clone(), InputFormat::Csv)
            } else {
                let known: Vec<String> = contract
                    .tables
                    .iter()
                    .map(|t| format!("{}*.csv", t.name))
                    .collect();
                return Err(Error::input(
                    &path,
                    format!(
                        "cannot tell which table '{name}' holds: name it {}, give a profile whose \
                         file_prefixes match it, or use .ndjson/.json for FHIR AuditEvents",
                        known.join(", ")
                    ),
                ));
            };
            files.push(InputFile {
                path,
                table,
                format,
            });
        }
        if files.is_empty() {
            return Err(Error::Invalid("no input files found".into()));
        }
        Ok(files)
    }
}

/// The data files directly in `folder`, sorted. A folder inside it is refused rather than
/// skipped, so that ingest never reads less than it was given without saying so; hidden entries
/// (`.name`) and files of other kinds are left alone.
fn folder_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(|e| Error::io(folder, e))? {
        let path = entry.map_err(|e| Error::io(folder, e))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            return Err(Error::input(
                folder,
                format!(
                    "holds the folder '{}'; ingest reads the files directly in a folder: give that folder as an input of its own, or move it out",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
            ));
        }
        if path.is_file() && is_data_file(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn is_data_file(p: &Path) -> bool {
    let ext = p.extension().map(|e| e.to_string_lossy().to_lowercase());
    matches!(ext.as_deref(), Some("csv" | "txt" | "ndjson" | "json"))
}
