//! Reading an input file's rows on a pipeline of threads (`read_rows`): a reading thread
//! (`Reader`, over CSV or FHIR), checker threads that validate, pseudonymise and tag the rows,
//! and the hand-over of the checked rows, in file order, on the calling thread.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::ScopedJoinHandle;

use indicatif::ProgressBar;

use crate::error::Result;
use crate::ingest::in_order::InOrder;
use crate::ingest::read::csv_input::CsvInput;
use crate::ingest::read::fhir_input::FhirInput;
use crate::ingest::read::raw_row::RawRow;
use crate::ingest::row_validator::RowValidator;
use crate::ingest::value::{key_hash, Value};
use crate::privacy::pseudonymiser::Pseudonymiser;
use crate::store::contract::TableSpec;
use crate::store::manifest::{FileRecord, TimeStats};

/// Threads that validate and pseudonymise rows (`read_rows`).
pub(super) const CHECKERS: usize = 2;
/// How many rows ahead the checkers and the run's own thread ask for what a row will look up
/// (`RowValidator::prefetch`, `Ahead`): at 100M events the tables are far larger than the
/// processor's caches, and a read from memory takes about as long as handling a few rows.
pub(super) const LOOK_AHEAD: usize = 8;
/// Rows in a batch, the unit the threads hand each other.
const BATCH: usize = 1024;

/// What `Run::read_file` hands every valid row to, with the run (`R`) and the file's record.
pub(super) type Accept<'c, R, T> =
    dyn FnMut(&mut R, &mut FileRecord, ValidRow<'_, T>) -> Result<()> + 'c;

/// A valid row as `Accept` gets it.
pub(super) struct ValidRow<'r, T> {
    pub(super) raw: &'r RawRow,
    /// Its values, to take or to read.
    pub(super) values: &'r mut Vec<Value>,
    /// The hash of its key (`key_hash`).
    pub(super) key: u128,
    /// What the checker thread worked out for it.
    pub(super) tag: T,
    /// What `Accept` will look up a few rows on, which it may ask the processor to fetch now.
    pub(super) ahead: Ahead<T>,
}

/// The key hash and tag of a valid row a few rows on, if there is one.
pub(super) type Ahead<T> = Option<(u128, T)>;

/// A row's values with its key hash and tag, or the reason it is not valid.
pub(super) type Checked<T> = std::result::Result<(Vec<Value>, u128, T), String>;

/// A batch of rows as read, by number in the file; or the error that ended the reading.
type RawBatch = (u64, Result<Vec<RawRow>>);
/// A batch of rows, each with its check, by number in the file.
type CheckedBatch<T> = (u64, Result<Vec<(RawRow, Checked<T>)>>);

