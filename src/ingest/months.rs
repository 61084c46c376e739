//! The months the events are stored by, as the run holds them (`Months`): each month's
//! buffered events, and its de-duplication keys, read from its part files (`load_keys`) and
//! let go of while the month goes unseen; and the hand-over of a month's events to the part
//! writer as a part (`flush`).

use std::collections::BTreeMap;
use std::sync::mpsc::SyncSender;

use polars::prelude::{PlHashMap as HashMap, *};

use crate::error::{Error, Result};
use crate::ingest::parts::PartHandover;
use crate::ingest::sha_key::ShaKey;
use crate::ingest::sha_key_table::ShaKeyTable;
use crate::ingest::table_buffer::TableBuffer;
use crate::ingest::value::{key_hash, Value};
use crate::store::contract::TableSpec;
use crate::store::manifest::Manifest;
use crate::store::{event_parts, Store};

/// Digests of events by the 128-bit hash of their (source, event_id). A month of a national
/// log holds millions.
pub(super) type Keys = ShaKeyTable<u64>;

/// A month the run has events of.
struct Month {
    /// As in the partition name: `2026-03`.
    name: String,
    /// Digests by key hash of the events the month holds; `None` once let go.
    keys: Option<Keys>,
    /// When an event of the month was last seen (`Months::clock`).
    last: u64,
}

/// The months the run has events of, by number (`EventTag::month`: ordered as their names
/// are), with their buffered events.
///
/// Memory holds at most `part_rows` events: months not seen for that long go to disk and let
/// go of their keys; then, if need be, the fullest month goes to disk (`push`).
pub(super) struct Months<'t> {
    table: &'t TableSpec,
    /// The store names of the events' key columns.
    key_names: Vec<&'t str>,
    run: u32,
    /// `IngestConfig::part_rows`, at least 1.
    part_rows: usize,
    seen: HashMap<i32, Month>,
    buffers: BTreeMap<i32, TableBuffer>,
    /// Events in `buffers`.
    buffered: usize,
    /// A month's keys let go of, emptied, kept for the next month: at 100M events a month's
    /// table is hundreds of MB.
    spare_keys: Option<Keys>,
    /// Events looked up (`keys`): the clock of `Month::last`.
    clock: u64,
    /// The parts handed to the writer: (month, part file).
    new_parts: Vec<(String, String)>,
    /// The hand-over to the part writer.
    parts: SyncSender<PartHandover>,
}

