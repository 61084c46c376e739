//! Reading the reference tables (teams, staff, clients, ...): each is merged by key with what
//! the store holds, its references are checked against the tables read before it, and it is
//! rewritten whole (`Run::reference`). Of each, the values that later tables and the events
//! look up are kept (`Run::known`).

use std::path::Path;
use std::sync::Arc;

use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet, *};

use crate::error::{Error, Result};
use crate::ingest::inputs::InputFile;
use crate::ingest::parts::sort_by_key;
use crate::ingest::reader::Accept;
use crate::ingest::row_validator::digest_of;
use crate::ingest::table_buffer::{frame_rows, TableBuffer};
use crate::ingest::value::{key_hash, Value};
use crate::ingest::{KnownValues, Run};
use crate::store::contract::{ColumnSpec, TableSpec};
use crate::store::manifest::{FileRecord, Manifest, TableRecord};
use crate::store::{write_file, Store};

/// The reference columns the events are checked against (`Known`): (table, column).
pub(super) const EVENTS_KNOWN: [(&str, &str); 2] = [("staff", "user_id"), ("clients", "client_id")];

/// A reference of a table's column to another table's key.
struct ReferenceCheck {
    /// The referring column.
    column: usize,
    /// The table referred to.
    target: String,
    /// The values of its key.
    known: KnownValues,
}

/// The rows of a reference table as the run merges them: the stored rows, then this run's, by
/// number.
///
/// Rows go into a columnar buffer as they come; a row replaced later is only marked dead.
/// (At 100M events the reference data is millions of rows: as a vector of values each,
/// several times the memory.)
struct Merge {
    /// Each row's digest.
    digests: Vec<u64>,
    /// Whether each row is current: not replaced by a later version.
    current: Vec<bool>,
    /// The current row of each key, by key hash.
    index: HashMap<u128, usize>,
    /// This run's rows.
    added: TableBuffer,
}

impl Merge {
    /// The stored rows of `table` (`stored`, read from the store file `rel`), if it has any.
    fn of_stored(
        table: &TableSpec,
        specs: &[ColumnSpec],
        stored: Option<&DataFrame>,
        store_root: &Path,
        rel: &str,
    ) -> Result<Merge> {
        let mut digests: Vec<u64> = Vec::new();
        let mut index: HashMap<u128, usize> = HashMap::default();
        if let Some(df) = stored {
            let key_specs: Vec<ColumnSpec> = table
                .key_indices()
                .iter()
                .chain([&table.columns.len()])
                .map(|&k| specs[k].clone())
                .collect();
            for (i, r) in frame_rows(df, &key_specs)?.iter().enumerate() {
                let Some((Value::U64(d), key)) = r.split_last() else {
                    return Err(Error::store(
                        store_root,
                        format!("has a {rel} row {i} without a digest"),
                    ));
                };
                index.insert(key_hash(key), i);
                digests.push(*d);
            }
        }
        Ok(Merge {
            current: vec![true; digests.len()],
            digests,
            index,
            added: TableBuffer::new(table),
        })
    }

    /// Adds a valid row of this run, by the hash of its key and its digest: a duplicate of the
    /// current row of its key, or stored, replacing that row if there is one.
    fn add(
        &mut self,
        record: &mut FileRecord,
        values: &[Value],
        key: u128,
        digest: u64,
    ) -> Result<()> {
        match self.index.get(&key) {
            Some(&i) if self.digests[i] == digest => {
                record.rows_duplicate += 1;
                return Ok(());
            }
            Some(&i) => {
                self.current[i] = false;
                record.rows_replaced += 1;
            }
            None => {}
        }
        self.index.insert(key, self.digests.len());
        self.digests.push(digest);
        self.current.push(true);
        self.added.push(values)?;
        record.rows_stored += 1;
        Ok(())
    }

    /// The current rows: the stored ones (`stored`) not replaced, and this run's.
    fn current_rows(&mut self, stored: Option<DataFrame>) -> Result<DataFrame> {
        let mut df = self.added.take_frame()?;
        if let Some(old) = stored {
            df = old.vstack(&df)?;
        }
        if self.current.contains(&false) {
            df = df.filter(&BooleanChunked::from_slice("current".into(), &self.current))?;
        }
        Ok(df)
    }
}

