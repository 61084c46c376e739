//! Reading the event log (`Run::events`): each valid event is de-duplicated by (source,
//! event_id) against the month it falls in, its (account, client) pair is coded (`Firsts`),
//! and it is stored in a new part file of its month (`Months`); existing parts are never
//! rewritten.

use std::sync::mpsc::sync_channel;

use chrono::{Datelike, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::Result;
use crate::ingest::first_access::{Firsts, Known};
use crate::ingest::inputs::InputFile;
use crate::ingest::months::Months;
use crate::ingest::parts::{write_parts, PartHandover};
use crate::ingest::reader::{Accept, ValidRow};
use crate::ingest::reference::EVENTS_KNOWN;
use crate::ingest::row_validator::digest_of;
use crate::ingest::sha_key::ShaKey;
use crate::ingest::value::Value;
use crate::ingest::Run;
use crate::store::contract::{ColType, TableSpec};
use crate::store::manifest::{FileRecord, Manifest};
use crate::store::Store;

const QUARTER_HOUR_MICROS: i64 = 15 * 60 * 1_000_000;

/// What the checker threads work out for each valid event.
#[derive(Debug, Clone, Copy)]
struct EventTag {
    /// The local month, as year * 12 + month - 1 (ordered as the months' names are).
    month: i32,
    /// `Firsts::pair_key` of (user, client), when both are given.
    pair: u128,
}

/// Where the columns that storing an event reads are in its values.
#[derive(Debug, Clone, Copy)]
struct EventColumns {
    /// `event_time`: a required timestamp (`TableSpec::require_filled`).
    time: usize,
    user: usize,
    client: usize,
    /// How many columns the contract gives the table (`digest_of`).
    contract_columns: usize,
}

impl EventColumns {
    fn of(table: &TableSpec) -> Result<EventColumns> {
        Ok(EventColumns {
            time: table.require_filled("event_time", ColType::Timestamp)?,
            user: table.require("user_id")?,
            client: table.require("client_id")?,
            contract_columns: table.columns.len(),
        })
    }

    /// The event's time.
    fn time(self, values: &[Value]) -> i64 {
        let Value::Timestamp(t) = values[self.time] else {
            unreachable!("event_time is a required timestamp: every valid event has one")
        };
        t
    }
}

/// The events being stored, with all that storing one needs but the run (`Storing::accept`).
struct Storing<'s, 't> {
    table: &'t TableSpec,
    columns: EventColumns,
    /// The key columns, for the reason a reused event id is quarantined.
    key_idx: Vec<usize>,
    zone: Tz,
    known: &'s Known,
    /// (user, client) -> code and earliest time, of the store and of this run.
    firsts: Firsts,
    months: Months<'t>,
    store: &'s mut Store,
    manifest: &'s Manifest,
    /// Events stored so far.
    events: u64,
}

/// What storing the events of the run's files made.
struct Stored {
    /// The parts this run made: (month, part file).
    new_parts: Vec<(String, String)>,
    /// The pairs with their first accesses, the store's and this run's.
    firsts: Firsts,
    /// How many events were stored.
    events: u64,
}

impl<'a> Run<'a> {
    /// The access log: de-duplicated by (source, event_id) against the month partitions it
    /// touches, written as new part files; existing parts are never rewritten.
    pub(super) fn events(
        &mut self,
        table: &'a TableSpec,
        inputs: &[(&InputFile, &String)],
        store: &mut Store,
        manifest: &mut Manifest,
    ) -> Result<()> {
        let columns = EventColumns::of(table)?;
        let [users, clients] = EVENTS_KNOWN;
        let known = Known {
            users: self.known(users.0, users.1),
            clients: self.known(clients.0, clients.1),
        };
        let zone = self.zone;
        let part_rows = self.config.part_rows.max(1);

        // Part files are sorted and written on a thread of their own, one at a time, while
        // the next rows are read. The hand-over waits for the writer to be free, so that memory
        // holds at most the part being written besides the buffers.
        let stored = std::thread::scope(|s| -> Result<_> {
            let (parts, part_rx) = sync_channel::<PartHandover>(0);
            let writer = s.spawn(move || write_parts(part_rx));
            let months = Months::new(table, self.run_no, part_rows, parts);
            let read = self
                .stored_firsts(store, manifest, &known)
                .and_then(|firsts| {
                    let storing = Storing {
                        table,
                        columns,
                        key_idx: table.key_indices(),
                        zone,
                        known: &known,
                        firsts,
                        months,
                        store,
                        manifest,
                        events: 0,
                    };
                    self.store_events(inputs, storing)
                });
            // The hand-over has ended (`Months::finish`, or dropped on an error); the
            // writer's error first: a failed hand-over is its consequence.
            writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            read
        })?;
        self.note_parts(table, &stored.new_parts, manifest);
        if stored.events > 0 {
            self.first_access(stored.firsts, store, manifest)?;
        }
        Ok(())
    }

    /// Stores the valid events of `inputs`, file by file (`Storing::accept`), and hands the
    /// events still buffered to the writer.
    fn store_events(
        &mut self,
        inputs: &[(&InputFile, &String)],
        mut storing: Storing<'_, 'a>,
    ) -> Result<Stored> {
        for (input, sha) in inputs {
            let mut record = self.new_record(input, sha, storing.manifest);
            if record.status != "ingested" {
                self.records.push(record);
                continue;
            }
            let (table, tag) = (storing.table, event_tagger(storing.columns, self.zone));
            let accept: &mut Accept<'_, Self, EventTag> =
                &mut |run, record, row| storing.accept(run, record, row);
            self.read_file(input, table, &mut record, tag, accept)?;
            self.records.push(record);
        }
        Ok(Stored {
            new_parts: storing.months.finish(storing.store)?,
            firsts: storing.firsts,
            events: storing.events,
        })
    }

    /// Notes the run's new parts of the events table in the manifest, with the events stored,
    /// and their months for the report.
    fn note_parts(
        &mut self,
        table: &TableSpec,
        new_parts: &[(String, String)],
        manifest: &mut Manifest,
    ) {
        let t = manifest.tables.entry(table.store.clone()).or_default();
        for (month, part) in new_parts {
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
    }
}

impl Storing<'_, '_> {
    /// A valid event: a duplicate of the event with its key in its month, a reuse of an event
    /// id for other content (quarantined), or new (`store_new`).
    fn accept(
        &mut self,
        run: &mut Run<'_>,
        record: &mut FileRecord,
        row: ValidRow<'_, EventTag>,
    ) -> Result<()> {
        if let Some((next_key, next)) = row.ahead {
            self.firsts.prefetch(next.pair);
            self.months.prefetch(next.month, ShaKey::new(next_key));
        }
        let t = self.columns.time(row.values);
        let zone = self.zone;
        let keys = self.months.keys(
            row.tag.month,
            || local_time(t, zone).format("%Y-%m").to_string(),
            self.store,
            self.manifest,
        )?;
        let d = digest_of(row.values, self.columns.contract_columns);
        let key = ShaKey::new(row.key);
        match keys.get(key).copied() {
            Some(old) if old == d => record.rows_duplicate += 1,
            Some(_) => {
                let reason = self.reused_id(row.values);
                run.quarantine(record, &self.table.name, row.raw, reason)?;
            }
            None => {
                keys.insert(key, d);
                self.store_new(run, record, row.tag, t, row.values)?;
            }
        }
        Ok(())
    }

    /// Stores a new event, of time `t`: its pair coded and its values buffered in its month;
    /// an account or client not in the reference data is counted.
    fn store_new(
        &mut self,
        run: &mut Run<'_>,
        record: &mut FileRecord,
        tag: EventTag,
        t: i64,
        values: &mut Vec<Value>,
    ) -> Result<()> {
        let (pair, known_user, known_client) =
            match (&values[self.columns.user], &values[self.columns.client]) {
                (Value::Str(u), Value::Str(c)) => {
                    let p = self.firsts.see(tag.pair, u, c, t, self.known)?;
                    (Value::U32(p.code), p.known_user, p.known_client)
                }
                (u, c) => (
                    Value::Null,
                    self.known.user(u.as_str()),
                    self.known.client(c.as_str()),
                ),
            };
        values.push(pair);
        run.unknown_users += u64::from(!known_user);
        run.unknown_clients += u64::from(!known_client);
        self.months.push(tag.month, values, self.store)?;
        record.rows_stored += 1;
        self.events += 1;
        Ok(())
    }

    /// Why an event whose key its month holds with other content is quarantined.
    fn reused_id(&self, values: &[Value]) -> String {
        format!(
            "event '{}' from source '{}' is already stored with different content; \
             a source must not reuse an event id",
            values[self.key_idx[1]].as_str().unwrap_or(""),
            values[self.key_idx[0]].as_str().unwrap_or("")
        )
    }
}

/// The tag of each valid event (`EventTag`), worked out on the checker threads.
fn event_tagger(
    columns: EventColumns,
    zone: Tz,
) -> impl FnMut(&[Value]) -> EventTag + Send + Clone {
    // The quarter hour last seen and its local month.
    let mut month_of: (Option<i64>, i32) = (None, 0);
    move |values: &[Value]| {
        let t = columns.time(values);
        // Present-day UTC offsets are multiples of 15 minutes, so one quarter hour lies in
        // one local month: the month is worked out once per quarter.
        let quarter = t.div_euclid(QUARTER_HOUR_MICROS);
        if month_of.0 != Some(quarter) {
            let local = local_time(t, zone);
            month_of = (Some(quarter), local.year() * 12 + local.month0() as i32);
        }
        let pair = match (&values[columns.user], &values[columns.client]) {
            (u @ Value::Str(_), c @ Value::Str(_)) => Firsts::pair_key(u, c),
            _ => 0,
        };
        EventTag {
            month: month_of.1,
            pair,
        }
    }
}

/// The local time of `t` (microseconds since the epoch, as `TimeParser` reads times) in
/// `zone`.
fn local_time(t: i64, zone: Tz) -> chrono::DateTime<Tz> {
    Utc.timestamp_micros(t)
        .single()
        .expect("TimeParser reads only times within chrono's range, which all fit")
        .with_timezone(&zone)
}
