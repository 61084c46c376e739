//! `stats`: check the arguments into a `StatsConfig`, write the management release.

use super::period_args::PeriodArgs;
use crate::stats_run::{self, StatsConfig};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub run: PeriodArgs,
}

pub fn run(args: StatsArgs) -> anyhow::Result<i32> {
    let r = args.run.check("stats")?;
    let config = StatsConfig {
        store: r.store,
        policy: r.policy,
        policy_path: r.policy_path,
        period: r.period,
        out_dir: r.out_dir,
        lang: r.lang,
        command: r.command,
    };
    let (release, manifest_sha256) = stats_run::run(&config)?;
    println!(
        "stats {} {}: {} team cells, {} role cells, {} suppressions",
        config.policy.id,
        config.period.label,
        release.teams.len(),
        release.roles.len(),
        release.log.len()
    );
    println!("  report: {}", config.out_dir.join("stats.html").display());
    println!("  evidence: manifest.json sha256 {manifest_sha256}");
    Ok(super::EXIT_OK)
}
