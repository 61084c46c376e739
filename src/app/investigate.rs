//! Investigations of one employee, one client's dossier, one day (NEN 7513's daily view) or a
//! search over verdicts, signals and teams; and the resident's overview of who looked at their
//! dossier. Each runs the rule engine on the events concerned and writes a folder with the
//! events, an HTML page and an evidence manifest.

use crate::app::output::write_file;
use crate::investigate::model::{matches_search, user_pattern, EventLine, Subject};
use std::path::PathBuf;

use polars::prelude::*;

use crate::audit::findings::display_names;
use crate::audit::load::{files_to_read, load_tables, History};
use crate::audit::verdict_row::VerdictRow;
use crate::csv_output::{write_rows, CsvDialect};
use crate::engine;
use crate::engine::input::AuditTables;
use crate::error::Result;
use crate::evidence::{self, EvidenceManifest};
use crate::i18n::Lang;
use crate::period::DayRange;
use crate::policy::Policy;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct InvestigationConfig {
    pub store: PathBuf,
    pub policy: Policy,
    pub policy_path: PathBuf,
    pub subject: Subject,
    pub range: DayRange,
    pub out_dir: PathBuf,
    pub lang: Lang,
    /// How the CSV files are written.
    pub csv: CsvDialect,
    pub command: Vec<String>,
}

/// What an investigation found; the folder holds the detail.
#[derive(Debug, Clone)]
pub struct InvestigationOutcome {
    pub out_dir: PathBuf,
    pub lines: Vec<EventLine>,
    pub manifest_sha256: String,
}

/// Runs an investigation and writes its folder.
pub fn run(config: &InvestigationConfig) -> Result<InvestigationOutcome> {
    let result = write(config);
    if result.is_err() {
        evidence::discard_unfinished(&config.out_dir);
    }
    result
}

/// The run itself; `run` removes what it wrote when it fails.
fn write(config: &InvestigationConfig) -> Result<InvestigationOutcome> {
    let store = Store::open_read(&config.store)?;
    let policy_zone = config.policy.time_zone;
    let tables = load_tables(&store, config.range, policy_zone, History::Full)?;
    let policy = &config.policy;
    // Per-(user, client) signals stay exact when the events are narrowed to a user or client.
    let narrowed = match &config.subject {
        Subject::User(u) => tables
            .events
            .clone()
            .filter(col("user_id").eq(lit(u.as_str()))),
        Subject::Client(c) | Subject::Resident { client_pid: c, .. } => tables
            .events
            .clone()
            .filter(col("client_pid").eq(lit(c.as_str()))),
        Subject::Day(_) | Subject::Search(_) => tables.events.clone(),
    };
    let narrowed_tables = AuditTables {
        events: narrowed,
        ..tables.clone()
    };
    let verdicts = engine::verdicts(&narrowed_tables, policy, config.range)?.collect()?;
    let rows: Vec<VerdictRow> = VerdictRow::read_all(&verdicts)?
        .into_iter()
        .filter(|r| match &config.subject {
            Subject::Search(s) => matches_search(r, s),
            _ => true,
        })
        .collect();
    let names = display_names(&tables.staff)?;
    let zone = policy.time_zone;
    let lines: Vec<EventLine> = rows
        .iter()
        .map(|r| EventLine::new(r, &names, zone))
        .collect();
    let pattern = match &config.subject {
        Subject::User(u) => Some(user_pattern(&tables, policy, u, config.range, &lines)?),
        _ => None,
    };

    let out = &config.out_dir;
    evidence::prepare_folder(out)?;
    let key_id = store
        .manifest()
        .map(|m| m.key_id.clone())
        .unwrap_or_default();
    match &config.subject {
        Subject::Resident { with_names, .. } => {
            let letter = crate::report::letter::Letter::build(
                &rows,
                &tables,
                policy,
                config.range,
                *with_names,
                config.lang,
            )?;
            write_file(&out.join("overview.html"), |w| letter.write_html(w))?;
            write_file(&out.join("overview.csv"), |w| {
                write_rows(&letter.lines, w, "overview.csv", config.csv)
            })?;
        }
        subject => {
            write_file(&out.join("events.csv"), |w| {
                write_rows(&lines, w, "events.csv", config.csv)
            })?;
            let page = crate::report::investigation::Page {
                subject,
                policy,
                range: config.range,
                lines: &lines,
                pattern: pattern.as_ref(),
                key_id: &key_id,
                lang: config.lang,
            };
            write_file(&out.join("report.html"), |w| page.write_html(w))?;
        }
    }
    let manifest_sha256 = EvidenceManifest::new(
        config.command.clone(),
        &config.store,
        &key_id,
        &files_to_read(&store, config.range, policy_zone, History::Full)?,
        Some(&config.policy_path),
    )?
    .seal(out)?;
    Ok(InvestigationOutcome {
        out_dir: out.clone(),
        lines,
        manifest_sha256,
    })
}