impl<'a> Run<'a> {
    /// A reference table: merged by key with what the store holds (a new version of a row
    /// replaces the old one), references to other tables checked, rewritten whole.
    pub(super) fn reference(
        &mut self,
        table: &'a TableSpec,
        inputs: &[(&InputFile, &String)],
        store: &mut Store,
        manifest: &mut Manifest,
    ) -> Result<()> {
        let rel = format!("{}.parquet", table.store);
        let specs: Vec<_> = table.columns.iter().chain(&table.added).cloned().collect();
        let stored = match manifest.tables.get(&table.store) {
            Some(_) => Some(store.read(&rel, None)?),
            None => None,
        };
        let mut merge = Merge::of_stored(table, &specs, stored.as_ref(), store.root(), &rel)?;
        let checks = self.reference_checks(table)?;
        let mut changed = false;
        for (input, sha) in inputs {
            let mut record = self.new_record(input, sha, manifest);
            if record.status == "ingested" {
                let accept: &mut Accept<'_, Self, ()> = &mut |run, record, row| {
                    if let Some(reason) = unknown_reference(table, &checks, row.values) {
                        return run.quarantine(record, &table.name, row.raw, reason);
                    }
                    let digest = digest_of(row.values, table.columns.len());
                    merge.add(record, row.values, row.key, digest)
                };
                self.read_file(input, table, &mut record, |_| (), accept)?;
            }
            changed |= record.rows_stored > 0;
            self.records.push(record);
        }
        let df = merge.current_rows(stored)?;
        self.keep_known(table, &specs, &df)?;
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
        let key_names: Vec<PlSmallStr> = table
            .key_indices()
            .iter()
            .map(|&k| specs[k].store_name().into())
            .collect();
        self.table_writes.push(std::thread::spawn(move || {
            drop(merge);
            let Some(path) = write else {
                return Ok(());
            };
            write_file(&path, &mut sort_by_key(&df, &key_names)?)
        }));
        Ok(())
    }

    /// Keeps the values of the columns of reference table `table` (its current rows, `df`)
    /// that later tables refer to or the events look up (`known`).
    fn keep_known(
        &mut self,
        table: &TableSpec,
        specs: &[ColumnSpec],
        df: &DataFrame,
    ) -> Result<()> {
        for column in self.referred_columns(table) {
            let i = table.require(column)?;
            let values: HashSet<Value> = frame_rows(df, &specs[i..=i])?
                .into_iter()
                .flatten()
                .collect();
            self.known
                .insert((table.name.clone(), column.into()), Arc::new(values));
        }
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

    /// The references of the table, each with the known values of the key it refers to.
    fn reference_checks(&self, table: &TableSpec) -> Result<Vec<ReferenceCheck>> {
        let mut checks = Vec::new();
        for r in &table.references {
            checks.push(ReferenceCheck {
                column: table.require(&r.column)?,
                target: r.table.clone(),
                known: self.known(&r.table, &r.key),
            });
        }
        Ok(checks)
    }

    /// The values of `column` over the current rows of reference table `table`, a table read
    /// before: one a later table refers to (`Contract::check` puts it before), or one the
    /// events look up (`EVENTS_KNOWN`; the events come last).
    pub(super) fn known(&self, table: &str, column: &str) -> KnownValues {
        self.known
            .get(&(table.to_string(), column.to_string()))
            .cloned()
            .expect("a reference table is read before the tables that look its values up")
    }
}

/// Why a row of `table` refers to something the store does not know, if it does: the first
/// of `checks` it fails.
fn unknown_reference(
    table: &TableSpec,
    checks: &[ReferenceCheck],
    values: &[Value],
) -> Option<String> {
    let check = checks
        .iter()
        .find(|c| !c.known.contains(&values[c.column]))?;
    let column = &table.columns[check.column];
    let shown = match &values[check.column] {
        Value::Str(s) if column.stored_as.is_none() => format!(" '{s}'"),
        _ => " (value withheld)".into(),
    };
    Some(format!(
        "{}{shown} is not in {}: a reference to something the store does not know",
        column.name, check.target
    ))
}
