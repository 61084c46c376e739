//! Reading what an audit needs from the store: the reference tables as of the period, and the
//! events of each part (a run of days within one month) with the history the engine needs.

use crate::engine::input::AuditTables;
use crate::error::{Error, Result};
use crate::period::DayRange;
use crate::store::contract::Contract;
use crate::store::Store;
use chrono::{Datelike, Months};
use polars::prelude::*;

pub(crate) const REFERENCE: [&str; 6] = [
    "staff",
    "teams",
    "clients",
    "cases",
    "assignments",
    "complaints",
];

/// How much of the event history a run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// Only the months of the period: the store's `first_access` table tells first accesses.
    Period,
    /// Every month up to the period's end (investigations compare with the user's past).
    Full,
}

/// The store files a run over `range` reads (relative to the store): every reference table,
/// the `first_access` table, and the event partitions: the period's months (in a store whose
/// time zone differs from the policy's also the month on either side), or with
/// `History::Full` (or a store without `first_access`) every month up to one past the end.
pub fn files_to_read(
    store: &Store,
    range: DayRange,
    policy_zone: chrono_tz::Tz,
    history: History,
) -> Result<Vec<String>> {
    let manifest = store
        .manifest()
        .ok_or_else(|| Error::store(store.root(), "is empty; ingest data first"))?;
    let contract = Contract::load()?;
    let derived = &contract.first_access;
    let indexed = manifest.tables.contains_key(&derived.store);
    let month = |d: chrono::NaiveDate| format!("{:04}-{:02}", d.year(), d.month());
    let pad = Months::new(u32::from(manifest.time_zone != policy_zone.name()));
    let first = range.first.checked_sub_months(pad).unwrap_or(range.first);
    let last = range.last.checked_add_months(pad).unwrap_or(range.last);
    let (from, to) = if history == History::Full || !indexed {
        let to = range
            .last
            .checked_add_months(Months::new(1))
            .unwrap_or(range.last);
        (String::new(), month(to))
    } else {
        (month(first), month(last))
    };
    let mut files = Vec::new();
    for name in REFERENCE {
        if let Some(t) = manifest.tables.get(name) {
            files.extend(t.files.iter().cloned());
        }
    }
    if indexed {
        files.push(derived.file());
    }
    if let Some(t) = manifest.tables.get("events") {
        files.extend(
            t.files
                .iter()
                .filter(|f| {
                    f.strip_prefix("events/month=")
                        .and_then(|r| r.get(..7))
                        .is_some_and(|m| m >= from.as_str() && m <= to.as_str())
                })
                .cloned(),
        );
    }
    Ok(files)
}

/// Refuses a store file that is not a whole Parquet file (truncated, overwritten), naming it,
/// before a reader fails on it without a name. A Parquet file begins with `PAR1` and ends with
/// its footer's length and `PAR1`.
fn check_whole(path: &std::path::Path) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let damaged = |why: &str| {
        Error::store(
            path,
            format!(
                "is damaged: {why}; restore it from a backup, or ingest its data into a new store"
            ),
        )
    };
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (mut head, mut tail) = ([0u8; 4], [0u8; 8]);
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < 12 {
        return Err(damaged("it is too short to be a Parquet file"));
    }
    file.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
    file.seek(SeekFrom::End(-8))
        .map_err(|e| Error::io(path, e))?;
    file.read_exact(&mut tail).map_err(|e| Error::io(path, e))?;
    // The footer's length, then `PAR1`.
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if &head != b"PAR1" || &tail[4..] != b"PAR1" || footer + 12 > len {
        return Err(damaged("it does not begin and end as a Parquet file does"));
    }
    Ok(())
}

/// Reads the tables a run over `range` needs (the files of `files_to_read`).
pub fn load_tables(
    store: &Store,
    range: DayRange,
    policy_zone: chrono_tz::Tz,
    history: History,
) -> Result<AuditTables> {
    let contract = Contract::load()?;
    let files = files_to_read(store, range, policy_zone, history)?;
    // Every part an audit reads later is one of these: each file is checked once, here.
    for f in &files {
        check_whole(&store.root().join(f))?;
    }
    let mut reference = Vec::new();
    for name in REFERENCE {
        let spec = contract
            .table(name)
            .ok_or_else(|| Error::Invalid(format!("contract has no table '{name}'")))?;
        // The contract's columns: the store's digest of each row only serves ingest.
        let file = format!("{name}.parquet");
        let df = if files.contains(&file) {
            store.read(&file, Some(&spec.contract_store_names()))?
        } else {
            DataFrame::empty_with_schema(&spec.contract_store_schema())
        };
        reference.push(df);
    }
    let events = scan_events(store, &files)?;
    let first_seen = if files.contains(&contract.first_access.file()) {
        Some(store.read(&contract.first_access.file(), None)?)
    } else {
        None
    };
    let mut it = reference.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(AuditTables {
        events,
        staff: next(),
        teams: next(),
        clients: next(),
        cases: next(),
        assignments: next(),
        complaints: next(),
        first_seen,
    })
}

