//! The ingest run: input files in, validated and pseudonymised rows into the store.

pub mod first_access;
pub mod in_order;
mod inputs;
mod months;
mod parts;
pub mod read;
pub mod row_validator;
pub mod sha_key;
pub mod sha_key_table;
pub mod table_buffer;
pub mod value;

pub use inputs::{IngestConfig, InputFile, InputFormat, PART_ROWS};

use std::collections::BTreeMap;

use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::evidence::background_hashes::BackgroundHashes;
use crate::evidence::hash_file;
use crate::ingest::first_access::{Firsts, Known};
use crate::ingest::in_order::InOrder;
use crate::ingest::months::{flush, load_keys, writer_stopped, Keys, Month};
use crate::ingest::parts::{sort_by_key, write_parts, PartHandover};
use crate::ingest::read::csv_input::CsvInput;
use crate::ingest::read::fhir_input::FhirInput;
use crate::ingest::read::hashing_read::ReadHash;
use crate::ingest::read::raw_row::RawRow;
use crate::ingest::read::source_profile::Encoding;
use crate::ingest::read::time_parser::TimeParser;
use crate::ingest::row_validator::RowValidator;
use crate::ingest::sha_key::ShaKey;
use crate::ingest::table_buffer::{frame_rows, TableBuffer};
use crate::ingest::value::{key_hash, Value};
use crate::phase_timings::PhaseTimings;
use crate::privacy::pseudonymiser::Pseudonymiser;
use crate::store::contract::{ColumnSpec, Contract, TableSpec};
use crate::store::manifest::TimeStats;
use crate::store::manifest::{FileRecord, Manifest, ProfileRecord, RunRecord, TableRecord};
use crate::store::{event_parts, write_file, Store};

/// Threads that validate and pseudonymise rows (`Run::read_file`).
const CHECKERS: usize = 2;
const QUARTER_HOUR_MICROS: i64 = 15 * 60 * 1_000_000;
/// How many rows ahead the checkers and the run's own thread ask for what a row will look up
/// (`RowValidator::prefetch`, `Ahead`): at 100M events the tables are far larger than the
/// processor's caches, and a read from memory takes about as long as handling a few rows.
const LOOK_AHEAD: usize = 8;
/// The values of a reference table's column, shared by the checks that look them up.
type KnownValues = Arc<HashSet<Value>>;
/// The reference columns the events are checked against (`Known`): (table, column).
const EVENTS_KNOWN: [(&str, &str); 2] = [("staff", "user_id"), ("clients", "client_id")];

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
    // The reference files are hashed now; the event files, by far the largest, on a thread of
    // their own while the reference tables are read (which leave a core mostly idle). Their
    // hashes are waited for before the events, which need them (`Run::new_record`).
    // Into a new store, where no file can have been ingested before, event files in CSV are
    // hashed as they are read (`Run::read_file`), so that they are read once.
    let is_events = |f: &InputFile| contract.table(&f.table).is_some_and(TableSpec::is_events);
    let new_store = manifest.runs.is_empty();
    let when_read =
        |f: &InputFile| new_store && matches!(f.format, InputFormat::Csv | InputFormat::CsvProfile);
    let in_background = |f: &InputFile| is_events(f) && !when_read(f);
    let mut hashes = Vec::with_capacity(config.files.len());
    for f in &config.files {
        hashes.push(if is_events(f) {
            String::new()
        } else {
            hash_file(&f.path, "")?.sha256
        });
    }
    let mut event_hashes = Some(BackgroundHashes::start(
        config
            .files
            .iter()
            .filter(|f| in_background(f))
            .map(|f| (f.path.clone(), String::new()))
            .collect(),
    ));
    timings.end("hashing the reference files");

    let mut ctx = Run {
        contract: &contract,
        config: &config,
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
    };
    for table in &contract.tables {
        if table.is_events() {
            if let Some(background) = event_hashes.take() {
                let mut done = background.wait()?.into_iter();
                for (f, h) in config.files.iter().zip(hashes.iter_mut()) {
                    if in_background(f) {
                        *h = done
                            .next()
                            .ok_or_else(|| Error::Invalid("internal: a hash missing".into()))?
                            .sha256;
                    }
                }
                timings.end("waiting for the event files' hashes");
            }
        }
        let inputs: Vec<(&InputFile, &String)> = config
            .files
            .iter()
            .zip(&hashes)
            .filter(|(f, _)| f.table == table.name)
            .collect();
        if table.is_events() {
            ctx.events(table, &inputs, &mut store, &mut manifest)?;
        } else {
            ctx.reference(table, &inputs, &mut store, &mut manifest)?;
        }
        timings.end(&format!("table {}", table.name));
    }

    for w in std::mem::take(&mut ctx.table_writes) {
        w.join()
            .map_err(|_| Error::Invalid("internal: a table writer failed".into()))??;
    }
    timings.end("waiting for the reference tables' files");
    if !ctx.quarantine.is_empty() {
        let rel = format!("quarantine/part-r{run_no:06}.parquet");
        let mut df = ctx.quarantine.take_frame()?;
        store.stage(&rel, &mut df)?;
        let t = manifest.tables.entry("quarantine".into()).or_default();
        t.rows += df.height() as u64;
        t.files.push(rel);
    }
    manifest.runs.push(RunRecord {
        run: run_no,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        ingested_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        key_id: config.key.id().into(),
        profile: config.profile.as_ref().map(|p| ProfileRecord {
            name: p.name.clone(),
            sha256: p.sha256.clone(),
        }),
        files: ctx.records.clone(),
    });
    store.commit(&manifest)?;
    timings.end("quarantine and manifest");
    Ok(IngestReport {
        run: run_no,
        files: ctx.records,
        quarantine: ctx.notes,
        unknown_users: ctx.unknown_users,
        unknown_clients: ctx.unknown_clients,
        months: ctx.months,
        timings,
    })
}

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

