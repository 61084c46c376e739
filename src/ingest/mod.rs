//! The ingest run: input files in, validated and pseudonymised rows into the store (`run`).
//!
//! This file holds the run: its settings checked against the store, its state (`Run`),
//! opening and reading an input file (`Run::read_file`), the quarantine, the first accesses
//! and the commit. Its steps have files of their own: `inputs` plans the input files, `hashes`
//! hashes them, `reader` reads a file's rows on a pipeline of threads, `reference` reads the
//! reference tables, and `events` reads the event log by month (`months`) into part files
//! (`parts`).

mod events;
pub mod first_access;
mod hashes;
pub mod in_order;
mod inputs;
mod months;
mod parts;
pub mod read;
mod reader;
mod reference;
pub mod row_validator;
pub mod sha_key;
pub mod sha_key_table;
pub mod table_buffer;
pub mod value;

pub use inputs::{IngestConfig, InputFile, InputFormat, PART_ROWS};

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet, *};

use crate::error::{Error, Result};
use crate::ingest::first_access::{Firsts, Known};
use crate::ingest::hashes::InputHashes;
use crate::ingest::read::csv_input::CsvInput;
use crate::ingest::read::fhir_input::FhirInput;
use crate::ingest::read::hashing_read::ReadHash;
use crate::ingest::read::raw_row::RawRow;
use crate::ingest::read::source_profile::Encoding;
use crate::ingest::read::time_parser::TimeParser;
use crate::ingest::reader::{read_rows, Accept, Reader, ValidRow, CHECKERS};
use crate::ingest::row_validator::RowValidator;
use crate::ingest::table_buffer::TableBuffer;
use crate::ingest::value::Value;
use crate::phase_timings::PhaseTimings;
use crate::privacy::pseudonymiser::Pseudonymiser;
use crate::store::contract::{Contract, TableSpec};
use crate::store::manifest::{FileRecord, Manifest, ProfileRecord, RunRecord, TableRecord};
use crate::store::Store;

/// The values of a reference table's column, shared by the checks that look them up.
type KnownValues = Arc<HashSet<Value>>;

/// One quarantined row, for the terminal (the store keeps them all).
#[derive(Debug, Clone)]
pub struct QuarantineNote {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct IngestReport {
    pub run: u32,
    pub files: Vec<FileRecord>,
    pub quarantine: Vec<QuarantineNote>,
    /// Stored events whose account is not in the staff table.
    pub unknown_users: u64,
    /// Stored events whose client is not in the clients table.
    pub unknown_clients: u64,
    pub months: Vec<String>,
    /// How long each phase took (`ingest --timings`).
    pub timings: PhaseTimings,
}

impl IngestReport {
    pub fn totals(&self) -> FileRecord {
        let mut t = FileRecord::default();
        for f in &self.files {
            t.rows_read += f.rows_read;
            t.rows_stored += f.rows_stored;
            t.rows_replaced += f.rows_replaced;
            t.rows_quarantined += f.rows_quarantined;
            t.rows_duplicate += f.rows_duplicate;
            t.local_times.ambiguous += f.local_times.ambiguous;
            t.local_times.shifted += f.local_times.shifted;
        }
        t
    }
}

/// Runs an ingest. On any error nothing is committed and the store is as it was.
pub fn run(config: IngestConfig) -> Result<IngestReport> {
    let mut timings = PhaseTimings::start();
    let contract = Contract::load()?;
    let mut store = Store::open(&config.store, true)?;
    let mut manifest = match store.manifest() {
        Some(m) => {
            check_settings(m, &config)?;
            m.clone()
        }
        None => Manifest::new(
            config.time_zone.name(),
            config.client_ids.as_str(),
            config.key.id(),
        ),
    };
    let zone: Tz = manifest.time_zone.parse().map_err(|_| {
        Error::store(
            &config.store,
            format!("unknown time zone '{}'", manifest.time_zone),
        )
    })?;
    let run_no = manifest.next_run();

    // Every file is opened before any work: a missing or unreadable one stops the run here.
    for f in &config.files {
        std::fs::File::open(&f.path).map_err(|e| Error::io(&f.path, e))?;
    }
    let mut hashes = InputHashes::start(&config, &contract, manifest.runs.is_empty())?;
    timings.end("hashing the reference files");

    let mut ctx = Run::new(&contract, &config, zone, run_no);
    for table in &contract.tables {
        if table.is_events() && hashes.wait_for_events()? {
            timings.end("waiting for the event files' hashes");
        }
        let inputs = hashes.inputs_of(&table.name);
        if table.is_events() {
            ctx.events(table, &inputs, &mut store, &mut manifest)?;
        } else {
            ctx.reference(table, &inputs, &mut store, &mut manifest)?;
        }
        timings.end(&format!("table {}", table.name));
    }
    ctx.wait_for_table_writes()?;
    timings.end("waiting for the reference tables' files");
    ctx.stage_quarantine(&mut store, &mut manifest)?;
    manifest.runs.push(ctx.run_record());
    store.commit(&manifest)?;
    timings.end("quarantine and manifest");
    Ok(ctx.report(timings))
}

/// Refuses a run whose key, kind of client identifier or time zone differ from the store's.
fn check_settings(m: &Manifest, config: &IngestConfig) -> Result<()> {
    let err = |message: String| Error::store(&config.store, message);
    if m.key_id != config.key.id() {
        return Err(err(format!(
            "was made with key '{}', not with '{}': pseudonyms would not match; use the store's key",
            m.key_id,
            config.key.id()
        )));
    }
    if m.client_ids != config.client_ids.as_str() {
        return Err(err(format!(
            "identifies clients by '{}', this run by '{}'",
            m.client_ids,
            config.client_ids.as_str()
        )));
    }
    if m.time_zone != config.time_zone.name() {
        return Err(err(format!(
            "uses time zone '{}', this run '{}'",
            m.time_zone,
            config.time_zone.name()
        )));
    }
    Ok(())
}

/// The state of an ingest run, table after table.
struct Run<'a> {
    contract: &'a Contract,
    config: &'a IngestConfig,
    zone: Tz,
    run_no: u32,
    /// One per checker thread (each with its cache), kept from file to file.
    ps: Vec<Pseudonymiser>,
    quarantine: TableBuffer,
    /// Quarantine rows of a file being hashed as it is read, until its hash is known.
    unhashed_quarantine: Vec<[Value; 6]>,
    notes: Vec<QuarantineNote>,
    records: Vec<FileRecord>,
    /// The reference tables' files being written (`Run::reference`).
    table_writes: Vec<std::thread::JoinHandle<Result<()>>>,
    /// The values of the reference tables' columns that later tables refer to, or the events
    /// look up (`EVENTS_KNOWN`), by (table, column): all that is kept of a table once it is
    /// read (`Run::reference`).
    known: HashMap<(String, String), KnownValues>,
    unknown_users: u64,
    unknown_clients: u64,
    months: Vec<String>,
}