/// A lazy scan of the event partitions among `files`.
pub(crate) fn scan_events(store: &Store, files: &[String]) -> Result<LazyFrame> {
    let parts: Vec<PlRefPath> = files
        .iter()
        .filter(|f| f.starts_with("events/"))
        .map(|f| PlRefPath::new(store.root().join(f).to_string_lossy().to_string()))
        .collect();
    Ok(if parts.is_empty() {
        DataFrame::empty_with_schema(&Contract::load()?.events().store_schema()).lazy()
    } else {
        let args = ScanArgsParquet {
            hive_options: HiveOptions::new_disabled(),
            ..Default::default()
        };
        LazyFrame::scan_parquet_files(parts.into(), args)?
    })
}

/// About how many events an audit part holds: memory holds one part's verdicts and the joins
/// over them, and each part costs a fixed amount besides, so parts are as long as this allows.
pub const PART_EVENTS: u64 = 2_000_000;

/// The range cut at month ends, and months cut into runs of at most `days` days: the parts an
/// audit runs one after the other.
pub fn parts(range: DayRange, days: u32) -> Vec<DayRange> {
    let mut parts = Vec::new();
    let mut first = range.first;
    while first <= range.last {
        let next_month = first
            .with_day(1)
            .and_then(|d| d.checked_add_months(Months::new(1)))
            .unwrap_or(chrono::NaiveDate::MAX);
        let next = first
            .checked_add_days(chrono::Days::new(u64::from(days.max(1))))
            .unwrap_or(chrono::NaiveDate::MAX)
            .min(next_month);
        let last = next.pred_opt().unwrap_or(next).min(range.last);
        parts.push(DayRange { first, last });
        first = next;
    }
    parts
}

/// Days per part for a store: `PART_EVENTS` over the store's average events per day, at most a
/// month.
pub fn part_days(store: &Store) -> u32 {
    let Some(events) = store.manifest().and_then(|m| m.tables.get("events")) else {
        return 31;
    };
    let months: std::collections::BTreeSet<&str> = events
        .files
        .iter()
        .filter_map(|f| f.strip_prefix("events/month=").and_then(|r| r.get(..7)))
        .collect();
    let per_day = events.rows / (months.len() as u64 * 30).max(1);
    (PART_EVENTS / per_day.max(1)).clamp(1, 31) as u32
}

/// Keeps the events whose UTC time lies within a day of the part's days (a local day lies
/// within 14 hours of the same UTC day in every zone): a filter polars hands to the Parquet
/// reader, which skips the row groups outside it (the parts are sorted by time).
pub fn near(part: DayRange) -> Expr {
    let at = |d: chrono::NaiveDate| {
        lit(d
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_micros())
        .cast(DataType::Datetime(
            TimeUnit::Microseconds,
            Some(TimeZone::UTC),
        ))
    };
    let from = part.first - chrono::Days::new(1);
    let to = part.last + chrono::Days::new(2);
    col("event_time")
        .gt_eq(at(from))
        .and(col("event_time").lt(at(to)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn parts_cut_the_range_at_month_ends_and_into_runs_of_days() {
        // The parts of `first..=last` in runs of at most `days`, as (first, last) strings.
        let spans = |first: &str, last: &str, days: u32| -> Vec<(String, String)> {
            parts(
                DayRange {
                    first: day(first),
                    last: day(last),
                },
                days,
            )
            .iter()
            .map(|p| (p.first.to_string(), p.last.to_string()))
            .collect()
        };
        let got = spans("2025-11-15", "2026-02-03", 31);
        let want = [
            ("2025-11-15", "2025-11-30"),
            ("2025-12-01", "2025-12-31"),
            ("2026-01-01", "2026-01-31"),
            ("2026-02-01", "2026-02-03"),
        ];
        assert_eq!(
            got,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
        let one = super::parts(
            DayRange {
                first: day("2026-02-28"),
                last: day("2026-02-28"),
            },
            31,
        );
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].first, one[0].last);
        let weeks = spans("2026-01-20", "2026-02-16", 7);
        let want = [
            ("2026-01-20", "2026-01-26"),
            ("2026-01-27", "2026-01-31"),
            ("2026-02-01", "2026-02-07"),
            ("2026-02-08", "2026-02-14"),
            ("2026-02-15", "2026-02-16"),
        ];
        assert_eq!(
            weeks,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
    }
}
