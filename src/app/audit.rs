//! One audit run: read the store, run the rule engine, derive the review lists and write every
//! output file. This is the audit's only IO; the engine and the derivations are pure.

use crate::app::output::write_file;
use crate::audit::findings::{display_names, findings, stack, Kept};
use crate::audit::load::{
    files_to_read, load_tables, near, part_days, parts, scan_events, History,
};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::audit::emergency_logins::EmergencyLogin;
use crate::audit::outliers::{daily_activity, VolumeOutlier};
use crate::audit::review_cases::ReviewCase;
use crate::audit::summary::AuditSummary;
use crate::audit::verdict_file::VerdictFile;
use crate::csv_output::{write_frame, write_rows, CsvDialect};
use crate::engine;
use crate::engine::input::AuditTables;
use crate::error::{Error, Result};
use crate::evidence::background_hashes::BackgroundHashes;
use crate::evidence::{self, EvidenceManifest};
use crate::i18n::Lang;
use crate::period::Period;
use crate::phase_timings::PhaseTimings;
use crate::policy::Policy;
use crate::report::audit::ReportInput;
use crate::store::Store;

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
    /// How the CSV files are written.
    pub csv: CsvDialect,
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

/// Runs the audit and writes its folder.
pub fn run(config: &PeriodConfig) -> Result<AuditOutcome> {
    let result = write(config);
    if result.is_err() {
        evidence::discard_unfinished(&config.out_dir);
    }
    result
}

/// The run itself; `run` removes what it wrote when it fails.
fn write(config: &PeriodConfig) -> Result<AuditOutcome> {
    let mut timings = PhaseTimings::start();
    let store = Store::open_read(&config.store)?;
    let zone = config.policy.time_zone;
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

    let path = out.join("verdicts.parquet");
    let engine = engine::Engine::new(&tables, policy)?;
    let tables = tables.for_review_lists()?;
    timings.end("coding the reference data");
    let kept = write_verdicts(&store, &engine, &tables, config, &path, &mut timings)?;
    // Written whole: hashed while the review lists and reports are made.
    let verdicts_hash = BackgroundHashes::start(vec![(path, "verdicts.parquet".into())]);
    let lists = ReviewLists::of(kept, &tables, config)?;
    lists.write(out, config.csv)?;
    let store_key_id = store
        .manifest()
        .map(|m| m.key_id.as_str())
        .unwrap_or_default();
    let input = ReportInput {
        policy,
        policy_file: &config.policy_path,
        policy_sha256: &config.policy_sha256,
        period: &config.period,
        store_key_id,
        summary: &lists.summary,
        cases: &lists.cases,
        logins: &lists.logins,
        outliers: &lists.outliers,
        names: &lists.names,
        lang: config.lang,
    };
    write_file(&out.join("report.html"), |w| {
        crate::report::audit::write_html(&input, w)
    })?;
    timings.end("review lists, outliers and report");
    let manifest_sha256 = EvidenceManifest::with_store_hashes(
        config.command.clone(),
        &config.store,
        store_key_id,
        store_hashes.wait()?,
        Some(&config.policy_path),
    )?
    .seal_with(out, verdicts_hash.wait()?)?;

    timings.end("evidence manifest");
    let totals = &lists.summary.totals;
    Ok(AuditOutcome {
        out_dir: out.clone(),
        events: totals.events,
        justified: totals.justified,
        unjustified: totals.unjustified,
        emergency: totals.emergency,
        findings: lists.findings.height(),
        review_cases: lists.cases.len(),
        outliers: lists.outliers.iter().filter(|o| o.flagged).count(),
        manifest_sha256,
        timings,
    })
}

/// Judges the period one part at a time (a month, or a run of days in a large store): each
/// part's verdicts go to `path` on a second thread while the next part is computed, and what
/// the review lists and the figures need of them is kept (the rows for review, and counts).
fn write_verdicts(
    store: &Store,
    engine: &engine::Engine,
    tables: &AuditTables,
    config: &PeriodConfig,
    path: &Path,
    timings: &mut PhaseTimings,
) -> Result<Kept> {
    let (policy, zone, range) = (&config.policy, config.policy.time_zone, config.period.range);
    let file = crate::app::output::create_new(path)?;
    let labels = engine.labels();
    let verdict_file = VerdictFile::new(&labels);
    let mut kept = Kept::default();
    std::thread::scope(|s| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<DataFrame>(1);
        let (file, verdict_file) = (&file, &verdict_file);
        let writer = s.spawn(move || verdict_file.write(file, rx));
        let computed = (|| -> Result<()> {
            for (i, part) in parts(range, part_days(store)).into_iter().enumerate() {
                let files = files_to_read(store, part, zone, History::Period)?;
                let part_tables = AuditTables {
                    events: scan_events(store, &files)?,
                    ..tables.clone()
                };
                let chunk = engine
                    .coded_verdicts(part_tables.events.clone().filter(near(part)), part)?
                    .collect()?;
                timings.end("parts: verdicts");
                let frame = verdict_file.frame(&chunk)?;
                timings.end("parts: verdict columns");
                // The writer stops only on an error of its own, which is reported instead.
                tx.send(frame).map_err(|_| {
                    Error::Invalid("the verdicts file's writer stopped before the last part".into())
                })?;
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
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A writer's error explains a computation stopped by it.
        written?;
        computed
    })?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    timings.end("finishing the verdict file");
    Ok(kept)
}

/// What the FG reviews: the figures, the findings, the cases, the emergency logins and the
/// volume outliers, with the employees' display names.
struct ReviewLists {
    summary: AuditSummary,
    findings: DataFrame,
    names: std::collections::BTreeMap<String, String>,
    cases: Vec<ReviewCase>,
    logins: Vec<EmergencyLogin>,
    outliers: Vec<VolumeOutlier>,
}

impl ReviewLists {
    fn of(kept: Kept, tables: &AuditTables, config: &PeriodConfig) -> Result<ReviewLists> {
        let policy = &config.policy;
        let tally = kept
            .tally
            .ok_or_else(|| Error::Invalid("the period has no days".into()))?;
        let summary = AuditSummary::from_tally(&tally, policy)?;
        let verdicts = stack(kept.review)?;
        let names = display_names(&tables.staff)?;
        let logins = EmergencyLogin::list(&verdicts, tables, policy)?;
        let cases = ReviewCase::group(&verdicts, &names, config.lang)?;
        let outliers = VolumeOutlier::find(
            &stack(kept.daily)?,
            &stack(kept.roles)?,
            policy,
            config.period.range,
        )?;
        let findings = findings(&verdicts, &names, policy)?;
        Ok(ReviewLists {
            summary,
            findings,
            names,
            cases,
            logins,
            outliers,
        })
    }

    /// Writes the lists as CSV into `out`.
    fn write(&self, out: &Path, csv: CsvDialect) -> Result<()> {
        write_file(&out.join("findings.csv"), |w| {
            write_frame(&self.findings, w, "findings.csv", csv)
        })?;
        write_file(&out.join("cases.csv"), |w| {
            write_rows(&self.cases, w, "cases.csv", csv)
        })?;
        write_file(&out.join("emergency_logins.csv"), |w| {
            write_rows(&self.logins, w, "emergency_logins.csv", csv)
        })?;
        write_file(&out.join("outliers.csv"), |w| {
            write_rows(&self.outliers, w, "outliers.csv", csv)
        })
    }
}
