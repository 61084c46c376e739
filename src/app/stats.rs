//! Management statistics: per team and month, per role, the organisation as benchmark, trends
//! against the previous period and how concentrated unjustified accesses are; every cell under
//! disclosure control (`disclosure`). Nothing that names or singles out a person leaves here.

use crate::app::output::write_file;
use crate::stats::release::{previous, release, Release};

use polars::prelude::*;

use crate::app::audit::PeriodConfig;
use crate::audit::load::{files_to_read, load_tables, History};
use crate::csv_output::write_rows;
use crate::engine;
use crate::error::{Error, Result};
use crate::evidence::{self, EvidenceManifest};
use crate::period::DayRange;
use crate::store::Store;

/// Runs the statistics and writes the release folder; returns the release and the sha256 of
/// its evidence manifest.
pub fn run(config: &PeriodConfig) -> Result<(Release, String)> {
    let result = write(config);
    if result.is_err() {
        evidence::discard_unfinished(&config.out_dir);
    }
    result
}

/// The run itself; `run` removes what it wrote when it fails.
fn write(config: &PeriodConfig) -> Result<(Release, String)> {
    let store = Store::open_read(&config.store)?;
    let before = previous(&config.period);
    let range = DayRange {
        first: before.first,
        last: config.period.range.last,
    };
    let zone = config.policy.time_zone;
    let tables = load_tables(&store, range, zone, History::Period)?;
    let all = engine::verdicts(&tables, &config.policy, range)?.collect()?;
    let first = config.period.range.first;
    let split = |inside: bool| -> Result<DataFrame> {
        let day = lit(first).cast(DataType::Date);
        let cond = if inside {
            col("local_date").gt_eq(day)
        } else {
            col("local_date").lt(day)
        };
        Ok(all.clone().lazy().filter(cond).collect()?)
    };
    let now = split(true)?;
    let prev = split(false)?;
    let release = release(&now, &prev, &config.policy)?;

    let out = &config.out_dir;
    evidence::prepare_folder(out)?;
    write_file(&out.join("teams.csv"), |w| {
        write_rows(&release.teams, w, "teams.csv", config.csv)
    })?;
    write_file(&out.join("roles.csv"), |w| {
        write_rows(&release.roles, w, "roles.csv", config.csv)
    })?;
    write_file(&out.join("trend.csv"), |w| {
        write_rows(&release.trend, w, "trend.csv", config.csv)
    })?;
    write_file(&out.join("concentration.csv"), |w| {
        write_rows(&release.concentration, w, "concentration.csv", config.csv)
    })?;
    let log = serde_json::to_string_pretty(&serde_json::json!({
        "thresholds": config.policy.disclosure.thresholds,
        "merge_teams_below": config.policy.disclosure.merge_teams_below,
        "rounded_to": release.rounded_to,
        "suppressions": release.log,
    }))
    .map_err(|e| Error::Invalid(format!("disclosure log: {e}")))?;
    write_file(&out.join("disclosure_log.json"), |w| {
        w.write_all(format!("{log}\n").as_bytes())
            .map_err(|e| Error::Invalid(format!("writing disclosure_log.json: {e}")))
    })?;
    let created = config.period.range.last;
    write_file(&out.join("stats.xlsx"), |w| {
        crate::report::stats_xlsx::write(&release, config.lang, created, w)
    })?;
    write_file(&out.join("stats.html"), |w| {
        crate::report::stats::write_html(&release, &config.policy, &config.period, config.lang, w)
    })?;
    let manifest_sha256 = EvidenceManifest::new(
        config.command.clone(),
        &config.store,
        &store
            .manifest()
            .map(|m| m.key_id.clone())
            .unwrap_or_default(),
        &files_to_read(&store, range, zone, History::Period)?,
        Some(&config.policy_path),
    )?
    .seal(out)?;
    Ok((release, manifest_sha256))
}
