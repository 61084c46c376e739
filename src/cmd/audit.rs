//! `audit`: check the arguments into a `PeriodConfig`, run the audit, print where the report is.

use super::period_args::PeriodArgs;
use crate::app::audit::{self, AuditOutcome, PeriodConfig};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub run: PeriodArgs,
    /// Print how long each phase took (wall clock) to standard error
    #[arg(long)]
    pub timings: bool,
}

pub fn run(args: AuditArgs) -> anyhow::Result<i32> {
    let config = args.run.check("audit")?;
    let o = audit::run(&config)?;
    print_outcome(&config, &o);
    if args.timings {
        super::print_timings(&o.timings)?;
    }
    Ok(exit_status(&o))
}

/// The audit's exit status: 4 when it found accesses to review, else 0.
pub fn exit_status(o: &AuditOutcome) -> i32 {
    if o.has_findings() {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_OK
    }
}

/// The verdict counts, the lists for review, and where the report and evidence are.
pub fn print_outcome(config: &PeriodConfig, o: &AuditOutcome) {
    println!(
        "audit {} {}: {} accesses, {} justified, {} unjustified, {} emergency logins",
        config.policy.id, config.period.label, o.events, o.justified, o.unjustified, o.emergency
    );
    println!(
        "  {} findings, {} employees to review, {} volume outliers",
        o.findings, o.review_cases, o.outliers
    );
    println!("  report: {}", o.out_dir.join("report.html").display());
    println!("  evidence: manifest.json sha256 {}", o.manifest_sha256);
}