impl<'a> Run<'a> {
    fn new(contract: &'a Contract, config: &'a IngestConfig, zone: Tz, run_no: u32) -> Run<'a> {
        Run {
            contract,
            config,
            zone,
            run_no,
            ps: Vec::new(),
            quarantine: TableBuffer::with_columns(contract.quarantine.columns.clone()),
            unhashed_quarantine: Vec::new(),
            table_writes: Vec::new(),
            notes: Vec::new(),
            records: Vec::new(),
            known: HashMap::default(),
            unknown_users: 0,
            unknown_clients: 0,
            months: Vec::new(),
        }
    }

    /// The name of an input file, as the manifest records it.
    fn file_name(path: &Path) -> String {
        path.file_name()
            .expect("an input is a file (IngestConfig::plan_inputs), whose path ends in its name")
            .to_string_lossy()
            .to_string()
    }

    /// Opens a file and its matching parser. The profile's time settings apply to files read
    /// through it; canonical files get ISO 8601 only.
    fn open(
        &self,
        input: &InputFile,
        table: &TableSpec,
        hash: Option<ReadHash>,
    ) -> Result<(Reader, TimeParser, Vec<String>)> {
        let canonical = TimeParser::canonical(self.zone);
        Ok(match input.format {
            InputFormat::CsvProfile => {
                let p = self.config.profile.as_ref().expect(
                    "a file is planned as csv+profile only with the profile (IngestConfig::files)",
                );
                let r = CsvInput::open(
                    &input.path,
                    table,
                    p.tables.get(&table.name),
                    p.delimiter,
                    p.encoding,
                    hash,
                )?;
                let ignored = r.ignored_columns.clone();
                (Reader::Csv(r), p.time.clone(), ignored)
            }
            InputFormat::Csv => {
                let r = CsvInput::open(&input.path, table, None, b',', Encoding::Utf8, hash)?;
                let ignored = r.ignored_columns.clone();
                (Reader::Csv(r), canonical, ignored)
            }
            InputFormat::FhirNdjson | InputFormat::FhirJson => {
                assert!(
                    hash.is_none(),
                    "only CSV files are hashed as they are read (InputHashes)"
                );
                (
                    Reader::Fhir(FhirInput::open(&input.path, table)?),
                    canonical,
                    Vec::new(),
                )
            }
        })
    }

    /// A progress bar of the file's bytes, where asked for and standard error is a terminal.
    fn progress(&self, input: &InputFile) -> ProgressBar {
        use std::io::IsTerminal;
        if !self.config.progress || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let len = std::fs::metadata(&input.path).map(|m| m.len()).unwrap_or(0);
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:30!} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("the template is valid"),
        );
        bar.set_message(Self::file_name(&input.path));
        bar
    }

    /// Quarantines a row of `table` for `reason`: into the quarantine table (once its file's
    /// hash is known) and into the notes for the terminal.
    fn quarantine(
        &mut self,
        record: &mut FileRecord,
        table: &str,
        row: &RawRow,
        reason: String,
    ) -> Result<()> {
        let reason = shortened_quotes(reason);
        record.rows_quarantined += 1;
        let row_values = [
            Value::Str(record.file.as_str().into()),
            Value::Str(record.sha256.as_str().into()),
            Value::U64(row.line),
            Value::Str(table.into()),
            Value::Str(reason.as_str().into()),
            Value::Str(row.raw.render().into()),
        ];
        if record.sha256.is_empty() {
            // The file is hashed as it is read: its hash goes in once it is read.
            self.unhashed_quarantine.push(row_values);
        } else {
            self.quarantine.push(&row_values)?;
        }
        self.notes.push(QuarantineNote {
            file: record.file.clone(),
            line: row.line,
            reason,
        });
        Ok(())
    }

    /// The record of an input file of hash `sha`: `ingested`, or `already-ingested` where an
    /// earlier run ingested a file of that hash (the file is not read again).
    fn new_record(&self, input: &InputFile, sha: &str, manifest: &Manifest) -> FileRecord {
        let mut r = FileRecord {
            file: Self::file_name(&input.path),
            sha256: sha.to_string(),
            table: input.table.clone(),
            format: input.format.as_str().into(),
            status: "ingested".into(),
            ..FileRecord::default()
        };
        if let Some(run) = manifest.ingested_in(sha) {
            r.status = format!("already-ingested (run {run})");
        }
        r
    }

    /// Every row of the file that passes validation, to `accept`; the rest to the quarantine.
    /// The rows are read, validated, pseudonymised and tagged with `tag` on other threads
    /// (`reader::read_rows`); de-duplication, buffers and Parquet writes happen in `accept`.
    fn read_file<T: Send + Copy>(
        &mut self,
        input: &InputFile,
        table: &'a TableSpec,
        record: &mut FileRecord,
        tag: impl FnMut(&[Value]) -> T + Send + Clone,
        accept: &mut Accept<'_, Self, T>,
    ) -> Result<()> {
        // A file not hashed yet (`InputHashes`) is hashed as it is read.
        let hash = record.sha256.is_empty().then(ReadHash::default);
        let (reader, time, ignored) = self.open(input, table, hash.clone())?;
        record.ignored_columns = ignored;
        let validator = RowValidator::new(table, &time, self.config.client_ids);
        let bar = self.progress(input);
        let mut pss = std::mem::take(&mut self.ps);
        while pss.len() < CHECKERS {
            pss.push(Pseudonymiser::new(&self.config.key));
        }
        let read = read_rows(
            reader,
            table,
            &validator,
            &mut pss,
            &bar,
            tag,
            |raw, checked, ahead| {
                record.rows_read += 1;
                match checked {
                    Ok((values, key, tag)) => {
                        let row = ValidRow {
                            raw,
                            values,
                            key: *key,
                            tag: *tag,
                            ahead,
                        };
                        accept(self, record, row)
                    }
                    Err(reason) => {
                        let reason = std::mem::take(reason);
                        self.quarantine(record, &table.name, raw, reason)
                    }
                }
            },
        );
        self.ps = pss;
        let stats = read?;
        if let Some(hash) = hash {
            // Read to its end: the hash is the file's.
            record.sha256 = hash.hex();
            for mut row in std::mem::take(&mut self.unhashed_quarantine) {
                row[1] = Value::Str(record.sha256.as_str().into());
                self.quarantine.push(&row)?;
            }
        }
        bar.finish_and_clear();
        record.local_times = stats;
        Ok(())
    }

    /// Waits for the reference tables' files (`Run::reference`); a writer's panic goes on
    /// here.
    fn wait_for_table_writes(&mut self) -> Result<()> {
        for w in std::mem::take(&mut self.table_writes) {
            w.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        }
        Ok(())
    }

    /// Stages the run's quarantined rows as the quarantine's part of the run, if there are any.
    fn stage_quarantine(&mut self, store: &mut Store, manifest: &mut Manifest) -> Result<()> {
        if self.quarantine.is_empty() {
            return Ok(());
        }
        let rel = format!("quarantine/part-r{:06}.parquet", self.run_no);
        let mut df = self.quarantine.take_frame()?;
        store.stage(&rel, &mut df)?;
        let t = manifest.tables.entry("quarantine".into()).or_default();
        t.rows += df.height() as u64;
        t.files.push(rel);
        Ok(())
    }

    /// The manifest's record of the run.
    fn run_record(&self) -> RunRecord {
        RunRecord {
            run: self.run_no,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            ingested_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            key_id: self.config.key.id().into(),
            profile: self.config.profile.as_ref().map(|p| ProfileRecord {
                name: p.name.clone(),
                sha256: p.sha256.clone(),
            }),
            files: self.records.clone(),
        }
    }

    /// What the run did.
    fn report(self, timings: PhaseTimings) -> IngestReport {
        IngestReport {
            run: self.run_no,
            files: self.records,
            quarantine: self.notes,
            unknown_users: self.unknown_users,
            unknown_clients: self.unknown_clients,
            months: self.months,
            timings,
        }
    }

    /// The store's first accesses with their pair codes (none in a new store).
    fn stored_firsts(&self, store: &Store, manifest: &Manifest, known: &Known) -> Result<Firsts> {
        let spec = &self.contract.first_access;
        let mut firsts = Firsts::default();
        if !manifest.tables.contains_key(&spec.store) {
            return Ok(firsts);
        }
        let old = store.read(&spec.file(), None)?;
        let Ok(pair) = old.column("pair") else {
            return Err(Error::store(
                store.root(),
                "has a first_access table without pair codes (made by an older version); \
                 ingest into a new store",
            ));
        };
        let (p, u, c) = (
            pair.u32()?,
            old.column("user_id")?.str()?,
            old.column("client_pid")?.str()?,
        );
        let t = old.column("first_time")?.cast(&DataType::Int64)?;
        let t = t.i64()?;
        for i in 0..old.height() {
            let (Some(p), Some(u), Some(c), Some(t)) = (p.get(i), u.get(i), c.get(i), t.get(i))
            else {
                return Err(Error::store(
                    store.root(),
                    format!("has an incomplete first_access row {i}"),
                ));
            };
            if p != firsts.next_code() {
                return Err(Error::store(
                    store.root(),
                    format!(
                        "has first_access row {i} with pair code {p}; codes must count up from 0"
                    ),
                ));
            }
            let key = Firsts::pair_key(&Value::Str(u.into()), &Value::Str(c.into()));
            firsts.see(key, u, c, t, known)?;
        }
        Ok(firsts)
    }

    /// Writes the store's first accesses, this run's merged in, in the order of their codes.
    fn first_access(
        &mut self,
        firsts: Firsts,
        store: &mut Store,
        manifest: &mut Manifest,
    ) -> Result<()> {
        let spec = &self.contract.first_access;
        let file = spec.file();
        let rows = firsts.rows();
        let n = rows.len();
        let (mut users, mut clients, mut times) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (u, c, t) in rows {
            users.push(u);
            clients.push(c);
            times.push(t);
        }
        let mut df = DataFrame::new_infer_height(vec![
            Column::new("pair".into(), (0..n as u32).collect::<Vec<u32>>()),
            Column::new("user_id".into(), users),
            Column::new("client_pid".into(), clients),
            Column::new("first_time".into(), times).cast(&DataType::Datetime(
                TimeUnit::Microseconds,
                Some(polars::prelude::TimeZone::UTC),
            ))?,
        ])?;
        store.stage(&file, &mut df)?;
        manifest.tables.insert(
            spec.store.clone(),
            TableRecord {
                rows: n as u64,
                files: vec![file],
            },
        );
        Ok(())
    }
}

