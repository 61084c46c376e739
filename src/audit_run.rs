//! One audit run: read the store, run the rule engine, derive the review lists and write every
//! output file. This is the audit's only IO; the engine and the derivations are pure.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months};
use polars::prelude::*;

use crate::audit_summary::{AuditSummary, Tally};
use crate::audit_tables::{AuditTables, DayRange};
use crate::background_hashes::BackgroundHashes;
use crate::contract::Contract;
use crate::csv_output::{write_frame, write_rows};
use crate::emergency_logins::EmergencyLogin;
use crate::engine;
use crate::error::{Error, Result};
use crate::evidence::{self, EvidenceManifest};
use crate::outliers::{daily_activity, VolumeOutlier};
use crate::part_counts::PartCounts;
use crate::period::Period;
use crate::phase_timings::PhaseTimings;
use crate::policy::Policy;
use crate::report::{Lang, ReportInput};
use crate::review_cases::ReviewCase;
use crate::store::Store;
use crate::verdict_file::VerdictFile;

/// A checked request for a run over a period (`audit` and `stats`).
#[derive(Debug, Clone)]
pub struct PeriodConfig {
    pub store: PathBuf,
    pub policy: Policy,
    pub policy_path: PathBuf,
    /// SHA-256 of the policy file as read, shown in the report.
    pub policy_sha256: String,
    pub period: Period,
    pub out_dir: PathBuf,
    pub lang: Lang,
    /// The command line, for the evidence manifest (`evidence::command_line`).
    pub command: Vec<String>,
}

/// What a finished run found (the files hold the detail).
#[derive(Debug, Clone)]
pub struct AuditOutcome {
    pub out_dir: PathBuf,
    pub events: usize,
    pub justified: usize,
    pub unjustified: usize,
    pub emergency: usize,
    pub findings: usize,
    pub review_cases: usize,
    pub outliers: usize,
    /// SHA-256 of the evidence manifest: keep it apart from the folder.
    pub manifest_sha256: String,
    /// How long each phase took (`audit --timings`).
    pub timings: PhaseTimings,
}

impl AuditOutcome {
    /// Whether anything needs a person's review.
    pub fn has_findings(&self) -> bool {
        self.unjustified > 0 || self.emergency > 0
    }
}

