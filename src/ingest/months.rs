//! The months the events are stored by: each month's de-duplication keys, read from its part
//! files (`load_keys`), and the hand-over of a month's buffered events to the part writer
//! (`flush`).

use std::sync::mpsc::SyncSender;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::ingest::parts::PartHandover;
use crate::ingest::sha_key::ShaKey;
use crate::ingest::sha_key_table::ShaKeyTable;
use crate::ingest::table_buffer::TableBuffer;
use crate::ingest::value::{key_hash, Value};
use crate::store::Store;

/// Digests of events by the 128-bit hash of their (source, event_id). A month of a national
/// log holds millions.
pub(super) type Keys = ShaKeyTable<u64>;

/// (source, event_id) hashes and digests of the events in a month's part files, committed ones
/// and ones this run staged, put in `keys`: an empty table, maybe another month's let go of and
/// kept for its slots (`Run::events`).
pub(super) fn load_keys(
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

/// A month the run has events of.
pub(super) struct Month {
    /// As in the partition name: `2026-03`.
    pub(super) name: String,
    /// Digests by key hash of the events the month holds; `None` once let go.
    pub(super) keys: Option<Keys>,
    /// When an event of the month was last seen (`clock` in `Run::events`).
    pub(super) last: u64,
}

pub(super) fn writer_stopped() -> Error {
    Error::Invalid("internal: the part writer stopped".into())
}

/// Hands a month's buffered events to the writer as this run's next part of the month, and
/// notes it in `new_parts` (month, part file).
pub(super) fn flush(
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