/// The longest value a quarantine reason quotes whole; a longer one (a 10 MB field) is quoted
/// by its start and its length, so that a message stays a line.
const QUOTED_AT_MOST: usize = 80;

/// `reason` with every value it quotes (`'...'`) longer than `QUOTED_AT_MOST` characters cut
/// to its start, with the value's length in bytes.
fn shortened_quotes(reason: String) -> String {
    let parts: Vec<&str> = reason.split('\'').collect();
    if parts
        .iter()
        .skip(1)
        .step_by(2)
        .all(|q| q.chars().count() <= QUOTED_AT_MOST)
    {
        return reason;
    }
    let mut out = String::with_capacity(QUOTED_AT_MOST * 4);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('\'');
        }
        if i % 2 == 1 && part.chars().count() > QUOTED_AT_MOST {
            out.extend(part.chars().take(QUOTED_AT_MOST));
            out.push_str(&format!("… ({} bytes)", part.len()));
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_quoted_value_is_cut_to_its_start_and_length() {
        let long = "x".repeat(10_000_000);
        let reason = shortened_quotes(format!("unknown action '{long}'; use one of 'C', 'R'"));
        assert!(reason.len() < 200, "{}", reason.len());
        assert!(reason.starts_with(&format!(
            "unknown action '{}… (10000000 bytes)'",
            "x".repeat(80)
        )));
        assert!(reason.ends_with("; use one of 'C', 'R'"));
        let short = "required field 'user_id' is empty".to_string();
        assert_eq!(shortened_quotes(short.clone()), short);
    }
}