impl<'t> Months<'t> {
    /// No months yet, of the events table `table`; run `run` hands its parts to `parts`.
    pub(super) fn new(
        table: &'t TableSpec,
        run: u32,
        part_rows: usize,
        parts: SyncSender<PartHandover>,
    ) -> Months<'t> {
        Months {
            table,
            key_names: table
                .key_indices()
                .iter()
                .map(|&k| table.columns[k].store_name())
                .collect(),
            run,
            part_rows,
            seen: HashMap::default(),
            buffers: BTreeMap::new(),
            buffered: 0,
            spare_keys: None,
            clock: 0,
            new_parts: Vec::new(),
            parts,
        }
    }

    /// Asks the processor to fetch what looking up `key` in `month`'s keys will read, if the
    /// month's keys are in memory.
    pub(super) fn prefetch(&self, month: i32, key: ShaKey) {
        if let Some(keys) = self.seen.get(&month).and_then(|m| m.keys.as_ref()) {
            keys.prefetch(key);
        }
    }

    /// The keys of `month`, of which an event is seen now; a month new to the run is named
    /// `name()`. Keys not in memory are read from the month's parts: the store's and, once the
    /// writer has written them, this run's.
    pub(super) fn keys(
        &mut self,
        month: i32,
        name: impl FnOnce() -> String,
        store: &Store,
        manifest: &Manifest,
    ) -> Result<&mut Keys> {
        self.clock += 1;
        let m = self.seen.entry(month).or_insert_with(|| Month {
            name: name(),
            keys: None,
            last: 0,
        });
        m.last = self.clock;
        let keys = match m.keys.take() {
            Some(keys) => keys,
            None => {
                let staged: Vec<&str> = self
                    .new_parts
                    .iter()
                    .filter(|(part_month, _)| *part_month == m.name)
                    .map(|(_, rel)| rel.as_str())
                    .collect();
                if !staged.is_empty() {
                    // Waits until the writer has written them.
                    self.parts.send(None).map_err(|_| writer_stopped())?;
                }
                load_keys(
                    self.spare_keys.take().unwrap_or_default(),
                    store,
                    &event_parts(manifest, &m.name),
                    &staged,
                    &self.key_names,
                )?
            }
        };
        Ok(m.keys.insert(keys))
    }

    /// Buffers an event of `month` (its values as the table stores them), and sends months to
    /// disk while memory holds `part_rows` events.
    pub(super) fn push(&mut self, month: i32, values: &[Value], store: &mut Store) -> Result<()> {
        let table = self.table;
        self.buffers
            .entry(month)
            .or_insert_with(|| TableBuffer::new(table))
            .push(values)?;
        self.buffered += 1;
        if self.buffered >= self.part_rows {
            self.let_go_of_unseen(month, store)?;
        }
        if self.buffered >= self.part_rows {
            self.flush_fullest(store)?;
        }
        Ok(())
    }

    /// The months but `month` not seen for `part_rows` events let go of their keys (kept,
    /// emptied, for another month) and go to disk.
    fn let_go_of_unseen(&mut self, month: i32, store: &mut Store) -> Result<()> {
        for (mo, m) in self.seen.iter_mut() {
            if *mo == month || m.keys.is_none() || self.clock - m.last < self.part_rows as u64 {
                continue;
            }
            if let Some(mut keys) = m.keys.take() {
                keys.clear();
                self.spare_keys = Some(keys);
            }
            let Some(buf) = self.buffers.get_mut(mo) else {
                continue;
            };
            if !buf.is_empty() {
                self.buffered -= buf.len();
                flush(
                    store,
                    buf,
                    &m.name,
                    self.run,
                    &mut self.new_parts,
                    &self.parts,
                )?;
            }
        }
        Ok(())
    }

    /// The month with the most buffered events goes to disk.
    fn flush_fullest(&mut self, store: &mut Store) -> Result<()> {
        if let Some((month, buf)) = self.buffers.iter_mut().max_by_key(|(_, b)| b.len()) {
            self.buffered -= buf.len();
            flush(
                store,
                buf,
                &self.seen[month].name,
                self.run,
                &mut self.new_parts,
                &self.parts,
            )?;
        }
        Ok(())
    }

    /// Every month's buffered events go to disk; the parts handed to the writer, (month, part
    /// file). The hand-over ends here.
    pub(super) fn finish(mut self, store: &mut Store) -> Result<Vec<(String, String)>> {
        for (month, buf) in self.buffers.iter_mut() {
            if !buf.is_empty() {
                flush(
                    store,
                    buf,
                    &self.seen[month].name,
                    self.run,
                    &mut self.new_parts,
                    &self.parts,
                )?;
            }
        }
        Ok(self.new_parts)
    }
}

/// (source, event_id) hashes and digests of the events in a month's part files, committed ones
/// and ones this run staged, put in `keys`: an empty table, maybe another month's let go of and
/// kept for its slots (`Months::keys`).
fn load_keys(
    mut keys: Keys,
    store: &Store,
    committed: &[String],
    staged: &[&str],
    key_names: &[&str],
) -> Result<Keys> {
    let mut cols: Vec<&str> = key_names.to_vec();
    cols.push("digest");
    let frames = committed
        .iter()
        .map(|part| store.read(part, Some(&cols)))
        .chain(
            staged
                .iter()
                .map(|part| store.read_staged(part, Some(&cols))),
        );
    for df in frames {
        let df = df?;
        let key_cols: Vec<&StringChunked> = key_names
            .iter()
            .map(|k| df.column(k).and_then(|c| c.str()))
            .collect::<PolarsResult<_>>()?;
        let digests = df.column("digest")?.u64()?;
        for i in 0..df.height() {
            let vals: Vec<Value> = key_cols
                .iter()
                .map(|c| c.get(i).map_or(Value::Null, |s| Value::Str(s.into())))
                .collect();
            keys.insert(
                ShaKey::new(key_hash(vals.iter())),
                digests.get(i).unwrap_or(0),
            );
        }
    }
    Ok(keys)
}

/// The hand-over to the part writer failed: the writer stopped, on an error of its own (which
/// `Run::events` reports instead) or a panic.
fn writer_stopped() -> Error {
    Error::Invalid("the events' part writer stopped before every part was handed to it".into())
}

/// Hands a month's buffered events to the writer as this run's next part of the month, and
/// notes it in `new_parts` (month, part file).
fn flush(
    store: &mut Store,
    buf: &mut TableBuffer,
    month: &str,
    run: u32,
    new_parts: &mut Vec<(String, String)>,
    parts: &SyncSender<PartHandover>,
) -> Result<()> {
    let n = new_parts.iter().filter(|(m, _)| m == month).count();
    let rel = format!("events/month={month}/part-r{run:06}-{n:04}.parquet");
    let df = buf.take_frame()?;
    let path = store.stage_path(&rel)?;
    parts.send(Some((path, df))).map_err(|_| writer_stopped())?;
    new_parts.push((month.to_string(), rel));
    Ok(())
}
