//! The ingest run: input files in, validated and pseudonymised rows into the store.

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

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet, *};

use crate::error::{Error, Result};
use crate::ingest::first_access::{Firsts, Known};
use crate::ingest::hashes::InputHashes;
use crate::ingest::months::{flush, load_keys, writer_stopped, Keys, Month};
use crate::ingest::parts::{write_parts, PartHandover};
use crate::ingest::read::csv_input::CsvInput;
use crate::ingest::read::fhir_input::FhirInput;
use crate::ingest::read::hashing_read::ReadHash;
use crate::ingest::read::raw_row::RawRow;
use crate::ingest::read::source_profile::Encoding;
use crate::ingest::read::time_parser::TimeParser;
use crate::ingest::reader::{read_rows, Accept, Reader, ValidRow, CHECKERS};
use crate::ingest::reference::EVENTS_KNOWN;
use crate::ingest::row_validator::RowValidator;
use crate::ingest::sha_key::ShaKey;
use crate::ingest::table_buffer::TableBuffer;
use crate::ingest::value::Value;
use crate::phase_timings::PhaseTimings;
use crate::privacy::pseudonymiser::Pseudonymiser;
use crate::store::contract::{Contract, TableSpec};
use crate::store::manifest::{FileRecord, Manifest, ProfileRecord, RunRecord, TableRecord};
use crate::store::{event_parts, Store};

const QUARTER_HOUR_MICROS: i64 = 15 * 60 * 1_000_000;
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
    /// The rows are read, validated, pseudonymised and tagged with `tag` on other threads
    /// (`reader::read_rows`); de-duplication, buffers and Parquet writes happen in `accept`.
    fn read_file<T: Send + Copy>(
        &mut self,
        input: &InputFile,
        table: &'a TableSpec,
        record: &mut FileRecord,
        tag: impl FnMut(&[Value]) -> std::result::Result<T, String> + Send + Clone,
        accept: &mut Accept<'_, Self, T>,
    ) -> Result<()> {
        // A file not hashed yet (`run`) is hashed as it is read.
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

    /// Waits for the reference tables' files (`Run::reference`).
    fn wait_for_table_writes(&mut self) -> Result<()> {
        for w in std::mem::take(&mut self.table_writes) {
            w.join()
                .map_err(|_| Error::Invalid("internal: a table writer failed".into()))??;
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
                    let accept: &mut Accept<'_, Self, EventTag> = &mut |run, record, row| {
                        let ValidRow {
                            raw,
                            values,
                            key: kh,
                            tag,
                            ahead,
                        } = row;
                        if let Some((next_kh, next)) = ahead {
                            firsts.prefetch(next.pair);
                            if let Some(keys) = seen.get(&next.month).and_then(|m| m.keys.as_ref())
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
                        let m = seen
                            .get_mut(&month)
                            .ok_or_else(|| Error::Invalid("internal: month keys missing".into()))?;
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
                        let keys = m
                            .keys
                            .as_mut()
                            .ok_or_else(|| Error::Invalid("internal: month keys missing".into()))?;
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