/// What `Run::read_file` hands every valid row to: its values (to take or to read), the hash
/// of its key (`key_hash`) and the tag the checker thread worked out for it.
type Accept<'c, R, T> = dyn FnMut(&mut R, &mut FileRecord, &RawRow, &mut Vec<Value>, u128, T, Ahead<T>) -> Result<()>
    + 'c;

/// The key hash and tag of a valid row a few rows on, if there is one: what `Accept` will look
/// up then, which it may ask the processor to fetch now.
type Ahead<T> = Option<(u128, T)>;

/// A valid row's values with its key hash and tag, or the reason it is not valid.
type Checked<T> = (RawRow, std::result::Result<(Vec<Value>, u128, T), String>);

/// A reader over either input kind.
enum Reader {
    Csv(CsvInput),
    Fhir(FhirInput),
}

impl Reader {
    fn next_row(&mut self) -> Result<Option<RawRow>> {
        match self {
            Reader::Csv(r) => r.next_row(),
            Reader::Fhir(r) => r.next_row(),
        }
    }

    /// Takes back a row that is done with (a CSV reader reads a later row into it).
    fn recycle(&mut self, row: RawRow) {
        if let Reader::Csv(r) = self {
            r.recycle(row);
        }
    }

    fn position(&self) -> Option<u64> {
        match self {
            Reader::Csv(r) => Some(r.position()),
            Reader::Fhir(_) => None,
        }
    }
}

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
    fn file_name(path: &Path) -> String {
        path.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
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
                let p = self.config.profile.as_ref().ok_or_else(|| {
                    Error::Invalid("internal: profile format without a profile".into())
                })?;
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
            InputFormat::FhirNdjson | InputFormat::FhirJson if hash.is_some() => {
                return Err(Error::Invalid(
                    "internal: a FHIR file is hashed before it is read".into(),
                ))
            }
            InputFormat::FhirNdjson | InputFormat::FhirJson => (
                Reader::Fhir(FhirInput::open(&input.path, table)?),
                canonical,
                Vec::new(),
            ),
        })
    }

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
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(Self::file_name(&input.path));
        bar
    }

    fn quarantine(
        &mut self,
        record: &mut FileRecord,
        table: &str,
        row: &RawRow,
        reason: String,
    ) -> Result<()> {
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
    ///
    /// A pipeline, so that both cores work: one thread reads rows in batches; `CHECKERS`
    /// threads validate and pseudonymise batches and tag each valid row with `tag` (work that
    /// needs no state of the run); this thread takes the batches back in file order and hands
    /// the rows on (de-duplication, buffers and Parquet writes happen in `accept`). Handed
    /// batches go back to the reading thread, which reads later rows into them.
    fn read_file<T: Send + Copy>(
        &mut self,
        input: &InputFile,
        table: &'a TableSpec,
        record: &mut FileRecord,
        tag: impl FnMut(&[Value]) -> std::result::Result<T, String> + Send + Clone,
        accept: &mut Accept<'_, Self, T>,
    ) -> Result<()> {
        use std::sync::mpsc::{channel, sync_channel};
        const BATCH: usize = 1024;
        // A file not hashed yet (`run`) is hashed as it is read.
        let hash = record.sha256.is_empty().then(ReadHash::default);
        let (mut reader, time, ignored) = self.open(input, table, hash.clone())?;
        record.ignored_columns = ignored;
        let client_ids = self.config.client_ids;
        let bar = self.progress(input);
        let mut pss = std::mem::take(&mut self.ps);
        while pss.len() < CHECKERS {
            pss.push(Pseudonymiser::new(&self.config.key));
        }
        let key_idx = table.key_indices();
        let (stats, handed) = std::thread::scope(|s| {
            let (raw_tx, raw_rx) = sync_channel::<(u64, Result<Vec<RawRow>>)>(4 * CHECKERS);
            // Shared by the checkers; gone when the last one stops, which stops the reader.
            let raw_rx = std::sync::Arc::new(std::sync::Mutex::new(raw_rx));
            let (tx, rx) = sync_channel::<(u64, Result<Vec<Checked<T>>>)>(4 * CHECKERS);
            let (back_tx, back_rx) = channel::<Vec<Checked<T>>>();
            let (bar, time, key_idx) = (&bar, &time, &key_idx);
            s.spawn(move || {
                let mut seq = 0u64;
                let mut batch = Vec::with_capacity(BATCH);
                let mut read = 0u64;
                loop {
                    let row = match reader.next_row() {
                        Ok(Some(row)) => row,
                        Ok(None) => break,
                        Err(e) => {
                            let _ = raw_tx.send((seq, Err(e)));
                            return;
                        }
                    };
                    read += 1;
                    if read.is_multiple_of(8192) {
                        if let Some(p) = reader.position() {
                            bar.set_position(p);
                        }
                    }
                    batch.push(row);
                    if batch.len() == BATCH {
                        // Handed batches come back here, where their rows were made: to be
                        // read into again.
                        while let Ok(back) = back_rx.try_recv() {
                            for (row, _) in back {
                                reader.recycle(row);
                            }
                        }
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if raw_tx.send((seq, Ok(full))).is_err() {
                            // The checkers stopped: the other side stopped on an error.
                            return;
                        }
                        seq += 1;
                    }
                }
                if !batch.is_empty() {
                    let _ = raw_tx.send((seq, Ok(batch)));
                }
            });
            let checkers: Vec<_> = pss
                .iter_mut()
                .map(|ps| {
                    let (tx, mut tag, raw_rx) = (tx.clone(), tag.clone(), raw_rx.clone());
                    s.spawn(move || {
                        let mut stats = TimeStats::default();
                        let validator = RowValidator::new(table, time, client_ids);
                        loop {
                            let next = match raw_rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => break,
                            };
                            let Ok((seq, rows)) = next else { break };
                            let checked = rows.map(|mut rows| {
                                // Each row's cache look-ups (`RowValidator::prefetch`) are
                                // started `LOOK_AHEAD` rows early.
                                for row in rows.iter().take(LOOK_AHEAD) {
                                    validator.prefetch(&row.fields, ps);
                                }
                                let results: Vec<_> = (0..rows.len())
                                    .map(|i| {
                                        if let Some(later) = rows.get(i + LOOK_AHEAD) {
                                            validator.prefetch(&later.fields, ps);
                                        }
                                        let row = &mut rows[i];
                                        match row.problem.clone() {
                                            Some(problem) => Err(problem),
                                            None => validator
                                                .validate(&row.fields, ps, &mut stats)
                                                .and_then(|v| {
                                                    let kh =
                                                        key_hash(key_idx.iter().map(|&k| &v[k]));
                                                    let t = tag(&v)?;
                                                    Ok((v, kh, t))
                                                }),
                                        }
                                    })
                                    .collect();
                                rows.into_iter().zip(results).collect::<Vec<_>>()
                            });
                            if tx.send((seq, checked)).is_err() {
                                break;
                            }
                        }
                        stats
                    })
                })
                .collect();
            drop((tx, raw_rx));
            let handed = (|| -> Result<()> {
                // Batches come back in any order; they are handed on in the file's.
                let mut in_order = InOrder::default();
                let mut ready = Vec::new();
                for (seq, batch) in rx {
                    in_order.put(seq, batch, &mut ready);
                    for batch in ready.drain(..) {
                        let mut batch = batch?;
                        for i in 0..batch.len() {
                            // The key and tag of the valid row `LOOK_AHEAD` rows on, so that
                            // `accept` can start its look-ups.
                            let ahead = match batch.get(i + LOOK_AHEAD) {
                                Some((_, Ok((_, kh, t)))) => Some((*kh, *t)),
                                _ => None,
                            };
                            let (row, checked) = &mut batch[i];
                            record.rows_read += 1;
                            match checked {
                                Ok((values, kh, t)) => {
                                    accept(self, record, row, values, *kh, *t, ahead)?
                                }
                                Err(reason) => {
                                    let reason = std::mem::take(reason);
                                    self.quarantine(record, &table.name, row, reason)?
                                }
                            }
                        }
                        // The reading thread may have stopped: then the batch is freed here.
                        let _ = back_tx.send(batch);
                    }
                }
                Ok(())
            })();
            // Joining after the receiver is gone: checkers blocked on a full channel stop.
            drop(back_tx);
            let mut stats = TimeStats::default();
            let mut failed = false;
            for c in checkers {
                match c.join() {
                    Ok(s) => {
                        stats.ambiguous += s.ambiguous;
                        stats.shifted += s.shifted;
                    }
                    Err(_) => failed = true,
                }
            }
            (if failed { Err(()) } else { Ok(stats) }, handed)
        });
        self.ps = pss;
        handed?;
        let stats = stats.map_err(|_| Error::Invalid("internal: a row checker failed".into()))?;
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

    /// A reference table: merged by key with what the store holds (a new version of a row
    /// replaces the old one), references to other tables checked, rewritten whole.
    ///
    /// Rows go into a columnar buffer as they come; a row replaced later is only marked dead.
    /// (At 100M events the reference data is millions of rows: as a vector of values each,
    /// several times the memory.)
    fn reference(
        &mut self,
        table: &'a TableSpec,
        inputs: &[(&InputFile, &String)],
        store: &mut Store,
        manifest: &mut Manifest,
    ) -> Result<()> {
        let rel = format!("{}.parquet", table.store);
        let specs: Vec<_> = table.columns.iter().chain(&table.added).cloned().collect();
        let key_idx = table.key_indices();
        let digest_idx = table.columns.len();
        // The stored rows, then this run's, by number: their digests, whether each is current,
        // and the current row of each key.
        let stored = match manifest.tables.get(&table.store) {
            Some(_) => Some(store.read(&rel, None)?),
            None => None,
        };
        let mut digests: Vec<u64> = Vec::new();
        let mut index: HashMap<u128, usize> = HashMap::default();
        if let Some(df) = &stored {
            let key_specs: Vec<ColumnSpec> = key_idx
                .iter()
                .chain([&digest_idx])
                .map(|&k| specs[k].clone())
                .collect();
            for (i, r) in frame_rows(df, &key_specs)?.iter().enumerate() {
                let Some((Value::U64(d), key)) = r.split_last() else {
                    return Err(Error::store(
                        store.root(),
                        format!("has a {rel} row {i} without a digest"),
                    ));
                };
                index.insert(key_hash(key), i);
                digests.push(*d);
            }
        }
        let mut current = vec![true; digests.len()];
        let mut added = TableBuffer::new(table);
        let checks = self.reference_checks(table)?;
        let mut changed = false;
        for (input, sha) in inputs {
            let mut record = self.new_record(input, sha, manifest);
            if record.status == "ingested" {
                let accept: &mut Accept<'_, Self, ()> =
                    &mut |run, record, raw, values, kh, (), _| {
                        for (col, target, known) in &checks {
                            if !known.contains(&values[*col]) {
                                let shown = match &values[*col] {
                                    Value::Str(s) if table.columns[*col].stored_as.is_none() => {
                                        format!(" '{s}'")
                                    }
                                    _ => " (value withheld)".into(),
                                };
                                let reason = format!(
                                "{}{shown} is not in {target}: a reference to something the store does not know",
                                table.columns[*col].name
                            );
                                return run.quarantine(record, &table.name, raw, reason);
                            }
                        }
                        let Value::U64(d) = values[digest_idx] else {
                            return Err(Error::Invalid("internal: digest missing".into()));
                        };
                        match index.get(&kh) {
                            Some(&i) if digests[i] == d => {
                                record.rows_duplicate += 1;
                                return Ok(());
                            }
                            Some(&i) => {
                                current[i] = false;
                                record.rows_replaced += 1;
                            }
                            None => {}
                        }
                        index.insert(kh, digests.len());
                        digests.push(d);
                        current.push(true);
                        added.push(values)?;
                        record.rows_stored += 1;
                        Ok(())
                    };
                self.read_file(input, table, &mut record, |_| Ok(()), accept)?;
            }
            changed |= record.rows_stored > 0;
            self.records.push(record);
        }
        // The current rows: the stored ones not replaced, and this run's.
        let mut df = added.take_frame()?;
        if let Some(old) = stored {
            df = old.vstack(&df)?;
        }
        if current.contains(&false) {
            df = df.filter(&BooleanChunked::from_slice("current".into(), &current))?;
        }
        for column in self.referred_columns(table) {
            let i = table.require(column)?;
            let values: HashSet<Value> = frame_rows(&df, &specs[i..=i])?
                .into_iter()
                .flatten()
                .collect();
            self.known
                .insert((table.name.clone(), column.into()), Arc::new(values));
        }
        // The table is sorted, written and synced, and let go of (at 100M events, millions of
        // rows), on a thread of its own while the next tables are read; `run` waits for it
        // before the commit.
        let write = if changed {
            manifest.tables.insert(
                table.store.clone(),
                TableRecord {
                    rows: df.height() as u64,
                    files: vec![rel.clone()],
                },
            );
            Some(store.stage_path(&rel)?)
        } else {
            None
        };
        let key_names: Vec<PlSmallStr> = key_idx
            .iter()
            .map(|&k| specs[k].store_name().into())
            .collect();
        self.table_writes.push(std::thread::spawn(move || {
            drop((index, digests, current));
            let Some(path) = write else {
                return Ok(());
            };
            write_file(&path, &mut sort_by_key(&df, &key_names)?)
        }));
        Ok(())
    }

    /// The columns of reference table `table` that later tables refer to or the events look
    /// up.
    fn referred_columns(&self, table: &TableSpec) -> Vec<&'a str> {
        let mut columns: Vec<&str> = self
            .contract
            .tables
            .iter()
            .flat_map(|t| &t.references)
            .filter(|r| r.table == table.name)
            .map(|r| r.key.as_str())
            .chain(
                EVENTS_KNOWN
                    .iter()
                    .filter(|(t, _)| *t == table.name)
                    .map(|(_, c)| *c),
            )
            .collect();
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// For each reference of the table: its column, the target's name, and the known keys.
    fn reference_checks(&self, table: &TableSpec) -> Result<Vec<(usize, String, KnownValues)>> {
        let mut checks = Vec::new();
        for r in &table.references {
            let target = self
                .contract
                .table(&r.table)
                .ok_or_else(|| Error::Invalid(format!("internal: unknown table '{}'", r.table)))?;
            target.require(&r.key)?;
            let known = self.known(&r.table, &r.key)?;
            checks.push((table.require(&r.column)?, r.table.clone(), known));
        }
        Ok(checks)
    }

    /// The values of `column` over the current rows of reference table `table`.
    fn known(&self, table: &str, column: &str) -> Result<KnownValues> {
        let spec = self
            .contract
            .table(table)
            .ok_or_else(|| Error::Invalid(format!("internal: unknown table '{table}'")))?;
        spec.require(column)?;
        self.known
            .get(&(table.to_string(), column.to_string()))
            .cloned()
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "internal: the values of {table}.{column} were not kept"
                ))
            })
    }

    /// The access log: de-duplicated by (source, event_id) against the month partitions it
    /// touches, written as new part files; existing parts are never rewritten.
    fn events(
        &mut self,
        table: &'a TableSpec,
        inputs: &[(&InputFile, &String)],
        store: &mut Store,
        manifest: &mut Manifest,
    ) -> Result<()> {
        let time_idx = table.require("event_time")?;
        let user_idx = table.require("user_id")?;
        let client_idx = table.require("client_id")?;
        let key_idx = table.key_indices();
        let key_names: Vec<&str> = key_idx
            .iter()
            .map(|&k| table.columns[k].store_name())
            .collect();
        let digest_idx = table.columns.len();
        let [users, clients] = EVENTS_KNOWN;
        let known = Known {
            users: self.known(users.0, users.1)?,
            clients: self.known(clients.0, clients.1)?,
        };
        let zone = self.zone;
        let run_no = self.run_no;
        let part_rows = self.config.part_rows.max(1);

        // Part files are sorted and written on a thread of their own, one at a time, while
        // the next rows are read. The hand-over waits for the writer to be free, so that memory
        // holds at most the part being written besides the buffers. Handing over `None` waits
        // until every part handed over before is written.
        let (new_parts, firsts, stored) = std::thread::scope(|s| -> Result<_> {
            let (parts, part_rx) = std::sync::mpsc::sync_channel::<PartHandover>(0);
            let writer = s.spawn(move || write_parts(part_rx));
            let read = (|| -> Result<_> {
                // By month (`EventTag::month`): its keys, and its buffer.
                let mut seen: HashMap<i32, Month> = HashMap::default();
                let mut buffers: BTreeMap<i32, TableBuffer> = BTreeMap::new();
                // A month's keys let go of, emptied, kept for the next month: at 100M events
                // a month's table is hundreds of MB.
                let mut spare_keys: Option<Keys> = None;
                // Events handed to `accept`, the clock of `Month::last`.
                let mut clock = 0u64;
                // (user, client) -> code and earliest time, of the store and of this run.
                let mut firsts = self.stored_firsts(store, manifest, &known)?;
                let mut stored = 0u64;
                let mut new_parts: Vec<(String, String)> = Vec::new();
                let mut buffered = 0usize;

                for (input, sha) in inputs {
                    let mut record = self.new_record(input, sha, manifest);
                    if record.status != "ingested" {
                        self.records.push(record);
                        continue;
                    }
                    // On the checker threads: the local month.
                    let mut month_of: (Option<i64>, i32) = (None, 0);
                    let tag = move |values: &[Value]| {
                        let Value::Timestamp(t) = values[time_idx] else {
                            return Err("internal: event_time is not a timestamp".to_string());
                        };
                        // Present-day UTC offsets are multiples of 15 minutes, so one quarter hour
                        // lies in one local month: the month is worked out once per quarter.
                        let quarter = t.div_euclid(QUARTER_HOUR_MICROS);
                        if month_of.0 != Some(quarter) {
                            let local = local_time(t, zone)?;
                            month_of = (Some(quarter), local.year() * 12 + local.month0() as i32);
                        }
                        let pair = match (&values[user_idx], &values[client_idx]) {
                            (u @ Value::Str(_), c @ Value::Str(_)) => Firsts::pair_key(u, c),
                            _ => 0,
                        };
                        Ok(EventTag {
                            month: month_of.1,
                            pair,
                        })
                    };
                    let accept: &mut Accept<'_, Self, EventTag> =
                        &mut |run, record, raw, values, kh, tag, ahead| {
                            if let Some((next_kh, next)) = ahead {
                                firsts.prefetch(next.pair);
                                if let Some(keys) =
                                    seen.get(&next.month).and_then(|m| m.keys.as_ref())
                                {
                                    keys.prefetch(ShaKey::new(next_kh));
                                }
                            }
                            let Value::Timestamp(t) = values[time_idx] else {
                                return Err(Error::Invalid(
                                    "internal: event_time is not a timestamp".into(),
                                ));
                            };
                            let month = tag.month;
                            clock += 1;
                            if !seen.contains_key(&month) {
                                let name = local_time(t, zone)
                                    .map_err(Error::Invalid)?
                                    .format("%Y-%m")
                                    .to_string();
                                seen.insert(
                                    month,
                                    Month {
                                        name,
                                        keys: None,
                                        last: 0,
                                    },
                                );
                            }
                            let m = seen.get_mut(&month).ok_or_else(|| {
                                Error::Invalid("internal: month keys missing".into())
                            })?;
                            m.last = clock;
                            if m.keys.is_none() {
                                // This run's parts of the month too, once they are on disk.
                                let staged: Vec<&str> = new_parts
                                    .iter()
                                    .filter(|(name, _)| *name == m.name)
                                    .map(|(_, rel)| rel.as_str())
                                    .collect();
                                if !staged.is_empty() {
                                    parts.send(None).map_err(|_| writer_stopped())?;
                                }
                                m.keys = Some(load_keys(
                                    spare_keys.take().unwrap_or_default(),
                                    store,
                                    &event_parts(manifest, &m.name),
                                    &staged,
                                    &key_names,
                                )?);
                            }
                            let keys = m.keys.as_mut().ok_or_else(|| {
                                Error::Invalid("internal: month keys missing".into())
                            })?;
                            let Value::U64(d) = values[digest_idx] else {
                                return Err(Error::Invalid("internal: digest missing".into()));
                            };
                            let key = ShaKey::new(kh);
                            match keys.get(key) {
                                Some(&old) if old == d => record.rows_duplicate += 1,
                                Some(_) => {
                                    let reason = format!(
                                    "event '{}' from source '{}' is already stored with different content; \
                                     a source must not reuse an event id",
                                    values[key_idx[1]].as_str().unwrap_or(""),
                                    values[key_idx[0]].as_str().unwrap_or("")
                                );
                                    run.quarantine(record, &table.name, raw, reason)?;
                                }
                                None => {
                                    keys.insert(key, d);
                                    let (pair, known_user, known_client) =
                                        match (&values[user_idx], &values[client_idx]) {
                                            (Value::Str(u), Value::Str(c)) => {
                                                let p = firsts.see(tag.pair, u, c, t, &known)?;
                                                (Value::U32(p.code), p.known_user, p.known_client)
                                            }
                                            (u, c) => (
                                                Value::Null,
                                                known.user(u.as_str()),
                                                known.client(c.as_str()),
                                            ),
                                        };
                                    values.push(pair);
                                    run.unknown_users += u64::from(!known_user);
                                    run.unknown_clients += u64::from(!known_client);
                                    let buf = buffers
                                        .entry(month)
                                        .or_insert_with(|| TableBuffer::new(table));
                                    buf.push(values)?;
                                    record.rows_stored += 1;
                                    stored += 1;
                                    buffered += 1;
                                    // Memory holds at most `part_rows` events. Months not seen
                                    // for that long go to disk and let go of their keys; then,
                                    // if need be, the fullest month goes to disk.
                                    if buffered >= part_rows {
                                        for (mo, m) in seen.iter_mut() {
                                            if *mo == month
                                                || m.keys.is_none()
                                                || clock - m.last < part_rows as u64
                                            {
                                                continue;
                                            }
                                            if let Some(mut keys) = m.keys.take() {
                                                keys.clear();
                                                spare_keys = Some(keys);
                                            }
                                            let Some(buf) = buffers.get_mut(mo) else {
                                                continue;
                                            };
                                            if !buf.is_empty() {
                                                buffered -= buf.len();
                                                flush(
                                                    store,
                                                    buf,
                                                    &m.name,
                                                    run_no,
                                                    &mut new_parts,
                                                    &parts,
                                                )?;
                                            }
                                        }
                                    }
                                    if buffered >= part_rows {
                                        if let Some((month, buf)) =
                                            buffers.iter_mut().max_by_key(|(_, b)| b.len())
                                        {
                                            buffered -= buf.len();
                                            flush(
                                                store,
                                                buf,
                                                &seen[month].name,
                                                run_no,
                                                &mut new_parts,
                                                &parts,
                                            )?;
                                        }
                                    }
                                }
                            }
                            Ok(())
                        };
                    self.read_file(input, table, &mut record, tag, accept)?;
                    self.records.push(record);
                }
                for (month, buf) in buffers.iter_mut() {
                    if !buf.is_empty() {
                        flush(
                            store,
                            buf,
                            &seen[month].name,
                            run_no,
                            &mut new_parts,
                            &parts,
                        )?;
                    }
                }
                Ok((new_parts, firsts, stored))
            })();
            drop(parts);
            // The writer's error first: a failed hand-over is its consequence.
            writer
                .join()
                .map_err(|_| Error::Invalid("internal: the part writer failed".into()))??;
            read
        })?;
        let t = manifest.tables.entry(table.store.clone()).or_default();
        for (month, part) in &new_parts {
            t.files.push(part.clone());
            if !self.months.contains(month) {
                self.months.push(month.clone());
            }
        }
        t.files.sort();
        t.rows += self
            .records
            .iter()
            .filter(|r| r.table == table.name)
            .map(|r| r.rows_stored)
            .sum::<u64>();
        self.months.sort();
        if stored > 0 {
            self.first_access(firsts, store, manifest)?;
        }
        Ok(())
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
        let rows = firsts.rows()?;
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

/// What the checker threads work out for each valid event.
#[derive(Debug, Clone, Copy)]
struct EventTag {
    /// The local month, as year * 12 + month - 1 (ordered as the months' names are).
    month: i32,
    /// `Firsts::pair_key` of (user, client), when both are given.
    pair: u128,
}

/// The local time of `t` (microseconds since the epoch) in `zone`.
fn local_time(t: i64, zone: Tz) -> std::result::Result<chrono::DateTime<Tz>, String> {
    Utc.timestamp_micros(t)
        .single()
        .map(|u| u.with_timezone(&zone))
        .ok_or_else(|| format!("internal: time {t} out of range"))
}
