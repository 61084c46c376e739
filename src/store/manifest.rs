//! The store's manifest (`manifest.json`): settings, every ingest run and file, table files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "wmo-audit-store";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// Zone of the month partitions and of the calendar dates in the reference tables.
    pub time_zone: String,
    /// `bsn` or `local`: what client identifiers are.
    pub client_ids: String,
    /// Id of the key all pseudonyms were made with (never the key itself).
    pub key_id: String,
    pub runs: Vec<RunRecord>,
    /// Table name -> its files, relative to the store root.
    pub tables: BTreeMap<String, TableRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub run: u32,
    pub tool_version: String,
    /// Wall-clock time of the run (UTC); the only clock reading anywhere in the store.
    pub ingested_at: String,
    pub key_id: String,
    pub profile: Option<ProfileRecord>,
    pub files: Vec<FileRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProfileRecord {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// File name as given (not the full path, which may name a person's home folder).
    pub file: String,
    pub sha256: String,
    pub table: String,
    /// `csv`, `csv+profile`, `fhir-ndjson` or `fhir-json`.
    pub format: String,
    /// `ingested`, or `already-ingested` when a file with this sha256 was ingested before.
    pub status: String,
    pub rows_read: u64,
    /// Rows written (new rows plus new versions of rows with the same key).
    pub rows_stored: u64,
    /// Of `rows_stored`, how many replaced an earlier version (reference tables only).
    pub rows_replaced: u64,
    pub rows_quarantined: u64,
    /// Rows identical to one already stored or read before in this run.
    pub rows_duplicate: u64,
    pub local_times: TimeStats,
    pub ignored_columns: Vec<String>,
}

impl FileRecord {
    /// rows read = stored + quarantined + duplicates: nothing is lost.
    pub fn reconciles(&self) -> bool {
        self.rows_read == self.rows_stored + self.rows_quarantined + self.rows_duplicate
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TableRecord {
    pub rows: u64,
    pub files: Vec<String>,
}

impl Manifest {
    pub fn new(time_zone: &str, client_ids: &str, key_id: &str) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            time_zone: time_zone.into(),
            client_ids: client_ids.into(),
            key_id: key_id.into(),
            runs: Vec::new(),
            tables: BTreeMap::new(),
        }
    }

    /// The run that ingested a file with this sha256, if any.
    pub fn ingested_in(&self, sha256: &str) -> Option<u32> {
        self.runs
            .iter()
            .find(|r| {
                r.files
                    .iter()
                    .any(|f| f.sha256 == sha256 && f.status == "ingested")
            })
            .map(|r| r.run)
    }

    pub fn next_run(&self) -> u32 {
        self.runs.last().map_or(1, |r| r.run + 1)
    }
}

/// Counts of local times that needed the DST policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeStats {
    pub ambiguous: u64,
    pub shifted: u64,
}