/// A reader over either input kind.
pub(super) enum Reader {
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

/// Reads every row of `reader` and hands each to `hand` in file order, with its check: its
/// values, key hash and tag (`tag`), or the reason it is not valid. Gives the counts of local
/// times the checks resolved, or the first error of the reading or of `hand`; a checker's
/// panic goes on.
///
/// A pipeline, so that both cores work: one thread reads rows in batches (`read_batches`);
/// a checker thread per pseudonymiser of `checkers` validates and pseudonymises batches and
/// tags each valid row (`check_batches`: work that needs no state of the run); this thread
/// takes the batches back in file order and hands the rows on (`hand_in_order`). Handed
/// batches go back to the reading thread, which reads later rows into them.
pub(super) fn read_rows<T: Send + Copy>(
    mut reader: Reader,
    table: &TableSpec,
    validator: &RowValidator,
    checkers: &mut [Pseudonymiser],
    bar: &ProgressBar,
    tag: impl FnMut(&[Value]) -> T + Send + Clone,
    hand: impl FnMut(&RawRow, &mut Checked<T>, Ahead<T>) -> Result<()>,
) -> Result<TimeStats> {
    let key_idx = table.key_indices();
    let (stats, handed) = std::thread::scope(|s| {
        let (raw_tx, raw_rx) = sync_channel::<RawBatch>(4 * CHECKERS);
        // Shared by the checkers; gone when the last one stops, which stops the reader.
        let raw_rx = Arc::new(Mutex::new(raw_rx));
        let (tx, rx) = sync_channel::<CheckedBatch<T>>(4 * CHECKERS);
        let (back_tx, back_rx) = channel::<Vec<(RawRow, Checked<T>)>>();
        s.spawn(move || read_batches(&mut reader, bar, &raw_tx, &back_rx));
        let key_idx = &key_idx;
        let checkers: Vec<_> = checkers
            .iter_mut()
            .map(|ps| {
                let (tx, tag, raw_rx) = (tx.clone(), tag.clone(), raw_rx.clone());
                s.spawn(move || check_batches(validator, key_idx, ps, tag, &raw_rx, &tx))
            })
            .collect();
        drop((tx, raw_rx));
        let handed = hand_in_order(rx, &back_tx, hand);
        // Joining after the receiver is gone: checkers blocked on a full channel stop.
        drop(back_tx);
        (join_checkers(checkers), handed)
    });
    // A checker that panicked (a bug): the panic goes on here, before any error.
    let stats = stats.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    handed?;
    Ok(stats)
}

/// The reading thread: reads the rows in batches of `BATCH` and sends them on, numbered, until
/// the file ends, reading fails (the error is sent on) or the checkers are gone. Rows of
/// batches that come back are read into again.
fn read_batches<T>(
    reader: &mut Reader,
    bar: &ProgressBar,
    raw_tx: &SyncSender<RawBatch>,
    back_rx: &Receiver<Vec<(RawRow, Checked<T>)>>,
) {
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
            // Handed batches come back here, where their rows were made: to be read into
            // again.
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
}

/// A checker thread: takes batches as they come, validates and pseudonymises each row
/// (`RowValidator`), works out its key hash and tag, and sends the batch on; until the batches
/// or their receiver are gone. Gives the counts of local times it resolved.
fn check_batches<T>(
    validator: &RowValidator,
    key_idx: &[usize],
    ps: &mut Pseudonymiser,
    mut tag: impl FnMut(&[Value]) -> T,
    raw_rx: &Mutex<Receiver<RawBatch>>,
    tx: &SyncSender<CheckedBatch<T>>,
) -> TimeStats {
    let mut stats = TimeStats::default();
    loop {
        let next = match raw_rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => break,
        };
        let Ok((seq, rows)) = next else { break };
        let checked = rows.map(|rows| {
            // Each row's cache look-ups (`RowValidator::prefetch`) are started `LOOK_AHEAD`
            // rows early.
            for row in rows.iter().take(LOOK_AHEAD) {
                validator.prefetch(&row.fields, ps);
            }
            let results: Vec<_> = (0..rows.len())
                .map(|i| {
                    if let Some(later) = rows.get(i + LOOK_AHEAD) {
                        validator.prefetch(&later.fields, ps);
                    }
                    let row = &rows[i];
                    match row.problem.clone() {
                        Some(problem) => Err(problem),
                        None => validator.validate(&row.fields, ps, &mut stats).map(|v| {
                            let kh = key_hash(key_idx.iter().map(|&k| &v[k]));
                            let t = tag(&v);
                            (v, kh, t)
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
}

/// Takes the checked batches as they come and hands their rows to `hand` in file order, each
/// with the key and tag of the valid row `LOOK_AHEAD` rows on; sends each handed batch back to
/// the reading thread. Stops at the first error of the reading or of `hand`.
fn hand_in_order<T: Copy>(
    rx: Receiver<CheckedBatch<T>>,
    back_tx: &Sender<Vec<(RawRow, Checked<T>)>>,
    mut hand: impl FnMut(&RawRow, &mut Checked<T>, Ahead<T>) -> Result<()>,
) -> Result<()> {
    // Batches come back in any order; they are handed on in the file's.
    let mut in_order = InOrder::default();
    let mut ready = Vec::new();
    for (seq, batch) in rx {
        in_order.put(seq, batch, &mut ready);
        for batch in ready.drain(..) {
            let mut batch = batch?;
            for i in 0..batch.len() {
                // The key and tag of the valid row `LOOK_AHEAD` rows on, so that `hand` can
                // start its look-ups.
                let ahead = match batch.get(i + LOOK_AHEAD) {
                    Some((_, Ok((_, kh, t)))) => Some((*kh, *t)),
                    _ => None,
                };
                let (row, checked) = &mut batch[i];
                hand(row, checked, ahead)?;
            }
            // The reading thread may have stopped: then the batch is freed here.
            let _ = back_tx.send(batch);
        }
    }
    Ok(())
}

/// Joins the checker threads: the total of their counts of local times, or the panic of the
/// first that panicked.
fn join_checkers(checkers: Vec<ScopedJoinHandle<'_, TimeStats>>) -> std::thread::Result<TimeStats> {
    let mut stats = TimeStats::default();
    let mut panic = None;
    for c in checkers {
        match c.join() {
            Ok(s) => {
                stats.ambiguous += s.ambiguous;
                stats.shifted += s.shifted;
            }
            Err(p) => {
                panic.get_or_insert(p);
            }
        }
    }
    match panic {
        Some(p) => Err(p),
        None => Ok(stats),
    }
}