const REFERENCE: [&str; 6] = [
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
    policy_zone: &str,
    history: History,
) -> Result<Vec<String>> {
    let manifest = store
        .manifest()
        .ok_or_else(|| Error::store(store.root(), "is empty; ingest data first"))?;
    let contract = Contract::load()?;
    let derived = &contract.first_access;
    let indexed = manifest.tables.contains_key(&derived.store);
    let month = |d: chrono::NaiveDate| format!("{:04}-{:02}", d.year(), d.month());
    let pad = Months::new(u32::from(manifest.time_zone != policy_zone));
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

/// Reads the tables a run over `range` needs (the files of `files_to_read`).
pub fn load_tables(
    store: &Store,
    range: DayRange,
    policy_zone: &str,
    history: History,
) -> Result<AuditTables> {
    let contract = Contract::load()?;
    let files = files_to_read(store, range, policy_zone, history)?;
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
fn scan_events(store: &Store, files: &[String]) -> Result<LazyFrame> {
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

/// What a run keeps of each part's verdicts: the rows for review, and counts.
#[derive(Default)]
struct Kept {
    tally: Option<Tally>,
    review: Vec<DataFrame>,
    /// Verdict rows per user, team and role (`outliers::roles`).
    roles: Vec<DataFrame>,
    /// Accesses per user and day (`outliers::daily_activity`).
    daily: Vec<DataFrame>,
}

impl Kept {
    fn add(&mut self, chunk: &DataFrame, labels: &engine::CodeLabels) -> Result<()> {
        let counts = PartCounts::of(chunk, labels)?;
        let mut t = counts.tally;
        for f in [
            &mut t.verdicts,
            &mut t.signals,
            &mut t.reads,
            &mut t.unjustified,
        ] {
            *f = compact(f)?;
        }
        match &mut self.tally {
            Some(all) => all.append(&t)?,
            None => self.tally = Some(t),
        }
        self.review.push(compact(&counts.review)?);
        self.roles.push(compact(&counts.roles)?);
        self.daily.push(compact(&counts.daily)?);
        Ok(())
    }
}

/// The frames one under the other.
fn stack(parts: Vec<DataFrame>) -> Result<DataFrame> {
    let mut it = parts.into_iter();
    let mut all = it.next().unwrap_or_default();
    for p in it {
        all.vstack_mut(&p)?;
    }
    Ok(all)
}

/// A copy of a (small) frame whose text owns its bytes. Polars' text columns point into shared
/// buffers, so a few rows kept from a part would otherwise keep all of the part's text alive.
fn compact(df: &DataFrame) -> Result<DataFrame> {
    let mut out = df.clone();
    for name in df.get_column_names_owned() {
        let c = df.column(&name)?;
        if c.dtype() == &DataType::String {
            let copied = StringChunked::from_iter_options(name.clone(), c.str()?.iter());
            out.replace(&name, copied.into_series().into())?;
        }
    }
    Ok(out)
}

/// Runs the audit and writes its folder.
pub fn run(config: &PeriodConfig) -> Result<AuditOutcome> {
    let mut timings = PhaseTimings::start();
    let store = Store::open_read(&config.store)?;
    let zone = config.policy.time_zone.as_str();
    let range = config.period.range;
    // The store files the audit reads, hashed for the manifest while it runs.
    let store_hashes = BackgroundHashes::start(evidence::store_paths(
        &config.store,
        &files_to_read(&store, range, zone, History::Period)?,
    ));
    let tables = load_tables(&store, range, zone, History::Period)?;
    let policy = &config.policy;
    let out = &config.out_dir;
    evidence::prepare_folder(out)?;
    timings.end("reading the store");

    // One part (a month, or a run of days in a large store) at a time: its verdicts go to the
    // Parquet file; what the review lists and the figures need of them is kept (the rows for
    // review, and counts).
    let path = out.join("verdicts.parquet");
    let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
    let engine = engine::Engine::new(&tables, policy)?;
    let tables = tables.for_review_lists()?;
    timings.end("coding the reference data");
    let labels = engine.labels();
    let verdict_file = VerdictFile::new(&labels);
    let mut kept = Kept::default();
    std::thread::scope(|s| -> Result<()> {
        // A second thread writes the verdicts while the next part is computed.
        let (tx, rx) = std::sync::mpsc::sync_channel::<DataFrame>(1);
        let (file, verdict_file) = (&file, &verdict_file);
        let writer = s.spawn(move || verdict_file.write(file, rx));
        let computed = (|| -> Result<()> {
            for (i, part) in parts(range, part_days(&store)).into_iter().enumerate() {
                let files = files_to_read(&store, part, zone, History::Period)?;
                let part_tables = AuditTables {
                    events: scan_events(&store, &files)?,
                    ..tables.clone()
                };
                let chunk = engine
                    .coded_verdicts(part_tables.events.clone().filter(near(part)), part)?
                    .collect()?;
                timings.end("parts: verdicts");
                let frame = verdict_file.frame(&chunk)?;
                timings.end("parts: verdict columns");
                tx.send(frame)
                    .map_err(|_| Error::Invalid("internal: the verdict writer stopped".into()))?;
                timings.end("parts: waiting for the verdict writer");
                kept.add(&chunk, &labels)?;
                if i == 0 {
                    // The days before the period that the first part's files hold: the users'
                    // own baseline for the volume outliers.
                    let (first, _) = part.epoch_days();
                    kept.daily
                        .push(daily_activity(&part_tables, policy, None, first - 1)?);
                }
                timings.end("parts: counts and review rows");
            }
            Ok(())
        })();
        drop(tx);
        let written = writer
            .join()
            .map_err(|_| Error::Invalid("internal: the verdict writer failed".into()))?;
        // A writer's error explains a computation stopped by it.
        written?;
        computed
    })?;
    file.sync_all().map_err(|e| Error::io(&path, e))?;
    timings.end("finishing the verdict file");
    // Written whole: hashed while the review lists and reports are made.
    let verdicts_hash = BackgroundHashes::start(vec![(path, "verdicts.parquet".into())]);
    let tally = kept
        .tally
        .ok_or_else(|| Error::Invalid("the period has no days".into()))?;
    let summary = AuditSummary::from_tally(&tally, policy)?;
    let verdicts = stack(kept.review)?;
    let names = display_names(&tables.staff)?;
    let logins = EmergencyLogin::list(&verdicts, &tables, policy)?;
    let cases = ReviewCase::group(&verdicts, &names, config.lang)?;
    let outliers = VolumeOutlier::find(&stack(kept.daily)?, &stack(kept.roles)?, policy, range)?;

    let findings = findings(&verdicts, &names, policy)?;
    write_file(&out.join("findings.csv"), |w| {
        write_frame(&findings, w, "findings.csv")
    })?;
    write_file(&out.join("cases.csv"), |w| {
        write_rows(&cases, w, "cases.csv")
    })?;
    write_file(&out.join("emergency_logins.csv"), |w| {
        write_rows(&logins, w, "emergency_logins.csv")
    })?;
    write_file(&out.join("outliers.csv"), |w| {
        write_rows(&outliers, w, "outliers.csv")
    })?;
    let input = ReportInput {
        policy,
        policy_file: &config.policy_path,
        policy_sha256: &config.policy_sha256,
        period: &config.period,
        store_key_id: store
            .manifest()
            .map(|m| m.key_id.as_str())
            .unwrap_or_default(),
        summary: &summary,
        cases: &cases,
        logins: &logins,
        outliers: &outliers,
        names: &names,
        lang: config.lang,
    };
    write_file(&out.join("report.html"), |w| {
        crate::report::write_html(&input, w)
    })?;
    timings.end("review lists, outliers and report");
    let manifest_sha256 = EvidenceManifest::with_store_hashes(
        config.command.clone(),
        &config.store,
        input.store_key_id,
        store_hashes.wait()?,
        Some(&config.policy_path),
    )?
    .seal_with(out, verdicts_hash.wait()?)?;

    timings.end("evidence manifest");
    Ok(AuditOutcome {
        out_dir: out.clone(),
        events: summary.totals.events,
        justified: summary.totals.justified,
        unjustified: summary.totals.unjustified,
        emergency: summary.totals.emergency,
        findings: findings.height(),
        review_cases: cases.len(),
        outliers: outliers.iter().filter(|o| o.flagged).count(),
        manifest_sha256,
        timings,
    })
}

/// user id → display name (the latest role period's name).
pub fn display_names(staff: &DataFrame) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    let sorted = staff.sort(["user_id", "valid_from"], SortMultipleOptions::default())?;
    let ids = sorted.column("user_id")?.str()?.clone();
    let names = sorted.column("display_name")?.str()?.clone();
    for (id, name) in ids.iter().zip(names.iter()) {
        if let (Some(id), Some(name)) = (id, name) {
            out.insert(id.to_string(), name.to_string());
        }
    }
    Ok(out)
}

/// Events for review: unjustified, emergency, or with a review signal (`engine::needs_review`).
pub fn findings(
    verdicts: &DataFrame,
    names: &std::collections::BTreeMap<String, String>,
    policy: &Policy,
) -> Result<DataFrame> {
    let tz = TimeZone::opt_try_new(Some(policy.time_zone.as_str()))?.unwrap_or(TimeZone::UTC);
    let priority = when(col("verdict").eq(lit(engine::UNJUSTIFIED)))
        .then(lit(1))
        .when(col("verdict").eq(lit(engine::EMERGENCY)))
        .then(lit(2))
        .otherwise(lit(3));
    let ids: Vec<String> = names.keys().cloned().collect();
    let vals: Vec<String> = names.values().cloned().collect();
    let name_df = df!("user_id" => ids, "display_name" => vals)?;
    let df = verdicts
        .clone()
        .lazy()
        .filter(engine::needs_review())
        .join(
            name_df.lazy(),
            [col("user_id")],
            [col("user_id")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            priority.alias("priority"),
            col("event_id"),
            col("source"),
            col("event_time")
                .dt()
                .convert_time_zone(tz)
                .dt()
                .to_string("%Y-%m-%dT%H:%M:%S%:z")
                .alias("local_time"),
            col("user_id"),
            col("display_name"),
            col("user_team"),
            col("user_role"),
            col("client_pid"),
            col("dossier_team"),
            col("action"),
            col("section"),
            col("verdict"),
            col("rule"),
            col("article"),
            col("reason"),
            col("also_explained_by"),
            col("signals"),
            col("emergency_reason_given"),
        ])
        .sort_by_exprs(
            [
                col("priority"),
                col("local_time"),
                col("source"),
                col("event_id"),
            ],
            SortMultipleOptions::default(),
        )
        .collect()?;
    Ok(df)
}

pub(crate) fn write_file(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    body(&mut w)?;
    w.flush().map_err(|e| Error::io(path, e))
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
