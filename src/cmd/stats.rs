//! `stats`: check the arguments into a `PeriodConfig`, write the management release.

use super::period_args::PeriodArgs;
use crate::app::audit::PeriodConfig;
use crate::app::stats;

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub run: PeriodArgs,
}

pub fn run(args: StatsArgs) -> anyhow::Result<i32> {
    let config = args.run.check("stats")?;
    execute(&config)?;
    Ok(super::EXIT_OK)
}

/// Writes the release and prints its size and where the report and evidence are.
pub fn execute(config: &PeriodConfig) -> anyhow::Result<()> {
    let (release, manifest_sha256) = stats::run(config)?;
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
    Ok(())
}
