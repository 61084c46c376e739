//! `ingest`: check the arguments into an `IngestConfig`, run it, print the summary.

use std::path::PathBuf;

use anyhow::Context;

use crate::ingest::read::source_profile::{ClientIds, SourceProfile};
use crate::ingest::{self, IngestConfig, IngestReport};
use crate::privacy::key::Key;
use crate::store::contract::Contract;

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// The store folder (created if missing).
    #[arg(long)]
    pub store: PathBuf,
    /// Key file made by `keygen`.
    #[arg(long)]
    pub key: PathBuf,
    /// Source profile for exports that are not in the canonical contract form.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Time zone of a new store (month partitions, calendar dates).
    #[arg(long, default_value = "Europe/Amsterdam")]
    pub time_zone: String,
    /// Clients are identified by BSN (11-check enforced) or by a local client number.
    #[arg(long, value_parser = ["bsn", "local"])]
    pub client_ids: Option<String>,
    /// Exit with status 3 when any row went to the quarantine.
    #[arg(long)]
    pub strict: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print how long each phase took (wall clock) to standard error
    #[arg(long)]
    pub timings: bool,
    /// Events held in memory before the fullest month goes to disk as a part file; also how
    /// long a month may go unseen before its de-duplication keys are let go (read back from
    /// its parts if it comes back). Bounds memory on large logs.
    #[arg(long, default_value_t = ingest::PART_ROWS as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub part_rows: u64,
    /// Input files or folders (a folder: every .csv, .ndjson and .json file in it).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// How many quarantine lines to print before summarising the rest.
const SHOW_QUARANTINE: usize = 20;

pub fn run(args: IngestArgs) -> anyhow::Result<i32> {
    let config = check(&args)?;
    let report = execute(config, &args.store)?;
    if args.timings {
        super::print_timings(&report.timings)?;
    }
    let quarantined = report.totals().rows_quarantined > 0;
    Ok(if args.strict && quarantined {
        super::EXIT_QUARANTINED
    } else {
        super::EXIT_OK
    })
}

/// Checks every argument into an `IngestConfig` (the key, the profile, the zone, the inputs)
/// before anything is read.
pub fn check(args: &IngestArgs) -> anyhow::Result<IngestConfig> {
    let contract = Contract::load()?;
    let profile = args
        .profile
        .as_deref()
        .map(|p| SourceProfile::load(p, &contract))
        .transpose()?;
    let key = Key::load(&args.key)?;
    if key.is_demo() {
        eprintln!("wmo-audit: warning: {} is a DEMO key, published with the sample; never use it for real data", key.id());
    }
    let time_zone: chrono_tz::Tz = args.time_zone.parse().map_err(|_| {
        anyhow::anyhow!("--time-zone '{}' is not an IANA zone name", args.time_zone)
    })?;
    let client_ids = match (args.client_ids.as_deref(), &profile) {
        (Some("local"), _) => ClientIds::Local,
        (Some(_), _) => ClientIds::Bsn,
        (None, Some(p)) => p.client_ids,
        (None, None) => ClientIds::Bsn,
    };
    if let Some(p) = &profile {
        if p.client_ids != client_ids {
            anyhow::bail!(
                "profile '{}' says client_ids = '{}' but --client-ids is '{}'",
                p.name,
                p.client_ids.as_str(),
                client_ids.as_str()
            );
        }
    }
    let files = IngestConfig::plan_inputs(&args.inputs, profile.as_ref(), &contract)?;
    Ok(IngestConfig {
        store: args.store.clone(),
        files,
        key,
        profile,
        time_zone,
        client_ids,
        progress: !args.quiet,
        part_rows: usize::try_from(args.part_rows).unwrap_or(usize::MAX),
    })
}

/// Runs a checked ingest and prints its summary and the first quarantined rows.
pub fn execute(config: IngestConfig, store: &std::path::Path) -> anyhow::Result<IngestReport> {
    let report = ingest::run(config)
        .with_context(|| format!("nothing was written to '{}'", store.display()))?;
    print_report(&report, &mut std::io::stdout().lock())?;
    for note in report.quarantine.iter().take(SHOW_QUARANTINE) {
        eprintln!("{}:{}: {}", note.file, note.line, note.reason);
    }
    if report.quarantine.len() > SHOW_QUARANTINE {
        eprintln!(
            "... and {} more quarantined rows; all are in {}/quarantine/",
            report.quarantine.len() - SHOW_QUARANTINE,
            store.display()
        );
    }
    Ok(report)
}

/// The end-of-run summary: one line per file, the totals, and what deserves attention.
pub fn print_report(report: &IngestReport, out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "ingest run {}", report.run)?;
    writeln!(
        out,
        "{:<34} {:<12} {:>9} {:>9} {:>9} {:>9}  status",
        "file", "table", "read", "stored", "quarant.", "dupl."
    )?;
    for f in &report.files {
        writeln!(
            out,
            "{:<34} {:<12} {:>9} {:>9} {:>9} {:>9}  {}",
            f.file,
            f.table,
            f.rows_read,
            f.rows_stored,
            f.rows_quarantined,
            f.rows_duplicate,
            f.status
        )?;
        if !f.ignored_columns.is_empty() {
            writeln!(
                out,
                "  ignored columns not in the contract: {}",
                f.ignored_columns.join(", ")
            )?;
        }
    }
    let t = report.totals();
    writeln!(
        out,
        "rows read {} = stored {} + quarantined {} + duplicates {}{}",
        t.rows_read,
        t.rows_stored,
        t.rows_quarantined,
        t.rows_duplicate,
        if t.reconciles() {
            ""
        } else {
            "  (DOES NOT RECONCILE)"
        }
    )?;
    if t.rows_replaced > 0 {
        writeln!(
            out,
            "of the stored rows, {} replaced an earlier version with the same key",
            t.rows_replaced
        )?;
    }
    if t.local_times.ambiguous + t.local_times.shifted > 0 {
        writeln!(
            out,
            "local times: {} in the repeated October hour (read as the first occurrence), {} in the skipped March hour (moved forward one hour)",
            t.local_times.ambiguous, t.local_times.shifted
        )?;
    }
    if report.unknown_users > 0 {
        writeln!(
            out,
            "warning: {} stored events are by accounts not in the staff table",
            report.unknown_users
        )?;
    }
    if report.unknown_clients > 0 {
        writeln!(
            out,
            "warning: {} stored events are about clients not in the clients table",
            report.unknown_clients
        )?;
    }
    if !report.months.is_empty() {
        writeln!(out, "months written: {}", report.months.join(", "))?;
    }
    Ok(())
}
