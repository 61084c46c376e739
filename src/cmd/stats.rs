//! `stats`: check the arguments into a `StatsConfig`, write the management release.

use std::path::PathBuf;

use crate::period::Period;
use crate::policy::Policy;
use crate::report::Lang;
use crate::stats_run::{self, StatsConfig};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The store folder made by `ingest`.
    #[arg(long)]
    pub store: PathBuf,
    /// The organisation's policy (its [disclosure] section sets the thresholds).
    #[arg(long)]
    pub policy: PathBuf,
    /// Period: '2026', '2026-Q3', '2026-09' or '2026-07-01..2026-09-30'.
    #[arg(long)]
    pub period: String,
    /// Output folder (default: reports/stats-<policy id>-<period>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value = "nl", value_parser = ["nl", "en"])]
    pub lang: String,
}

pub fn run(args: StatsArgs) -> anyhow::Result<i32> {
    let policy = Policy::load(&args.policy)?;
    let period = Period::parse(&args.period)?;
    if !args.store.join("manifest.json").exists() {
        anyhow::bail!(
            "store '{}' has no manifest.json; ingest data into it first",
            args.store.display()
        );
    }
    let out_dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("stats-{}-{}", policy.id, period.label))
    });
    let config = StatsConfig {
        store: args.store,
        policy,
        policy_path: args.policy,
        period,
        out_dir,
        lang: Lang::parse(&args.lang).unwrap_or_default(),
        command: crate::evidence::command_line(&std::env::args().collect::<Vec<_>>()),
    };
    let r = stats_run::run(&config)?;
    println!(
        "stats {} {}: {} team cells, {} role cells, {} suppressions",
        config.policy.id,
        config.period.label,
        r.teams.len(),
        r.roles.len(),
        r.log.len()
    );
    println!("  report: {}", config.out_dir.join("stats.html").display());
    Ok(super::EXIT_OK)
}
